"""Spaces for text games: a text space that keeps any printable unicode, and the observation Dict."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

import multiprocessing
from types import ModuleType

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

# What random samples are drawn from: api_test and seed_test send them as actions.
# Membership is wider: any printable character, plus newline and tab.
SAMPLE_CHARSET = string.ascii_letters + string.digits + " .,:;!?()[]<>{}\\/-+*=_'\"#$%\n"


# The ASCII characters that are not printable, newline and tab apart (deleted by bytes.translate below).
_ASCII_UNPRINTABLE = bytes([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F])


def is_printable_text(text: str) -> bool:
    """True when every character is printable unicode, a newline or a tab."""
    if text.isprintable():
        return True
    if text.isascii():
        # A tight C pass over bytes: a third of the cost of two str.replace copies and isprintable.
        return len(text.encode("ascii").translate(None, _ASCII_UNPRINTABLE)) == len(text)
    return text.replace("\n", " ").replace("\t", " ").isprintable()


class PrintableText(spaces.Text):
    """A ``gymnasium.spaces.Text`` whose members are any printable unicode up to ``max_length``.

    Gymnasium's ``Text`` admits only its charset (letters and digits by default), which would reject
    the unicode a language model writes. Samples still come from a small ASCII charset, and are at most
    ``sample_max_length`` long so that random-action tests stay fast.

    >>> space = PrintableText(max_length=32)
    >>> space.contains("Schrödinger's \\\\boxed{42} ✓")
    True
    >>> space.contains("bell\\x07")
    False
    """

    def __init__(
        self,
        max_length: int,
        *,
        min_length: int = 0,
        sample_max_length: int = 64,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__(max_length=max_length, min_length=min_length, charset=SAMPLE_CHARSET, seed=seed)
        self.sample_max_length = max(min_length, min(max_length, sample_max_length))

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length and is_printable_text(x)

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        if mask is None and probability is None:
            length = int(self.np_random.integers(self.min_length, self.sample_max_length + 1))
            return super().sample(mask=(length, None))
        return super().sample(mask=mask, probability=probability)

    def __repr__(self) -> str:
        return f"PrintableText({self.min_length}, {self.max_length})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrintableText) and (self.min_length, self.max_length) == (
            other.min_length,
            other.max_length,
        )

    __hash__ = spaces.Text.__hash__


# Gymnasium's AsyncVectorEnv keeps Text observations in shared memory as indices into the space's
# charset, which would fail on any other character. PrintableText keeps Unicode code points instead
# (0 is padding: NUL is not printable, so no member contains it).
@create_shared_memory.register(PrintableText)
def _create_printable_text_memory(space: PrintableText, n: int = 1, ctx: ModuleType = multiprocessing) -> Any:
    return ctx.Array(np.dtype(np.int32).char, n * space.max_length)


@read_from_shared_memory.register(PrintableText)
def _read_printable_text(space: PrintableText, shared_memory: Any, n: int = 1) -> tuple[str, ...]:
    data = np.frombuffer(shared_memory.get_obj(), dtype=np.int32).reshape((n, space.max_length))
    return tuple("".join(map(chr, row[row > 0].tolist())) for row in data)


@write_to_shared_memory.register(PrintableText)
def _write_printable_text(space: PrintableText, index: int, value: str, shared_memory: Any) -> None:
    if len(value) > space.max_length:
        raise ValueError(f"a text of {len(value)} characters does not fit a PrintableText of max_length {space.max_length}")
    size = space.max_length
    destination = np.frombuffer(shared_memory.get_obj(), dtype=np.int32)[index * size : (index + 1) * size]
    destination[:] = 0
    destination[: len(value)] = np.frombuffer(value.encode("utf-32-le", "surrogatepass"), dtype=np.int32)


def scalar_box(low: float, high: float) -> spaces.Box:
    """A float32 Box of shape (1,): the numeric fields a torch policy reads."""
    return spaces.Box(low=np.float32(low), high=np.float32(high), shape=(1,), dtype=np.float32)


def observation_space(text_max_length: int, numeric: Mapping[str, tuple[float, float]]) -> spaces.Dict:
    """The observation Dict every feedbackgym env uses: ``text`` plus named numeric fields."""
    fields: dict[str, spaces.Space[Any]] = {"text": PrintableText(max_length=text_max_length)}
    fields.update({name: scalar_box(low, high) for name, (low, high) in numeric.items()})
    return spaces.Dict(fields)
