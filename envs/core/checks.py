"""Argument checks whose errors name the field, the allowed values and what came.

Every constructor knob of an environment, wrapper, agent or task source goes through one of these,
so a bad value is reported the same way everywhere: ``<knob> must be <allowed>, got <value!r>``.
The error is an :class:`ArgumentError`, both a TypeError (like a bad call) and a ValueError (like a
bad config), so callers may catch either.

Hydra hands over plain Python values (OmegaConf converts them), so ints arrive as ints and bools as
bools; numpy integers and numpy bools are accepted too. A bool is never an integer or a number here:
``max_turns=True`` is always a mistake. Strings are never numbers or bools: ``"false"`` is not False.
"""

from __future__ import annotations

import errno
import inspect
import math
import os
import re
from collections.abc import Callable, Collection, Mapping
from numbers import Integral, Real
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # every C0 control but tab and newline, and DEL
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f]")
_SHOWN_CHARS = 80


class ArgumentError(TypeError, ValueError):
    """A knob with a wrong type or an out-of-range value; the message names the knob and what it allows."""


def shown(value: Any) -> str:
    """``repr(value)``, cut short so that a huge value does not swamp the message."""
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else f"{text[:_SHOWN_CHARS - 3]}..."


def fail(name: str, allowed: str, value: Any) -> ArgumentError:
    """The one message style: ``<knob> must be <allowed>, got <value!r>``."""
    return ArgumentError(f"{name} must be {allowed}, got {shown(value)}")


def _number(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _interval(low: float | None, high: float | None, *, open_low: bool = False) -> str:
    integral = not isinstance(low, float) and not isinstance(high, float)
    if low is not None and high is not None:
        if integral:
            return f" in {low}..{high}"
        return f" in {'(' if open_low else '['}{_number(low)}, {_number(high)}]"
    if low is not None:
        return f" {'>' if open_low else '>='} {_number(low)}"
    if high is not None:
        return f" <= {_number(high)}"
    return ""


def _or_none(allowed: str, allow_none: bool) -> str:
    return f"{allowed} or None" if allow_none else allowed


class ResetOption(NamedTuple):
    """A key that an environment's ``reset(options=...)`` takes: what its value means (for the messages), and the
    check of a value that is not None (it raises an ``ArgumentError`` naming the option)."""

    meaning: str
    check: Callable[[Any], object]


def require_bool(name: str, value: Any) -> bool:
    """``value`` if it is a real bool (or numpy bool); ``"false"``, 0 and None are errors, not False."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise fail(name, "true or false", value)


def is_int(value: Any) -> bool:
    """True for Python and numpy integers, False for bools."""
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def require_int(
    name: str, value: Any, low: int | None = None, high: int | None = None, *, allow_none: bool = False
) -> int | None:
    """``value`` as an int in ``[low, high]`` (either bound may be None), or an ArgumentError naming ``name``."""
    if value is None and allow_none:
        return None
    allowed = _or_none(f"an integer{_interval(low, high)}", allow_none)
    if not is_int(value):
        raise fail(name, allowed, value)
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise fail(name, allowed, value)
    return number


def require_float(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    open_low: bool = False,
    allow_none: bool = False,
) -> float | None:
    """``value`` as a finite float in ``[low, high]`` (``(low, high]`` with ``open_low``; either bound may
    be None); NaN and infinities are errors, and so are bools and strings."""
    if value is None and allow_none:
        return None
    allowed = _or_none(f"a finite number{_interval(low, high, open_low=open_low)}", allow_none)
    if not isinstance(value, Real) or isinstance(value, (bool, np.bool_)):
        raise fail(name, allowed, value)
    number = float(value)
    too_low = low is not None and (number <= low if open_low else number < low)
    if not math.isfinite(number) or too_low or (high is not None and number > high):
        raise fail(name, allowed, value)
    return number


require_finite_float = require_float


def require_probability(name: str, value: Any) -> float:
    """``value`` as a float in [0, 1], or an ArgumentError naming ``name``."""
    return require_float(name, value, 0.0, 1.0)  # type: ignore[return-value]


def require_text(
    name: str,
    value: Any,
    *,
    allow_empty: bool = False,
    multiline: bool = False,
    max_chars: int = 10_000,
    allow_none: bool = False,
) -> str | None:
    """``value`` if it is a string without NUL or other control characters (tab and newline only when
    ``multiline``), non-empty unless ``allow_empty``, and at most ``max_chars`` long."""
    if value is None and allow_none:
        return None
    kind = f"a {'' if allow_empty else 'non-empty '}{'' if multiline else 'one-line '}string"
    allowed = _or_none(f"{kind} of at most {max_chars} characters without control characters", allow_none)
    if not isinstance(value, str):
        raise fail(name, allowed, value)
    pattern = _CONTROL if multiline else _CONTROL_ONE_LINE
    if (not allow_empty and not value.strip()) or len(value) > max_chars or pattern.search(value) or not _encodable(value):
        raise fail(name, allowed, value)
    return str(value)


def _encodable(text: str) -> bool:
    """False for text with lone surrogates, which no file, environment variable or request can carry."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _same_choice(option: Any, value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)) != isinstance(option, (bool, np.bool_)):
        return False  # True == 1 in Python, but a bool never stands for a number here
    if isinstance(value, float) and not isinstance(option, float):
        return False
    try:
        return bool(option == value)
    except (TypeError, ValueError):  # an array compared element-wise
        return False


def require_choice(name: str, value: Any, allowed: Collection[Any]) -> Any:
    """The option of ``allowed`` equal to ``value``, or an ArgumentError listing them."""
    for option in allowed:
        if _same_choice(option, value):
            return option
    raise fail(name, f"one of {', '.join(map(str, allowed))}", value)


def require_mapping(name: str, value: Any, *, allow_none: bool = True) -> Mapping[str, Any] | None:
    """``value`` if it is a mapping with string keys (or None when allowed)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise fail(name, _or_none("a mapping with string keys", allow_none), value)
    return value


def require_agent_ids(name: str, value: Any) -> tuple[str, ...]:
    """A list (tuple, set) of agent ids; a bare string is an error, not a set of letters."""
    allowed = "a list of agent ids (strings)"
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Collection):
        raise fail(name, allowed, value)
    try:
        items = tuple(value)
    except TypeError:  # a 0-d array claims to be a collection
        raise fail(name, allowed, value) from None
    if not all(isinstance(item, str) for item in items):
        raise fail(name, allowed, value)
    return items


def require_seed(name: str, value: Any) -> int | None:
    """A random seed: None or a non-negative integer."""
    return require_int(name, value, 0, None, allow_none=True)


class MissingFileError(FileNotFoundError, ArgumentError):
    """A path knob naming no file: a FileNotFoundError that is also an ArgumentError."""


class NotAFileError(IsADirectoryError, ArgumentError):
    """A path knob naming a directory where a file is needed."""


def require_file(name: str, value: Any) -> Path:
    """``value`` as the Path of an existing file; the error names ``name`` and the path."""
    if not isinstance(value, (str, os.PathLike)) or isinstance(value, bytes):
        raise fail(name, "the path of an existing file", value)
    text = os.fspath(value)
    if not isinstance(text, str) or not text.strip() or len(text) > 4096 or _CONTROL_ONE_LINE.search(text) or not _encodable(text):
        raise fail(name, "the path of an existing file", value)
    path = Path(text)
    try:
        is_dir, exists = path.is_dir(), path.exists()
    except OSError as error:  # a name too long for the file system, a permission error on a parent
        raise MissingFileError(errno.ENOENT, f"{name} must be the path of an existing file; {error.strerror}", text) from None
    if is_dir:
        raise NotAFileError(errno.EISDIR, f"{name} must be the path of a file, got a directory", text)
    if not exists:
        raise MissingFileError(errno.ENOENT, f"{name} must be the path of an existing file; not found", text)
    return path


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
