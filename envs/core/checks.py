"""Argument checks whose errors name the field, the allowed values and what came."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection
from typing import Any


def require_probability(name: str, value: Any) -> float:
    """``value`` as a float in [0, 1], or a ValueError naming ``name``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be in [0, 1], got {value!r}") from None
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return number


def require_choice(name: str, value: Any, allowed: Collection[Any]) -> Any:
    """``value`` if it is one of ``allowed``, or a ValueError listing them."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}, got {value!r}")
    return value


def keyword_parameters(target: Callable[..., Any], *, skip: int = 0) -> tuple[list[str], list[str]] | None:
    """The keyword names ``target`` accepts and those it requires (after its first ``skip`` parameters).

    None when it takes ``**kwargs`` or has no signature (a builtin): then the call itself must complain.
    """
    try:
        parameters = list(inspect.signature(target).parameters.values())[skip:]
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    named = [p for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return [p.name for p in named], [p.name for p in named if p.default is inspect.Parameter.empty]
