"""``feedbackgym report`` and ``feedbackgym show``: what a run folder holds, for a reader.

:func:`write_report` turns a run folder (``feedbackgym run``), a training folder (``feedbackgym
train``) or a sweep folder (``--multirun``: one job folder each) into one self-contained
``report.html``: the summary table with 95% confidence intervals (a bootstrap over episodes with a
fixed seed; over training seeds for training runs), the plots, learning curves, LLM accounting, the
configuration (secrets redacted) and a transcript browser. It opens from disk with no server and no
network. Episodes are embedded as JSON in ``<script type="application/json">`` elements (``<``,
``>`` and ``&`` escaped, so no text can end the element) and the page builds every element from
them with ``textContent``: text from an episode is never parsed as HTML and never runs. A Content
Security Policy lets only the page's own script run and forbids any network access.

:func:`show_episode` prints one episode for a terminal, control characters escaped.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

REPORT_NAME = "report.html"
BOOTSTRAP_SEED = 0
BOOTSTRAP_RESAMPLES = 2000
LEVEL = 0.95
OUTCOMES = ("solved", "failed", "errored", "ended")
# Episode metrics that say whether an episode succeeded, in the order they are looked for.
SUCCESS_METRICS = ("solved", "final_correct", "success", "correct", "deal")


# ------------------------------------------------------------------------------------ statistics
def bootstrap_interval(values: Sequence[float], *, seed: int = BOOTSTRAP_SEED, resamples: int = BOOTSTRAP_RESAMPLES,
                       level: float = LEVEL) -> tuple[float, float] | None:
    """The percentile bootstrap interval of the mean of ``values`` (None with fewer than 2 values).

    The resampling generator has a fixed seed, so the same values always give the same interval.
    """
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if len(data) < 2:
        return None
    rng = np.random.default_rng(seed)
    distinct, counts = np.unique(data, return_counts=True)
    if len(distinct) <= 64:
        # Few distinct values (rates, counts): how often each is drawn in a resample is multinomial, the same
        # distribution as drawing episodes with replacement, at a cost that does not grow with the episodes.
        draws = rng.multinomial(len(data), counts / len(data), size=resamples)
        means = draws @ distinct / len(data)
    else:
        means = np.empty(resamples)
        chunk = max(1, 2_000_000 // len(data))  # bounded memory with 10,000 episodes
        for start in range(0, resamples, chunk):
            stop = min(resamples, start + chunk)
            picks = rng.integers(0, len(data), size=(stop - start, len(data)), dtype=np.int64)
            means[start:stop] = data[picks].mean(axis=1)
    tail = (1.0 - level) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


def _number(value: Any) -> float | None:
    """A finite number as a float; anything else (text, NaN, an integer beyond the float range) as None."""
    from feedbackgym.experiments.runner import as_float

    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(as_float(value)):
        return float(value)
    return None


_LONG_NAMES = {"acc": "cumulative_accuracy"}


def episode_value(record: Mapping[str, Any], column: str) -> float | None:
    """One episode's value of a results-table column, or None when it does not apply.

    ``metric`` (a scalar metric), ``metric@k`` (entry k of a list metric; ``acc`` is
    ``cumulative_accuracy``), ``metric@a-b`` (the mean of entries a..b), ``return/<agent>``,
    ``<agent>/<accounting key>`` (LLM calls, tokens, cost, latency).
    """
    metrics = record.get("metrics") or {}
    if column in metrics:
        return _number(metrics[column])
    if column.startswith("return/"):
        return _number((record.get("returns") or {}).get(column.split("/", 1)[1]))
    if "/" in column:
        agent, key = column.split("/", 1)
        key = key[: -len("_total")] if key.endswith("_total") else key
        return _number(((record.get("agents") or {}).get(agent) or {}).get(key))
    match = re.fullmatch(r"(.+)@(\d+)(?:-(\d+))?", column)
    if not match:
        return None
    series = metrics.get(_LONG_NAMES.get(match.group(1), match.group(1)), metrics.get(match.group(1)))
    if not isinstance(series, list):
        return None
    first = int(match.group(2))
    last = int(match.group(3) or first)
    entries = [_number(v) for v in series[first - 1 : last] if v is not None]
    entries = [v for v in entries if v is not None]
    return sum(entries) / len(entries) if entries else None


def condition_intervals(records: Iterable[Mapping[str, Any]], columns: Iterable[str]) -> dict[str, dict[str, tuple[float, float]]]:
    """column -> condition -> 95% bootstrap interval of the mean over the condition's error-free episodes."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        if record.get("error") is None:
            groups.setdefault(str(record.get("condition", "default")), []).append(record)
    intervals: dict[str, dict[str, tuple[float, float]]] = {}
    for column in columns:
        for condition, group in groups.items():
            values = [v for v in (episode_value(r, column) for r in group) if v is not None]
            interval = bootstrap_interval(values)
            if interval is not None:
                intervals.setdefault(column, {})[condition] = interval
    return intervals


def outcome(record: Mapping[str, Any]) -> str:
    """``errored`` (the episode raised), ``solved`` / ``failed`` (by its success metric), or ``ended`` (no such metric)."""
    if record.get("error") is not None:
        return "errored"
    metrics = record.get("metrics") or {}
    for name in SUCCESS_METRICS:
        value = metrics.get(name)
        if isinstance(value, (bool, int, float)) and not (isinstance(value, float) and math.isnan(value)):
            return "solved" if value else "failed"
    return "ended"


# ---------------------------------------------------------------------------------- the folder
@dataclass
class Part:
    """One run inside the folder: the folder itself, or one job of a sweep (``label``: its overrides)."""

    path: Path
    label: str = ""
    kind: str = "run"  # run | training
    records: list[dict[str, Any]] = field(default_factory=list)
    config_text: str = ""
    overrides: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    left_out: int = 0  # episodes in episodes.jsonl outside the saved run's seeds (an earlier run with more run.episodes)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The episodes of a run's JSONL file, each once (an errored episode that a resumed run played again shows
    as its replay, as in results.csv); torn or damaged lines are skipped."""
    from feedbackgym.experiments.runner import read_records

    return read_records(path)


def _is_run(path: Path) -> bool:
    return (path / "episodes.jsonl").is_file() or (path / "results_by_seed.csv").is_file()


def _job_number(path: Path) -> tuple[int, str]:
    return (int(path.name), "") if path.name.isdigit() else (1 << 30, path.name)


def parts_of(folder: Path) -> list[Part]:
    """The runs in ``folder``: itself when it is a run or training folder, else its job folders (a sweep)."""
    if _is_run(folder):
        paths = [(folder, "")]
    else:
        jobs = sorted((p for p in folder.iterdir() if p.is_dir() and _is_run(p)), key=_job_number)
        if not jobs:
            raise FileNotFoundError(f"{folder} holds no episodes.jsonl or results_by_seed.csv, and no job folders that do "
                                    "(give a folder written by feedbackgym run or train, or a --multirun sweep folder)")
        paths = [(job, "") for job in jobs]
    parts = []
    for path, _ in paths:
        part = Part(path=path, kind="training" if (path / "results_by_seed.csv").is_file() else "run")
        part.config_text, part.overrides, part.config = _read_config(path)
        if part.kind == "run":
            part.records = _read_jsonl(path / "episodes.jsonl")
            seeds = _run_seeds(part.config)
            if seeds is not None:  # as results.csv: the episodes of the saved run.seed and run.episodes, not those of an earlier, longer run
                kept = [r for r in part.records if r.get("seed") in seeds]
                part.left_out, part.records = len(part.records) - len(kept), kept
        else:
            for episodes in sorted(path.glob("*/seed*/episodes.jsonl")):
                for record in _read_jsonl(episodes):
                    record["training_seed"] = episodes.parent.name[len("seed"):]
                    part.records.append(record)
            # language-model training: the same evaluation episodes before and after training, per condition and seed
            for when in ("before", "after"):
                for episodes in sorted(path.glob(f"*/seed*/eval_{when}.jsonl")):
                    for record in _read_jsonl(episodes):
                        record["training_seed"] = episodes.parent.name[len("seed"):]
                        record["condition"] = f"{episodes.parent.parent.name} ({when} training)"
                        part.records.append(record)
        parts.append(part)
    if len(paths) > 1 or paths[0][0] != folder:
        # a sweep: each job is labelled by the overrides that differ between jobs (the swept values)
        shared = set.intersection(*(set(p.overrides) for p in parts))
        for part in parts:
            part.label = " ".join(o for o in part.overrides if o not in shared) or part.path.name
    return parts


def _run_seeds(config: Mapping[str, Any]) -> range | None:
    """The seeds of a run's episodes (``run.seed`` .. ``run.seed + run.episodes - 1``), or None when the saved config
    does not say (no config, or values a run would refuse)."""
    run = config.get("run")
    if not isinstance(run, Mapping):
        return None
    seed, episodes = run.get("seed"), run.get("episodes")
    if any(isinstance(v, bool) or not isinstance(v, int) for v in (seed, episodes)) or episodes < 1:
        return None
    return range(seed, seed + episodes)


def _read_config(path: Path) -> tuple[str, list[str], dict[str, Any]]:
    """(the saved config's text, redacted; the command-line overrides; the config as a dict)."""
    from feedbackgym.agents.secrets import redact, register_secrets_in_config

    saved = path / ".hydra" / "config.yaml"
    text = saved.read_text(encoding="utf-8", errors="replace") if saved.is_file() else ""
    overrides: list[str] = []
    overrides_file = path / ".hydra" / "overrides.yaml"
    if overrides_file.is_file():
        import yaml

        try:
            overrides = [str(o) for o in (yaml.safe_load(overrides_file.read_text(encoding="utf-8")) or [])]
        except yaml.YAMLError:
            overrides = []
    register_secrets_in_config([*text.splitlines(), *overrides])
    config: dict[str, Any] = {}
    if text:
        import yaml

        try:
            config = yaml.safe_load(text) or {}
        except yaml.YAMLError:
            config = {}
    return redact(text), [redact(o) for o in overrides if not o.startswith("hydra.")], _readable_config(config)


# The saved config's sections the report reads, and the entries read in a given shape.
_SECTIONS = ("env", "wrapper", "run", "experiment", "train", "agents")
_SHAPED = (("env", "kwargs", Mapping), ("train", "seeds", list), ("train", "summary", list), ("experiment", "summary", list))


def _readable_config(config: Any) -> dict[str, Any]:
    """The saved config with what the report reads in the shape it reads it: a section or entry of another shape
    (a config.yaml edited by hand or written by another tool) is left out instead of failing the report."""
    if not isinstance(config, dict):
        return {}
    clean = {key: value for key, value in config.items() if key not in _SECTIONS or isinstance(value, Mapping)}
    for section, key, kind in _SHAPED:
        if key in (clean.get(section) or {}) and not isinstance(clean[section][key], kind):
            clean[section] = {k: v for k, v in clean[section].items() if k != key}
    return clean


# --------------------------------------------------------------------------------- the summary
@dataclass
class Table:
    caption: str
    columns: list[str]
    rows: list[dict[str, Any]]  # cell: a str, a number, or (mean, low, high)
    note: str = ""


def _summary_columns(part: Part, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    from feedbackgym.experiments.evaluate import summary_columns

    section = part.config.get("experiment" if part.kind == "run" else "train") or {}
    listed = [str(c) for c in (section.get("summary") or []) if not str(c).endswith("_std")]
    if part.kind == "training":  # language-model training reports each column before and after training
        listed = [name for c in listed for name in (c, f"before/{c}", f"after/{c}")]
        if not listed and any(str(k).startswith("before/") for row in rows for k in row):  # no saved config to name them
            listed = [f"{when}/{c}" for c in ("reward", "success", "acc@1") for when in ("before", "after")]
    columns = listed or summary_columns(rows)
    return [c for c in columns if c not in ("condition", "episodes", "errors", "scored", "seeds")]


def _label(part: Part, condition: str) -> str:
    return f"{part.label} · {condition}" if part.label else condition


def run_table(part: Part) -> Table:
    """Per condition: episodes, errors, and each summary column's mean [95% bootstrap interval over episodes]."""
    from feedbackgym.experiments.runner import aggregate

    rows = aggregate(part.records)
    columns = _summary_columns(part, rows)
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in part.records:
        groups.setdefault(str(record.get("condition", "default")), []).append(record)
    table_rows = []
    for condition, group in groups.items():
        scored = [r for r in group if r.get("error") is None]
        row: dict[str, Any] = {"condition": _label(part, condition), "episodes": len(group), "errors": len(group) - len(scored)}
        for column in columns:
            values = [v for v in (episode_value(r, column) for r in scored) if v is not None]
            if values:
                interval = bootstrap_interval(values) or (math.nan, math.nan)
                total = column.endswith("_total")
                mean = float(np.sum(values)) if total else float(np.mean(values))
                row[column] = (mean, math.nan, math.nan) if total else (mean, *interval)
        table_rows.append(row)
    caption = part.label or "Results"
    note = (f"mean over the error-free episodes of each condition [{int(LEVEL * 100)}% percentile bootstrap interval over episodes, "
            f"{BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED}]")
    return Table(caption, ["condition", "episodes", "errors", *columns], table_rows, note)


def training_table(part: Part) -> Table:
    """Per condition: seeds, and each summary column's mean over training seeds [95% bootstrap interval over seeds]."""
    with (part.path / "results_by_seed.csv").open(encoding="utf-8", errors="replace", newline="") as handle:
        by_seed = list(csv.DictReader(handle))
    # A ragged row (a cell more than the header: key None; fewer: value None) keeps what lines up with the header.
    numeric_rows = [{k: _parse_float(v) for k, v in row.items() if k is not None and v is not None}
                    | {"condition": str(row.get("condition") or "")} for row in by_seed]
    columns = _summary_columns(part, numeric_rows)
    columns = [c for c in columns if any(isinstance(r.get(c), float) for r in numeric_rows)]
    table_rows = []
    for condition in dict.fromkeys(r["condition"] for r in numeric_rows):
        group = [r for r in numeric_rows if r["condition"] == condition]
        row: dict[str, Any] = {"condition": _label(part, condition), "seeds": len(group)}
        for column in columns:
            values = [r[column] for r in group if isinstance(r.get(column), float) and math.isfinite(r[column])]
            if values:
                row[column] = (float(np.mean(values)), *(bootstrap_interval(values) or (math.nan, math.nan)))
        table_rows.append(row)
    note = (f"mean over training seeds of each seed's evaluation [{int(LEVEL * 100)}% percentile bootstrap interval over seeds, "
            f"seed {BOOTSTRAP_SEED}; none with one seed]")
    return Table(part.label or "Evaluation of the trained policies", ["condition", "seeds", *columns], table_rows, note)


def _parse_float(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


# ------------------------------------------------------------------------------ LLM accounting
_CAUSE = re.compile(r"(?:last error: )?([A-Za-z_][\w.]*(?: \(HTTP \d+\))?)")


def error_cause(message: str) -> str:
    """The kind of a failure: the exception type (with its HTTP status) from ``Type: text`` or ``... last error: Type (HTTP 429): text``."""
    text = str(message)
    if "last error: " in text:
        text = text.split("last error: ", 1)[1]
    match = _CAUSE.match(text.strip())
    return match.group(1) if match and (":" in text or "(" in text) else "other"


def accounting_table(parts: Sequence[Part]) -> Table | None:
    """Per condition and agent: calls, cached and failed calls, tokens, cost, latency; errors by cause."""
    rows = []
    for part in parts:
        groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        errors: dict[str, dict[str, int]] = {}
        for record in part.records:
            condition = str(record.get("condition", "default"))
            for agent, stats in (record.get("agents") or {}).items():
                if isinstance(stats, Mapping) and "calls" in stats:
                    groups.setdefault((condition, agent), []).append(stats)
            if record.get("error") is not None:
                cause = error_cause(record["error"])
                errors.setdefault(condition, {})[f"episode: {cause}"] = errors.setdefault(condition, {}).get(f"episode: {cause}", 0) + 1
        for (condition, agent), stats in groups.items():
            # (a record edited by hand or written by another tool may hold anything here: what is not a call is skipped)
            calls = [c for s in stats for c in (s.get("per_call") if isinstance(s.get("per_call"), list) else []) if isinstance(c, Mapping)]
            latencies = [float(c["latency"]) for c in calls if isinstance(c.get("latency"), (int, float))]
            causes: dict[str, int] = {}
            for call in calls:
                if "error" in call:
                    cause = error_cause(call["error"])
                    causes[cause] = causes.get(cause, 0) + 1
            for cause, count in (errors.get(condition) or {}).items():
                causes[cause] = causes.get(cause, 0) + count
            total = lambda key: sum(_number(s.get(key)) or 0.0 for s in stats)  # noqa: E731
            rows.append({
                "condition": _label(part, condition), "agent": agent,
                "model": ", ".join(sorted({str(s.get("model")) for s in stats if s.get("model")})),
                "episodes": len(stats), "calls": int(total("calls")), "cached": int(total("cached_calls")), "failed": int(total("failed_calls")),
                "prompt tokens": int(total("prompt_tokens")), "completion tokens": int(total("completion_tokens")),
                "cost ($)": round(total("cost"), 6),
                "mean latency (s)": round(float(np.mean(latencies)), 3) if latencies else "",
                "p95 latency (s)": round(float(np.quantile(latencies, 0.95)), 3) if latencies else "",
                "errors by cause": "; ".join(f"{cause}: {n}" for cause, n in sorted(causes.items())) or "none",
            })
    if not rows:
        return None
    columns = list(rows[0])
    return Table("LLM accounting", columns, rows, "totals over the episodes of each condition; latency per call (cached calls included)")


# -------------------------------------------------------------------------------------- plots
def _png_data(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def _figure_data(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def curve_figures(part: Part) -> list[tuple[str, str]]:
    """(caption, PNG as base64) of each training curve: the configured one, the episode return and the success metric."""
    from feedbackgym.experiments.plots import describe_column, plot_learning_curves
    from feedbackgym.experiments.train import curves_of, train_context, training_panels

    train = part.config.get("train") or {}
    metric = train.get("success_metric")
    wanted = [str(train.get("curve") or (f"metrics/{metric}" if metric else "charts/episodic_return")), "charts/episodic_return"]
    if metric:
        wanted.append(f"metrics/{metric}")
    results: dict[tuple[str, str], dict[str, Any]] = {}
    for csv_path in sorted(part.path.glob("*/seed*/*.csv")):
        condition, seed = csv_path.parent.parent.name, csv_path.parent.name
        results.setdefault((condition, seed), {"condition": condition, "seed": seed, "curves": {}})["curves"][csv_path.stem] = str(csv_path)
    try:
        panels = training_panels(part.config, list(results.values()))
    except (KeyError, TypeError, ValueError, AttributeError):  # a config this version does not read: one panel
        panels = {}
    figures = []
    for column in dict.fromkeys(wanted):
        curves = curves_of(list(results.values()), column)
        if curves:
            figure = plot_learning_curves(curves, None, title=str(train.get("name", "training")), ylabel=column,
                                          context=train_context(part.config), panels=panels)
            figures.append((f"{describe_column(column)} during training ({column})", _figure_data(figure)))
    return figures


# ---------------------------------------------------------------------------------- episodes
def _scalar_metrics(record: Mapping[str, Any]) -> dict[str, float]:
    values = {key: _number(value) for key, value in (record.get("metrics") or {}).items()}
    numbers = {key: value for key, value in values.items() if value is not None}
    for agent, value in (record.get("returns") or {}).items():
        if _number(value) is not None:
            numbers[f"return/{agent}"] = _number(value)  # type: ignore[assignment]
    return numbers


def message_view(message: Any) -> dict[str, Any]:
    """A transcript message in the shape the page and ``feedbackgym show`` read: a mapping whose ``data`` is a mapping,
    ``data.event`` and ``data.original`` mappings, ``visible_to`` and ``rendered_by`` lists of texts. A record
    edited by hand or written by another tool may hold anything there (a number for a message, a text for
    ``visible_to``); that is shown as text, instead of breaking the episode's view or the page's search."""
    if not isinstance(message, Mapping):
        return {"text": "" if message is None else str(message), "data": {}, "visible_to": []}
    view = dict(message)
    data = dict(view["data"]) if isinstance(view.get("data"), Mapping) else {}
    for key in ("event", "original"):
        if key in data and not isinstance(data[key], Mapping):
            data[key] = {"text": str(data[key])} if key == "original" and data[key] is not None else None
    if isinstance(data.get("event"), Mapping):
        data["event"] = {**data["event"], "rendered_by": _texts(data["event"].get("rendered_by"))}
    view["data"] = data
    view["visible_to"] = _texts(view.get("visible_to"))
    return view


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(item) for item in value] if isinstance(value, (list, tuple)) else [str(value)]


def episode_payloads(parts: Sequence[Part]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the index the episode list filters: one small entry per episode, the transcripts in the same order)."""
    entries = []
    transcripts = []
    metric_names: dict[str, None] = {}
    for part in parts:
        for record in part.records:
            metrics = _scalar_metrics(record)
            metric_names.update(dict.fromkeys(metrics))
            entry = {
                "id": str(record.get("episode_id")),
                "condition": _label(part, str(record.get("condition", "default"))),
                "seed": record.get("seed"),
                "outcome": outcome(record),
                "steps": record.get("steps"),
                "metrics": metrics,
            }
            if "training_seed" in record:
                entry["training_seed"] = record["training_seed"]
            entries.append(entry)
            agents = {agent: {k: v for k, v in stats.items() if k != "per_call"} for agent, stats in (record.get("agents") or {}).items()
                      if isinstance(stats, Mapping)}
            transcripts.append({
                "env": record.get("env_id"), "error": record.get("error"), "seconds": record.get("seconds"),
                "returns": record.get("returns") or {}, "metrics": record.get("metrics") or {}, "agents": agents,
                "transcript": [message_view(m) for m in record.get("transcript") or []],
            })
    conditions = list(dict.fromkeys(e["condition"] for e in entries))
    return {"episodes": entries, "conditions": conditions, "metrics": sorted(metric_names), "outcomes": list(OUTCOMES)}, transcripts


def script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element: ``<``, ``>`` and ``&`` are ``\\u`` escapes, so ``</script>`` or
    ``<!--`` in any text cannot end the element; ASCII only (a lone surrogate in agent text stays an escape)."""
    text = json.dumps(value, ensure_ascii=True, allow_nan=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _script_json_finite(value: Any) -> str:
    try:
        return script_json(value)
    except ValueError:  # a NaN or infinity somewhere (rare): only then walk the whole value
        return script_json(_finite(value))


def _finite(value: Any) -> Any:
    """NaN and infinities as None: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------- HTML
# Characters that have no place in an HTML document's text: C0/C1 controls (NUL, ESC, ...; tab and newline stay)
# and lone surrogates, which UTF-8 cannot encode at all (a report holding one could not be written).
_NOT_HTML_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape(text: str) -> str:
    """``text`` for HTML text or an attribute value: escaped (``<``, ``>``, ``&``, quotes), with controls and lone
    surrogates as visible ``\\xNN`` / ``\\udXXX`` escapes, as ``feedbackgym show`` prints them."""
    return html.escape(_visible_escapes(_NOT_HTML_TEXT, text))


def _visible_escapes(unsafe: re.Pattern[str], text: Any) -> str:
    """``text`` with each character ``unsafe`` matches as a visible ``\\xNN`` (up to U+00FF) or ``\\uNNNN`` escape."""
    return unsafe.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", str(text))


def _cell(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 3:
        mean, low, high = value
        shown = f"{mean:.3f}"
        if math.isfinite(low) and math.isfinite(high):
            return (f'<td class="num" data-value="{mean:.6g}">{shown} <span class="ci">[{low:.3f}, {high:.3f}]</span></td>')
        return f'<td class="num" data-value="{mean:.6g}">{shown}</td>'
    if isinstance(value, float):
        return f'<td class="num" data-value="{value:.6g}">{value:.3f}</td>' if math.isfinite(value) else "<td></td>"
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num" data-value="{value}">{value}</td>'
    return f"<td>{_escape('' if value is None else str(value))}</td>"


def table_html(table: Table, table_id: str) -> str:
    from feedbackgym.experiments.plots import describe_column

    head = "".join(f'<th title="{_escape(describe_column(c))}" data-column="{_escape(c)}">{_escape(c)}</th>' for c in table.columns)
    body = "".join("<tr>" + "".join(_cell(row.get(c)) for c in table.columns) + "</tr>" for row in table.rows)
    note = f'<p class="note">{_escape(table.note)}</p>' if table.note else ""
    return (f'<h3>{_escape(table.caption)}</h3><div class="scroll"><table id="{table_id}" class="data">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{note}")


def _title(parts: Sequence[Part], folder: Path) -> str:
    config = parts[0].config
    name = (config.get("experiment") or {}).get("name") or (config.get("train") or {}).get("name") or folder.name
    return f"{name}{' (sweep)' if len(parts) > 1 else ''}"


def _run_line(part: Part) -> str:
    config = part.config
    env = (config.get("env") or {}).get("id", "")
    wrapper = (config.get("wrapper") or {}).get("name") or "none"
    run = config.get("run") or {}
    bits = [f"environment {env}" if env else "", f"wrapper {wrapper}" if config else ""]
    seeds = _run_seeds(config)
    if part.kind == "run" and seeds is not None:
        bits.append(f"{len(seeds)} episodes per condition, seeds {seeds.start}-{seeds.stop - 1}")
    if part.left_out:
        bits.append(f"{part.left_out} episodes of episodes.jsonl with other seeds (an earlier run with more run.episodes) left out, as in results.csv")
    if part.kind == "training":
        bits.append(f"training seeds {', '.join(str(s) for s in (config.get('train') or {}).get('seeds') or [])}")
    if part.overrides:
        bits.append("overrides: " + " ".join(part.overrides))
    return " · ".join(b for b in bits if b)


def render_report(folder: Path | str) -> str:
    """The report of ``folder`` as one HTML document (see the module docstring)."""
    from feedbackgym.experiments.report_page import PAGE_TEMPLATE

    folder = Path(folder)
    parts = parts_of(folder)
    tables = [run_table(p) if p.kind == "run" else training_table(p) for p in parts]
    summary = "".join(table_html(t, f"summary-{i}") for i, t in enumerate(tables))
    lines = "".join(f"<li>{_escape((p.label + ': ') if p.label else '')}{_escape(_run_line(p))}</li>" for p in parts)
    figures = []
    for part in parts:
        prefix = f"{part.label}: " if part.label else ""
        for png in sorted(part.path.glob("*.png")):
            figures.append((f"{prefix}{png.name}", _png_data(png)))
        if part.kind == "training":
            figures += [(prefix + caption, data) for caption, data in curve_figures(part)]
            for png in sorted(part.path.glob("*/seed*/learning_curve.png")):  # language-model training, per run
                figures.append((f"{prefix}{png.parent.parent.name}, {png.parent.name}: learning curve", _png_data(png)))
    plots = "".join(f'<figure><img alt="{_escape(caption)}" src="data:image/png;base64,{data}"><figcaption>{_escape(caption)}'
                    "</figcaption></figure>" for caption, data in figures) or "<p>No plots in this folder.</p>"
    accounting = accounting_table(parts)
    accounting_html = table_html(accounting, "accounting") if accounting else "<p>No LLM calls recorded (the agents made none).</p>"
    configs = []
    for part in parts:
        name = f" ({part.label})" if part.label else ""
        configs.append(f"<details><summary>config.yaml{_escape(name)}</summary><pre>{_escape(part.config_text or '(no saved config)')}</pre></details>")
        if part.overrides:
            configs.append(f"<p>overrides: <code>{_escape(' '.join(part.overrides))}</code></p>")
        fingerprint = part.path / "fingerprint.json"
        if fingerprint.is_file():
            from feedbackgym.agents.secrets import redact

            text = redact(fingerprint.read_text(encoding="utf-8", errors="replace"))
            configs.append(f"<details><summary>fingerprint.json{_escape(name)}</summary><pre>{_escape(text)}</pre></details>")
    index, transcripts = episode_payloads(parts)
    nonce = secrets.token_urlsafe(16)
    title = _title(parts, folder)
    values = {
        "title": _escape(title),
        "folder": _escape(str(folder.resolve())),
        "generated": _escape(datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        "runs": lines,
        "summary": summary,
        "plots": plots,
        "accounting": accounting_html,
        "config": "".join(configs),
        "episode_count": str(len(index["episodes"])),
        "index_json": _script_json_finite(index),
        "transcripts_json": _script_json_finite(transcripts),
        "nonce": nonce,
    }
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], PAGE_TEMPLATE)


def write_report(folder: Path | str, output: Path | str | None = None) -> Path:
    """Write ``report.html`` (or ``output``) for ``folder``; returns its path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder (give a folder written by feedbackgym run or train, or a sweep folder)")
    path = Path(output) if output is not None else folder / REPORT_NAME
    path.write_text(render_report(folder), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------- terminal
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")


def terminal_safe(text: str) -> str:
    """``text`` with every control character (ESC, CR, backspace, C1, bidi and zero-width marks) as a visible ``\\xNN``
    / ``\\uNNNN`` escape, so hostile text cannot move the cursor, recolour or retitle the terminal; newlines and tabs stay."""
    return _visible_escapes(_UNSAFE, text)


def find_episode(folder: Path | str, episode_id: str) -> dict[str, Any]:
    """The record of ``episode_id`` in ``folder`` (a run, training or sweep folder; in a sweep, ``<job>:<id>`` picks a job)."""
    folder = Path(folder)
    job = None
    if ":" in episode_id and not _is_run(folder):
        job, episode_id = episode_id.split(":", 1)
    found = []
    for part in parts_of(folder):
        if job is not None and part.path.name != job:
            continue
        found += [r for r in part.records if str(r.get("episode_id")) == episode_id]
    if not found:
        raise KeyError(f"no episode {episode_id!r} in {folder} (ids look like <condition>/<n>, e.g. none/0)")
    return found[0]


def format_episode(record: Mapping[str, Any]) -> str:
    """One episode for a terminal: header, metrics, then each message by turn and role with invalid moves,
    notices and feedback marked (and the original beside what the receiver saw, when a wrapper rewrote it)."""
    lines = [f"episode {record.get('episode_id')}  condition {record.get('condition')}  seed {record.get('seed')}  "
             f"env {record.get('env_id')}  outcome {outcome(record)}  steps {record.get('steps')}"]
    if record.get("error"):
        lines.append(f"error: {record['error']}")
    metrics = {k: v for k, v in (record.get("metrics") or {}).items() if k != "traceback"}
    if metrics:
        lines.append("metrics: " + ", ".join(f"{k}={v}" for k, v in metrics.items()))
    if record.get("returns"):
        lines.append("returns: " + ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in record["returns"].items()))
    for agent, stats in (record.get("agents") or {}).items():
        if isinstance(stats, Mapping):
            lines.append(f"{agent}: " + ", ".join(f"{k}={v}" for k, v in stats.items() if k != "per_call"))
    lines.append("")
    marks = {"invalid": "INVALID MOVE", "notice": "notice", "feedback": "FEEDBACK", "prompt": "prompt", "reward": "reward"}
    for message in map(message_view, record.get("transcript") or []):
        kind = str(message.get("kind", "move"))
        data = message.get("data") or {}
        tag = f" [{marks.get(kind, kind)}]" if kind != "move" else ""
        if kind == "invalid" and data.get("error"):
            tag += f" ({data['error']})"
        event = data.get("event") or {}
        if kind == "feedback" and event:
            tag += f" (level {event.get('level')}, verdict {event.get('verdict')}" + (", DECEPTIVE" if event.get("deceptive") else "") + ")"
        audience = ",".join(message["visible_to"])
        lines.append(f"[turn {message.get('turn')}] {message.get('sender')} -> {audience}{tag}:")
        original = data.get("original")
        if kind == "feedback" and original is not None:
            lines.append(f"    original ({original.get('giver')}): " + str(original.get("text", "")).replace("\n", "\n    "))
            lines.append(f"    shown (rewritten by {', '.join(event.get('rendered_by') or []) or 'a wrapper'}): "
                         + str(message.get("text", "")).replace("\n", "\n    "))
        else:
            lines.append("    " + (str(message.get("text", "")) or "(no text)").replace("\n", "\n    "))
    return terminal_safe("\n".join(lines))


def show_episode(folder: Path | str, episode_id: str) -> str:
    """``feedbackgym show``: one episode of ``folder``, ready to print."""
    return format_episode(find_episode(folder, episode_id))
