"""Sweeps: `feedbackgym collect` makes one table and plot of a --multirun folder; joblib runs jobs in parallel."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from feedbackgym.experiments.collect import CollectError, collect, collect_sweep, main


def fake_job(sweep: Path, number: int, overrides: list[str], rows: list[dict[str, object]]) -> None:
    job = sweep / str(number)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides), encoding="utf-8")
    with (job / "results.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_collect_puts_the_swept_values_in_front(tmp_path: Path) -> None:
    for number, turns in enumerate([3, 5, 10]):
        fake_job(tmp_path, number, [f"env.kwargs.max_turns={turns}", "run.episodes=4"],
                 [{"condition": "none", "episodes": 4, "acc@1": 0.25 * number}, {"condition": "unary", "episodes": 4, "acc@1": 0.5}])
    rows, swept = collect_sweep(tmp_path)
    assert swept == ["env.kwargs.max_turns"]  # run.episodes is the same in every job: not a swept value
    assert [(r["job"], r["env.kwargs.max_turns"], r["condition"]) for r in rows][:3] == [("0", 3, "none"), ("0", 3, "unary"), ("1", 5, "none")]
    rows, written = collect(tmp_path, metrics=["acc@1"])
    assert [p.name for p in written] == ["sweep_results.csv", "sweep.png"] and all(p.stat().st_size > 0 for p in written)
    table = list(csv.DictReader((tmp_path / "sweep_results.csv").open(encoding="utf-8")))
    assert list(table[0])[:3] == ["job", "env.kwargs.max_turns", "condition"] and len(table) == 6


def test_collect_says_what_it_looked_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CollectError, match="results.csv"):
        collect_sweep(tmp_path)
    assert main([str(tmp_path / "missing")]) == 2
    assert "not a folder" in capsys.readouterr().err
    fake_job(tmp_path, 0, ["a.b=1"], [{"condition": "default", "acc@1": 0.5}])
    with pytest.raises(CollectError, match="nope"):
        collect(tmp_path, metrics=["nope"])


def test_a_two_job_sweep_with_the_joblib_launcher_then_collect(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    sweep = tmp_path / "sweep"
    command = [sys.executable, "-m", "feedbackgym.experiments.cli", "run", "--multirun", "hydra/launcher=joblib",
               "hydra.launcher.n_jobs=2", "experiment=single", "env.kwargs.max_turns=1,3", "run.episodes=3", "run.plot=false",
               f"hydra.sweep.dir={sweep}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env={**os.environ, "PYTHONHASHSEED": "0"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[job 0] 3/3 episodes" in done.stdout and "[job 1] 3/3 episodes" in done.stdout  # readable, prefixed progress
    rows, swept = collect_sweep(sweep)
    assert swept == ["env.kwargs.max_turns"] and sorted(r["env.kwargs.max_turns"] for r in rows) == [1, 3]
    assert all(r["episodes"] == 3 for r in rows)
    printed = subprocess.run([sys.executable, "-m", "feedbackgym.experiments.cli", "collect", str(sweep)], capture_output=True,
                             text=True, timeout=120)
    assert printed.returncode == 0 and "env.kwargs.max_turns" in printed.stdout
    assert (sweep / "sweep.png").exists()
