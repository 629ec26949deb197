"""Knob validation shared by the task sources, so every bad value is reported the same way."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np

from feedbackgym.envs.core.checks import require_choice


def require_int(field: str, value: Any, low: int, high: int) -> int:
    # bool is an Integral, but difficulty=True is always a mistake
    if not isinstance(value, Integral) or isinstance(value, bool) or not low <= int(value) <= high:
        raise ValueError(f"{field} must be an integer in {low}..{high}, got {value!r}")
    return int(value)


require_one_of = require_choice  # one implementation for envs and task sources


def require_generator(rng: Any) -> np.random.Generator:
    # An int seed or the legacy RandomState would silently break "same seed, same task" guarantees.
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"sample() needs a numpy Generator such as np.random.default_rng(seed), got {type(rng).__name__}"
        )
    return rng
