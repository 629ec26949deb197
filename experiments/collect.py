"""``feedbackgym collect <sweep folder>``: one table and one plot for a whole sweep (``--multirun``).

A sweep writes one folder per job (``<sweep>/<job>/results.csv``, ``<sweep>/<job>/.hydra/overrides.yaml``).
``collect`` reads every job's table and puts the swept values (the overrides that differ between
jobs) in front as columns, one row per job and condition; it writes ``<sweep>/sweep_results.csv``,
prints the table and draws ``<sweep>/sweep.png`` (grouped bars of the chosen metrics, one group per
row). Works for ``feedbackgym run`` and ``feedbackgym train`` sweeps alike.

    feedbackgym run --multirun env.kwargs.max_turns=3,5 run.episodes=50
    feedbackgym collect multirun/2026-01-01/12-00-00 --metrics acc@1 acc@5
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

COUNTS = ("episodes", "errors", "scored", "seeds")
PREFERRED = ("solved", "acc@1", "acc@5", "unique_answer_ratio", "deal_rate", "return/solver_0")


class CollectError(ValueError):
    """A folder that holds no sweep results, with what was looked for."""


def _number(text: str) -> Any:
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


log = logging.getLogger("feedbackgym")


def read_overrides(job_dir: Path) -> dict[str, str]:
    """``key -> value`` of a job's command-line overrides (``.hydra/overrides.yaml``); none when the file is
    missing or is not a YAML list (said in a warning: the job's swept values are then unknown)."""
    path = job_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    import yaml

    try:
        listed = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        log.warning(f"feedbackgym collect: {path} is not readable YAML ({type(error).__name__}); job {job_dir.name} is shown without its overrides")
        return {}
    if listed is not None and not isinstance(listed, list):
        log.warning(f"feedbackgym collect: {path} is not a list of overrides; job {job_dir.name} is shown without its overrides")
        return {}
    overrides: dict[str, str] = {}
    for line in listed or []:
        key, _, value = str(line).partition("=")
        overrides[key.lstrip("+~")] = value
    return overrides


def job_folders(sweep: Path) -> list[Path]:
    """The sweep's job folders that hold a ``results.csv``, in job order (``0``, ``1``, ..., ``10``)."""
    folders = [path.parent for path in sweep.glob("*/results.csv") if path.is_file()]
    return sorted(folders, key=lambda p: (0, int(p.name)) if p.name.isdecimal() and p.name.isascii() else (1, p.name))


def read_results(path: Path) -> list[dict[str, Any]] | None:
    """The rows of one job's ``results.csv`` with numbers parsed; None (and a warning saying why) for a table that
    cannot be read: not UTF-8, ragged rows (a cell more or fewer than the header), no header."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            table = list(csv.reader(handle))
    except (UnicodeDecodeError, csv.Error) as error:
        log.warning(f"feedbackgym collect: {path} is not a readable CSV table ({type(error).__name__}: {error}); job {path.parent.name} is left out")
        return None
    if not table:
        log.warning(f"feedbackgym collect: {path} is empty; job {path.parent.name} is left out (did it finish?)")
        return None
    header, *body = table
    for number, cells in enumerate(body, start=2):
        if cells and len(cells) != len(header):  # (a blank line reads as no cells: skipped, as csv.DictReader does)
            log.warning(f"feedbackgym collect: {path} line {number} has {len(cells)} cells but the header has {len(header)}; "
                        f"job {path.parent.name} is left out")
            return None
    return [{key: _number(value) for key, value in zip(header, cells)} for cells in body if cells]


def collect_sweep(sweep: Path | str) -> tuple[list[dict[str, Any]], list[str]]:
    """(rows, swept keys): every job's result rows with the swept values in front; the keys whose values differ between jobs."""
    sweep = Path(sweep)
    if not sweep.is_dir():
        raise CollectError(f"{sweep} is not a folder; give the sweep folder that --multirun printed (multirun/<date>/<time>)")
    folders = job_folders(sweep)
    if not folders:
        raise CollectError(f"{sweep} has no job folders with a results.csv (looked for {sweep}/<job>/results.csv); "
                           "is it the folder of a finished --multirun sweep?")
    overrides = {folder: read_overrides(folder) for folder in folders}
    keys = list(dict.fromkeys(key for values in overrides.values() for key in values))
    swept = [key for key in keys if len({values.get(key) for values in overrides.values()}) > 1] or keys
    rows: list[dict[str, Any]] = []
    for folder in folders:
        for values in read_results(folder / "results.csv") or []:
            rows.append({"job": folder.name, **{key: _number(overrides[folder].get(key, "")) for key in swept}, **values})
    if not rows:
        raise CollectError(f"no job of {sweep} has a readable results.csv with rows (see the warnings above)")
    return rows, swept


def default_metrics(rows: Sequence[Mapping[str, Any]], skip: Sequence[str]) -> list[str]:
    """The metrics plotted unless ``--metrics`` names some: the usual success metrics present, else the first four numbers."""
    columns = list(dict.fromkeys(key for row in rows for key in row if key not in skip and key not in COUNTS))
    numeric = [c for c in columns if not c.endswith("_std") and any(isinstance(r.get(c), (int, float)) for r in rows)]
    chosen = [c for c in PREFERRED if c in numeric]
    return chosen or numeric[:4]


def label(row: Mapping[str, Any], swept: Sequence[str]) -> str:
    parts = [f"{key.rsplit('.', 1)[-1]}={row.get(key)}" for key in swept]
    if row.get("condition") not in (None, "default"):
        parts.append(str(row["condition"]))
    return " ".join(parts) or str(row.get("job"))


def collect(sweep: Path | str, metrics: Sequence[str] | None = None, plot: bool = True) -> tuple[list[dict[str, Any]], list[Path]]:
    """Write ``sweep_results.csv`` (and ``sweep.png``) into the sweep folder; returns the rows and the files written."""
    sweep = Path(sweep)
    rows, swept = collect_sweep(sweep)
    return rows, write_collected(sweep, rows, swept, metrics, plot)


def write_collected(sweep: Path, rows: list[dict[str, Any]], swept: Sequence[str], metrics: Sequence[str] | None = None,
                    plot: bool = True) -> list[Path]:
    """Write the rows of :func:`collect_sweep` as ``sweep_results.csv`` (and ``sweep.png``); returns the files written."""
    from feedbackgym.experiments.runner import write_table

    written = [write_table(rows, sweep / "sweep_results.csv")]
    chosen = list(metrics or default_metrics(rows, ["job", "condition", *swept]))
    unknown = [m for m in chosen if not any(m in row for row in rows)]
    if unknown:
        known = [k for k in dict.fromkeys(k for r in rows for k in r) if k not in ("job", "condition", *swept)]
        raise CollectError(f"--metrics {unknown} are not columns of the results; columns: {', '.join(known)}")
    if plot and chosen:
        from feedbackgym.experiments.plots import plot_experiment

        labelled = [{**row, "condition": label(row, swept)} for row in rows]
        finite = [row.get(m) for row in rows for m in chosen if isinstance(row.get(m), (int, float)) and math.isfinite(row.get(m))]
        unit = bool(finite) and all(0.0 <= v <= 1.0 for v in finite)
        plot_experiment(sweep.name, labelled, sweep / "sweep.png", columns=chosen,
                        ylabel="rate" if unit else "value", ylim=(0.0, 1.0) if unit else None)
        written.append(sweep / "sweep.png")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    from feedbackgym.experiments.runner import format_table

    parser = argparse.ArgumentParser(prog="feedbackgym collect", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", help="the sweep folder (multirun/<date>/<time>, or hydra.sweep.dir)")
    parser.add_argument("--metrics", nargs="+", help="columns to plot and print (default: solved, acc@1, acc@5, ... when present)")
    parser.add_argument("--no-plot", action="store_true", help="write the table only")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        rows, swept = collect_sweep(args.sweep)  # read once: its warnings are said once
        written = write_collected(Path(args.sweep), rows, swept, args.metrics, plot=not args.no_plot)
    except CollectError as error:
        print(f"feedbackgym collect: {error}", file=sys.stderr)
        return 2
    shown = ["job", *swept, *(["condition"] if any(r.get("condition") not in (None, "default") for r in rows) else []),
             *[c for c in ("episodes", "seeds") if any(c in r for r in rows)],
             *(args.metrics or default_metrics(rows, ["job", "condition", *swept]))]
    print(format_table(rows, shown))
    print("\nwrote " + ", ".join(str(path) for path in written))
    return 0


__all__ = ["CollectError", "collect", "collect_sweep", "main"]
