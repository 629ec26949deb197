"""RLlib multi-agent PPO on a numeric multi-agent view (skipped without RLlib; it pins another gymnasium)."""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
pytest.importorskip("ray.rllib")


def test_rllib_ppo_trains_one_policy_per_role() -> None:
    import ray

    from feedbackgym.experiments.interop_rllib import make_env, train

    assert sorted(make_env("Negotiation-v0").get_agent_ids()) == ["buyer_0", "seller_0"]  # the critic plays inside
    ray.init(ignore_reinit_error=True, num_cpus=1, include_dashboard=False)
    try:
        rows = train("DeceptiveJudge-v0", iterations=1, seed=0, verbose=False)
    finally:
        ray.shutdown()
    assert len(rows) == 1 and math.isfinite(rows[0]["episode_return_mean"])
