"""How fast PPO trains on a numeric view, and what the learner costs over stepping the envs alone.

Two figures per view, measured in this process, in alternating rounds:

(a) training throughput: environment steps per second of ``feedbackgym.agents.torch.ppo.train``
    with ``--num-envs`` vectorised envs (``SyncVectorEnv``, ``--num-steps`` steps per env per
    rollout, 4 epochs of 4 minibatches: the experiments' settings), wall clock over the whole run,
    updates included;
(b) random stepping: environment steps per second of the same ``SyncVectorEnv`` stepped with
    random actions (``action_space.sample()``), no learner at all.

The ratio (a) / (b) is what is left of the envs' own speed once the learner runs: 1.0 would mean
the learner is free. It also moves with the policy: a solver that learns to answer right sooner
plays shorter episodes, so more of its steps pay for a reset (about 0.6 ms each here). The
"learner share" column is the part of the training run's wall clock spent outside
``SyncVectorEnv.step``: the policy's forward passes, GAE and the PPO updates. Each figure is the median over ``--rounds`` rounds. An environment step is one
learner turn (one ``NumericView.step``: the learner's reply and the other roles' replies until the
learner's turn comes again).

Views: ``solver`` (the try_again setting: SolverFeedback-v0, 4-option questions, unary feedback,
5 turns, scripted teacher) and ``seller`` (the negotiation_rl setting: Negotiation-v0 seller against
the scripted buyer, one game).

    python benchmarks/bench_train.py                       # both views, 8 envs, 3 rounds
    python benchmarks/bench_train.py --views solver --steps 16384 --rounds 5 --out bench_train.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from feedbackgym.wrappers import make_numeric

VIEWS: dict[str, dict[str, Any]] = {
    "solver": {
        "env": "SolverFeedback-v0", "learner": "solver_0", "others": {"teacher_0": "scripted_teacher"},
        "encoder": {"kind": "solver", "n_choices": 4, "knowledge": 1.0},
        "env_kwargs": {"task": "knowledge_mcq", "max_turns": 5, "feedback_level": "unary", "reward_scheme": "ufo"},
    },
    "seller": {
        "env": "Negotiation-v0", "learner": "seller_0", "others": {"buyer_0": "concession_negotiator", "critic_0": "critic_coach"},
        "encoder": {"kind": "negotiator"}, "env_kwargs": {"n_games": 1, "feedback_source": "none"},
    },
}


def thunk(view: dict[str, Any]) -> Callable[[], gymnasium.Env]:
    return lambda: make_numeric(view["env"], view["learner"], view["others"], encoder=view["encoder"], flatten=True,
                                slim_info=True, **view["env_kwargs"])


def random_steps_per_second(view: dict[str, Any], num_envs: int, steps: int, seed: int) -> float:
    envs = gymnasium.vector.SyncVectorEnv([thunk(view)] * num_envs, autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP)
    envs.reset(seed=seed)
    envs.action_space.seed(seed)
    vector_steps = max(1, steps // num_envs)
    started = time.perf_counter()
    for _ in range(vector_steps):
        envs.step(envs.action_space.sample())
    elapsed = time.perf_counter() - started
    envs.close()
    return vector_steps * num_envs / elapsed


class _EnvClock:
    """Times SyncVectorEnv.step while training runs, to split the wall clock into envs and learner."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.original = gymnasium.vector.SyncVectorEnv.step

    def __enter__(self) -> _EnvClock:
        clock, original = self, self.original

        def timed_step(env: Any, actions: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(env, actions)
            finally:
                clock.seconds += time.perf_counter() - started

        gymnasium.vector.SyncVectorEnv.step = timed_step  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        gymnasium.vector.SyncVectorEnv.step = self.original  # type: ignore[method-assign]


def training_steps_per_second(view: dict[str, Any], num_envs: int, num_steps: int, steps: int, seed: int) -> tuple[float, float]:
    """(environment steps per second of the whole training run, the share of its wall clock spent outside the envs)."""
    from feedbackgym.agents.torch.ppo import Args, train

    args = Args(seed=seed, total_timesteps=steps, num_envs=num_envs, num_steps=num_steps, learning_rate=2.5e-3)
    with _EnvClock() as clock:
        started = time.perf_counter()
        result = train(args, [thunk(view)] * num_envs)
        elapsed = time.perf_counter() - started
    return result.global_step / elapsed, 1.0 - clock.seconds / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--views", nargs="+", default=list(VIEWS), choices=list(VIEWS))
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--num-steps", type=int, default=64, help="steps per env per PPO rollout")
    parser.add_argument("--steps", type=int, default=8192, help="environment steps per round and figure")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    # warm up: imports, task sources, the first torch calls
    random_steps_per_second(VIEWS[args.views[0]], args.num_envs, args.num_envs * 8, seed=0)
    training_steps_per_second(VIEWS[args.views[0]], args.num_envs, 16, args.num_envs * 16, seed=0)

    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__},
        "settings": {"num_envs": args.num_envs, "num_steps": args.num_steps, "steps": args.steps, "rounds": args.rounds},
        "views": {},
    }
    for name in args.views:
        view = VIEWS[name]
        random_rates, train_rates, learner_shares = [], [], []
        for round_index in range(args.rounds):
            random_rates.append(random_steps_per_second(view, args.num_envs, args.steps, seed=round_index))
            rate, share = training_steps_per_second(view, args.num_envs, args.num_steps, args.steps, seed=round_index)
            train_rates.append(rate)
            learner_shares.append(share)
        random_rate, train_rate = statistics.median(random_rates), statistics.median(train_rates)
        report["views"][name] = {"random_steps_per_s": random_rate, "train_steps_per_s": train_rate, "ratio": train_rate / random_rate,
                                 "learner_share": statistics.median(learner_shares), "random_rounds": random_rates, "train_rounds": train_rates}
    print(f"PPO training throughput, {args.num_envs} vectorised envs (SyncVectorEnv), {args.steps} env steps per figure, "
          f"median of {args.rounds} rounds, {os.cpu_count()} CPUs, torch {torch.__version__} (1 thread)")
    print(f"{'view':8s} {'random steps/s':>15s} {'training steps/s':>17s} {'ratio':>7s} {'learner share':>14s}")
    for name, figures in report["views"].items():
        print(f"{name:8s} {figures['random_steps_per_s']:15,.0f} {figures['train_steps_per_s']:17,.0f} {figures['ratio']:7.2f} "
              f"{figures['learner_share']:14.0%}")
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
