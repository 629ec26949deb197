"""Per-update training metrics to CSV and, when the ``tensorboard`` package is installed, to TensorBoard."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def tensorboard_available() -> bool:
    """``torch.utils.tensorboard`` needs the separate ``tensorboard`` package; feedbackgym does not require it."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        return False
    return True


class MetricLogger:
    """Writes one CSV row per PPO update (CleanRL's tags as columns) and mirrors the rows to TensorBoard.

    The CSV is rewritten whole after each row: columns appear as metrics do (``metrics/solved`` only
    once an episode has ended), and a file of a few hundred rows costs nothing to rewrite, so the file
    on disk is always complete and readable while training runs.
    """

    def __init__(self, csv_path: str | Path, *, tensorboard_dir: str | Path | None = None) -> None:
        self.csv_path = Path(csv_path)
        self.csv_path.parent.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, float]] = []
        self.columns: list[str] = []
        self.writer: Any = None
        if tensorboard_dir is not None and tensorboard_available():
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(tensorboard_dir))

    def __call__(self, row: Mapping[str, float]) -> None:
        self.rows.append(dict(row))
        self.columns.extend(key for key in row if key not in self.columns)
        with self.csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(self.rows)
        if self.writer is not None:
            step = int(row.get("global_step", len(self.rows)))
            for key, value in row.items():
                if key not in ("global_step", "iteration") and isinstance(value, (int, float)) and math.isfinite(value):
                    self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def read_curve(csv_path: str | Path, column: str) -> tuple[list[float], list[float]]:
    """(global_step, value) pairs of ``column`` from a training CSV, skipping rows without a value."""
    steps: list[float] = []
    values: list[float] = []
    with Path(csv_path).open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row.get(column) not in (None, ""):
                steps.append(float(row["global_step"]))
                values.append(float(row[column]))
    return steps, values
