"""``run.backend=ray``: the run's episodes in chunks on Ray workers, streamed into the driver's ``episodes.jsonl``.

Every worker builds its environments and agents from the same recipe as the local runner (the env id,
kwargs and wrappers of each condition, the agent specs of each role, the plugins to import), plays its
chunk with the local runner, and returns the records; the driver appends each chunk's records to
``episodes.jsonl`` as it arrives, so ``run.resume`` works as it does locally (finished episodes are not
sent again). Episode ``i`` has seed ``run.seed + i`` wherever it runs, so the records equal the local
runner's but for ``seconds``.

LLM rate limits (``requests_per_minute``, ``tokens_per_minute``) are shared across the workers: one
Ray actor keeps one window per endpoint, so the limit holds for the whole run instead of multiplying
with the number of workers.

Options (``run.ray.<option>``):

| option | meaning |
|---|---|
| `address` | a running cluster (`auto`, `ray://host:10001`); null starts a local Ray |
| `chunk_size` | episodes per Ray task (default 8); each task plays them `run.concurrency` at a time |
| `num_cpus` | CPUs of a local Ray (default: Ray's choice) |
| `num_cpus_per_task` | CPUs each task reserves (default 1; LLM-bound chunks can take 0.25) |

Needs Ray: ``pip install -e '.[ray]'``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from feedbackgym.experiments.configuration import ConfigError, check_known, require_int, require_number
from feedbackgym.experiments.runner import EpisodeJob, JsonlSink, _progress, open_output

log = logging.getLogger("feedbackgym")
RAY_OPTIONS = ("address", "chunk_size", "num_cpus", "num_cpus_per_task")


# ------------------------------------------------------------------------------ the recipe
def recipe_of(cfg: Any, roles: Sequence[str]) -> dict[str, Any]:
    """Everything a worker needs to build the run's environments and agents, as plain data."""
    from feedbackgym.experiments.evaluate import agent_specs, conditions_of, env_kwargs, wrappers_of
    from feedbackgym.experiments.plugins import load_plugins

    run = cfg.get("run") or {}
    conditions = conditions_of(cfg)
    return {
        "env_id": str(cfg.env.id),
        "env_kwargs": env_kwargs(cfg),
        "wrappers": [list(w) for w in wrappers_of(cfg)],
        "conditions": {name: {"env": c["env"], "wrappers": [list(w) for w in c["wrappers"]]} for name, c in conditions.items()},
        "agents": {name: agent_specs(cfg, name, roles) for name in conditions},
        # the driver's plugins (entry points, FEEDBACKGYM_PLUGINS, run.plugins): imported again in each worker
        "plugins": load_plugins(list(run.get("plugins") or [])),
    }


def factories(recipe: Mapping[str, Any]) -> tuple[Any, Any]:
    """``make_env(condition)`` and ``make_agents(condition)`` from a recipe, as the local runner's factories."""
    from feedbackgym.agents.registration import build_agents
    from feedbackgym.envs import make

    def make_env(condition: str) -> Any:
        spec = recipe["conditions"][condition]
        stack = [tuple(w) for w in [*recipe["wrappers"], *spec["wrappers"]]]
        return make(recipe["env_id"], wrappers=stack, **{**recipe["env_kwargs"], **spec["env"]})

    def make_agents(condition: str) -> dict[str, Any]:
        return build_agents(recipe["agents"][condition])

    return make_env, make_agents


# ----------------------------------------------------------------- one rate limit per endpoint
class SharedWindows:
    """Sliding one-minute windows of requests and tokens, one per endpoint key (the body of the Ray actor)."""

    def __init__(self, window: float = 60.0) -> None:
        self.window = window
        self.requests: dict[str, deque[float]] = {}
        self.tokens: dict[str, deque[tuple[float, int]]] = {}

    def reserve(self, key: str, rpm: float | None, tpm: float | None) -> float:
        """0 and one request counted when a call fits the endpoint's limits now; else the seconds to wait."""
        now = time.monotonic()
        requests = self.requests.setdefault(key, deque())
        tokens = self.tokens.setdefault(key, deque())
        while requests and now - requests[0] >= self.window:
            requests.popleft()
        while tokens and now - tokens[0][0] >= self.window:
            tokens.popleft()
        waits = [0.0]
        if rpm is not None and len(requests) >= rpm:
            waits.append(self.window - (now - requests[0]))
        if tpm is not None and sum(t for _, t in tokens) >= tpm:
            waits.append(self.window - (now - tokens[0][0]))
        wait = max(waits)
        if wait <= 0:
            requests.append(now)
        return wait

    def record(self, key: str, count: int) -> None:
        if count > 0:
            self.tokens.setdefault(key, deque()).append((time.monotonic(), count))


class RemoteLimiter:
    """What an LLM agent in a worker awaits: the shared window of its endpoint, kept by the Ray actor."""

    def __init__(self, actor: Any, key: str, rpm: float | None, tpm: float | None) -> None:
        self.actor, self.key, self.rpm, self.tpm = actor, key, rpm, tpm

    async def acquire(self) -> None:
        while True:
            wait = await self.actor.reserve.remote(self.key, self.rpm, self.tpm)
            if wait <= 0:
                return
            await asyncio.sleep(min(wait, 5.0))

    def record_tokens(self, tokens: int) -> None:
        if self.tpm is not None and tokens > 0:
            self.actor.record.remote(self.key, int(tokens))


def share_limits(actor: Any) -> bool:
    """Make this worker's LLM agents take their endpoint's limiter from ``actor``; False when the agents offer no hook."""
    try:
        from feedbackgym.agents.llm import agent as llm_agent
    except ImportError:
        return False
    if not hasattr(llm_agent, "shared_limiter"):
        return False

    def remote_limiter(model: str, api_base: str | None, rpm: float | None, tpm: float | None) -> RemoteLimiter | None:
        if rpm is None and tpm is None:
            return None
        return RemoteLimiter(actor, json.dumps([model, api_base, rpm, tpm]), rpm, tpm)

    llm_agent.shared_limiter = remote_limiter  # this worker process only
    return True


# ----------------------------------------------------------------------------- the worker side
def play_chunk(recipe: Mapping[str, Any], jobs: Sequence[tuple[str, int, str]], concurrency: int, limiter: Any) -> list[dict[str, Any]]:
    """Play a chunk of episodes with the local runner (in a Ray worker); returns their records."""
    from feedbackgym.experiments.plugins import import_plugin
    from feedbackgym.experiments.runner import run_episodes

    for name in recipe["plugins"]:
        import_plugin(name, "the driver's plugins")
    if limiter is not None and not share_limits(limiter):
        logging.getLogger("feedbackgym").warning("LLM agents offer no limiter hook here: rate limits apply per worker")
    make_env, make_agents = factories(recipe)
    episodes = [EpisodeJob(episode_id, seed, condition) for episode_id, seed, condition in jobs]
    return asyncio.run(run_episodes(episodes, make_env, make_agents, concurrency=concurrency))


def _line(record: Mapping[str, Any]) -> str:
    """The record as the local runner writes it (its records are the parsed lines, so this gives the line back)."""
    try:
        line = json.dumps(record, ensure_ascii=False)
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(record, ensure_ascii=True)
    return line


def check_ray_options(options: Mapping[str, Any]) -> dict[str, Any]:
    check_known(options, RAY_OPTIONS, "run.ray")
    checked = {"address": options.get("address"), "chunk_size": require_int(options.get("chunk_size", 8), "run.ray.chunk_size", minimum=1)}
    if options.get("num_cpus") is not None:
        checked["num_cpus"] = require_int(options["num_cpus"], "run.ray.num_cpus", minimum=1)
    checked["num_cpus_per_task"] = require_number(options.get("num_cpus_per_task", 1), "run.ray.num_cpus_per_task", minimum=0.0)
    return checked


# ----------------------------------------------------------------------------- the driver side
def run_episodes_on_ray(
    jobs: Sequence[EpisodeJob],
    cfg: Any,
    roles: Sequence[str],
    *,
    concurrency: int = 8,
    output: Path | str | None = None,
    resume: bool = True,
    progress: bool | str = False,
    options: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """As :func:`~feedbackgym.experiments.runner.run_episodes`, with the episodes played by Ray workers.

    ``cfg`` is the run's config (the workers' recipe is made from it); ``options`` are ``run.ray``.
    An :class:`~feedbackgym.agents.base.AgentConfigurationError` in a worker stops the run with its cause.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError("run.backend=ray needs Ray: pip install -e '.[ray]' (or pip install ray)") from None
    from feedbackgym.agents.base import AgentConfigurationError

    settings = check_ray_options(dict(options or {}))
    recipe = recipe_of(cfg, roles)
    path, records, pending = open_output(output, resume, jobs)
    started_here = not ray.is_initialized()
    if started_here:
        init = {"address": settings["address"], "include_dashboard": False, "log_to_driver": True}
        if "num_cpus" in settings and settings["address"] is None:
            init["num_cpus"] = settings["num_cpus"]
        ray.init(**init)
    sink = JsonlSink(path) if path is not None else None
    bar = _progress(len(jobs), len(records), progress if isinstance(progress, str) else None) if progress else None
    try:
        remote_chunk = ray.remote(num_cpus=settings["num_cpus_per_task"])(play_chunk)
        limiter = ray.remote(num_cpus=0)(SharedWindows).remote()
        recipe_ref = ray.put(recipe)
        size = settings["chunk_size"]
        chunks = [pending[i:i + size] for i in range(0, len(pending), size)]
        in_flight = [remote_chunk.remote(recipe_ref, [(j.episode_id, j.seed, j.condition) for j in chunk], min(concurrency, size), limiter)
                     for chunk in chunks]
        while in_flight:
            finished, in_flight = ray.wait(in_flight, num_returns=1)
            try:
                chunk_records = ray.get(finished[0])
            except ray.exceptions.RayTaskError as error:
                cause = getattr(error, "cause", None)
                for ref in in_flight:
                    ray.cancel(ref, force=True)
                if isinstance(cause, AgentConfigurationError):
                    raise cause from None
                raise
            for record in chunk_records:
                records[record["episode_id"]] = record
                if sink is not None:
                    sink.write(_line(record))
            if bar is not None:
                bar.update(len(chunk_records))
    finally:
        if sink is not None:
            sink.close()
        if bar is not None:
            bar.close()
        if started_here:
            ray.shutdown()
    return [records[job.episode_id] for job in jobs if job.episode_id in records]


__all__ = ["RemoteLimiter", "SharedWindows", "check_ray_options", "factories", "play_chunk", "recipe_of", "run_episodes_on_ray"]
