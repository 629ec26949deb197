"""Random fault schedules for the LLM path, and a stress run that checks what must hold under them.

:func:`random_schedule` gives a :class:`~feedbackgym.agents.llm.fake_server.FakeLLMServer` a seeded
schedule over every fault it can inject (429 with and without Retry-After, 500s, 500s that echo the
request's headers, hangs, dropped connections, malformed JSON, empty ``choices``, lone surrogates,
huge replies, replies that echo the headers, key included). :func:`stress` plays episodes of every
registered environment with an LLM agent in every role against such a server (optionally a slow
single-slot one) and checks the invariants:

- no episode is lost: each one is in the JSONL file exactly once, completed or errored with its cause;
- no secret leaks: neither the key nor any prefix of it of ``MIN_SECRET_PREFIX`` characters is in any
  output file (JSONL, cache) or in what the run printed or logged;
- the cache is consistent: SQLite's integrity check passes, every row holds only reply texts, usage
  and cost, and a ``read_only`` replay sends no request and reproduces every completed episode's
  transcript.

``benchmarks/stress_llm.py`` runs it at full size and prints the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from feedbackgym.agents.llm.fake_server import FAULT_KINDS, FakeLLMServer
from feedbackgym.agents.secrets import MIN_SECRET_PREFIX

# Relative frequency of each fault among the faulty requests.
FAULT_WEIGHTS: dict[str, float] = {
    "429": 3, "429bare": 2, "500": 3, "500echo": 2, "hang": 1, "drop": 2,
    "badjson": 1, "nochoices": 1, "surrogate": 2, "huge": 0.3, "echo": 2,
}
assert set(FAULT_WEIGHTS) == set(FAULT_KINDS)
SECRET = "sk-stress-SECRET-0123456789abcdefXYZ"


def random_schedule(seed: int, fault_rate: float, weights: dict[str, float] | None = None) -> Callable[[int], str | None]:
    """A fault (or None) for each request index: the same for a seed in any process, whatever the order of arrival."""
    if not 0 <= fault_rate <= 1:
        raise ValueError(f"fault_rate must be in [0, 1], got {fault_rate!r}")
    weights = dict(weights or FAULT_WEIGHTS)
    kinds, chances = list(weights), list(weights.values())

    def schedule(index: int) -> str | None:
        rng = random.Random(f"{seed}:{index}")
        if rng.random() >= fault_rate:
            return None
        return rng.choices(kinds, chances)[0]

    return schedule


def leaks_in(data: bytes | str, secret: str) -> bool:
    head = secret[:MIN_SECRET_PREFIX]
    return head.encode() in data if isinstance(data, bytes) else head in data


def stress(
    workdir: Path | str,
    *,
    seed: int = 0,
    episodes_per_env: int = 2,
    env_ids: list[str] | None = None,
    fault_rate: float = 0.25,
    concurrency: int = 8,
    slots: int | None = None,
    latency: float = 0.0,
    timeout: float = 1.0,
    max_retries: int = 6,
    adaptive: bool = True,
    secret: str = SECRET,
    replay: bool = True,
) -> dict[str, Any]:
    """One stress run in ``workdir`` (made empty first is up to the caller); returns its figures."""
    from feedbackgym.agents.llm import LLMAgent
    from feedbackgym.agents.llm.cache import close_all
    from feedbackgym.envs import make, registry
    from feedbackgym.experiments.runner import EpisodeJob, run_episodes

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    env_ids = sorted(registry) if env_ids is None else env_ids
    # One condition per episode: its agents tag their requests (``user``), so two episodes never share
    # a cache key (replies under faults are not a function of the request, so a shared key would not replay).
    jobs = [EpisodeJob(f"{env_id}|{i}", seed + i, f"{env_id}|{i}") for env_id in env_ids for i in range(episodes_per_env)]
    cache_path = workdir / "cache.sqlite"
    output = workdir / "episodes.jsonl"

    def agents_for(server: FakeLLMServer, mode: str) -> Callable[[str], dict[str, Any]]:
        def make_agents(condition: str) -> dict[str, Any]:
            env = make(condition.split("|")[0])
            return {
                role: LLMAgent(
                    model="openai/learner", api_base=server.url, api_key=secret, timeout=timeout, max_retries=max_retries,
                    backoff_initial=0.02, backoff_max=0.2, cache=mode, cache_path=str(cache_path),
                    completion_kwargs={"user": condition}, adaptive_concurrency=adaptive,
                )
                for role in env.unwrapped.possible_agents
            }

        return make_agents

    printed = io.StringIO()
    handler = logging.StreamHandler(printed)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            with FakeLLMServer(latency=latency, slots=slots, retry_after="0.05", hang_seconds=2 * timeout, faults=random_schedule(seed, fault_rate)) as server:
                records = asyncio.run(
                    run_episodes(jobs, lambda c: make(c.split("|")[0]), agents_for(server, "read_write"), concurrency=concurrency, output=output, resume=False)
                )
                requests, faults = server.requests, server.faults_injected
                seconds = time.perf_counter() - started
                close_all()
                replayed: list[dict[str, Any]] = []
                replay_requests = 0
                if replay:
                    before = server.requests
                    replayed = asyncio.run(
                        run_episodes(jobs, lambda c: make(c.split("|")[0]), agents_for(server, "read_only"), concurrency=concurrency, resume=False)
                    )
                    replay_requests = server.requests - before
                    close_all()
    finally:
        root.removeHandler(handler)

    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines() if line.strip()]
    ids = [line["episode_id"] for line in lines]
    completed = {r["episode_id"]: r for r in lines if r.get("error") is None}
    errored = [r for r in lines if r.get("error") is not None]
    lost = sum(1 for job in jobs if ids.count(job.episode_id) != 1) + sum(1 for r in errored if not str(r["error"]).strip())
    lost += len(jobs) - len(records)
    leak_files = [p.name for p in workdir.rglob("*") if p.is_file() and leaks_in(p.read_bytes(), secret)]
    leaks = len(leak_files) + int(leaks_in(printed.getvalue(), secret))
    integrity, bad_rows, rows = _check_cache(cache_path)
    replay_by_id = {r["episode_id"]: r for r in replayed}
    replay_identical = sum(
        1 for episode_id, record in completed.items()
        if replay_by_id.get(episode_id, {}).get("error") is None and replay_by_id.get(episode_id, {}).get("transcript") == record["transcript"]
    )
    causes: dict[str, int] = {}
    for record in errored:
        cause = str(record["error"]).split(":", 1)[0]
        last = str(record["error"]).rsplit("last error: ", 1)[-1].split(" ", 1)[0] if "last error: " in str(record["error"]) else ""
        key = f"{cause} ({last.rstrip(':')})" if last else cause
        causes[key] = causes.get(key, 0) + 1
    return {
        "environments": len(env_ids),
        "episodes": len(jobs),
        "requests": requests,
        "faults_injected": sum(faults.values()),
        "faults_by_kind": dict(sorted(faults.items())),
        "completed": len(completed),
        "errored": len(errored),
        "errored_causes": causes,
        "lost": lost,
        "leaks": leaks,
        "leak_files": leak_files,
        "cache_rows": rows,
        "cache_integrity": integrity,
        "cache_bad_rows": bad_rows,
        "replay_requests": replay_requests,
        "replay_identical": replay_identical if replay else None,
        "seconds": round(seconds, 1),
    }


def _check_cache(path: Path) -> tuple[str, int, int]:
    if not path.exists():
        return "missing", 0, 0
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        integrity = "; ".join(row[0] for row in connection.execute("PRAGMA integrity_check"))
        bad = 0
        rows = connection.execute("SELECT value FROM responses").fetchall()
        for (value,) in rows:
            try:
                stored = json.loads(value)
                ok = set(stored) == {"choices", "usage", "cost"} and all(isinstance(c, str) for c in stored["choices"])
            except (ValueError, TypeError):
                ok = False
            bad += not ok
        return integrity, bad, len(rows)
    finally:
        connection.close()
