"""LLMAgent end to end through litellm against a real OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import feedbackgym
from feedbackgym.agents.base import AgentConfigurationError
from feedbackgym.agents.llm import LLMAgent
from feedbackgym.agents.llm.fake_server import FakeLLMServer
from feedbackgym.envs import make, registry
from feedbackgym.experiments.runner import EpisodeJob, run_episodes

SECRET = "sk-e2e-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(retry_after="0.1", hang_seconds=20.0) as running:
        yield running


def llm(server: FakeLLMServer, model: str = "learner", **kwargs: object) -> LLMAgent:
    options = {"api_base": server.url, "api_key": SECRET, "timeout": 5.0, "backoff_initial": 0.01, "backoff_max": 0.05}
    options.update(kwargs)
    return LLMAgent(model=f"openai/{model}", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("env_id", sorted(registry))
def test_every_environment_plays_with_llms_in_every_role(server: FakeLLMServer, env_id: str) -> None:
    env = make(env_id)
    agents = {role: llm(server) for role in env.unwrapped.possible_agents}
    result = asyncio.run(feedbackgym.experiments.runner.play_episode(env, agents, seed=0))
    assert result.error is None, result.error
    assert not env.unwrapped.agents, "the episode ended"
    assert sum(a.stats().get("calls", 0) for a in agents.values()) >= 1
    moves = [m for m in result.transcript if m["sender"] in agents and m["kind"] in ("move", "invalid")]
    valid = [m for m in moves if m["kind"] == "move"]
    assert valid, "the model's replies were all invalid moves"


def test_learner_needs_feedback_and_solves(server: FakeLLMServer) -> None:
    agents = {"solver_0": llm(server), "teacher_0": llm(server)}
    result = feedbackgym.rollout("SolverFeedback-v0", agents, seed=3, feedback_level="critique")
    assert result.error is None and result.metrics["solved"] and result.metrics["turns_to_success"] == 2
    assert result.agents["solver_0"]["calls"] == 2 and result.agents["teacher_0"]["calls"] == 1


def test_rejection_sampling_beats_a_stubborn_model(server: FakeLLMServer) -> None:
    def solve(reject: int) -> bool:
        agents = {"solver_0": llm(server, "stubborn", reject_previous=reject), "teacher_0": llm(server)}
        return feedbackgym.rollout("SolverFeedback-v0", agents, seed=1, max_turns=3).metrics["solved"]

    assert not solve(0)
    assert solve(4)


def test_requests_are_concurrent_across_episodes(server: FakeLLMServer) -> None:
    with FakeLLMServer(latency=0.05) as slow:
        jobs = [EpisodeJob(str(i), i) for i in range(16)]
        records = asyncio.run(
            run_episodes(jobs, lambda c: make("SolverFeedback-v0"), lambda c: {"solver_0": llm(slow), "teacher_0": llm(slow)}, concurrency=8)
        )
        assert all(r["error"] is None for r in records)
        assert slow.peak_in_flight >= 6


def test_warm_cache_replays_byte_for_byte_with_zero_requests(server: FakeLLMServer, tmp_path: Path) -> None:
    cache = str(tmp_path / "llm.sqlite")

    def run(mode: str) -> list[str]:
        jobs = [EpisodeJob(str(i), i) for i in range(6)]
        records = asyncio.run(
            run_episodes(
                jobs,
                lambda c: make("SolverFeedback-v0", feedback_level="critique"),
                lambda c: {r: llm(server, cache=mode, cache_path=cache) for r in ("solver_0", "teacher_0")},
                concurrency=3,
            )
        )
        return [json.dumps(r["transcript"]) for r in records]

    first = run("read_write")
    before = server.requests
    assert run("read_only") == first
    assert server.requests == before


@pytest.mark.parametrize(
    ("model", "tries"),
    [("learner-fault-429-2-0.1s", 3), ("learner-fault-500-2", 3), ("learner-fault-drop-1", 2), ("learner-fault-hang-1", 2)],
)
def test_transient_faults_are_retried(server: FakeLLMServer, model: str, tries: int) -> None:
    solver = llm(server, f"{model}-{os.urandom(3).hex()}", timeout=1.0)
    result = feedbackgym.rollout("SolverFeedback-v0", {"solver_0": solver, "teacher_0": llm(server)}, seed=0)
    assert result.error is None and result.metrics["solved"]
    assert solver.calls[0]["tries"] == tries


def test_retry_after_is_honoured(server: FakeLLMServer) -> None:
    solver = llm(server, f"learner-fault-429-1-0.3s-{os.urandom(3).hex()}", backoff_initial=0.0, backoff_max=0.0)
    result = feedbackgym.rollout("SolverFeedback-v0", {"solver_0": solver, "teacher_0": llm(server)}, seed=0)
    assert result.error is None and solver.calls[0]["latency"] >= 0.3


def test_permanent_fault_errors_the_episode_with_its_cause_and_resume_retries_it(server: FakeLLMServer, tmp_path: Path) -> None:
    out = tmp_path / "episodes.jsonl"
    jobs = [EpisodeJob("good", 0, "good"), EpisodeJob("bad", 1, "bad")]
    models = {"good": "learner", "bad": "fault-badjson"}
    run = lambda: asyncio.run(  # noqa: E731
        run_episodes(jobs, lambda c: make("SolverFeedback-v0"), lambda c: {"solver_0": llm(server, models[c], max_retries=1), "teacher_0": llm(server)}, output=out)
    )
    records = {r["episode_id"]: r for r in run()}
    assert records["good"]["error"] is None
    assert "InternalServerError" in records["bad"]["error"] and "gave up after 2 tries" in records["bad"]["error"]
    models["bad"] = "learner"  # the provider recovers
    records = {r["episode_id"]: r for r in run()}
    assert records["bad"]["error"] is None
    ids = [json.loads(line)["episode_id"] for line in out.read_text().splitlines()]
    assert ids.count("good") == 1 and ids.count("bad") == 2


def test_empty_and_huge_replies_are_moves_kept_whole(server: FakeLLMServer) -> None:
    empty = feedbackgym.rollout("SolverFeedback-v0", {"solver_0": llm(server, "fault-empty"), "teacher_0": llm(server)}, seed=0, max_turns=2)
    assert empty.error is None and empty.metrics["invalid_moves"] >= 1 and not empty.metrics["solved"]
    invalid = [m for m in empty.transcript if m["kind"] == "invalid"]
    assert invalid and invalid[0]["text"] == ""
    null = feedbackgym.rollout("SolverFeedback-v0", {"solver_0": llm(server, "fault-null"), "teacher_0": llm(server)}, seed=0, max_turns=1)
    assert null.error is None and null.metrics["invalid_moves"] >= 1
    huge = feedbackgym.rollout("SolverFeedback-v0", {"solver_0": llm(server, "fault-huge"), "teacher_0": llm(server)}, seed=0)
    moves = [m["text"] for m in huge.transcript if m["sender"] == "solver_0"]
    assert huge.error is None and len(moves[0]) == 1_000_000 and huge.metrics["solved"]


def test_no_secret_in_any_output_file(server: FakeLLMServer, tmp_path: Path) -> None:
    from hydra import compose, initialize_config_module

    from feedbackgym.experiments.evaluate import RunFailed, run_experiment

    overrides = [
        "experiment=single", "run.episodes=3", "run.progress=false",
        "agent@agents.solver_0=llm", "agents.solver_0.model=openai/learner", f"agents.solver_0.api_base={server.url}",
        f"agents.solver_0.api_key={SECRET}", "agent@agents.teacher_0=llm", "agents.teacher_0.model=openai/fault-badjson",
        f"agents.teacher_0.api_base={server.url}", f"agents.teacher_0.api_key={SECRET}", "agents.teacher_0.max_retries=0",
        "agents.solver_0.cache=read_write", f"agents.solver_0.cache_path={tmp_path / 'cache.sqlite'}",
    ]
    with initialize_config_module(config_module="feedbackgym.conf.run", version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    with pytest.raises(RunFailed):  # every episode errored (the teacher's calls): the run fails, its files stay
        run_experiment(cfg, tmp_path)
    assert f"Bearer {SECRET}" in server.api_keys_seen  # the key was used ...
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path  # ... and written nowhere
    records = [json.loads(line) for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    assert all("InternalServerError" in r["error"] for r in records)  # the teacher's calls failed, recorded


def test_saved_hydra_config_is_redacted(tmp_path: Path, server: FakeLLMServer) -> None:
    import subprocess
    import sys

    completed = subprocess.run(
        [sys.executable, "-m", "feedbackgym.experiments.cli", "run", "experiment=single", "run.episodes=1", "run.progress=false",
         "run.plot=false", "agent@agents.solver_0=llm", "agents.solver_0.model=openai/learner", f"agents.solver_0.api_base={server.url}",
         f"agents.solver_0.api_key={SECRET}", f"hydra.run.dir={tmp_path}"],
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert SECRET not in completed.stdout + completed.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert "[redacted]" in (tmp_path / ".hydra" / "overrides.yaml").read_text()


def test_local_server_needs_no_key(server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    agents = {role: LLMAgent(model="openai/learner", api_base=server.url, timeout=5.0) for role in ("solver_0", "teacher_0")}
    result = feedbackgym.rollout("SolverFeedback-v0", agents, seed=0)
    assert result.error is None and result.metrics["solved"]


def test_missing_credentials_fail_fast_without_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    solver = LLMAgent(model="openai/gpt-4o-mini", timeout=5.0, max_retries=5, backoff_initial=10.0)
    started = time.perf_counter()
    # a configuration fault is not one failed episode: it stops the rollout (and a run) at once
    with pytest.raises(AgentConfigurationError, match="not retryable"):
        feedbackgym.rollout("SolverFeedback-v0", {"solver_0": solver, "teacher_0": "scripted_teacher"}, seed=0)
    assert solver.calls[0]["tries"] == 1 and time.perf_counter() - started < 10
