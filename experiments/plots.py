"""Plots of experiment tables and training curves (matplotlib, headless).

Every plot says what it shows without the code: the title names the experiment and the run
(environment, task, wrapper, episodes, seeds, command-line overrides such as a sweep's values), axes
are labelled in words (:func:`describe_column`), intervals are explained in the legend, the legend
sits outside the data, and y limits never hide a value (a configured range is widened to the data
and padded, so bars and points at 1.0 are drawn whole). Each function returns the matplotlib
``Figure`` (closed, still inspectable) and saves it when given a path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

Limits = tuple[float, float] | None
# column -> condition -> (low, high): an interval drawn around each plotted value
Intervals = Mapping[str, Mapping[str, tuple[float, float]]]

# Column names in words; the rest are spelled out by describe_column's rules.
COLUMN_WORDS = {
    "acc": "cumulative accuracy (solved within k attempts)",
    "unique_answer_ratio": "unique-answer ratio",
    "repeated_one_answer": "failures that repeat one answer",
    "feedback_resistance": "feedback resistance",
    "turns_to_success": "turns to success",
    "mean_price": "mean deal price ($)",
    "deal_rate": "deal rate",
    "flip": "judgment flipped by the distractor",
    "tie_on_equal": "tie rate on equal pairs",
    "prefers_better": "prefers the better response",
    "reward_stage1": "Critique-RL stage I reward",
    "reward_refine_only": "refinement-only reward",
    "reward_stage2": "Critique-RL stage II reward",
    "reward_refcritic": "RefCritic dual reward",
    "flip_ci": "c->i flip rate (initially correct)",
    "recovery_ic": "recovery rate (initially wrong)",
    "solved": "success rate",
    "final_correct": "final answer correct",
    "charts/episodic_return": "episode return",
    "charts/episodic_length": "episode length (turns)",
    "invalid_moves": "invalid moves per episode",
}


def describe_column(column: str) -> str:
    """A column name in words: ``acc@5`` -> "solved within 5 attempts", ``return/seller_0`` -> "mean return of seller_0"."""
    if column in COLUMN_WORDS:
        return COLUMN_WORDS[column]
    if column.startswith("metrics/"):
        return f"{describe_column(column[len('metrics/'):])} (training episodes)"
    if column.startswith("charts/") or column.startswith("losses/"):
        return column.split("/", 1)[1].replace("_", " ")
    if column.startswith("return/"):
        return f"mean return of {column.split('/', 1)[1]}"
    match = re.fullmatch(r"acc@(\d+)", column)
    if match:
        k = int(match.group(1))
        return "solved at the first attempt" if k == 1 else f"solved within {k} attempts"
    match = re.fullmatch(r"(.+)@(\d+)(?:-(\d+))?", column)
    if match:
        base = describe_column(match.group(1))
        return f"{base}, entry {match.group(2)}" if match.group(3) is None else f"{base}, entries {match.group(2)}-{match.group(3)}"
    return column.replace("_", " ")


def run_title(name: str, context: Mapping[str, Any] | None = None) -> str:
    """The experiment's name, then a line naming the run: environment, task, wrapper, episodes, seeds, overrides.

    ``context`` keys (all optional): ``env``, ``task``, ``wrapper``, ``episodes`` (per condition),
    ``seed`` (the first; episodes use seed .. seed+episodes-1), ``seeds`` (training seeds, a list),
    ``overrides`` (the command line's, e.g. a sweep's values).
    """
    context = dict(context or {})
    parts = []
    if context.get("env"):
        parts.append(str(context["env"]))
    parts.append(f"task {context['task']}" if context.get("task") else None)
    parts.append(f"wrapper {context.get('wrapper') or 'none'}" if "wrapper" in context else None)
    if context.get("episodes") is not None:
        episodes = int(context["episodes"])
        seed = context.get("seed")
        span = "" if seed is None else (f", seed {seed}" if episodes == 1 else f", seeds {seed}-{int(seed) + episodes - 1}")
        parts.append(f"{episodes} episodes per condition{span}")
    if context.get("seeds"):
        seeds = list(context["seeds"])
        parts.append(f"training seed{'s' if len(seeds) > 1 else ''} {', '.join(str(s) for s in seeds)}")
    lines = [name, " · ".join(p for p in parts if p)]
    if context.get("overrides"):
        lines.append("overrides: " + " ".join(str(o) for o in context["overrides"]))
    return "\n".join(line for line in lines if line)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(plt: Any, figure: Any, path: Path | str | None) -> Any:
    if path is not None:
        figure.savefig(Path(path), dpi=120, bbox_inches="tight")
    plt.close(figure)
    return figure


def _limits(configured: Limits, values: Sequence[float]) -> tuple[float, float] | None:
    """The configured range widened to every value (none is hidden), padded so that values at a bound are drawn whole."""
    finite = [v for v in values if v == v and abs(v) != float("inf")]
    if configured is None and not finite:
        return None
    low, high = configured if configured is not None else (min(finite), max(finite))
    if finite:
        low, high = min(low, min(finite)), max(high, max(finite))
    pad = (high - low) * 0.05 or 0.05
    return low - pad, high + pad


def _is_pair(value: Any) -> bool:
    return isinstance(value, Sequence) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)


# ------------------------------------------------------------------------------ condition styles
MARKERS = "osD^vP*Xh<>p"
LINESTYLES = ["-", "--", ":", "-."]


def _structured(conditions: Sequence[str]) -> list[list[str]] | None:
    """Condition names like ``reasoning/malicious/grounded``, split, when every name has the same 2-3 parts."""
    parts = [c.split("/") for c in conditions]
    if len(conditions) >= 6 and len({len(p) for p in parts}) == 1 and 2 <= len(parts[0]) <= 3:
        return parts
    return None


def condition_styles(conditions: Sequence[str]) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]], list[tuple[str, dict[str, Any]]]]:
    """(style per condition, facet -> its conditions, legend entries (label, style)).

    Few conditions: one panel, a distinct colour, marker and line style each. Many structured names
    (``<a>/<b>[/<c>]``): one panel per ``a``, colour by ``b``, line style and marker by ``c``, and a
    legend of the ``b`` and ``c`` values (9 lines per panel instead of 18 pastel ones).
    """
    plt = _pyplot()
    palette = list(plt.get_cmap("tab10").colors)
    parts = _structured(conditions)
    if parts is None:
        colours = palette if len(conditions) <= 10 else list(plt.get_cmap("tab20").colors)
        styles = {c: {"color": colours[i % len(colours)], "marker": MARKERS[i % len(MARKERS)], "linestyle": LINESTYLES[i % len(LINESTYLES)]}
                  for i, c in enumerate(conditions)}
        return styles, {"": list(conditions)}, [(c, styles[c]) for c in conditions]
    seconds = list(dict.fromkeys(p[1] for p in parts))
    thirds = list(dict.fromkeys(p[2] for p in parts)) if len(parts[0]) == 3 else []
    styles: dict[str, dict[str, Any]] = {}
    facets: dict[str, list[str]] = {}
    for condition, p in zip(conditions, parts):
        j = thirds.index(p[2]) if thirds else 0
        styles[condition] = {"color": palette[seconds.index(p[1]) % len(palette)], "marker": MARKERS[j % len(MARKERS)],
                             "linestyle": LINESTYLES[j % len(LINESTYLES)]}
        facets.setdefault(p[0], []).append(condition)
    legend = [(f"…/{s}" + ("/…" if thirds else ""), {"color": palette[i % len(palette)], "marker": "", "linestyle": "-"})
              for i, s in enumerate(seconds)]
    legend += [(f"…/…/{t}", {"color": "0.3", "marker": MARKERS[j % len(MARKERS)], "linestyle": LINESTYLES[j % len(LINESTYLES)]})
               for j, t in enumerate(thirds)]
    return styles, facets, legend


def _legend_handles(entries: Sequence[tuple[str, Mapping[str, Any]]]) -> tuple[list[Any], list[str]]:
    from matplotlib.lines import Line2D

    return [Line2D([], [], **style) for _, style in entries], [label for label, _ in entries]


# --------------------------------------------------------------------------------- experiments
def plot_experiment(
    name: str,
    rows: Sequence[Mapping[str, Any]],
    path: Path | str | None = None,
    *,
    series: str | Sequence[str] = "acc",
    xlabel: str = "attempts k",
    ylabel: str | Sequence[str] | None = None,
    ylim: Limits | Sequence[Limits] = (0.0, 1.0),
    columns: Sequence[str] | None = None,
    context: Mapping[str, Any] | None = None,
    intervals: Intervals | None = None,
    interval_label: str = "95% bootstrap interval over episodes",
) -> Any:
    """One line per condition of the list metric ``series`` (columns ``series@1``, ``series@2``, ...).

    With ``columns`` (names of scalar columns), bar charts instead: conditions along x, one panel per
    column (grouped bars in one panel when the columns are one family, such as ``reward_*``).
    ``series`` may name several list metrics: one panel each, with ``ylabel`` and ``ylim`` given per
    panel (a single value applies to every panel; no ``ylabel``: the metric in words). Without such
    columns, a bar chart of each condition's first mean return. ``context`` names the run in the
    title (:func:`run_title`); ``intervals`` (column -> condition -> (low, high)) draws error bars,
    explained in the legend by ``interval_label``. Returns the Figure; saves it to ``path`` if given.
    """
    plt = _pyplot()
    title = run_title(name, context)
    if columns:
        label = ylabel if isinstance(ylabel, str) or ylabel is None else ylabel[0]
        return _plot_columns(plt, title, rows, path, list(columns), label, ylim if ylim is None or _is_pair(ylim) else None,  # type: ignore[arg-type]
                             intervals, interval_label)
    names = [series] if isinstance(series, str) else list(series)
    labels = [ylabel or describe_column(names[0])] * len(names) if isinstance(ylabel, str) or ylabel is None else list(ylabel)
    if ylabel is None:
        labels = [describe_column(n) for n in names]
    limits = [ylim] * len(names) if ylim is None or _is_pair(ylim) else list(ylim)  # type: ignore[arg-type]
    if len(labels) != len(names) or len(limits) != len(names):
        raise ValueError(f"plot: give one ylabel and ylim per series, or one for all; got series={names}, ylabel={ylabel!r}, ylim={ylim!r}")
    curves = {metric: {str(row["condition"]): _curve(row, metric) for row in rows} for metric in names}
    if not any(points for by_condition in curves.values() for points in by_condition.values()):
        return _plot_returns(plt, title, rows, path)
    conditions = [str(row["condition"]) for row in rows]
    styles, facets, legend = condition_styles(conditions)
    figure, axes = plt.subplots(len(facets), len(names), figsize=(6.2 * len(names), 3.6 * len(facets) + 1.0), squeeze=False)
    dodge = 0.25 / max(len(max(facets.values(), key=len)) - 1, 1)
    any_interval = False
    for row_index, (facet, members) in enumerate(facets.items()):
        for column_index, (metric, label, limit) in enumerate(zip(names, labels, limits)):
            axis = axes[row_index][column_index]
            values: list[float] = []
            entries: set[int] = set()
            for position, condition in enumerate(members):
                points = curves[metric][condition]
                if not points:
                    continue
                # Equal values of several conditions would hide each other: each condition's points are
                # moved sideways a little (a dodge), so every series stays visible.
                offset = (position - (len(members) - 1) / 2) * dodge
                ks = [k + offset for k, _ in points]
                ys = [v for _, v in points]
                values += ys
                axis.plot(ks, ys, markersize=5, linewidth=1.6, **styles[condition])
                spans = [(intervals or {}).get(f"{metric}@{k}", {}).get(condition) for k, _ in points]
                if any(s is not None for s in spans):
                    any_interval = True
                    lows = [y - s[0] if s else 0.0 for y, s in zip(ys, spans)]
                    highs = [s[1] - y if s else 0.0 for y, s in zip(ys, spans)]
                    values += [s[0] for s in spans if s] + [s[1] for s in spans if s]
                    axis.errorbar(ks, ys, yerr=[lows, highs], fmt="none", ecolor=styles[condition]["color"], alpha=0.35, linewidth=1)
                entries.update(k for k, _ in points)
            if entries:  # k counts games, turns, attempts: whole numbers only, every one when few
                step = max(1, -(-len(entries) // 12))
                axis.set_xticks(sorted(entries)[::step])
            axis.set_xlabel(xlabel)
            axis.set_ylabel(label)
            shown = _limits(limit, values)
            if shown is not None:
                axis.set_ylim(*shown)
            axis.grid(alpha=0.3)
            panel = [facet] if facet else []
            if len(names) > 1:
                panel.append(label)
            if panel:
                axis.set_title(" · ".join(panel), fontsize=10)
    handles, texts = _legend_handles(legend)
    if any_interval:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="0.4", marker="|", linestyle="none", markersize=12))
        texts.append(f"bars: {interval_label}")
    figure.suptitle(title, fontsize=11)
    figure.legend(handles, texts, title="condition", loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, title_fontsize=9)
    note = "points are shifted sideways a little so that equal values of several conditions stay visible" if len(conditions) > 1 else ""
    if note:
        figure.text(0.5, -0.01, note, ha="center", va="top", fontsize=7, color="0.35")
    figure.tight_layout()
    return _finish(plt, figure, path)


def _curve(row: Mapping[str, Any], metric: str) -> list[tuple[int, float]]:
    # per-entry columns metric@k only: window means (metric@1-5) are not points of the curve
    ks = sorted(int(key.split("@")[1]) for key in row if key.startswith(f"{metric}@") and key.split("@")[1].isdigit())
    return [(k, float(row[f"{metric}@{k}"])) for k in ks if isinstance(row[f"{metric}@{k}"], (int, float))]


def _plot_returns(plt: Any, title: str, rows: Sequence[Mapping[str, Any]], path: Path | str | None) -> Any:
    """No curve to draw: each condition's mean return, one bar per agent."""
    agents = list(dict.fromkeys(k for row in rows for k in row if k.startswith("return/")))
    return _plot_columns(plt, title, rows, path, agents or [], None, None, None, "")


def _family(columns: Sequence[str]) -> bool:
    """Columns of one family (``reward_stage1``, ``reward_stage2``, ...) share an axis; others get a panel each."""
    heads = {re.split(r"[_@/]", c)[0] for c in columns}
    return len(columns) > 1 and len(heads) == 1


def _plot_columns(plt: Any, title: str, rows: Sequence[Mapping[str, Any]], path: Path | str | None, columns: list[str],
                  ylabel: str | None, ylim: Limits, intervals: Intervals | None, interval_label: str) -> Any:
    """Bars: conditions along x; one panel per column, or grouped bars when the columns are one family."""
    conditions = [str(row["condition"]) for row in rows]
    grouped = _family(columns)
    panels = [columns] if grouped or not columns else [[c] for c in columns]
    wide = max(6.0, (0.3 if grouped else 0.55) * len(conditions) * (len(columns) if grouped else 1) + 2.0)
    per_row = 1 if grouped else min(len(panels), 2)
    n_rows = -(-len(panels) // per_row) if panels else 1
    figure, axes = plt.subplots(n_rows, per_row, figsize=(wide * per_row, 3.8 * n_rows + 0.8), squeeze=False)
    colours = list(plt.get_cmap("tab10").colors)
    any_interval = False
    for index, members in enumerate(panels):
        axis = axes[index // per_row][index % per_row]
        width = 0.8 / len(members)
        values: list[float] = [0.0]
        for j, column in enumerate(members):
            xs = [i + (j - (len(members) - 1) / 2) * width for i in range(len(rows))]
            heights = [row.get(column) if isinstance(row.get(column), (int, float)) else float("nan") for row in rows]
            values += [h for h in heights if h == h]
            axis.bar(xs, [h if h == h else 0.0 for h in heights], width, color=colours[j % len(colours)],
                     label=describe_column(column) if grouped else None)
            spans = [(intervals or {}).get(column, {}).get(c) for c in conditions]
            if any(s is not None for s in spans):
                any_interval = True
                lows = [h - s[0] if s and h == h else 0.0 for h, s in zip(heights, spans)]
                highs = [s[1] - h if s and h == h else 0.0 for h, s in zip(heights, spans)]
                values += [s[1] for s in spans if s] + [s[0] for s in spans if s]
                axis.errorbar(xs, [h if h == h else 0.0 for h in heights], yerr=[lows, highs], fmt="none", ecolor="black", capsize=3, linewidth=1)
        axis.set_xticks(range(len(rows)))
        axis.set_xticklabels(conditions, rotation=30 if len(conditions) > 3 else 0, ha="right" if len(conditions) > 3 else "center", fontsize=8)
        axis.set_xlabel("condition")
        if grouped:  # the family in words: "mean return" for return/<agent>, "reward" for reward_*
            head = re.split(r"[_@/]", members[0])[0]
            axis.set_ylabel(ylabel or ("mean return" if head == "return" else describe_column(head)))
        else:
            axis.set_ylabel(describe_column(members[0]))
        if not grouped:
            axis.set_title(describe_column(members[0]), fontsize=10)
        shown = _limits(ylim, values)
        if shown is not None:
            axis.set_ylim(*shown)
        axis.axhline(0.0, color="black", linewidth=0.6)
        axis.grid(alpha=0.3, axis="y")
    for index in range(len(panels), n_rows * per_row):
        axes[index // per_row][index % per_row].set_visible(False)
    handles, labels = axes[0][0].get_legend_handles_labels() if grouped else ([], [])
    if any_interval:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="black", marker="|", linestyle="none", markersize=12))
        labels.append(f"whiskers: {interval_label}")
    if handles:
        figure.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    return _finish(plt, figure, path)


# ---------------------------------------------------------------------------------- training
def plot_learning_curves(
    curves: Mapping[str, Sequence[tuple[Sequence[float], Sequence[float]]]],
    path: Path | str | None = None,
    *,
    title: str = "training",
    xlabel: str = "environment steps",
    ylabel: str = "charts/episodic_return",
    threshold: float | None = None,
    context: Mapping[str, Any] | None = None,
    panels: Mapping[str, str] | None = None,
) -> Any:
    """One line per label: the mean over its runs (seeds) on a common step grid, with a min-max band.

    ``curves`` maps a label (a condition) to its runs, each (steps, values). Runs are interpolated
    onto the steps of the longest run, up to the shortest run's last step, so the mean never mixes
    in extrapolated values. ``threshold`` draws a dashed line (the success threshold). ``ylabel``
    may be a CSV column: it is shown in words. ``panels`` (label -> panel title) puts curves that
    measure different things (success within 1 turn, within 5 turns) on separate axes. Returns the
    Figure; saves it to ``path`` if given.
    """
    plt = _pyplot()
    import numpy as np
    from matplotlib.patches import Patch

    groups: dict[str, list[str]] = {}
    for label in curves:
        groups.setdefault((panels or {}).get(label, ""), []).append(label)
    figure, axes = plt.subplots(1, len(groups), figsize=(6.5 * len(groups) + 1.5, 4.5), squeeze=False, sharex=True)
    colours = list(plt.get_cmap("tab10").colors)
    banded = False
    handles: list[Any] = []
    texts: list[str] = []
    for axis, (panel, labels) in zip(axes[0], groups.items()):
        for label in labels:
            runs = [(np.asarray(s, dtype=float), np.asarray(v, dtype=float)) for s, v in curves[label] if len(s)]
            if not runs:
                continue
            end = min(s[-1] for s, _ in runs)
            grid = max((s for s, _ in runs), key=len)
            grid = grid[grid <= end]
            if len(grid) == 0:
                continue
            stacked = np.stack([np.interp(grid, s, v) for s, v in runs])
            seeds = f"mean of {len(runs)} seeds" if len(runs) > 1 else "1 seed"
            colour = colours[list(curves).index(label) % len(colours)]
            line = axis.plot(grid, stacked.mean(axis=0), color=colour)[0]
            handles.append(line)
            texts.append(f"{label} ({seeds})")
            if len(runs) > 1:
                banded = True
                axis.fill_between(grid, stacked.min(axis=0), stacked.max(axis=0), color=colour, alpha=0.15)
        if threshold is not None:
            rule = axis.axhline(threshold, color="black", linestyle="--", linewidth=0.8)
            if f"success threshold {threshold:g}" not in texts:
                handles.append(rule)
                texts.append(f"success threshold {threshold:g}")
        axis.set_xlabel(xlabel)
        axis.set_ylabel(describe_column(ylabel) if "/" in ylabel or "_" in ylabel else ylabel)
        if panel:
            axis.set_title(panel, fontsize=10)
        axis.grid(alpha=0.3)
    if banded:
        handles.append(Patch(color="0.5", alpha=0.25))
        texts.append("shaded: min-max over seeds")
    figure.suptitle(run_title(f"{title}: learning curves", context), fontsize=10)
    figure.legend(handles, texts, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.tight_layout()
    return _finish(plt, figure, path)
