"""Throughput of LLM agents through the runner, against bare litellm calls, at several concurrencies.

A local OpenAI-compatible server (feedbackgym.agents.llm.fake_server, in its own process so that it
does not share the client's interpreter lock) answers every request after ``--latency`` seconds.
For each concurrency c, two measurements in the same process:

- framework: ``--episodes`` episodes of ``SolverFeedback-v0`` with ``LLMAgent`` in both roles (model
  ``learner``: two solver calls and one teacher call per episode), run by ``run_episodes`` with c
  episodes in flight; requests per second = all calls / wall time;
- bare: the very requests the framework sent (recorded: messages and parameters), replayed as
  ``litellm.acompletion`` calls, c at a time under an ``asyncio.Semaphore`` and ``asyncio.gather``.

Reported: requests/s of both, their ratio (goal >= 0.9: the framework costs at most a tenth), and
the framework's speed-up over concurrency 1 (goal >= 10 at 32).

    python benchmarks/bench_llm.py                       # 500 episodes at 1, 8, 32, 64
    python benchmarks/bench_llm.py --episodes 100 --concurrency 1 8 32
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "feedbackgym.agents.llm.fake_server", "--port", "0", "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    url = line.split("serving on ", 1)[1].split(" ", 1)[0]
    return process, url


async def framework(url: str, episodes: int, concurrency: int) -> tuple[list[dict], float]:
    import litellm

    from feedbackgym.agents.llm import LLMAgent
    from feedbackgym.envs import make
    from feedbackgym.experiments.runner import EpisodeJob, run_episodes

    def agents(condition: str) -> dict[str, LLMAgent]:
        return {role: LLMAgent(model="openai/learner", api_base=url, api_key="sk-bench") for role in ("solver_0", "teacher_0")}

    sent: list[dict] = []
    real = litellm.acompletion

    async def recording(**kwargs):  # keeps each request for the bare replay; costs one append
        sent.append(kwargs)
        return await real(**kwargs)

    litellm.acompletion = recording
    jobs = [EpisodeJob(str(i), i) for i in range(episodes)]
    try:
        started = time.perf_counter()
        records = await run_episodes(jobs, lambda c: make("SolverFeedback-v0", feedback_level="critique"), agents, concurrency=concurrency)
        elapsed = time.perf_counter() - started
    finally:
        litellm.acompletion = real
    errors = [r["error"] for r in records if r["error"]]
    if errors:
        raise RuntimeError(f"{len(errors)} episodes errored, e.g. {errors[0]}")
    return sent, elapsed


async def bare(requests: list[dict], concurrency: int) -> float:
    import litellm

    semaphore = asyncio.Semaphore(concurrency)

    async def one(kwargs: dict) -> None:
        async with semaphore:
            await litellm.acompletion(**kwargs)

    started = time.perf_counter()
    await asyncio.gather(*(one(kwargs) for kwargs in requests))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    process, url = start_server(args.latency)
    try:
        import litellm  # noqa: F401  (imported once, outside the timings)

        warm_up, _ = asyncio.run(framework(url, 4, 4))  # connections, litellm's first-call setup
        asyncio.run(bare(warm_up, 4))
        rows = []
        for concurrency in args.concurrency:
            sent, elapsed = asyncio.run(framework(url, args.episodes, concurrency))
            calls = len(sent)
            bare_elapsed = asyncio.run(bare(sent, concurrency))
            rows.append((concurrency, calls, calls / elapsed, calls / bare_elapsed))
            print(f"concurrency {concurrency:3d}: {calls} requests, framework {calls / elapsed:7.1f} req/s, bare litellm {calls / bare_elapsed:7.1f} req/s", flush=True)
    finally:
        process.terminate()
    base = next((r[2] for r in rows if r[0] == 1), None)
    print(f"\nserver latency {args.latency * 1000:.0f} ms, {args.episodes} episodes of SolverFeedback-v0 per concurrency\n")
    print("| concurrency | requests | framework req/s | bare litellm req/s | framework / bare | framework / concurrency 1 |")
    print("|---|---|---|---|---|---|")
    for concurrency, calls, fw, br in rows:
        speedup = f"{fw / base:.1f}" if base else "n/a"
        print(f"| {concurrency} | {calls} | {fw:.1f} | {br:.1f} | {fw / br:.2f} | {speedup} |")
    print(f"\ncommand: python benchmarks/bench_llm.py --episodes {args.episodes} --concurrency {' '.join(map(str, args.concurrency))}")


if __name__ == "__main__":
    main()
