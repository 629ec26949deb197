"""numpy's ``Generator`` scalar draws on ``PCG64``, reproduced bit for bit in Python.

A scalar ``rng.integers(5)``, ``rng.random()`` or ``rng.normal(m, s)`` costs about 1 us, most of it
in argument handling around a few nanoseconds of arithmetic, and ``np.random.default_rng(seed)``
costs more than the handful of draws a procedural task makes. Two ways to the same draws share one
implementation of numpy's algorithms (:class:`_Pcg64Draws`):

- :class:`SeededDraws` is ``np.random.default_rng(seed)`` for a non-negative ``int`` seed: the seed's
  ``PCG64`` state is computed with the algorithms of :mod:`feedbackgym.envs.core.seeding` and the
  stream stepped here; anything but scalar ``integers``/``random`` and its plain-value draws
  (``below``, ``between``, ``sample``, ``indices``, ``permutation_list``: ``int(rng.integers(...))``,
  ``rng.choice(...)`` and ``rng.permutation(n)`` as Python ints and lists) goes to a real
  ``Generator`` set to the very same state, which serves every later call. :class:`GeneratorDraws`
  answers the plain-value draws with a ``Generator``'s own calls, and :func:`integer_below` draws a
  64-bit-range integer (a task's seed) from a live ``Generator`` through one raw output.
- :class:`RawDraws` draws from a live ``Generator``: it takes the stream as one ``random_raw`` block,
  then leaves the bit generator exactly where the scalar calls would have left it (its position and
  its buffered 32-bit half), so the draws that follow are unchanged. :func:`draws` picks it for a
  ``PCG64`` generator, and :class:`PlainDraws` (numpy's own calls) for any other bit generator or when
  the emulation does not match this numpy (:func:`emulation_matches_numpy`), so the values never
  depend on which path ran. :func:`uniform_normal_integers` draws a catalogue's records with the
  common case inlined, and :func:`weighted_index` is ``rng.choice(n, p=p)`` in plain Python.

numpy's algorithms, as reproduced:

- ``PCG64`` (XSL-RR 128/64) steps the 128-bit state and then outputs; its 32-bit draws use each
  64-bit output twice, low half first, the high half kept for the next 32-bit draw (shared with
  every later 32-bit draw, whichever method makes it);
- ``random()`` is ``(next_uint64 >> 11) * 2**-53``; ``uniform(a, b)`` is ``a + (b - a) * random()``;
- ``integers`` over ``n`` values (``high - low``) draws nothing for ``n == 1``; below ``2**32`` it is
  Lemire's method on 32-bit draws, for ``2**32`` one plain 32-bit draw, for ``2**64`` one plain 64-bit
  draw, and otherwise Lemire's method on 64-bit draws (``random_bounded_uint64_fill`` in numpy's
  ``distributions.c``); ``choice(n, size)`` with replacement is ``integers(0, n, size)``;
- ``choice(n, k, replace=False)`` is Floyd's algorithm (draw ``j`` is uniform on ``0 .. j``, replaced
  by ``j`` itself when already taken) followed by a Fisher-Yates shuffle of the ``k`` picks, both
  with Lemire's bounded draws; above 10 000 values with ``k > n // 50`` it is instead a tail shuffle of
  the whole range; ``permutation(n)`` shuffles ``arange(n)`` from the end with masked rejection
  (``random_interval``), not Lemire's method;
- ``standard_normal()`` is the ziggurat: in 99% of draws one output picks a layer (8 bits), a sign
  (1 bit) and a magnitude (52 bits), and the value is magnitude * layer width. The layer tables are
  numpy's, read from numpy itself once per process (:func:`_ziggurat_tables`); a draw outside the
  fast path is handed to numpy at the same stream position.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from typing import Any

import numpy as np

from feedbackgym.envs.core.seeding import PCG64_MULTIPLIER, pcg64_step, seed_pcg64_state

_MASK32, _MASK64, _MASK128 = (1 << 32) - 1, (1 << 64) - 1, (1 << 128) - 1
_DOUBLE_UNIT = 1.0 / 9007199254740992.0  # 2**-53
_PCG_MULT_INVERSE = pow(PCG64_MULTIPLIER, -1, 1 << 128)
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_MAX_FAST_SEED = (1 << 128) - 1  # seeds of at most four 32-bit words: no extra SeedSequence mixing round


def _pcg64_output(state: int) -> int:
    """PCG64's 64-bit output for a (just stepped) 128-bit state: XSL-RR, rotr64(high ^ low, high >> 58)."""
    value = ((state >> 64) ^ state) & _MASK64
    rotation = state >> 122
    return ((value >> rotation) | (value << (64 - rotation))) & _MASK64


class _Pcg64Draws:
    """numpy's scalar draws from a PCG64 stream of 64-bit outputs (:meth:`_next64`, the subclass's).

    The subclass keeps ``_has_half`` and ``_half``: the high half of a 64-bit output kept for the next
    32-bit draw, as PCG64 keeps it (has_uint32, uinteger: the value stays after use, as numpy's state
    shows it).
    """

    __slots__ = ()
    _has_half: bool
    _half: int

    def _next64(self) -> int:
        raise NotImplementedError

    def _next32(self) -> int:
        if self._has_half:
            self._has_half = False
            return self._half
        value = self._next64()
        self._has_half, self._half = True, value >> 32
        return value & _MASK32

    def _random(self) -> float:
        return (self._next64() >> 11) * _DOUBLE_UNIT

    def _below(self, n: int) -> int:
        """A uniform integer in ``0 .. n - 1`` (``1 <= n <= 2**64``), as numpy's ``integers`` draws it."""
        if n == 1:
            return 0
        if n < 1 << 32:  # Lemire's multiply-and-reject on 32-bit draws
            m = self._next32() * n
            if m & _MASK32 < n:
                threshold = ((1 << 32) - n) % n  # numpy's (UINT32_MAX - rng) % rng_excl
                while m & _MASK32 < threshold:
                    m = self._next32() * n
            return m >> 32
        if n == 1 << 32:
            return self._next32()
        if n == 1 << 64:
            return self._next64()
        m = self._next64() * n  # Lemire's method on 64-bit draws
        if m & _MASK64 < n:
            threshold = ((1 << 64) - n) % n
            while m & _MASK64 < threshold:
                m = self._next64() * n
        return m >> 64

    def _interval(self, top: int) -> int:
        """A uniform integer in ``0 .. top`` by masked rejection: numpy's ``random_interval``, which
        ``shuffle`` and ``permutation`` use (not Lemire's method, unlike ``integers``)."""
        if top == 0:
            return 0
        mask = (1 << top.bit_length()) - 1  # the smallest all-ones mask covering top
        draw = self._next32 if top <= _MASK32 else self._next64
        value = draw() & mask
        while value > top:
            value = draw() & mask
        return value

    def _sample(self, n: int, k: int) -> list[int]:
        """``rng.choice(n, size=k, replace=False)`` (``0 <= k <= n``): numpy's two algorithms, each bounded
        draw ``random_bounded_uint64`` (Lemire's method, as ``integers``)."""
        below = self._below
        if n > 10_000 and k > n // 50:
            # A tail shuffle of the whole range: Fisher-Yates from the end down to n - k.
            data = list(range(n))
            for i in range(n - 1, max(n - k, 1) - 1, -1):
                j = below(i + 1)
                data[i], data[j] = data[j], data[i]
            return data[n - k :]
        # Floyd's algorithm: a draw already taken is replaced by the top of its range, then the
        # sample is shuffled (numpy's hash set only answers "taken already?").
        chosen: list[int] = []
        taken: set[int] = set()
        for top in range(n - k, n):
            value = below(top + 1)
            if value in taken:
                value = top
            taken.add(value)
            chosen.append(value)
        for i in range(k - 1, 0, -1):
            j = below(i + 1)
            chosen[i], chosen[j] = chosen[j], chosen[i]
        return chosen

    def _permutation(self, n: int) -> list[int]:
        """``rng.permutation(n)``: Fisher-Yates over ``arange(n)`` from the end, by ``_interval``."""
        data = list(range(n))
        interval = self._interval
        for i in range(n - 1, 0, -1):
            j = interval(i)
            data[i], data[j] = data[j], data[i]
        return data


# ------------------------------------------------------------------- default_rng(seed), from the seed
class SeededDraws(_Pcg64Draws):
    """The draws of ``np.random.default_rng(seed)`` (a non-negative ``int`` seed): scalar ``integers`` and
    ``random`` computed here, everything else by a numpy ``Generator`` in the same state."""

    __slots__ = ("_state", "_increment", "_has_half", "_half", "_generator")

    def __init__(self, seed: int) -> None:
        self._generator: np.random.Generator | None = None
        self._has_half, self._half = False, 0
        if type(seed) is int and 0 <= seed <= _MAX_FAST_SEED:
            self._state, self._increment = seed_pcg64_state(seed)
        else:
            self._state = self._increment = 0
            self._generator = np.random.default_rng(seed)  # numpy says what is wrong with the seed

    @classmethod
    def from_state(cls, state: int, increment: int) -> SeededDraws:
        """The draws of ``default_rng(seed)`` given its PCG64 (state, increment), ``seed_pcg64_state(seed)``."""
        draws = object.__new__(cls)
        draws._generator, draws._has_half, draws._half = None, False, 0
        draws._state, draws._increment = state, increment
        return draws

    def _next64(self) -> int:
        # pcg64_step and _pcg64_output, inlined: this is the innermost call of every draw.
        state = self._state = (self._state * PCG64_MULTIPLIER + self._increment) & _MASK128
        value = ((state >> 64) ^ state) & _MASK64
        rotation = state >> 122
        return ((value >> rotation) | (value << (64 - rotation))) & _MASK64

    def _below(self, n: int) -> int:
        if 1 < n <= _MASK32:
            # _Pcg64Draws._below's 32-bit Lemire draw with _next32 and _next64 inlined: most of a
            # generated task's draws are these, and the two calls cost more than the arithmetic.
            if self._has_half:
                self._has_half = False
                m = self._half * n
            else:
                state = self._state = (self._state * PCG64_MULTIPLIER + self._increment) & _MASK128
                value = ((state >> 64) ^ state) & _MASK64
                rotation = state >> 122
                value = ((value >> rotation) | (value << (64 - rotation))) & _MASK64
                self._has_half, self._half = True, value >> 32
                m = (value & _MASK32) * n
            if m & _MASK32 < n:
                threshold = ((1 << 32) - n) % n
                while m & _MASK32 < threshold:
                    m = self._next32() * n
            return m >> 32
        return _Pcg64Draws._below(self, n)

    def _interval(self, top: int) -> int:
        if not 0 < top <= _MASK32:
            return _Pcg64Draws._interval(self, top)
        mask = (1 << top.bit_length()) - 1
        while True:  # _Pcg64Draws._interval's 32-bit rejection loop with _next32 inlined, as in _below
            if self._has_half:
                self._has_half = False
                value = self._half & mask
            else:
                state = self._state = (self._state * PCG64_MULTIPLIER + self._increment) & _MASK128
                raw = ((state >> 64) ^ state) & _MASK64
                rotation = state >> 122
                raw = ((raw >> rotation) | (raw << (64 - rotation))) & _MASK64
                self._has_half, self._half = True, raw >> 32
                value = raw & mask  # mask < 2**32: the low half
            if value <= top:
                return value

    def generator(self) -> np.random.Generator:
        """A numpy ``Generator`` in this stream's current state; it serves every later draw."""
        if self._generator is None:
            generator = np.random.Generator(np.random.PCG64(0))
            generator.bit_generator.state = {
                "bit_generator": "PCG64",
                "state": {"state": self._state, "inc": self._increment},
                "has_uint32": int(self._has_half),
                "uinteger": self._half,
            }
            self._generator = generator
        return self._generator

    def random(self, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or self._generator is not None:
            return self.generator().random(*args, **kwargs)
        return self._random()

    def integers(self, low: Any, high: Any = None, *args: Any, **kwargs: Any) -> Any:
        if high is None:
            low, high = 0, low
        if args or kwargs or self._generator is not None or type(low) is not int or type(high) is not int:
            return self.generator().integers(low, high, *args, **kwargs)
        top = high - 1  # numpy draws from the closed range [low, high - 1]
        if not _INT64_MIN <= low <= top <= _INT64_MAX:
            return self.generator().integers(low, high)  # numpy's own error
        return np.int64(low + self._below(high - low))

    # Draws as plain Python values, for generators that want ints and lists rather than numpy scalars and
    # arrays; each is exactly the numpy call in its docstring, converted.
    def below(self, n: int) -> int:
        """``int(rng.integers(n))``."""
        if self._generator is None and type(n) is int and 1 <= n <= _INT64_MAX + 1:
            return self._below(n)
        return int(self.generator().integers(n))

    def between(self, low: int, high: int) -> int:
        """``int(rng.integers(low, high))``."""
        if self._generator is None and type(low) is int and type(high) is int and _INT64_MIN <= low < high <= _INT64_MAX + 1:
            return low + self._below(high - low)
        return int(self.generator().integers(low, high))

    def sample(self, n: int, k: int) -> list[int]:
        """``rng.choice(n, size=k, replace=False).tolist()``: ``k`` distinct indices below ``n``, in draw order."""
        if self._generator is None and type(n) is int and type(k) is int and 0 <= k <= n and sampling_matches_numpy():
            return self._sample(n, k)
        return self.generator().choice(n, size=k, replace=False).tolist()  # type: ignore[no-any-return]

    def indices(self, n: int, k: int) -> list[int]:
        """``rng.choice(n, size=k).tolist()`` (with replacement), the same draws as ``rng.integers(0, n, size=k)``."""
        if self._generator is None and type(n) is int and type(k) is int and 1 <= n <= _INT64_MAX and k >= 0:
            below = self._below
            return [below(n) for _ in range(k)]
        return self.generator().choice(n, size=k).tolist()  # type: ignore[no-any-return]

    def permutation_list(self, n: int) -> list[int]:
        """``rng.permutation(n).tolist()``."""
        if self._generator is None and type(n) is int and n >= 0 and sampling_matches_numpy():
            return self._permutation(n)
        return self.generator().permutation(n).tolist()  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        # Any other Generator method or attribute: numpy's, from the same state on.
        return getattr(self.generator(), name)


class GeneratorDraws:
    """:class:`SeededDraws`'s plain-value draws (``below``, ``between``, ``random``, ``sample``, ``indices``,
    ``permutation_list``) answered by a numpy ``Generator``'s own calls: what a generator written for
    ``SeededDraws`` gets when it is handed a ``Generator`` instead."""

    __slots__ = ("rng",)

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def random(self) -> float:
        return float(self.rng.random())

    def below(self, n: int) -> int:
        return int(self.rng.integers(n))

    def between(self, low: int, high: int) -> int:
        return int(self.rng.integers(low, high))

    def sample(self, n: int, k: int) -> list[int]:
        return self.rng.choice(n, size=k, replace=False).tolist()  # type: ignore[no-any-return]

    def indices(self, n: int, k: int) -> list[int]:
        return self.rng.choice(n, size=k).tolist()  # type: ignore[no-any-return]

    def permutation_list(self, n: int) -> list[int]:
        return self.rng.permutation(n).tolist()  # type: ignore[no-any-return]


def plain_draws(rng: Any) -> SeededDraws | GeneratorDraws:
    """``rng`` itself when it is a :class:`SeededDraws`, else its calls wrapped in :class:`GeneratorDraws`."""
    return rng if type(rng) is SeededDraws else GeneratorDraws(rng)


def integer_below(rng: np.random.Generator, n: int) -> int:
    """``int(rng.integers(n))`` for ``2**32 < n <= 2**63``, as a task seed is drawn: one raw 64-bit output
    through Lemire's method (a 64-bit draw never touches the generator's buffered 32-bit half), a fifth
    of numpy's call. Other generators, bit generators and ranges: numpy's own call."""
    if type(rng) is np.random.Generator and type(n) is int and _MASK32 + 1 < n <= _INT64_MAX + 1:
        bit_generator = rng.bit_generator
        if type(bit_generator) is np.random.PCG64 and wide_integers_match_numpy():
            m = bit_generator.random_raw() * n
            if m & _MASK64 < n:
                threshold = ((1 << 64) - n) % n
                while m & _MASK64 < threshold:
                    m = bit_generator.random_raw() * n
            return m >> 64  # type: ignore[no-any-return]
    return int(rng.integers(n))


@functools.cache
def wide_integers_match_numpy() -> bool:
    """Whether :func:`integer_below` gives this numpy's ``integers`` (64-bit ranges, rejections included)
    and leaves the stream where it does; checked once per process, cheaply (no ziggurat tables)."""
    rng, expected = np.random.default_rng(5), np.random.default_rng(5)
    rng.bit_generator.random_raw(), expected.bit_generator.random_raw()
    for n in [2**33, 2**48, 2**63, 2**62 + 1, 2**63 - 2**61 + 1, 2**32 + 1] * 20:
        m = rng.bit_generator.random_raw() * n
        if m & _MASK64 < n:
            threshold = ((1 << 64) - n) % n
            while m & _MASK64 < threshold:
                m = rng.bit_generator.random_raw() * n
        if m >> 64 != int(expected.integers(n)):
            return False
    return bool(rng.bit_generator.state == expected.bit_generator.state)


# ------------------------------------------------------------ a live Generator, from one raw block
class PlainDraws:
    """The same interface as :class:`RawDraws`, answered by the generator's own scalar calls."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def random(self) -> float:
        return float(self.rng.random())

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        return float(self.rng.uniform(low, high))

    def integers(self, n: int) -> int:
        return int(self.rng.integers(n))

    def normal(self, loc: float = 0.0, scale: float = 1.0) -> float:
        return float(self.rng.normal(loc, scale))

    def close(self) -> None:
        pass

    def __enter__(self) -> PlainDraws:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_uniform(low: float, high: float) -> None:
    if not math.isfinite(high - low):  # numpy's own check and message
        raise OverflowError("high - low range exceeds valid bounds")


def _check_scale(scale: float) -> None:
    if scale < 0:  # numpy's own check and message (a NaN scale passes, and draws NaN)
        raise ValueError("scale < 0")


class RawDraws(_Pcg64Draws, PlainDraws):
    """Scalar draws of a PCG64 generator from a block of its raw 64-bit outputs.

    ``expected`` is how many 64-bit outputs the draws will take at least (one per ``random``,
    ``uniform`` or ``normal``, half a one per ``integers`` below 2**32): exactly that many are
    taken at once, and any more one at a time, so the bit generator never runs ahead of the draws.
    Use it as a context manager, or call :meth:`close` when done: it hands the buffered 32-bit half
    back to the bit generator. Between opening and closing, draw from nothing else (and from one
    thread: like the environments that use it, it does not take the bit generator's lock).
    """

    def __init__(self, rng: np.random.Generator, expected: int) -> None:
        self.rng = rng
        self._bit_generator = rng.bit_generator
        state = self._bit_generator.state
        self._had_half = self._has_half = bool(state["has_uint32"])
        self._half = self._old_half = int(state["uinteger"])
        self._raw: list[int] = self._bit_generator.random_raw(expected).tolist() if expected > 0 else []
        self._next = 0
        self._expected_left = expected  # outputs still sure to be used, counted from the block's start

    # --------------------------------------------------------------------------- raw output
    def _next64(self) -> int:
        index = self._next
        if index == len(self._raw):
            # Past the block (a rejected Lemire draw, say): one more output, never more than used.
            self._raw.append(int(self._bit_generator.random_raw()))
        self._next = index + 1
        return self._raw[index]

    # -------------------------------------------------------------------------------- draws
    random = _Pcg64Draws._random

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        low, high = float(low), float(high)
        _check_uniform(low, high)
        return low + (high - low) * self._random()

    def integers(self, n: int) -> int:
        """``int(rng.integers(n))`` for 1 <= n <= 2**63."""
        if type(n) is not int or not 1 <= n <= 1 << 63:
            raise ValueError(f"n must be an int in 1..2**63, got {n!r}")
        return self._below(n)

    def normal(self, loc: float = 0.0, scale: float = 1.0) -> float:
        _check_scale(float(scale))
        return float(loc) + float(scale) * self.standard_normal()

    def standard_normal(self) -> float:
        fast_limit, width = _ziggurat_tables()
        index = self._next
        raw = self._next64()
        layer = raw & 0xFF
        magnitude = (raw >> 9) & 0xFFFFFFFFFFFFF
        if magnitude < fast_limit[layer]:
            value = magnitude * width[layer]
            return -value if raw & 0x100 else value
        # The slow path (the tail or a layer's edge, under 1% of draws): numpy draws it from here.
        self._rewind_to(index)
        value = float(self.rng.standard_normal())
        self._resume(self._expected_left - index - 1)  # the draw itself took one output at least
        return value

    def records(self, bounds: list[tuple[float, float]], loc: float, scale: float, ranges: tuple[int, ...]) -> list[tuple[Any, ...]]:
        """:func:`uniform_normal_integers`: the common case inlined (a uniform and a fast-path normal from
        two outputs, then integers below 2**32), anything else through the methods above."""
        fast_limit, width = _ziggurat_tables()
        inline = all(type(n) is int and 2 <= n <= _MASK32 for n in ranges)
        below = self._below
        out: list[tuple[Any, ...]] = []
        for low, high in bounds:
            low, high = float(low), float(high)
            raw, index = self._raw, self._next
            if inline and index + 2 <= len(raw):
                normal_raw = raw[index + 1]
                layer = normal_raw & 0xFF
                magnitude = (normal_raw >> 9) & 0xFFFFFFFFFFFFF
                if magnitude < fast_limit[layer]:
                    self._next = index + 2
                    value = magnitude * width[layer]
                    record: list[Any] = [low + (high - low) * ((raw[index] >> 11) * _DOUBLE_UNIT),
                                         loc + scale * (-value if normal_raw & 0x100 else value)]
                    for n in ranges:
                        record.append(below(n))
                    out.append(tuple(record))
                    continue
            out.append((self.uniform(low, high), self.normal(loc, scale), *(self.integers(n) for n in ranges)))
        return out

    # ----------------------------------------------------------------------------- position
    def _rewind_to(self, index: int) -> None:
        """Put the bit generator where the draws stand, just before output ``index`` of the block."""
        bit_generator = self._bit_generator
        ahead = len(self._raw) - index
        if ahead:
            bit_generator.advance(-ahead)  # wraps modulo 2**128: steps back
        state = bit_generator.state
        state["has_uint32"], state["uinteger"] = int(self._has_half), self._half
        bit_generator.state = state
        del self._raw[index:]
        self._next = index

    def _resume(self, expected: int) -> None:
        """After a draw made by numpy itself: carry on from wherever it left the bit generator, with a
        new block of the ``expected`` outputs still sure to be used."""
        state = self._bit_generator.state
        self._has_half, self._half = bool(state["has_uint32"]), int(state["uinteger"])
        self._had_half, self._old_half = self._has_half, self._half
        self._raw = self._bit_generator.random_raw(expected).tolist() if expected > 0 else []
        self._next = 0
        self._expected_left = expected

    def close(self) -> None:
        """Leave the bit generator exactly as the scalar draws would have."""
        bit_generator = self._bit_generator
        ahead = len(self._raw) - self._next
        if ahead:
            bit_generator.advance(-ahead)
        elif self._has_half == self._had_half and self._half == self._old_half:
            return  # the usual case: nothing to put back
        state = bit_generator.state
        state["has_uint32"], state["uinteger"] = int(self._has_half), self._half
        bit_generator.state = state
        self._raw, self._next = [], 0
        self._had_half, self._old_half = self._has_half, self._half

    def __enter__(self) -> RawDraws:
        return self


def draws(rng: np.random.Generator, expected: int) -> PlainDraws:
    """Scalar draws of ``rng``: from one raw block when its bit generator is PCG64 (and the emulation
    matches this numpy, :func:`emulation_matches_numpy`), else numpy's own calls."""
    if type(rng.bit_generator) is np.random.PCG64 and emulation_matches_numpy():
        return RawDraws(rng, expected)
    return PlainDraws(rng)


@functools.cache
def emulation_matches_numpy() -> bool:
    """Whether the emulated draws are this numpy's, checked once per process on a few hundred draws of
    every kind (slow-path normals, rejected integers, weighted choices included). The algorithms have
    been numpy's since 1.17; should a release change one, every draw goes back to numpy's own calls."""
    program = np.random.default_rng(20_240_607)
    rng, expected_rng = np.random.default_rng(11), np.random.default_rng(11)
    with RawDraws(rng, 0) as drawn:
        for _ in range(400):
            kind = int(program.integers(4))
            if kind == 0:
                same = drawn.uniform(-3.0, 5.0) == float(expected_rng.uniform(-3.0, 5.0))
            elif kind == 1:
                same = drawn.normal(1.5, 2.0) == float(expected_rng.normal(1.5, 2.0))
            else:
                n = [5, 2**31 + 1, 2**40 + 3, 7][int(program.integers(4))]
                same = drawn.integers(n) == int(expected_rng.integers(n))
            if not same:
                return False
    if rng.bit_generator.state != expected_rng.bit_generator.state:
        return False
    weights = np.array([0.5, 0.2, 0.2, 0.1])
    return all(_weighted_index(rng, weights) == int(expected_rng.choice(4, p=weights)) for _ in range(100))


@functools.cache
def sampling_matches_numpy() -> bool:
    """Whether :meth:`SeededDraws.sample` and :meth:`SeededDraws.permutation_list` give this numpy's
    ``choice(n, k, replace=False)`` and ``permutation(n)`` (both of ``choice``'s algorithms, 32- and
    64-bit draws), checked once per process like :func:`emulation_matches_numpy`. Should a release
    change one, those draws go to numpy's own calls."""
    cases = [(1, 1), (2, 0), (5, 5), (40, 3), (200, 5), (10_001, 300), (3, 1), (2**33, 2), (7, 4)]
    for seed in range(6):
        ours, expected = SeededDraws(seed), np.random.default_rng(seed)
        for n, k in cases:
            if ours._sample(n, k) != expected.choice(n, size=k, replace=False).tolist():
                return False
            if n < 1000 and ours._permutation(n) != expected.permutation(n).tolist():
                return False
        if ours.generator().bit_generator.state != expected.bit_generator.state:
            return False
    return True


def uniform_normal_integers(
    rng: np.random.Generator, bounds: list[tuple[float, float]], loc: float, scale: float, ranges: tuple[int, ...]
) -> list[tuple[Any, ...]]:
    """For each ``(low, high)`` of ``bounds`` in turn: ``rng.uniform(low, high)``, ``rng.normal(loc, scale)``,
    then ``rng.integers(n)`` for each ``n`` of ``ranges``, as a tuple of floats and ints.

    The record-per-item pattern of a generated catalogue, from one raw block (:meth:`RawDraws.records`).
    """
    for low, high in bounds:
        _check_uniform(float(low), float(high))
    _check_scale(float(scale))
    with draws(rng, len(bounds) * (2 + len(ranges) // 2)) as drawn:  # the fewest outputs the records take
        if isinstance(drawn, RawDraws):
            return drawn.records(bounds, float(loc), float(scale), ranges)
        return [(drawn.uniform(low, high), drawn.normal(loc, scale), *(drawn.integers(n) for n in ranges)) for low, high in bounds]


# ------------------------------------------------------------------------- the ziggurat tables
def _forced(output: int) -> dict[str, Any]:
    """A PCG64 state whose next output is ``output``: the step after it is chosen to emit it."""
    # PCG64 (XSL-RR) steps state = state * M + inc, then outputs rotr64(hi ^ lo, hi >> 58).
    high = 0x0123456789ABCDEF
    rotation = high >> 58
    rotated = ((output << rotation) | (output >> (64 - rotation))) & _MASK64 if rotation else output
    stepped = (high << 64) | (high ^ rotated)
    increment = 0xDA3E39CB94B95BDB0 | 1
    state = ((stepped - increment) * _PCG_MULT_INVERSE) & _MASK128
    return {"bit_generator": "PCG64", "state": {"state": state, "inc": increment}, "has_uint32": 0, "uinteger": 0}


@functools.cache
def _ziggurat_tables() -> tuple[tuple[int, ...], tuple[float, ...]]:
    """numpy's ziggurat layers for doubles, read from numpy: (fast-path limit, width) per layer.

    A draw with layer ``i`` and magnitude ``k`` takes the fast path when ``k < limit[i]`` and is then
    ``k * width[i]``. The width is the value of magnitude 1; the limit is found by search on whether
    numpy's draw used one output or more, starting from the ratio of the widths of the layer below
    and this one (the ziggurat's construction puts the limit within a unit of it). About 1 500
    probes, a few milliseconds, once per process.
    """
    bit_generator = np.random.PCG64(0)
    rng = np.random.Generator(bit_generator)

    def probe(layer: int, magnitude: int) -> tuple[float, bool]:
        output = layer | (magnitude << 9)
        bit_generator.state = _forced(output)
        value = float(rng.standard_normal())
        # One output used: the next one is the step after the forced one.
        one_output = bit_generator.state["state"]["state"] == _forced_after(output)
        return value, one_output

    limits: list[int] = []
    widths: list[float] = []
    for layer in range(256):
        width, is_fast = probe(layer, 1)
        if not is_fast:
            limits.append(0)  # no fast path at all in this layer
            widths.append(0.0)
            continue
        below = widths[layer - 1] if layer else 0.0
        guess = min(max(int(below / width * 2**52), 2), 1 << 52) if below else 1 << 51
        limits.append(_first_slow(lambda magnitude: probe(layer, magnitude)[1], guess))
        widths.append(width)
    return tuple(limits), tuple(widths)


def _first_slow(fast: Any, guess: int) -> int:
    """The smallest magnitude in 2 .. 2**52 whose draw is not on the fast path (2**52 when all are),
    for a predicate true below some limit and false from it on (magnitude 1 is known fast);
    galloping out from ``guess``, then bisecting."""
    top = 1 << 52
    guess = min(max(guess, 2), top)
    if fast(guess - 1):
        low, step = guess - 1, 1  # fast at low
        while True:
            high = low + step
            if high >= top:
                high = top
                break
            if not fast(high):
                break
            low, step = high, step * 2
    else:
        high, step = guess - 1, 1  # slow at high
        while True:
            low = high - step
            if low <= 1:
                low = 1
                break
            if fast(low):
                break
            high, step = low, step * 2
    while high - low > 1:  # fast at low, slow at high (or high is the top)
        middle = (low + high) // 2
        if fast(middle):
            low = middle
        else:
            high = middle
    return high


def _forced_after(output: int) -> int:
    """The PCG64 state right after the forced step that emits ``output``."""
    state = _forced(output)["state"]
    return pcg64_step(state["state"], state["inc"])


# ------------------------------------------------------------------ a weighted choice of an index
_CHOICE_TOLERANCE = 1e-9  # far inside numpy's own (about 1.5e-8): only clearly valid weights take the fast path


def weighted_index(rng: np.random.Generator, p: np.ndarray | list[float]) -> int:
    """``int(rng.choice(len(p), p=p))``: numpy's algorithm (running sums, scaled by the last, then the
    first running sum above one ``rng.random()``) in plain Python, a fifth of the cost for a handful
    of weights. ``p`` is a 1-d float64 array or a list of Python floats (numpy reads both as the same
    float64 values, so a caller need not build an array). Anything numpy might reject (negative,
    non-finite, not summing to 1) goes to numpy itself, which raises as it always has."""
    if not emulation_matches_numpy():
        return int(rng.choice(len(p), p=p))
    return _weighted_index(rng, p)


def _weighted_index(rng: np.random.Generator, p: np.ndarray | list[float]) -> int:
    if type(p) is list:
        weights = p if all(type(w) is float for w in p) else None
    else:
        weights = p.tolist() if isinstance(p, np.ndarray) and p.ndim == 1 and p.dtype == np.float64 else None
    if not weights or not all(0.0 <= w < math.inf for w in weights) or abs(math.fsum(weights) - 1.0) > _CHOICE_TOLERANCE:
        return int(rng.choice(len(p), p=p))
    cdf = list(itertools.accumulate(weights))  # numpy's cumsum: the same additions in the same order
    last = cdf[-1]
    cdf = [value / last for value in cdf]
    bit_generator = rng.bit_generator
    if type(rng) is np.random.Generator and type(bit_generator) is np.random.PCG64:
        uniform = (bit_generator.random_raw() >> 11) * _DOUBLE_UNIT  # rng.random(): one 64-bit output
    else:
        uniform = rng.random()
    return bisect.bisect_right(cdf, uniform)
