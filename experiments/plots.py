"""Plots of experiment tables (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

Limits = tuple[float, float] | None


def plot_experiment(
    name: str,
    rows: Sequence[Mapping[str, Any]],
    path: Path | str,
    *,
    series: str | Sequence[str] = "acc",
    xlabel: str = "attempts k",
    ylabel: str | Sequence[str] = "cumulative accuracy@k",
    ylim: Limits | Sequence[Limits] = (0.0, 1.0),
    columns: Sequence[str] | None = None,
) -> Path:
    """One line per condition of the list metric ``series`` (columns ``series@1``, ``series@2``, ...).

    With ``columns`` (names of scalar columns), instead a grouped bar chart: one group per
    condition, one bar per column (``ylabel`` and ``ylim`` as given).

    ``series`` may name several list metrics: one panel each, side by side, with ``ylabel`` and
    ``ylim`` given per panel (a single value applies to every panel). Without such columns, a bar
    chart of each condition's first mean return.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if columns:
        return _plot_columns(plt, name, rows, Path(path), list(columns), ylabel if isinstance(ylabel, str) else ylabel[0], ylim if ylim is None or _is_pair(ylim) else None)  # type: ignore[arg-type]
    names = [series] if isinstance(series, str) else list(series)
    labels = [ylabel] * len(names) if isinstance(ylabel, str) else list(ylabel)
    limits = [ylim] * len(names) if ylim is None or _is_pair(ylim) else list(ylim)  # type: ignore[arg-type]
    if len(labels) != len(names) or len(limits) != len(names):
        raise ValueError(f"plot: give one ylabel and ylim per series, or one for all; got series={names}, ylabel={ylabel!r}, ylim={ylim!r}")
    many = len(rows) > 10  # beyond the default 10 colours lines repeat; the legend would cover them
    figure, axes = plt.subplots(1, len(names), figsize=(7 * len(names) + (3 if many else 0), 4.5 + (1.5 if many else 0)), squeeze=False)
    plotted = False
    for axis, metric, label, limit in zip(axes[0], names, labels, limits):
        drawn = False
        if many:
            axis.set_prop_cycle(color=plt.get_cmap("tab20").colors)
        for row in rows:
            # per-entry columns series@k only: window means (series@1-5) are not points of the curve
            ks = sorted(int(key.split("@")[1]) for key in row if key.startswith(f"{metric}@") and key.split("@")[1].isdigit())
            if ks:
                axis.plot(ks, [row[f"{metric}@{k}"] for k in ks], marker="o", label=str(row["condition"]))
                drawn = True
        if drawn:
            from matplotlib.ticker import MaxNLocator

            axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # k counts games, turns, attempts
            axis.set_xlabel(xlabel)
            axis.set_ylabel(label)
            if limit is not None:
                axis.set_ylim(*limit)
            if many:
                axis.legend(title="condition", fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
            else:
                axis.legend(title="condition", fontsize=8)
            axis.grid(alpha=0.3)
            if len(names) > 1:
                axis.set_title(label)
        plotted = plotted or drawn
    if not plotted:
        axis = axes[0][0]
        returns = [next((v for k, v in row.items() if k.startswith("return/")), 0.0) for row in rows]
        axis.bar([str(row["condition"]) for row in rows], returns)
        axis.set_ylabel("mean return")
    figure.suptitle(name) if len(names) > 1 else axes[0][0].set_title(name)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _is_pair(value: Any) -> bool:
    return isinstance(value, Sequence) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)


def _plot_columns(plt: Any, name: str, rows: Sequence[Mapping[str, Any]], path: Path, columns: list[str], ylabel: str, ylim: Limits) -> Path:
    """Grouped bars: conditions along x, one bar per column (a missing value draws no bar)."""
    width = 0.8 / len(columns)
    figure, axis = plt.subplots(figsize=(max(7.0, 0.9 * len(rows) * max(1, len(columns)) / 2), 4.8))
    for j, column in enumerate(columns):
        xs = [i + (j - (len(columns) - 1) / 2) * width for i in range(len(rows))]
        values = [row.get(column) for row in rows]
        axis.bar(xs, [v if isinstance(v, (int, float)) else 0.0 for v in values], width, label=column)
    axis.set_xticks(range(len(rows)))
    axis.set_xticklabels([str(row["condition"]) for row in rows], rotation=30, ha="right", fontsize=8)
    axis.set_ylabel(ylabel)
    if ylim is not None:
        axis.set_ylim(*ylim)
    axis.axhline(0.0, color="black", linewidth=0.6)
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3, axis="y")
    axis.set_title(name)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_learning_curves(
    curves: Mapping[str, Sequence[tuple[Sequence[float], Sequence[float]]]],
    path: Path | str,
    *,
    title: str = "training",
    xlabel: str = "environment steps",
    ylabel: str = "charts/episodic_return",
    threshold: float | None = None,
) -> Path:
    """One line per label: the mean over its runs (seeds) on a common step grid, with a min-max band.

    ``curves`` maps a label (a condition) to its runs, each (steps, values). Runs are interpolated
    onto the steps of the longest run, up to the shortest run's last step, so the mean never mixes
    in extrapolated values. ``threshold`` draws a dashed line (the success threshold).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, axis = plt.subplots(figsize=(7.5, 4.5))
    for label, runs in curves.items():
        runs = [(np.asarray(s, dtype=float), np.asarray(v, dtype=float)) for s, v in runs if len(s)]
        if not runs:
            continue
        end = min(s[-1] for s, _ in runs)
        grid = max((s for s, _ in runs), key=len)
        grid = grid[grid <= end]
        if len(grid) == 0:
            continue
        stacked = np.stack([np.interp(grid, s, v) for s, v in runs])
        line = axis.plot(grid, stacked.mean(axis=0), label=f"{label} (n={len(runs)})")[0]
        if len(runs) > 1:
            axis.fill_between(grid, stacked.min(axis=0), stacked.max(axis=0), color=line.get_color(), alpha=0.15)
    if threshold is not None:
        axis.axhline(threshold, color="black", linestyle="--", linewidth=0.8, label=f"threshold {threshold:g}")
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
