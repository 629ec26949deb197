"""Tianshou plays a feedbackgym game through its PettingZoo wrapper: every role in one padded numeric space.

Tianshou's ``PettingZooEnv`` needs the same observation and action space for all agents and reads an
``action_mask``; ``numeric_view`` with ``pad=True`` gives exactly that (unequal roles padded to the
largest, with a mask of each role's own choices), ``others=`` plays and hides the roles that no
policy controls, and ``slim_info=True`` keeps the infos one shape for Tianshou's buffer. Nothing here is specific to feedbackgym but the env. The default game is
``DeceptiveJudge-v0``: the judge (agree, disagree, propose) and the solver (keep, switch) both act.

This example collects episodes with Tianshou's ``Collector`` and its multi-agent policy
(``MultiAgentPolicy`` of masked random policies, one per role, which any Tianshou algorithm's policy can
replace) into its replay buffer, and prints the mean return per role.

Needs Tianshou (``pip install -e '.[interop]'`` or ``pip install tianshou``)::

    python -m feedbackgym.experiments.interop_tianshou --episodes 20
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

try:
    from tianshou.algorithm.multiagent.marl import MultiAgentPolicy
    from tianshou.algorithm.random import MARLRandomDiscreteMaskedOffPolicyAlgorithm
    from tianshou.data import Collector, VectorReplayBuffer
    from tianshou.env import DummyVectorEnv, PettingZooEnv
except ImportError as error:  # pragma: no cover - the message is the point
    raise ImportError(f"this example needs Tianshou: pip install -e '.[interop]' ({error})") from error

from feedbackgym.envs import make

DEFAULT_GAME: dict[str, Any] = {"env": "DeceptiveJudge-v0", "others": {}, "env_kwargs": {}}


def make_env(game: Mapping[str, Any] = DEFAULT_GAME) -> PettingZooEnv:
    """The game's padded numeric view in Tianshou's wrapper."""
    view = make(game["env"], wrappers=[("numeric_view", {"pad": True, "slim_info": True, "others": dict(game["others"])})], **game["env_kwargs"])
    return PettingZooEnv(view)


def collect(episodes: int = 20, num_envs: int = 2, seed: int = 0, game: Mapping[str, Any] = DEFAULT_GAME) -> dict[str, float]:
    """Collect ``episodes`` episodes with masked random policies; returns the mean return per role."""
    envs = DummyVectorEnv([lambda: make_env(game) for _ in range(num_envs)])
    envs.seed(seed)
    probe = make_env(game)
    policies = {agent: MARLRandomDiscreteMaskedOffPolicyAlgorithm(probe.action_space).policy for agent in probe.agents}
    policy = MultiAgentPolicy(policies)
    buffer = VectorReplayBuffer(10_000, num_envs)
    collector = Collector(policy, envs, buffer)
    collector.reset()
    stats = collector.collect(n_episode=episodes, reset_before_collect=True)
    returns = stats.returns  # shape (episodes, agents): Tianshou's per-agent reward vector
    envs.close()
    return {agent: float(returns[:, index].mean()) for index, agent in enumerate(probe.agents)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for agent, value in collect(args.episodes, seed=args.seed).items():
        print(f"{agent}: mean return {value:+.3f}")


if __name__ == "__main__":
    main()
