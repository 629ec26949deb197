"""The view a training config describes, built from Python: the same env, agents and encoder as `feedbackgym train`."""

from __future__ import annotations

import numpy as np
import pytest

from feedbackgym.experiments.configuration import ConfigError
from feedbackgym.experiments.train import Setup, compose_training_config, env_thunks, make_view_from_config
from feedbackgym.wrappers.encoding import resolve_encoder


def test_the_view_is_the_one_training_builds() -> None:
    cfg = compose_training_config("try_again")
    view = make_view_from_config(cfg, "single_turn")
    setup = Setup(cfg, "single_turn")
    encoder = resolve_encoder(setup.make_env(setup.eval_kwargs), "solver_0", setup.learners["solver_0"]).config()
    trained_on = env_thunks(setup, "solver_0", encoder, setup.fixed, 1)[0]()
    assert view.env.env.unwrapped.max_turns == 1 and view.encoder.config() == trained_on.encoder.config()
    for seed in (0, 5):
        ours, _ = view.reset(seed=seed)
        theirs, _ = trained_on.reset(seed=seed)
        np.testing.assert_array_equal(ours, theirs)
        assert view.step(1)[1:4] == trained_on.step(1)[1:4]


def test_eval_split_overrides_and_errors() -> None:
    assert make_view_from_config("try_again", "single_turn", split="eval").env.env.unwrapped.max_turns == 5
    assert make_view_from_config("single", overrides=["env.kwargs.max_turns=3"]).env.env.unwrapped.max_turns == 3
    with pytest.raises(ConfigError, match="multi_turn, single_turn"):
        make_view_from_config("try_again", "nope")
    with pytest.raises(ConfigError, match="pass learner="):
        make_view_from_config("selfplay_negotiation")
    assert make_view_from_config("selfplay_negotiation", learner="buyer_0").action_space.n == 13
