"""Throughput of LLM agents through the runner, against bare litellm calls, at several concurrencies.

A local OpenAI-compatible server (feedbackgym.agents.llm.fake_server, in its own process so that it
does not share the client's interpreter lock) answers every request after ``--latency`` seconds.
For each concurrency c, two measurements in the same process:

- framework: ``--episodes`` episodes of ``SolverFeedback-v0`` with ``LLMAgent`` in both roles (model
  ``learner``: two solver calls and one teacher call per episode), run by ``run_episodes`` with c
  episodes in flight; requests per second = all calls / wall time;
- bare: the same number of ``litellm.acompletion`` calls with the same kind of messages, c at a time
  under an ``asyncio.Semaphore`` and ``asyncio.gather``.

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


async def framework(url: str, episodes: int, concurrency: int) -> tuple[int, float]:
    from feedbackgym.agents.llm import LLMAgent
    from feedbackgym.envs import make
    from feedbackgym.experiments.runner import EpisodeJob, run_episodes

    def agents(condition: str) -> dict[str, LLMAgent]:
        return {role: LLMAgent(model="openai/learner", api_base=url, api_key="sk-bench") for role in ("solver_0", "teacher_0")}

    jobs = [EpisodeJob(str(i), i) for i in range(episodes)]
    started = time.perf_counter()
    records = await run_episodes(jobs, lambda c: make("SolverFeedback-v0", feedback_level="critique"), agents, concurrency=concurrency)
    elapsed = time.perf_counter() - started
    errors = [r["error"] for r in records if r["error"]]
    if errors:
        raise RuntimeError(f"{len(errors)} episodes errored, e.g. {errors[0]}")
    calls = sum(stats.get("calls", 0) for r in records for stats in r["agents"].values())
    return calls, elapsed


async def bare(url: str, requests: int, concurrency: int) -> float:
    import litellm

    semaphore = asyncio.Semaphore(concurrency)
    messages = [
        {"role": "system", "content": "You are the solver. Answer the question."},
        {"role": "user", "content": "Compute (12 + 7) * 3 - 5."},
    ]

    async def one() -> None:
        async with semaphore:
            await litellm.acompletion(model="openai/learner", api_base=url, api_key="sk-bench", messages=messages, max_retries=0, timeout=60)

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(requests)))
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

        asyncio.run(bare(url, 8, 8))  # warm-up: connections, litellm's first-call setup
        rows = []
        for concurrency in args.concurrency:
            calls, elapsed = asyncio.run(framework(url, args.episodes, concurrency))
            bare_elapsed = asyncio.run(bare(url, calls, concurrency))
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
