"""Knob validation shared by the task sources, so every bad value is reported the same way."""

from __future__ import annotations

from typing import Any

import numpy as np

from feedbackgym.envs.core.checks import require_bool, require_choice, require_int, require_text

require_one_of = require_choice  # one implementation for envs and task sources

__all__ = ["require_bool", "require_generator", "require_int", "require_one_of", "require_text"]


def require_generator(rng: Any) -> np.random.Generator:
    # An int seed or the legacy RandomState would silently break "same seed, same task" guarantees.
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"sample() needs a numpy Generator such as np.random.default_rng(seed), got {type(rng).__name__}"
        )
    return rng
