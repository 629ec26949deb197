"""An established RL library trains on a numeric view: TorchRL's PPO (the optional ``interop`` extra).

CI installs only ``.[dev]``, so this is skipped there; ``pip install -e '.[interop]'`` runs it.
"""

from __future__ import annotations

import math

import pytest

# TorchRL warns about its own deprecated classes when it is imported.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

pytest.importorskip("torchrl")
pytest.importorskip("tensordict")


def test_torchrl_trains_on_a_numeric_view() -> None:
    from feedbackgym.experiments.interop_torchrl import make_env, train

    env = make_env(seed=0)
    assert env.action_spec.space.n == 4  # the solver's four answer choices, as integer actions
    rollout = env.rollout(6)
    assert rollout["observation"].shape[-1] == 34  # numeric fields, history one-hots, feedback, prior

    rows = train(frames=1024, num_envs=2, frames_per_batch=256, seed=0, verbose=False)
    assert [row["frames"] for row in rows] == [256.0, 512.0, 768.0, 1024.0]
    assert all(math.isfinite(row["reward"]) for row in rows)
    finished = [row["success"] for row in rows if row["episodes"]]
    assert finished and all(0.0 <= s <= 1.0 for s in finished)
