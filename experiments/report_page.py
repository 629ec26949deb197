"""The page of ``report.html``: markup, style and script (``{{name}}`` slots are filled by experiments/report.py).

The script builds every element that shows episode data with ``createElement`` and ``textContent``;
it never assigns ``innerHTML``. The Content Security Policy admits only the script carrying this
page's nonce and no network access of any kind, so even text that slipped into the markup could not run.
"""

PAGE_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'nonce-{{nonce}}'; connect-src 'none'; form-action 'none'; base-uri 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} - feedbackgym report</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d1d1f; background: #fafafa; }
header { background: #243b55; color: #fff; padding: 12px 24px; }
header h1 { margin: 0 0 4px; font-size: 1.4em; }
header p { margin: 2px 0; font-size: 0.85em; opacity: 0.9; }
nav { position: sticky; top: 0; background: #e9eef5; padding: 6px 24px; z-index: 2; border-bottom: 1px solid #ccd; }
nav a { margin-right: 16px; color: #243b55; text-decoration: none; font-weight: 600; }
main { padding: 8px 24px 48px; }
section { margin-bottom: 28px; }
h2 { border-bottom: 2px solid #243b55; padding-bottom: 2px; }
.scroll { overflow-x: auto; }
table.data { border-collapse: collapse; font-size: 0.85em; background: #fff; }
table.data th, table.data td { border: 1px solid #d6d9de; padding: 3px 7px; text-align: left; vertical-align: top; }
table.data th { background: #eef1f5; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.ci { color: #667; font-size: 0.9em; }
.note { font-size: 0.8em; color: #556; }
figure { display: inline-block; margin: 8px; background: #fff; border: 1px solid #dde; padding: 6px; max-width: 100%; }
figure img { max-width: 100%; height: auto; }
figcaption { font-size: 0.8em; color: #445; }
pre { background: #fff; border: 1px solid #dde; padding: 8px; overflow-x: auto; font-size: 0.8em; }
#filters { display: flex; flex-wrap: wrap; gap: 10px; align-items: end; margin-bottom: 8px; }
#filters label { display: flex; flex-direction: column; font-size: 0.8em; }
#filters input[type=number] { width: 6em; }
#episode-list tbody tr { cursor: pointer; }
#episode-list tbody tr:hover { background: #eef4ff; }
#episode-list tbody tr.open { background: #dde8ff; }
.outcome-solved { color: #176b2c; } .outcome-failed { color: #9a3412; } .outcome-errored { color: #b91c1c; font-weight: 700; } .outcome-ended { color: #555; }
#pager { margin: 6px 0; font-size: 0.85em; }
#pager button { margin-right: 6px; }
#browser { display: grid; grid-template-columns: minmax(380px, 38%) 1fr; gap: 16px; align-items: start; }
#episode { position: sticky; top: 40px; max-height: calc(100vh - 50px); overflow-y: auto; }
@media (max-width: 900px) { #browser { grid-template-columns: 1fr; } #episode { position: static; max-height: none; } }
.meta { font-size: 0.85em; background: #fff; border: 1px solid #dde; padding: 6px 10px; }
.meta div { margin: 2px 0; }
.msg { border: 1px solid #d6d9de; border-left: 6px solid #999; background: #fff; margin: 6px 0; padding: 4px 10px; max-width: 980px; }
.msg .head { font-size: 0.78em; color: #445; margin-bottom: 2px; }
.msg .text { white-space: pre-wrap; word-break: break-word; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.85em; }
.msg.kind-prompt { border-left-color: #8892a6; background: #f6f7f9; }
.msg.kind-notice { border-left-color: #c58f00; background: #fffbea; }
.msg.kind-invalid { border-left-color: #d12c2c; background: #fff0f0; }
.msg.kind-feedback { border-left-color: #1f7ae0; background: #f0f6ff; }
.msg.kind-reward { border-left-color: #3b8f3b; }
.msg.role-0 { margin-left: 0; } .msg.role-1 { margin-left: 40px; } .msg.role-2 { margin-left: 80px; } .msg.role-3 { margin-left: 120px; }
.badge { display: inline-block; font-size: 0.72em; font-weight: 700; padding: 0 6px; border-radius: 8px; margin-left: 6px; color: #fff; background: #666; }
.badge.invalid { background: #d12c2c; } .badge.notice { background: #c58f00; } .badge.feedback { background: #1f7ae0; } .badge.deceptive { background: #7c1fa6; } .badge.rewritten { background: #0f766e; }
.rewrite { display: flex; gap: 10px; }
.rewrite > div { flex: 1; border: 1px dashed #9ab; padding: 4px 6px; }
.rewrite .label { font-size: 0.75em; color: #445; font-weight: 600; }
.empty { color: #888; font-style: italic; }
</style>
</head>
<body>
<header>
<h1>{{title}}</h1>
<p>folder: <code>{{folder}}</code> · report written {{generated}}</p>
<ul>{{runs}}</ul>
</header>
<nav><a href="#summary">Summary</a><a href="#plots">Plots</a><a href="#accounting">LLM accounting</a><a href="#configuration">Configuration</a><a href="#transcripts">Transcripts ({{episode_count}})</a></nav>
<main>
<section id="summary"><h2>Summary</h2>{{summary}}</section>
<section id="plots"><h2>Plots</h2>{{plots}}</section>
<section id="accounting"><h2>LLM accounting</h2>{{accounting}}</section>
<section id="configuration"><h2>Configuration</h2><p class="note">as saved by the run; API keys and other secrets redacted</p>{{config}}</section>
<section id="transcripts"><h2>Transcripts</h2>
<div id="filters">
<label>condition<select id="f-condition"><option value="">all</option></select></label>
<label>outcome<select id="f-outcome"><option value="">all</option></select></label>
<label>metric<select id="f-metric"><option value="">(none)</option></select></label>
<label>min<input id="f-min" type="number" step="any"></label>
<label>max<input id="f-max" type="number" step="any"></label>
<label>text in the transcript<input id="f-text" type="search" placeholder="search"></label>
<button id="f-reset" type="button">clear filters</button>
</div>
<div id="browser"><div id="list-side">
<div id="count"></div>
<div class="scroll"><table id="episode-list" class="data"><thead><tr><th>episode</th><th>condition</th><th>seed</th><th>outcome</th><th>steps</th><th id="metric-head">metric</th></tr></thead><tbody></tbody></table></div>
<div id="pager"><button id="prev" type="button">previous</button><button id="next" type="button">next</button><span id="page"></span></div>
</div>
<div id="episode"><p class="empty">Click an episode to read it.</p></div>
</div>
</section>
</main>
<script type="application/json" id="fg-index">{{index_json}}</script>
<script type="application/json" id="fg-transcripts">{{transcripts_json}}</script>
<script nonce="{{nonce}}">
(function () {
  "use strict";
  var PAGE = 50;
  var index = JSON.parse(document.getElementById("fg-index").textContent);
  var transcripts = null;   // parsed on first use: the list needs only the index
  var haystacks = null;     // lower-cased text per episode, built on the first text search
  var state = { page: 0, rows: [], open: -1 };
  function $(id) { return document.getElementById(id); }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function allTranscripts() {
    if (transcripts === null) transcripts = JSON.parse(document.getElementById("fg-transcripts").textContent);
    return transcripts;
  }
  function haystack(i) {
    if (haystacks === null) {
      var all = allTranscripts();
      haystacks = all.map(function (t, j) {
        var parts = [index.episodes[j].id, t.error || ""];
        (t.transcript || []).forEach(function (m) { parts.push(String(m.text)); });
        return parts.join("\n").toLowerCase();
      });
    }
    return haystacks[i];
  }
  function fmt(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3);
    return String(v);
  }
  function option(select, value, label) { var o = el("option", null, label); o.value = value; select.appendChild(o); }
  index.conditions.forEach(function (c) { option($("f-condition"), c, c); });
  index.outcomes.forEach(function (o) { option($("f-outcome"), o, o); });
  index.metrics.forEach(function (m) { option($("f-metric"), m, m); });

  function filter() {
    var condition = $("f-condition").value, wanted = $("f-outcome").value, metric = $("f-metric").value;
    var low = $("f-min").value === "" ? null : Number($("f-min").value);
    var high = $("f-max").value === "" ? null : Number($("f-max").value);
    var text = $("f-text").value.trim().toLowerCase();
    var rows = [];
    for (var i = 0; i < index.episodes.length; i++) {
      var e = index.episodes[i];
      if (condition && e.condition !== condition) continue;
      if (wanted && e.outcome !== wanted) continue;
      if (metric && (low !== null || high !== null)) {
        var v = e.metrics[metric];
        if (v === undefined || v === null) continue;
        if (low !== null && v < low) continue;
        if (high !== null && v > high) continue;
      }
      if (text && haystack(i).indexOf(text) < 0) continue;
      rows.push(i);
    }
    state.rows = rows;
    state.page = 0;
    renderList();
  }
  function renderList() {
    var body = $("episode-list").tBodies[0];
    var metric = $("f-metric").value;
    $("metric-head").textContent = metric || "metric";
    var pages = Math.max(1, Math.ceil(state.rows.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    var shown = state.rows.slice(state.page * PAGE, (state.page + 1) * PAGE);
    var fresh = document.createElement("tbody");
    shown.forEach(function (i) {
      var e = index.episodes[i];
      var tr = el("tr", i === state.open ? "open" : "");
      tr.dataset.index = String(i);
      tr.appendChild(el("td", null, e.id));
      tr.appendChild(el("td", null, e.condition));
      tr.appendChild(el("td", "num", e.training_seed !== undefined ? e.seed + " (trained seed " + e.training_seed + ")" : e.seed));
      tr.appendChild(el("td", "outcome-" + e.outcome, e.outcome));
      tr.appendChild(el("td", "num", e.steps));
      tr.appendChild(el("td", "num", metric ? fmt(e.metrics[metric]) : ""));
      tr.addEventListener("click", function () { openEpisode(i); });
      fresh.appendChild(tr);
    });
    body.parentNode.replaceChild(fresh, body);
    $("count").textContent = state.rows.length + " of " + index.episodes.length + " episodes";
    $("page").textContent = "page " + (state.page + 1) + " of " + pages;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
  }
  function line(parent, label, value) {
    var d = el("div");
    d.appendChild(el("strong", null, label + ": "));
    d.appendChild(document.createTextNode(value));
    parent.appendChild(d);
  }
  function mapping(obj) {
    return Object.keys(obj || {}).filter(function (k) { return k !== "traceback"; }).map(function (k) {
      var v = obj[k];
      return k + "=" + (typeof v === "object" && v !== null ? JSON.stringify(v) : fmt(v));
    }).join(", ");
  }
  function textBlock(text) {
    var s = text === null || text === undefined ? "" : String(text);
    return s === "" ? el("div", "text empty", "(no text)") : el("div", "text", s);
  }
  function openEpisode(i) {
    state.open = i;
    var e = index.episodes[i], t = allTranscripts()[i];
    var view = $("episode");
    while (view.firstChild) view.removeChild(view.firstChild);
    view.appendChild(el("h3", null, "Episode " + e.id));
    var meta = el("div", "meta");
    line(meta, "condition", e.condition);
    line(meta, "seed", fmt(e.seed) + (e.training_seed !== undefined ? " (policy trained with seed " + e.training_seed + ")" : ""));
    line(meta, "environment", fmt(t.env));
    line(meta, "outcome", e.outcome);
    line(meta, "steps", fmt(e.steps) + ", " + fmt(t.seconds) + " s");
    if (t.error) line(meta, "error", t.error);
    line(meta, "returns", mapping(t.returns));
    line(meta, "metrics", mapping(t.metrics));
    Object.keys(t.agents || {}).forEach(function (a) { line(meta, a, mapping(t.agents[a])); });
    if (t.metrics && t.metrics.traceback) { var pre = el("pre", null, t.metrics.traceback); meta.appendChild(pre); }
    view.appendChild(meta);
    var roles = [];
    var conversation = el("div", "conversation");
    conversation.id = "conversation";
    (t.transcript || []).forEach(function (m) {
      var sender = String(m.sender);
      if (roles.indexOf(sender) < 0) roles.push(sender);
      var kind = String(m.kind || "move");
      var box = el("div", "msg kind-" + kind.replace(/[^a-z_]/g, "") + " role-" + Math.min(roles.indexOf(sender), 3));
      var head = el("div", "head", "turn " + fmt(m.turn) + " · " + sender + " → " + (m.visible_to || []).join(", "));
      var data = m.data || {};
      var ev = data.event || null;
      if (kind !== "move") head.appendChild(el("span", "badge " + kind.replace(/[^a-z_]/g, ""), kind === "invalid" ? "invalid move" : kind));
      if (kind === "invalid" && data.error) head.appendChild(document.createTextNode(" " + data.error));
      if (ev) {
        head.appendChild(document.createTextNode(" level " + fmt(ev.level) + ", verdict " + fmt(ev.verdict)));
        if (ev.deceptive) head.appendChild(el("span", "badge deceptive", "deceptive"));
        if (ev.leaked_gold) head.appendChild(el("span", "badge", "leaked gold"));
      }
      box.appendChild(head);
      if (kind === "feedback" && data.original) {
        head.appendChild(el("span", "badge rewritten", "rewritten by " + ((ev && ev.rendered_by && ev.rendered_by.length) ? ev.rendered_by.join(", ") : "a wrapper")));
        var pair = el("div", "rewrite");
        var left = el("div", "original"), right = el("div", "shown");
        left.appendChild(el("div", "label", "original, from " + fmt(data.original.giver)));
        left.appendChild(textBlock(data.original.text));
        right.appendChild(el("div", "label", "what " + fmt(ev ? ev.receiver : "the receiver") + " saw"));
        right.appendChild(textBlock(m.text));
        pair.appendChild(left);
        pair.appendChild(right);
        box.appendChild(pair);
      } else {
        box.appendChild(textBlock(m.text));
      }
      conversation.appendChild(box);
    });
    view.appendChild(conversation);
    renderList();
  }
  var timer = null;
  ["f-condition", "f-outcome", "f-metric", "f-min", "f-max"].forEach(function (id) {
    $(id).addEventListener("change", filter);
    $(id).addEventListener("input", filter);
  });
  $("f-text").addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(filter, 200); });
  $("f-reset").addEventListener("click", function () {
    ["f-condition", "f-outcome", "f-metric", "f-min", "f-max", "f-text"].forEach(function (id) { $(id).value = ""; });
    filter();
  });
  $("prev").addEventListener("click", function () { state.page -= 1; renderList(); });
  $("next").addEventListener("click", function () { state.page += 1; renderList(); });
  filter();
  document.body.dataset.ready = "1";
})();
</script>
</body>
</html>
"""
