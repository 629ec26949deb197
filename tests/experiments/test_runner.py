"""The runner: concurrency, errors recorded and survived, streaming, aggregation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from feedbackgym.agents import Agent, make_agent
from feedbackgym.envs import make
from feedbackgym.experiments.runner import EpisodeJob, aggregate, rollout, run_episodes


class SlowSolver(Agent):
    """Awaits like an LLM call would, and counts how many of its kind are in flight at once."""

    in_flight = 0
    peak = 0

    async def aact(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        SlowSolver.in_flight += 1
        SlowSolver.peak = max(SlowSolver.peak, SlowSolver.in_flight)
        await asyncio.sleep(0.01)
        SlowSolver.in_flight -= 1
        return "\\boxed{-1}"


class Exploding(Agent):
    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        raise RuntimeError("model server went away")


def agents_with(solver: Agent) -> dict[str, Agent]:
    return {"solver_0": solver, "teacher_0": make_agent("scripted_teacher")}


async def test_episodes_run_concurrently_up_to_the_limit() -> None:
    SlowSolver.peak = 0
    jobs = [EpisodeJob(str(i), i) for i in range(12)]
    records = await run_episodes(jobs, lambda c: make("SolverFeedback-v0", max_turns=2), lambda c: agents_with(SlowSolver()), concurrency=4)
    assert len(records) == 12 and all(r["error"] is None for r in records)
    assert SlowSolver.peak == 4


async def test_a_failing_agent_errors_its_episode_and_the_run_goes_on(tmp_path: Path) -> None:
    jobs = [EpisodeJob("ok/0", 0, "ok"), EpisodeJob("bad/0", 0, "bad"), EpisodeJob("ok/1", 1, "ok")]

    def make_agents(condition: str) -> dict[str, Agent]:
        return agents_with(Exploding() if condition == "bad" else make_agent("friction_solver"))

    out = tmp_path / "episodes.jsonl"
    records = await run_episodes(jobs, lambda c: make("SolverFeedback-v0", max_turns=3), make_agents, concurrency=2, output=out)
    by_id = {r["episode_id"]: r for r in records}
    assert by_id["bad/0"]["error"] == "RuntimeError: model server went away"
    assert by_id["ok/0"]["error"] is None and by_id["ok/1"]["error"] is None
    assert len(out.read_text().splitlines()) == 3  # the errored episode is recorded too
    # a resumed run plays only the errored episode again
    records = await run_episodes(jobs, lambda c: make("SolverFeedback-v0", max_turns=3), make_agents, concurrency=2, output=out)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["episode_id"] for line in lines].count("bad/0") == 2
    assert [line["episode_id"] for line in lines].count("ok/0") == 1


def test_rollout_accepts_names_specs_and_instances() -> None:
    result = rollout("SolverFeedback-v0", {"solver_0": {"name": "friction_solver", "kwargs": {"stickiness": 0.0}}, "teacher_0": "scripted_teacher"}, seed=5, max_turns=3)
    assert result.error is None
    assert result.steps == sum(1 for m in result.transcript if m["sender"] in ("solver_0", "teacher_0") and m["kind"] in ("move", "invalid"))
    with pytest.raises(ValueError, match="no agent given for \\['teacher_0'\\]"):
        rollout("SolverFeedback-v0", {"solver_0": "random"}, seed=0)
    with pytest.raises(TypeError, match="must be an Agent"):
        rollout("SolverFeedback-v0", {"solver_0": 3, "teacher_0": "random"}, seed=0)


def test_aggregate_means_lists_elementwise_and_skips_none() -> None:
    records = [
        {"condition": "a", "error": None, "metrics": {"solved": True, "cumulative_accuracy": [0.0, 1.0], "feedback_resistance": None}, "returns": {"solver_0": 1.0}},
        {"condition": "a", "error": None, "metrics": {"solved": False, "cumulative_accuracy": [0.0, 0.0], "feedback_resistance": 0.5}, "returns": {"solver_0": 0.0}},
        {"condition": "a", "error": "boom", "metrics": {}, "returns": {}},
    ]
    (row,) = aggregate(records)
    assert row["episodes"] == 3 and row["errors"] == 1
    assert row["solved"] == 0.5 and row["acc@1"] == 0.0 and row["acc@2"] == 0.5
    assert row["feedback_resistance"] == 0.5 and row["return/solver_0"] == 0.5


class Surrogate(Agent):
    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        return "\\boxed{1} \ud800 lone surrogate"


async def test_text_that_is_not_valid_utf8_is_streamed_exactly(tmp_path: Path) -> None:
    out = tmp_path / "episodes.jsonl"
    records = await run_episodes([EpisodeJob("0", 0)], lambda c: make("SolverFeedback-v0", max_turns=1), lambda c: agents_with(Surrogate()), output=out)
    assert records[0]["error"] is None
    (line,) = out.read_text(encoding="utf-8").splitlines()
    moves = [m["text"] for m in json.loads(line)["transcript"] if m["sender"] == "solver_0"]
    assert moves == ["\\boxed{1} \ud800 lone surrogate"]
