"""run.backend=ray: episode chunks on a local Ray, streamed into episodes.jsonl, records equal to the local runner's."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from feedbackgym.experiments.backends.ray_backend import SharedWindows, check_ray_options, factories, recipe_of
from feedbackgym.experiments.configuration import ConfigError
from feedbackgym.experiments.evaluate import agents_factory, env_factory, validate
from feedbackgym.experiments.runner import EpisodeJob, run_episodes

OVERRIDES = ["experiment=feedback_ladder", "env.kwargs.max_turns=3", "run.episodes=3"]


def config(overrides=OVERRIDES):
    with initialize_config_module(config_module="feedbackgym.conf.run", version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=True)


def jobs_of(cfg) -> list[EpisodeJob]:
    return [EpisodeJob(f"{c}/{i}", i, c) for c in ("none", "binary", "critique") for i in range(int(cfg.run.episodes))]


def without_timing(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def test_the_recipe_builds_what_the_local_factories_build() -> None:
    cfg = config()
    roles = validate(cfg)
    recipe = json.loads(json.dumps(recipe_of(cfg, roles)))  # plain data: it travels to the workers
    make_env, make_agents = factories(recipe)
    local = asyncio.run(run_episodes(jobs_of(cfg), env_factory(cfg), agents_factory(cfg, roles), concurrency=4))
    rebuilt = asyncio.run(run_episodes(jobs_of(cfg), make_env, make_agents, concurrency=2))
    assert without_timing(local) == without_timing(rebuilt)


def test_shared_windows_hold_one_limit_per_endpoint() -> None:
    windows = SharedWindows(window=60.0)
    assert [windows.reserve("a", 2, None) for _ in range(2)] == [0.0, 0.0]
    assert windows.reserve("a", 2, None) > 0  # a third request this minute waits, whichever worker asks
    assert windows.reserve("b", 2, None) == 0.0  # another endpoint has its own window
    windows.record("c", 100)
    assert windows.reserve("c", None, 100) > 0


def test_ray_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="run.ray has unknown option"):
        check_ray_options({"chunks": 3})
    with pytest.raises(ConfigError, match="run.ray.chunk_size"):
        check_ray_options({"chunk_size": 0})


def test_ray_backend_matches_the_local_runner_and_resumes(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    from feedbackgym.experiments.backends.ray_backend import run_episodes_on_ray

    cfg = config()
    roles = validate(cfg)
    jobs = jobs_of(cfg)
    local = asyncio.run(run_episodes(jobs, env_factory(cfg), agents_factory(cfg, roles), concurrency=8))
    output = tmp_path / "episodes.jsonl"
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        first = run_episodes_on_ray(jobs[:5], cfg, roles, output=output, options={"chunk_size": 2})
        assert len(output.read_text(encoding="utf-8").splitlines()) == 5
        records = run_episodes_on_ray(jobs, cfg, roles, output=output, options={"chunk_size": 2})  # resumes: 4 more
    finally:
        ray.shutdown()
    assert without_timing(records) == without_timing(local)
    assert records[:5] == first  # the finished ones were read back, not played again
    lines = output.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(jobs) and sorted(json.loads(line)["episode_id"] for line in lines) == sorted(j.episode_id for j in jobs)


def test_llm_agents_in_a_worker_take_the_shared_window(monkeypatch: pytest.MonkeyPatch) -> None:
    from feedbackgym.agents.llm import agent as llm_agent
    from feedbackgym.experiments.backends.ray_backend import RemoteLimiter, share_limits

    monkeypatch.setattr(llm_agent, "shared_limiter", llm_agent.shared_limiter)  # restored after the test
    windows = SharedWindows(window=60.0)
    asked: list[str] = []

    class Method:
        def __init__(self, function):
            self.function = function

        def remote(self, *args):
            asked.append(args[0])
            future = asyncio.get_event_loop().create_future() if args and self.function == windows.reserve else None
            value = self.function(*args)
            if future is None:
                return value
            future.set_result(value)
            return future

    class FakeActor:
        reserve = Method(windows.reserve)
        record = Method(windows.record)

    assert share_limits(FakeActor())
    assert llm_agent.shared_limiter("model", None, None, None) is None
    limiter = llm_agent.shared_limiter("model", "http://x", 5, None)
    assert isinstance(limiter, RemoteLimiter)
    asyncio.run(limiter.acquire())
    assert asked and len(windows.requests[asked[0]]) == 1  # the request was counted in the one shared window
