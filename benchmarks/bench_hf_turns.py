"""Multi-turn episodes with the hf agent, with and without reusing its key-value cache across turns.

The same seeded episodes of ``SolverFeedback-v0`` (knowledge questions, unary feedback, ``--turns``
attempts, the scripted teacher) are played through the runner with ``--in-flight`` episodes at a time,
greedily, once with ``reuse_cache=False`` (every turn runs its whole context through the model) and
once with ``reuse_cache=True`` (a turn runs only its new tokens), alternating over ``--rounds`` rounds
in this process. Reported: seconds per episode (median over rounds), the prompt tokens the model ran
per episode, the ratio of the two times (the speed-up), and whether both played the same episodes
(transcripts and generated tokens; they may differ only at a near-tie of the model's logits).

    python benchmarks/bench_hf_turns.py                     # smollm2-135m (prepare it first), CPU
    python benchmarks/bench_hf_turns.py --episodes 16 --in-flight 8 --max-new-tokens 24 --no-prefix
    python benchmarks/bench_hf_turns.py --device cuda --episodes 128 --in-flight 64
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import torch


def play(args: argparse.Namespace, reuse: bool) -> tuple[float, list[dict[str, Any]]]:
    from feedbackgym.agents import make_agent
    from feedbackgym.envs import make
    from feedbackgym.experiments.runner import EpisodeJob, run_episodes

    def agents(_condition: str) -> dict[str, Any]:
        solver = make_agent("hf", model=args.model, device=args.device, dtype=args.dtype, max_new_tokens=args.max_new_tokens,
                            reply_prefix="" if args.no_prefix else "Answer: (", reuse_cache=reuse, max_batch=args.in_flight)
        return {"solver_0": solver, "teacher_0": make_agent("scripted_teacher")}

    def env(_condition: str) -> Any:
        return make("SolverFeedback-v0", task=args.task, feedback_level="unary", max_turns=args.turns)

    jobs = [EpisodeJob(str(seed), seed) for seed in range(args.seed, args.seed + args.episodes)]
    started = time.perf_counter()
    records = asyncio.run(run_episodes(jobs, env, agents, concurrency=args.in_flight))
    return time.perf_counter() - started, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--task", default="knowledge_mcq")
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=2)
    parser.add_argument("--no-prefix", action="store_true", help="no 'Answer: (' reply prefix (free-text replies)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (one is fastest on a busy machine)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    play(args, reuse=True)  # warm-up: loads the model, fills the caches of the allocator
    seconds: dict[bool, list[float]] = {False: [], True: []}
    records: dict[bool, list[dict[str, Any]]] = {}
    for _ in range(args.rounds):
        for reuse in (False, True):
            elapsed, records[reuse] = play(args, reuse)
            seconds[reuse].append(elapsed)

    def per_episode(reuse: bool, key: str) -> float:
        return sum(float((r.get("agents") or {}).get("solver_0", {}).get(key, 0)) for r in records[reuse]) / args.episodes

    def tokens(reuse: bool) -> list[Any]:
        return [[t.completion_ids for t in r["tokens"]["solver_0"].turns] for r in records[reuse]]

    print(f"{args.episodes} episodes of up to {args.turns} turns, {args.in_flight} in flight, {args.max_new_tokens} new tokens per reply, "
          f"{args.device}, {args.threads} thread(s), median of {args.rounds} rounds")
    print(f"{'reuse_cache':<12} {'s/episode':>10} {'prompt tokens/episode':>22} {'run through the model':>22}")
    for reuse in (False, True):
        prompt = per_episode(reuse, "prompt_tokens")
        ran = prompt - per_episode(reuse, "reused_prompt_tokens")
        print(f"{str(reuse):<12} {statistics.median(seconds[reuse]) / args.episodes:10.3f} {prompt:22.0f} {ran:22.0f}")
    print(f"speed-up (reuse over no reuse): {statistics.median(seconds[False]) / statistics.median(seconds[True]):.2f}x")
    same = [r["transcript"] for r in records[False]] == [r["transcript"] for r in records[True]] and tokens(False) == tokens(True)
    print(f"same episodes with and without reuse: {same}")


if __name__ == "__main__":
    main()
