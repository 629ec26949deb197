"""Tianshou collects multi-agent episodes on a padded numeric view (skipped without Tianshou)."""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
pytest.importorskip("tianshou")


def test_tianshou_collects_every_role_in_one_padded_space() -> None:
    from feedbackgym.experiments.interop_tianshou import collect, make_env

    env = make_env()
    assert env.agents == ["solver_0", "judge_0"]
    returns = collect(episodes=4, num_envs=2, seed=0)
    assert set(returns) == {"solver_0", "judge_0"} and all(math.isfinite(v) for v in returns.values())
    hidden = collect(episodes=2, num_envs=1, game={"env": "Critic-v0", "others": {"actor_0": "scripted_actor"}, "env_kwargs": {}})
    assert list(hidden) == ["critic_0"]
