"""Stable-Baselines3 on a numeric view by Gymnasium id, evaluated in the runner (skipped without SB3)."""

from __future__ import annotations

import pytest

pytest.importorskip("stable_baselines3")


def test_sb3_ppo_trains_by_id_and_plays_in_the_runner() -> None:
    import torch

    torch.set_num_threads(1)
    from feedbackgym.experiments.interop_sb3 import evaluate, train

    model = train(steps=512, n_envs=2, seed=0)
    summary = evaluate(model, episodes=8, seed=0)
    assert summary["episodes"] == 8 and summary["errors"] == 0
    assert 0.0 <= summary["acc@1"] <= summary["acc@5"] <= 1.0
