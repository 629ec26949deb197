"""Plots of experiment tables (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def plot_experiment(name: str, rows: Sequence[Mapping[str, Any]], path: Path | str) -> Path:
    """Cumulative accuracy@k per condition when the rows have it; otherwise a bar chart of the mean return."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    plotted = False
    for row in rows:
        ks = sorted((int(key.split("@")[1]) for key in row if key.startswith("acc@")))
        if ks:
            axis.plot(ks, [row[f"acc@{k}"] for k in ks], marker="o", label=str(row["condition"]))
            plotted = True
    if plotted:
        axis.set_xlabel("attempts k")
        axis.set_ylabel("cumulative accuracy@k")
        axis.set_ylim(0, 1)
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
