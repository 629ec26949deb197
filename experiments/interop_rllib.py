"""RLlib trains PPO on a feedbackgym game, one policy per role, through its PettingZoo wrapper.

The numeric multi-agent view (``numeric_view`` with ``flatten=True``) gives every encoded role a flat
``Box`` and a ``Discrete`` action; ``others=`` plays and hides the roles no policy controls (the
Negotiation critic here), so RLlib's ``PettingZooEnv`` sees only roles it can drive. The default game
is ``DeceptiveJudge-v0`` (judge and solver both learn); ``--env Negotiation-v0`` trains seller and
buyer with the critic coach played inside.

Needs RLlib (``pip install 'ray[rllib]'``; note that ray 2.60's RLlib pins ``gymnasium==1.2.2``, so
install it in its own environment rather than through the ``interop`` extra)::

    python -m feedbackgym.experiments.interop_rllib --iterations 5
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

try:
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.env.wrappers.pettingzoo_env import PettingZooEnv
    from ray.tune.registry import register_env
except ImportError as error:  # pragma: no cover - the message is the point
    raise ImportError(f"this example needs RLlib: pip install 'ray[rllib]' ({error})") from error

from feedbackgym.envs import make

GAMES: dict[str, dict[str, Any]] = {
    "DeceptiveJudge-v0": {"others": {}, "env_kwargs": {}},
    "Negotiation-v0": {"others": {"critic_0": "critic_coach"}, "env_kwargs": {"n_games": 1}},
}


def make_env(env_id: str = "DeceptiveJudge-v0", game: Mapping[str, Any] | None = None) -> PettingZooEnv:
    """The game's numeric view (flat observations, hidden others) in RLlib's PettingZoo wrapper."""
    game = dict(game or GAMES[env_id])
    view = make(env_id, wrappers=[("numeric_view", {"flatten": True, "slim_info": True, "others": game["others"]})],
                **game["env_kwargs"])
    return PettingZooEnv(view)


def train(env_id: str = "DeceptiveJudge-v0", iterations: int = 2, seed: int = 0, verbose: bool = True) -> list[dict[str, float]]:
    """PPO with one policy per visible role; returns one row per iteration (mean episode return)."""
    name = f"feedbackgym_{env_id}"
    register_env(name, lambda config: make_env(env_id))
    roles = list(make_env(env_id).get_agent_ids())
    config = (
        PPOConfig()
        .environment(name)
        .env_runners(num_env_runners=0)
        .multi_agent(policies=set(roles), policy_mapping_fn=lambda agent_id, *args, **kwargs: agent_id)
        .training(train_batch_size_per_learner=256, minibatch_size=64, num_epochs=2, lr=1e-3)
        .debugging(seed=seed)
    )
    algorithm = config.build_algo() if hasattr(config, "build_algo") else config.build()
    rows: list[dict[str, float]] = []
    for iteration in range(iterations):
        result = algorithm.train()
        runners = result.get("env_runners", {})
        row = {"iteration": float(iteration + 1), "episode_return_mean": float(runners.get("episode_return_mean", float("nan")))}
        rows.append(row)
        if verbose:
            print(f"iteration {iteration + 1}: mean episode return {row['episode_return_mean']:+.3f}", flush=True)
    algorithm.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="DeceptiveJudge-v0", choices=sorted(GAMES))
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ray.init(ignore_reinit_error=True, num_cpus=2, include_dashboard=False)
    train(args.env, args.iterations, args.seed)


if __name__ == "__main__":
    main()
