"""Drive every registered environment and every role with hostile replies, and count what got through.

For each environment id, each role alone and then all roles together play ``--seeds`` episodes
against the environment's scripted cast (``feedbackgym.agents.scripted.casts``); a hostile role sends,
each turn with probability ``--p-hostile``, a reply from ``feedbackgym.envs.hostile.HostileReplies``
built around its scripted move (``--long`` adds replies of megabytes). After every step the driver
checks that ``step`` did not raise, every observation is in its space, rewards are finite, an
impersonating reply was refused and its marker reached no other agent; at the end, that the episode
ended. The figures are printed per environment and in total; problems are listed (at most 50).

    python benchmarks/stress_hostile.py                 # about a minute
    python benchmarks/stress_hostile.py --seeds 20 --long
"""

from __future__ import annotations

import argparse
import random
import time

from feedbackgym.agents.scripted.casts import scripted_cast
from feedbackgym.envs import make, registered_envs
from feedbackgym.envs.hostile import FAMILIES, HostileReport, play_hostile_episode

COLUMNS = ("episodes", "steps", "hostile", "impersonations", "crashes", "impersonations_accepted", "leaks", "out_of_space",
           "non_finite_rewards", "unterminated", "agent_errors")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="episodes per environment and hostile role set")
    parser.add_argument("--p-hostile", type=float, default=0.7)
    parser.add_argument("--long", action="store_true", help="include replies of megabytes")
    parser.add_argument("--families", default=",".join(FAMILIES), help=f"comma-separated subset of {', '.join(FAMILIES)}")
    parser.add_argument("--envs", default="", help="comma-separated env ids (default: every registered one)")
    parser.add_argument("--max-steps", type=int, default=5000)
    args = parser.parse_args()
    families = tuple(f for f in args.families.split(",") if f)
    env_ids = [e for e in args.envs.split(",") if e] or registered_envs()
    total = HostileReport(episodes=0)
    started = time.perf_counter()
    print(f"{'environment':32} " + " ".join(f"{c[:12]:>12}" for c in COLUMNS) + f" {'seconds':>8}")
    for env_id in env_ids:
        env = make(env_id)
        cast = scripted_cast(env)
        roles = list(env.unwrapped.possible_agents)
        report = HostileReport(episodes=0)
        env_started = time.perf_counter()
        for set_index, hostile in enumerate([[role] for role in roles] + [roles]):
            for seed in range(args.seeds):
                rng = random.Random(f"{env_id}/{set_index}/{seed}")
                report.add(play_hostile_episode(env, cast, hostile, rng, seed=seed, p_hostile=args.p_hostile, long=args.long,
                                                max_steps=args.max_steps, families=families))
        total.add(report)
        print(f"{env_id:32} " + " ".join(f"{getattr(report, c):12d}" for c in COLUMNS) + f" {time.perf_counter() - env_started:8.1f}", flush=True)
    print(f"{'total':32} " + " ".join(f"{getattr(total, c):12d}" for c in COLUMNS) + f" {time.perf_counter() - started:8.1f}")
    for problem in total.problems[:50]:
        print("  " + problem[:300])
    raise SystemExit(1 if total.failures() else 0)


if __name__ == "__main__":
    main()
