"""Scalar draws of a scripted agent's generator stepped in Python: numpy's values, a fraction of the cost.

A scripted agent that makes a scalar draw at every move (a negotiator picking one of its phrasings,
``rng.integers(4)``) pays about 1 us of numpy's argument handling for a few nanoseconds of arithmetic.
:class:`StreamedRandom` gives such an agent a :class:`Pcg64Stream`: the generator's ``PCG64`` state
taken over once, stepped in Python with numpy's algorithms (``envs.core.draws``), so every draw is the
one numpy would have made, and handed back to the generator whenever anyone reads ``np_random``.

``np_random`` stays the agent's ``numpy`` Generator: reading it puts the stream's position back into it
first, so code that draws from it directly (or a test that inspects it) sees exactly the state the
scalar calls would have left. A generator of another bit generator, or a numpy whose algorithms are
not the emulated ones (:func:`stream_matches_numpy`), is served by numpy's own calls
(:class:`NumpyStream`) with the same values.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from feedbackgym.envs.core.draws import _DOUBLE_UNIT, _Pcg64Draws, _ziggurat_tables, emulation_matches_numpy
from feedbackgym.envs.core.seeding import PCG64_MULTIPLIER

_MASK64, _MASK128 = (1 << 64) - 1, (1 << 128) - 1


class NumpyStream:
    """The draws of :class:`Pcg64Stream`, answered by the generator itself (any bit generator)."""

    __slots__ = ("rng",)

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def integers(self, n: int) -> int:
        return int(self.rng.integers(n))

    def random(self) -> float:
        return float(self.rng.random())

    def standard_normal(self) -> float:
        return float(self.rng.standard_normal())

    def gumbel(self, size: int) -> list[float]:
        return self.rng.gumbel(size=size).tolist()

    def hand_back(self) -> None:
        pass


class Pcg64Stream(_Pcg64Draws):
    """A PCG64 generator's stream in Python: scalar ``integers(n)``, ``random()``, ``standard_normal()``
    and ``gumbel(size)`` as numpy draws them, from the generator's state when the stream was made.

    The generator itself is not touched until :meth:`hand_back` writes the stream's position into it
    (or a draw that numpy must make, a normal off the ziggurat's fast path, needs it).
    """

    __slots__ = ("rng", "_state", "_increment", "_has_half", "_half", "_moved")

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._load()

    def _load(self) -> None:
        state = self.rng.bit_generator.state
        self._state, self._increment = state["state"]["state"], state["state"]["inc"]
        self._has_half, self._half = bool(state["has_uint32"]), int(state["uinteger"])
        self._moved = False

    def _next64(self) -> int:
        self._moved = True
        state = self._state = (self._state * PCG64_MULTIPLIER + self._increment) & _MASK128
        value = ((state >> 64) ^ state) & _MASK64  # PCG64's XSL-RR output
        rotation = state >> 122
        return ((value >> rotation) | (value << (64 - rotation))) & _MASK64

    def _next32(self) -> int:
        if self._has_half:
            self._has_half, self._moved = False, True  # using the kept half moves the stream too
            return self._half
        value = self._next64()
        self._has_half, self._half = True, value >> 32
        return value & 0xFFFFFFFF

    def hand_back(self) -> None:
        """Put the stream's position into the generator (nothing to do when no draw was made)."""
        if self._moved:
            self.rng.bit_generator.state = {
                "bit_generator": "PCG64",
                "state": {"state": self._state, "inc": self._increment},
                "has_uint32": int(self._has_half),
                "uinteger": self._half,
            }
            self._moved = False

    # ------------------------------------------------------------------------------- draws
    def integers(self, n: int) -> int:
        """``int(rng.integers(n))`` for ``1 <= n < 2**32``."""
        if type(n) is not int or not 1 <= n < 1 << 32:
            self.hand_back()
            value = int(self.rng.integers(n))  # numpy's own draw (or error); then carry on from there
            self._load()
            return value
        return self._below(n)

    def random(self) -> float:
        return (self._next64() >> 11) * _DOUBLE_UNIT

    def standard_normal(self) -> float:
        fast_limit, width = _ziggurat_tables()
        state, has_half, half = self._state, self._has_half, self._half
        raw = self._next64()
        layer = raw & 0xFF
        magnitude = (raw >> 9) & 0xFFFFFFFFFFFFF
        if magnitude < fast_limit[layer]:
            value = magnitude * width[layer]
            return -value if raw & 0x100 else value
        # Off the fast path (under 1% of draws): numpy draws it from the position before this output.
        self._state, self._has_half, self._half, self._moved = state, has_half, half, True
        self.hand_back()
        value = float(self.rng.standard_normal())
        self._load()
        return value

    def gumbel(self, size: int) -> list[float]:
        """``rng.gumbel(size=size).tolist()``: ``0.0 - 1.0 * log(-log(1 - U))``, a U of 0 drawn again."""
        out = []
        log = math.log
        while len(out) < size:
            u = 1.0 - (self._next64() >> 11) * _DOUBLE_UNIT
            if u < 1.0:
                out.append(0.0 - 1.0 * log(-log(u)))
        return out


def stream(rng: np.random.Generator) -> Pcg64Stream | NumpyStream:
    """The fastest exact stream of ``rng``'s draws."""
    if type(rng.bit_generator) is np.random.PCG64 and stream_matches_numpy():
        return Pcg64Stream(rng)
    return NumpyStream(rng)


@functools.cache
def stream_matches_numpy() -> bool:
    """Whether :class:`Pcg64Stream` draws this numpy's values, checked once per process on a few hundred
    draws of every kind, mixed (slow-path normals and rejected integers included) and ending with the
    generator's state. Should a numpy release change an algorithm, every agent falls back to numpy's calls."""
    if not emulation_matches_numpy():
        return False
    program = np.random.default_rng(20_251_130)
    drawn, expected = np.random.default_rng(5), np.random.default_rng(5)
    emulated = Pcg64Stream(drawn)
    for _ in range(600):
        kind = int(program.integers(5))
        if kind == 0:
            n = [2, 3, 4, 7, 10, 2**31 + 1, 2**32 - 1][int(program.integers(7))]
            same = emulated.integers(n) == int(expected.integers(n))
        elif kind == 1:
            same = emulated.random() == float(expected.random())
        elif kind == 2:
            same = emulated.standard_normal() == float(expected.standard_normal())
        elif kind == 3:
            size = int(program.integers(1, 9))
            same = emulated.gumbel(size) == expected.gumbel(size=size).tolist()
        else:
            emulated.hand_back()  # a draw numpy makes itself in between
            same = float(drawn.random()) == float(expected.random())
            emulated._load()
        if not same:
            return False
    emulated.hand_back()
    return drawn.bit_generator.state == expected.bit_generator.state


class StreamedRandom:
    """Mixin for an :class:`~feedbackgym.agents.base.Agent` whose draws go through :meth:`draws`.

    ``np_random`` is a property: setting it (the agent's constructor, ``reset``) drops the stream;
    reading it hands the stream's position back to the generator first, so the generator is always
    where numpy's own calls would have left it.
    """

    @property
    def np_random(self) -> Any:
        current = self.__dict__.get("_stream")
        if current is not None:
            current.hand_back()
            self.__dict__["_stream"] = None
        return self.__dict__["_np_random"]

    @np_random.setter
    def np_random(self, rng: Any) -> None:
        self.__dict__["_stream"] = None
        self.__dict__["_np_random"] = rng

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.__dict__["_stream"] = None  # the generator is reseeded: the stream's position is moot
        super().reset(seed)  # type: ignore[misc]

    def draws(self) -> Pcg64Stream | NumpyStream:
        """This agent's stream of draws (taken over from ``np_random`` on first use)."""
        current = self.__dict__.get("_stream")
        if current is None:
            current = self.__dict__["_stream"] = stream(self.__dict__["_np_random"])
        return current
