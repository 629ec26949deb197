"""Plots of experiment tables (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def plot_experiment(
    name: str,
    rows: Sequence[Mapping[str, Any]],
    path: Path | str,
    *,
    series: str = "acc",
    xlabel: str = "attempts k",
    ylabel: str = "cumulative accuracy@k",
    ylim: tuple[float, float] | None = (0.0, 1.0),
) -> Path:
    """One line per condition of the list metric ``series`` (columns ``series@1``, ``series@2``, ...).

    Without such columns, a bar chart of each condition's first mean return.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    plotted = False
    for row in rows:
        ks = sorted(int(key.split("@")[1]) for key in row if key.startswith(f"{series}@"))
        if ks:
            axis.plot(ks, [row[f"{series}@{k}"] for k in ks], marker="o", label=str(row["condition"]))
            plotted = True
    if plotted:
        axis.set_xlabel(xlabel)
        axis.set_ylabel(ylabel)
        if ylim is not None:
            axis.set_ylim(*ylim)
        axis.legend(title="condition", fontsize=8)
        axis.grid(alpha=0.3)
    else:
        returns = [next((v for k, v in row.items() if k.startswith("return/")), 0.0) for row in rows]
        axis.bar([str(row["condition"]) for row in rows], returns)
        axis.set_ylabel("mean return")
    axis.set_title(name)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
