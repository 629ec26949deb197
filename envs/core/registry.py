"""A small generic registry with helpful lookup errors, shared by envs, tasks, wrappers and agents."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from feedbackgym.envs.core.checks import ArgumentError

T = TypeVar("T")


class RegistryError(KeyError):
    """An unknown or duplicate name in one of feedbackgym's registries.

    A subclass of KeyError so ``except KeyError`` keeps working, but its message prints
    without KeyError's quoting so the "Did you mean" hint stays readable.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownNameError(RegistryError, ArgumentError):
    """A knob naming nothing registered: a KeyError like every registry miss, and an ArgumentError."""


def did_you_mean(name: str, known: list[str] | tuple[str, ...], kind: str) -> str:
    """The message for an unknown ``name``: the closest matches first, then everything registered."""
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if not close:
        lowered = {k.lower(): k for k in known}
        close = [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)]
    hint = f" Did you mean {' or '.join(f'`{c}`' for c in close)}?" if close else ""
    listing = ", ".join(sorted(known)) if known else "(none)"
    return f"No {kind} `{name}`.{hint} Registered: {listing}"


def load_entry_point(entry_point: str) -> object:
    """Import ``"package.module:Attribute"`` lazily, with an error that says what was expected."""
    if ":" not in entry_point:
        raise ValueError(f"entry point must look like 'package.module:Attribute', got {entry_point!r}")
    module_name, _, attribute = entry_point.partition(":")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError as error:
        raise ImportError(f"module {module_name!r} has no attribute {attribute!r} (entry point {entry_point!r})") from error


class Registry(Generic[T]):
    """Named entries of one kind; values may be objects or lazy ``"module:Attr"`` strings.

    A string value is always an entry point, imported on first ``get``.

    >>> colours = Registry[tuple]("colour")
    >>> colours.register("red", (255, 0, 0), aliases=("rouge",))
    >>> colours.get("rouge")
    (255, 0, 0)
    >>> constants = Registry[float]("constant")
    >>> constants.register("pi", "math:pi")
    >>> round(constants.get("pi"), 5)
    3.14159
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, value: T | str, *, aliases: tuple[str, ...] = (), override: bool = False) -> None:
        for key in (name, *aliases):
            if not override and (key in self._entries or key in self._aliases):
                raise RegistryError(f"{self.kind} `{key}` is already registered; pass override=True to replace it")
        self._entries[name] = value
        for alias in aliases:
            self._aliases[alias] = name

    def decorator(self, name: str, *aliases: str, override: bool = False) -> Callable[[T], T]:
        def wrap(value: T) -> T:
            self.register(name, value, aliases=aliases, override=override)
            return value

        return wrap

    def canonical(self, name: str) -> str:
        if name in self._entries:
            return name
        if name in self._aliases:
            return self._aliases[name]
        raise UnknownNameError(did_you_mean(str(name), self.names(), self.kind))

    def get(self, name: str) -> T:
        key = self.canonical(name)
        value = self._entries[key]
        if isinstance(value, str):
            value = load_entry_point(value)  # type: ignore[assignment]
            self._entries[key] = value
        return value  # type: ignore[return-value]

    def name_of(self, value: object) -> str | None:
        """The name ``value`` is registered under (only among entries already loaded), or None."""
        return next((name for name, entry in self._entries.items() if entry is value), None)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
