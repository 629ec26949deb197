"""Throughput of the hf agent through the runner, against direct ``model.generate`` on the same prompts.

For each number of episodes in flight k, two measurements in the same process:

- feedbackgym: ``--episodes`` episodes of ``SolverFeedback-v0`` (one attempt each, so one generation
  per episode) with the ``hf`` agent as the solver and the scripted teacher, run by ``run_episodes``
  with k episodes in flight; the agents share the model and its generation queue, so up to k turns
  are generated in one batch;
- direct: the very prompts those episodes sent (their recorded context tokens), left-padded into
  batches of k and given to ``model.generate`` (greedy, the same ``max_new_tokens`` and end tokens).

The first measurement follows a warm-up call. Reported: episodes/s, generated tokens/s, the mean batch size the queue formed, the ratio of the two
tokens/s (goal >= 0.9), and feedbackgym's speed-up over one episode in flight (goal >= 5 at 32 on CPU).

    python benchmarks/bench_hf.py                                  # smollm2-135m (prepare it first), 1, 8, 32 in flight
    python benchmarks/bench_hf.py --in-flight 1 8 --episodes 16 --max-new-tokens 16
    python benchmarks/bench_hf.py --model HuggingFaceTB/SmolLM2-135M-Instruct --device cuda --episodes 256 --in-flight 1 32 128
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import torch


def run_feedbackgym(args: argparse.Namespace, in_flight: int, episodes: int) -> tuple[float, int, list[list[int]], float]:
    from feedbackgym.agents import make_agent
    from feedbackgym.envs import make
    from feedbackgym.experiments.runner import EpisodeJob, run_episodes

    def agents(_condition: str) -> dict[str, Any]:
        solver = make_agent("hf", model=args.model, device=args.device, dtype=args.dtype, max_new_tokens=args.max_new_tokens, max_batch=max(args.in_flight))
        return {"solver_0": solver, "teacher_0": make_agent("scripted_teacher")}

    queue = agents("warm")["solver_0"].loaded.queue
    batches, requests = queue.batches, queue.batched_requests
    jobs = [EpisodeJob(str(i), args.seed + i) for i in range(episodes)]
    started = time.perf_counter()
    records = asyncio.run(run_episodes(jobs, lambda _c: make("SolverFeedback-v0", task=args.task, max_turns=1), agents, concurrency=in_flight))
    seconds = time.perf_counter() - started
    errors = [r["error"] for r in records if r["error"]]
    if errors:
        raise RuntimeError(f"{len(errors)} episodes failed: {errors[0]}")
    prompts = [turn.context_ids for r in records for turn in r["tokens"]["solver_0"].turns]
    generated = sum(len(turn.completion_ids) for r in records for turn in r["tokens"]["solver_0"].turns)
    mean_batch = (queue.batched_requests - requests) / max(queue.batches - batches, 1)
    return seconds, generated, prompts, mean_batch


def run_direct(loaded: Any, prompts: list[list[int]], batch: int, max_new_tokens: int) -> tuple[float, int]:
    model, pad = loaded.model, loaded.pad_id
    stops = sorted(loaded.stop_ids())
    generated = 0
    started = time.perf_counter()
    for start in range(0, len(prompts), batch):
        chunk = prompts[start : start + batch]
        width = max(len(p) for p in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, prompt in enumerate(chunk):
            ids[row, width - len(prompt) :] = torch.tensor(prompt)
            mask[row, width - len(prompt) :] = 1
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids.to(loaded.device), attention_mask=mask.to(loaded.device), max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad, eos_token_id=stops
            )
        for row in out[:, width:].tolist():
            length = next((i + 1 for i, token in enumerate(row) if token in stops), len(row))
            generated += length
    return time.perf_counter() - started, generated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--task", default="knowledge_mcq")
    parser.add_argument("--episodes", type=int, default=8, help="episodes with one in flight; with k in flight, max(this, 2k)")
    parser.add_argument("--in-flight", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (one is fastest on a busy machine)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from feedbackgym.agents.hf.loading import load_model

    loaded = load_model(args.model, device=args.device, dtype=args.dtype)
    run_direct(loaded, [[loaded.pad_id] * 16], 1, 2)  # warm-up: first-call costs count against neither side
    print(f"model {args.model} on {loaded.device} ({loaded.dtype}), {args.threads} torch thread(s), max_new_tokens {args.max_new_tokens}")
    header = f"{'in flight':>9} {'episodes':>8} {'fg ep/s':>8} {'fg tok/s':>9} {'mean batch':>10} {'direct tok/s':>12} {'fg/direct':>9} {'speed-up':>8}"
    print(header)
    base = None
    for in_flight in args.in_flight:
        episodes = max(args.episodes, 2 * in_flight)
        seconds, generated, prompts, mean_batch = run_feedbackgym(args, in_flight, episodes)
        direct_seconds, direct_generated = run_direct(loaded, prompts, in_flight, args.max_new_tokens)
        fg_rate, direct_rate = generated / seconds, direct_generated / direct_seconds
        base = base or fg_rate
        print(
            f"{in_flight:>9} {episodes:>8} {episodes / seconds:>8.2f} {fg_rate:>9.1f} {mean_batch:>10.1f} {direct_rate:>12.1f} "
            f"{fg_rate / direct_rate:>9.2f} {fg_rate / base:>8.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
