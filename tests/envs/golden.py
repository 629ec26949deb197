"""Digests of seeded episodes of every registered environment with its scripted cast.

The golden file ``tests/data/golden_transcripts.json`` pins, for a few seeds per environment id, a
digest of what the episode was: the whole transcript, the episode metrics, the returns, and what
every agent was shown at every step (its text and numeric observation and its chat view,
``info["messages"]``). Speed work on the environments must leave every digest unchanged.

    python tests/envs/golden.py            # rewrite the golden file from the current code
    python tests/envs/golden.py --check    # compare, print the ids that differ
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

GOLDEN_PATH = Path(__file__).resolve().parents[1] / "data" / "golden_transcripts.json"
SEEDS = {"Negotiation": 2}  # a negotiation series is hundreds of moves
DEFAULT_SEEDS = 6


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


def _digest(record: Any) -> str:
    text = json.dumps(record, sort_keys=True, default=_plain)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def play(env_id: str, seed: int) -> dict[str, str]:
    """One episode of ``env_id`` with its scripted cast; the digests of what happened and what was seen."""
    import feedbackgym
    from feedbackgym.agents.scripted.casts import scripted_cast
    from feedbackgym.envs.core.seeding import agent_seed

    env = feedbackgym.make(env_id)
    agents = scripted_cast(env)
    env.reset(seed=seed)
    for index, agent_id in enumerate(env.possible_agents):
        agents[agent_id].reset(seed=agent_seed(seed, index))
    seen = hashlib.sha256()
    returns = {agent_id: 0.0 for agent_id in env.possible_agents}
    for agent_id in env.agent_iter(max_iter=100_000):
        observation, reward, terminated, truncated, info = env.last()
        returns[agent_id] += float(reward)
        seen.update(_digest({"agent": agent_id, "observation": observation, "messages": info.get("messages"),
                             "reward": reward, "done": [terminated, truncated]}).encode())
        action = None if terminated or truncated else agents[agent_id].act(observation, info)
        env.step(action)
    base = env.unwrapped
    transcript = [message.to_dict() for message in base.transcript]
    return {
        "transcript": _digest(transcript),
        "outcome": _digest({"metrics": base.episode_metrics, "returns": returns}),
        "seen": seen.hexdigest(),
    }


def all_digests() -> dict[str, dict[str, str]]:
    from feedbackgym.envs import registered_envs

    digests = {}
    for env_id in registered_envs():
        for seed in range(SEEDS.get(env_id.split("-")[0], DEFAULT_SEEDS)):
            digests[f"{env_id}/{seed}"] = play(env_id, seed)
    return digests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the golden file instead of writing it")
    args = parser.parse_args(argv)
    digests = all_digests()
    if args.check:
        golden = json.loads(GOLDEN_PATH.read_text(encoding="utf-8"))
        differing = sorted(key for key in golden if golden[key] != digests.get(key))
        print("\n".join(differing) or "all episodes match")
        return 1 if differing else 0
    GOLDEN_PATH.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(digests)} episodes to {GOLDEN_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
