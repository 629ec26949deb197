"""The `feedbackgym` console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from feedbackgym.experiments.cli import main


def test_list_names_every_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for expected in ("envs:", "SolverFeedback-v0", "SolverFeedback-UFO-v0", "agents:", "friction_solver", "tasks:", "hex_multiplication", "wrappers:", "unary_feedback", "encoders:"):
        assert expected in out


def test_list_encoders_names_each_kind_and_the_roles_it_is_the_default_of(capsys: pytest.CaptureFixture[str], restore_registries: None) -> None:
    from feedbackgym.wrappers.encoding import Encoder, register_encoder

    @register_encoder(default_for=[("HigherLowerEnv", "guesser")])
    class Guesses(Encoder):
        kind = "guesses_listed"

        def __init__(self, fields: object = None) -> None:
            super().__init__(fields)

    assert main(["list", "encoders"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "encoders:"
    assert any(line.split() == ["negotiator", "default", "for", "NegotiationEnv", "seller,", "NegotiationEnv", "buyer"] for line in lines)
    assert any(line.split() == ["guesses_listed", "default", "for", "HigherLowerEnv", "guesser"] for line in lines)


def test_run_passes_hydra_overrides(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "feedbackgym.experiments.cli", "run", "experiment=single", "run.episodes=3",
         "run.progress=false", f"hydra.run.dir={tmp_path}"],
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "results.csv").exists() and (tmp_path / "episodes.jsonl").exists()
    assert "default" in completed.stdout


def test_multirun(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "feedbackgym.experiments.cli", "run", "--multirun", "experiment=single", "run.episodes=2",
         "run.progress=false", "run.plot=false", "env.kwargs.max_turns=2,3", f"hydra.sweep.dir={tmp_path}"],
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["0", "1"]
    assert all((tmp_path / job / "results.csv").exists() for job in ("0", "1"))
