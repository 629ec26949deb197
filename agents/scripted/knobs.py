"""Knob checks the scripted agents share beyond ``envs.core.checks``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from feedbackgym.envs.core.checks import fail, is_int

STRENGTHS = (0, 1, 2)  # evidence strengths: a bare verdict, a claim, quoted passages


def strength_table(
    name: str, value: Any, defaults: Mapping[int, float], check: Callable[[str, Any], float]
) -> dict[int, float]:
    """``defaults`` updated by ``value``, a mapping from evidence strengths (0, 1, 2, or their digits) to numbers."""
    table = dict(defaults)
    if value is None:
        return table
    if not isinstance(value, Mapping):
        raise fail(name, "a mapping from evidence strengths 0, 1, 2 to numbers (or None)", value)
    for key, number in value.items():
        strength = int(key) if is_int(key) else int(key) if isinstance(key, str) and key.strip() in ("0", "1", "2") else None
        if strength not in STRENGTHS:
            raise fail(f"{name} keys", "evidence strengths 0, 1 or 2", key)
        table[strength] = check(f"{name}[{strength}]", number)
    return table
