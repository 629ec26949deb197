"""A fast sample of the LLM fault-schedule stress (the full run: benchmarks/stress_llm.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from feedbackgym.agents.llm.fake_server import FAULT_KINDS
from feedbackgym.agents.llm.fault_schedule import random_schedule, stress


def test_schedules_are_seeded_and_cover_every_fault() -> None:
    schedule = random_schedule(3, 0.5)
    faults = [schedule(i) for i in range(2000)]
    assert faults == [random_schedule(3, 0.5)(i) for i in range(2000)]
    assert set(faults) - {None} == set(FAULT_KINDS)
    assert 0.4 < faults.count(None) / len(faults) < 0.6
    with pytest.raises(ValueError, match="fault_rate"):
        random_schedule(0, 1.5)


def check(figures: dict[str, object]) -> None:
    assert figures["lost"] == 0
    assert figures["leaks"] == 0, figures["leak_files"]
    assert figures["cache_integrity"] == "ok" and figures["cache_bad_rows"] == 0
    assert figures["replay_requests"] == 0 and figures["replay_identical"] == figures["completed"]
    assert figures["completed"] + figures["errored"] == figures["episodes"]


ENVS = ["SolverFeedback-v0", "Negotiation-v0", "DeceptiveJudge-v0", "SimulatedUser-v0"]


def test_random_faults_lose_nothing_and_leak_nothing(tmp_path: Path) -> None:
    figures = stress(tmp_path, seed=1, episodes_per_env=1, env_ids=ENVS, fault_rate=0.4, timeout=0.5)
    check(figures)
    assert figures["faults_injected"] >= 10


def test_a_slow_single_slot_server_with_faults_loses_nothing(tmp_path: Path) -> None:
    figures = stress(tmp_path, seed=2, episodes_per_env=2, env_ids=ENVS[:2], fault_rate=0.1, slots=1, latency=0.03, timeout=0.25)
    check(figures)
