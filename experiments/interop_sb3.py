"""Stable-Baselines3 trains on a feedbackgym numeric view by its Gymnasium id, then plays in the runner.

No glue: ``make_vec_env`` builds the view from its id (``feedbackgym.gym:`` makes Gymnasium import
the ids, also in subprocess workers), SB3's PPO trains on it, and :func:`~feedbackgym.experiments.views.evaluate_policy`
plays the trained model in the runner (``model.predict`` behind a ``PolicyAgent``), returning the
runner's episode metrics (``acc@k``, ``solved``, ``unique_answer_ratio``) rather than rewards alone.
The default task is the try-again setting (``feedbackgym train training=try_again``, multi-turn condition).

Needs Stable-Baselines3 (``pip install -e '.[interop]'`` or ``pip install stable-baselines3``)::

    python -m feedbackgym.experiments.interop_sb3 --steps 20000
"""

from __future__ import annotations

import argparse
from typing import Any

try:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
except ImportError as error:  # pragma: no cover - the message is the point
    raise ImportError(f"this example needs Stable-Baselines3: pip install -e '.[interop]' ({error})") from error

from feedbackgym.experiments.views import evaluate_policy

VIEW_ID = "feedbackgym.gym:feedbackgym/SolverFeedback-v0-solver_0-numeric"
VIEW_KWARGS: dict[str, Any] = {
    "task": "knowledge_mcq", "max_turns": 5, "feedback_level": "unary", "reward_scheme": "ufo",
    "encoder": {"kind": "solver", "n_choices": 4, "history": 4, "knowledge": 1.0},
}


def train(steps: int = 20_000, n_envs: int = 4, seed: int = 0, verbose: int = 0) -> PPO:
    """SB3's PPO (CleanRL-like settings) on ``n_envs`` copies of the view."""
    envs = make_vec_env(VIEW_ID, n_envs=n_envs, seed=seed, env_kwargs=VIEW_KWARGS)
    model = PPO("MlpPolicy", envs, n_steps=128, batch_size=128, n_epochs=4, learning_rate=2.5e-3, ent_coef=0.01,
                seed=seed, verbose=verbose, device="cpu")
    model.learn(total_timesteps=steps)
    return model


def evaluate(model: PPO, episodes: int = 200, seed: int = 10_000) -> dict[str, Any]:
    """The runner's metrics of ``model`` playing the solver (seeds ``seed ..``, as ``feedbackgym train`` evaluates)."""
    kwargs = {key: value for key, value in VIEW_KWARGS.items() if key != "encoder"}
    return evaluate_policy(model, VIEW_ID, episodes=episodes, seed=seed, encoder=VIEW_KWARGS["encoder"], **kwargs).summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    summary = evaluate(train(args.steps, seed=args.seed), args.episodes)
    print(" ".join(f"{key}={summary[key]:.3f}" for key in ("acc@1", "acc@5", "unique_answer_ratio") if key in summary))


if __name__ == "__main__":
    main()
