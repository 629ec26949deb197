"""Knob validation shared by the task sources, so every bad value is reported the same way."""

from __future__ import annotations

from collections.abc import Collection
from numbers import Integral
from typing import Any

import numpy as np


def require_int(field: str, value: Any, low: int, high: int) -> int:
    # bool is an Integral, but difficulty=True is always a mistake
    if not isinstance(value, Integral) or isinstance(value, bool) or not low <= int(value) <= high:
        raise ValueError(f"{field} must be an integer in {low}..{high}, got {value!r}")
    return int(value)


def require_one_of(field: str, value: Any, allowed: Collection[Any]) -> Any:
    if value not in allowed:
        listing = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{field} must be one of {listing}, got {value!r}")
    return value


def require_generator(rng: Any) -> np.random.Generator:
    # An int seed or the legacy RandomState would silently break "same seed, same task" guarantees.
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"sample() needs a numpy Generator such as np.random.default_rng(seed), got {type(rng).__name__}"
        )
    return rng
