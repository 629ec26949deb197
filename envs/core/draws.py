"""numpy's ``Generator`` draws on ``PCG64``, reproduced bit for bit in Python: the one implementation.

A scalar ``rng.integers(5)``, ``rng.random()`` or ``rng.normal(m, s)`` costs about 1 us, most of it
in argument handling around a few nanoseconds of arithmetic, and ``np.random.default_rng(seed)``
costs more than the handful of draws a procedural task makes. numpy's algorithms live once here, in
:class:`Pcg64Draws`, over a stream of raw 64-bit outputs; two sources feed them:

- :class:`SeededDraws` is ``np.random.default_rng(seed)`` for a non-negative ``int`` seed: the seed's
  ``PCG64`` state is computed with the algorithms of :mod:`feedbackgym.envs.core.seeding` and the
  stream stepped here; anything but scalar ``integers``/``random`` and its plain-value draws
  (``below``, ``between``, ``sample``, ``indices``, ``permutation_list``: ``int(rng.integers(...))``,
  ``rng.choice(...)`` and ``rng.permutation(n)`` as Python ints and lists) goes to a real
  ``Generator`` set to the very same state, which serves every later call. :class:`GeneratorDraws`
  answers the plain-value draws with a ``Generator``'s own calls, and :func:`integer_below` draws a
  64-bit-range integer (a task's seed) from a live ``Generator`` through one raw output.
- :class:`RawDraws` draws from a live ``Generator``: it takes the stream's raw outputs a block at a
  time, then leaves the bit generator exactly where numpy's calls would have left it (its position
  and its buffered 32-bit half), so the draws that follow are unchanged. It serves scalar draws,
  ``choice`` without replacement, ``shuffle`` of a list, ``dirichlet`` and a catalogue's records
  (:func:`uniform_normal_integers`). :func:`draws` picks it for a ``PCG64`` generator, and
  :class:`PlainDraws` (numpy's own calls, the same interface) for any other bit generator or when
  the emulation does not match this numpy (:func:`emulation_matches_numpy`, the one self-check, run
  once per process), so the values never depend on which path ran. :func:`weighted_index` is
  ``rng.choice(n, p=p)`` in plain Python.

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
  the whole range; ``shuffle`` of a list and ``permutation(n)`` (a shuffle of ``arange(n)``) go from
  the end with masked rejection (``random_interval``), not Lemire's method;
- ``standard_normal()`` is the ziggurat: in 99% of draws one output picks a layer (8 bits), a sign
  (1 bit) and a magnitude (52 bits), and the value is magnitude * layer width. The layer tables are
  numpy's, read from numpy itself once per process (:mod:`feedbackgym.envs.core.ziggurat`); a draw outside the
  fast path is handed to numpy at the same stream position;
- ``dirichlet(alpha)`` with every ``alpha > 1``: Marsaglia and Tsang's gamma variates (a normal, then
  a uniform, per try), normalised by their sum; other shapes are numpy's own draws.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from feedbackgym.envs.core.seeding import PCG64_MULTIPLIER, seed_pcg64_state
from feedbackgym.envs.core.ziggurat import ziggurat_tables

_MASK32, _MASK52, _MASK64, _MASK128 = (1 << 32) - 1, (1 << 52) - 1, (1 << 64) - 1, (1 << 128) - 1
_DOUBLE_UNIT = 1.0 / 9007199254740992.0  # 2**-53
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_MAX_FAST_SEED = (1 << 128) - 1  # seeds of at most four 32-bit words: no extra SeedSequence mixing round
_TAIL_SHUFFLE_FROM = 10_000  # choice without replacement from more values (and a large sample): a tail shuffle

# (M**k, M**(k-1) + ... + M + 1) modulo 2**128: the PCG64 state k steps after s is A * s + C * inc.
_JUMPS: list[tuple[int, int]] = [(1, 0)]
_JUMP_TABLE_LIMIT = 4096  # jumps kept in the table; longer ones are composed by squaring


def _jump(k: int) -> tuple[int, int]:
    """The (A, C) of ``k`` PCG64 steps: the state ``k`` steps after ``s`` is ``(A * s + C * inc) % 2**128``."""
    jumps = _JUMPS
    if k < len(jumps):
        return jumps[k]
    if k < _JUMP_TABLE_LIMIT:
        while len(jumps) <= k:
            a, c = jumps[-1]
            jumps.append(((a * PCG64_MULTIPLIER) & _MASK128, (c * PCG64_MULTIPLIER + 1) & _MASK128))
        return jumps[k]
    a, c, step_a, step_c = 1, 0, PCG64_MULTIPLIER, 1  # binary composition of single steps
    while k:
        if k & 1:
            a, c = (a * step_a) & _MASK128, (c * step_a + step_c) & _MASK128
        step_a, step_c = (step_a * step_a) & _MASK128, (step_c * step_a + step_c) & _MASK128
        k >>= 1
    return a, c


def _lemire32_rejected(m: int, n: int, next32: Callable[[], int]) -> int:
    """Lemire's 32-bit draw ``m = draw * n`` whose low word fell below ``n``: numpy's rejection loop
    (threshold ``(UINT32_MAX - rng) % rng_excl``), redrawing while the low word is below it."""
    threshold = ((1 << 32) - n) % n
    while m & _MASK32 < threshold:
        m = next32() * n
    return m


def _lemire64_rejected(m: int, n: int, next64: Callable[[], int]) -> int:
    """:func:`_lemire32_rejected` on 64-bit draws."""
    threshold = ((1 << 64) - n) % n
    while m & _MASK64 < threshold:
        m = next64() * n
    return m


def _check_uniform(low: float, high: float) -> None:
    if not math.isfinite(high - low):  # numpy's own checks and messages
        raise OverflowError("high - low range exceeds valid bounds")
    if high - low < 0:
        raise ValueError("high - low < 0")


def _check_scale(scale: float) -> None:
    if scale < 0:  # numpy's own check and message (a NaN scale passes, and draws NaN)
        raise ValueError("scale < 0")


class Pcg64Draws:
    """numpy's draws from a PCG64 stream of 64-bit outputs (:meth:`_next64`, the subclass's).

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
        if 1 < n <= _MASK32:  # Lemire's multiply-and-reject on a 32-bit draw (_next32 inlined: most draws are these)
            if self._has_half:
                self._has_half = False
                m = self._half * n
            else:
                value = self._next64()
                self._has_half, self._half = True, value >> 32
                m = (value & _MASK32) * n
            return (m if m & _MASK32 >= n else _lemire32_rejected(m, n, self._next32)) >> 32
        return self._wide_below(n)

    def _wide_below(self, n: int) -> int:
        """:meth:`_below` for ``n == 1`` or ``n >= 2**32``."""
        if n == 1:
            return 0
        if n == 1 << 32:
            return self._next32()
        if n == 1 << 64:
            return self._next64()
        m = self._next64() * n  # Lemire's method on 64-bit draws
        return (m if m & _MASK64 >= n else _lemire64_rejected(m, n, self._next64)) >> 64

    def _interval(self, top: int) -> int:
        """A uniform integer in ``0 .. top`` by masked rejection: numpy's ``random_interval``, which
        ``shuffle`` and ``permutation`` use (not Lemire's method, unlike ``integers``)."""
        if top == 0:
            return 0
        mask = (1 << top.bit_length()) - 1  # the smallest all-ones mask covering top
        if top > _MASK32:
            value = self._next64() & mask
            while value > top:
                value = self._next64() & mask
            return value
        while True:  # on 32-bit draws, _next32 inlined: a permutation makes one or more per item
            if self._has_half:
                self._has_half = False
                value = self._half & mask
            else:
                word = self._next64()
                self._has_half, self._half = True, word >> 32
                value = word & mask  # mask < 2**32: the low half
            if value <= top:
                return value

    def _shuffle(self, items: list[Any]) -> None:
        """``rng.shuffle(items)`` of a list: Fisher-Yates from the end, by :meth:`_interval`."""
        interval = self._interval
        for i in range(len(items) - 1, 0, -1):
            j = interval(i)
            items[i], items[j] = items[j], items[i]

    def _sample(self, n: int, k: int) -> list[int]:
        """``rng.choice(n, size=k, replace=False)`` (``0 <= k <= n``): numpy's two algorithms, each bounded
        draw ``random_bounded_uint64`` (Lemire's method, as ``integers``)."""
        below = self._below
        if n > _TAIL_SHUFFLE_FROM and k > n // 50:
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
        """``rng.permutation(n)``: :meth:`_shuffle` of ``arange(n)``."""
        data = list(range(n))
        interval = self._interval
        for i in range(n - 1, 0, -1):
            j = interval(i)
            data[i], data[j] = data[j], data[i]
        return data


# ------------------------------------------------------------------- default_rng(seed), from the seed
class SeededDraws(Pcg64Draws):
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
        # pcg64_step and PCG64's XSL-RR output, rotr64(high ^ low, high >> 58), inlined: the innermost call of every draw.
        state = self._state = (self._state * PCG64_MULTIPLIER + self._increment) & _MASK128
        value = ((state >> 64) ^ state) & _MASK64
        rotation = state >> 122
        return ((value >> rotation) | (value << (64 - rotation))) & _MASK64

    def _below(self, n: int) -> int:
        # Pcg64Draws._below with the step inlined too: most of a generated task's draws are these,
        # and the call costs more than the arithmetic.
        if 1 < n <= _MASK32:
            if self._has_half:
                self._has_half = False
                m = self._half * n
            else:
                state = self._state = (self._state * PCG64_MULTIPLIER + self._increment) & _MASK128
                word = ((state >> 64) ^ state) & _MASK64
                rotation = state >> 122
                word = ((word >> rotation) | (word << (64 - rotation))) & _MASK64
                self._has_half, self._half = True, word >> 32
                m = (word & _MASK32) * n
            return (m if m & _MASK32 >= n else _lemire32_rejected(m, n, self._next32)) >> 32
        return self._wide_below(n)

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
        if self._generator is None and type(n) is int and type(k) is int and 0 <= k <= n and emulation_matches_numpy():
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
        if self._generator is None and type(n) is int and n >= 0 and emulation_matches_numpy():
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
        if type(bit_generator) is np.random.PCG64 and emulation_matches_numpy():
            return _raw_integer_below(bit_generator, n)
    return int(rng.integers(n))


def _raw_integer_below(bit_generator: np.random.PCG64, n: int) -> int:
    m = bit_generator.random_raw() * n
    return (m if m & _MASK64 >= n else _lemire64_rejected(m, n, bit_generator.random_raw)) >> 64  # type: ignore[no-any-return]


# ------------------------------------------------------------ a live Generator, from raw blocks
class PlainDraws:
    """The same interface as :class:`RawDraws`, answered by the generator's own calls (any bit generator)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def random(self) -> float:
        return float(self.rng.random())

    def randoms(self, count: int) -> list[float]:
        """``count`` draws of :meth:`random`."""
        return [float(self.rng.random()) for _ in range(count)]

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        return float(self.rng.uniform(low, high))

    def integers(self, n: int) -> int:
        return int(self.rng.integers(n))

    def normal(self, loc: float = 0.0, scale: float = 1.0) -> float:
        return float(self.rng.normal(loc, scale))

    def standard_normal(self) -> float:
        return float(self.rng.standard_normal())

    def sample(self, n: int, k: int) -> list[int]:
        """``rng.choice(n, size=k, replace=False)`` as a list."""
        return self.rng.choice(n, size=k, replace=False).tolist()  # type: ignore[no-any-return]

    def shuffle(self, items: list[Any]) -> None:
        self.rng.shuffle(items)

    def dirichlet(self, alpha: tuple[float, ...]) -> list[float]:
        return self.rng.dirichlet(np.array(alpha, dtype=float)).tolist()  # type: ignore[no-any-return]

    def records(self, bounds: list[tuple[float, float]], loc: float, scale: float, *ranges: int) -> list[tuple[Any, ...]]:
        """For each ``(low, high)`` of ``bounds`` in turn: ``uniform(low, high)``, ``normal(loc, scale)``,
        then ``integers(n)`` for each ``n`` of ``ranges``, as a tuple (a generated catalogue's items)."""
        return [(self.uniform(low, high), self.normal(loc, scale), *[self.integers(n) for n in ranges]) for low, high in bounds]

    def close(self) -> None:
        pass

    def __enter__(self) -> PlainDraws:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RawDraws(Pcg64Draws, PlainDraws):
    """numpy's draws of a PCG64 generator from blocks of its raw 64-bit outputs.

    ``expected`` outputs are taken at once (one per ``random``, ``uniform`` or ``normal``, half a one
    per ``integers`` below 2**32); when the block runs out the next one is :attr:`REFILL` outputs long.
    Use it as a context manager, or call :meth:`close` when done: it puts the bit generator exactly
    where numpy's calls would have left it (position and buffered 32-bit half). Until then draw from
    nothing else (and from one thread: like the environments that use it, it does not take the bit
    generator's lock); the draws may go on after closing, until something else draws from the
    generator: from then on, draw from a new ``RawDraws``.
    """

    REFILL = 32

    def __init__(self, rng: np.random.Generator, expected: int) -> None:
        self.rng = rng
        self._bit_generator = rng.bit_generator
        self._take_state()
        if expected > 0:
            self._raw = self._bit_generator.random_raw(expected).tolist()

    # ----------------------------------------------------------------------- the stream
    def _take_state(self) -> None:
        """Count from the bit generator's current state, with no output taken yet."""
        state = self._bit_generator.state
        self._base, self._increment = state["state"]["state"], state["state"]["inc"]  # the state before _raw[0]
        self._had_half = self._has_half = bool(state["has_uint32"])
        self._half = self._old_half = int(state["uinteger"])
        self._raw: list[int] = []
        self._pos = 0

    def _take(self, count: int) -> None:
        """Make the block hold ``count`` outputs from the draws' position on (at least REFILL more when it
        grows). The bit generator stands right after the block: more outputs simply continue it; the
        block then restarts at the draws' position."""
        pos, raw = self._pos, self._raw
        missing = pos + count - len(raw)
        if missing <= 0:
            return
        more = self._bit_generator.random_raw(max(missing, self.REFILL)).tolist()
        if pos:
            a, c = _jump(pos)
            self._base = (a * self._base + c * self._increment) & _MASK128
            raw = raw[pos:]
            self._pos = 0
        self._raw = raw + more if raw else more

    def _next64(self) -> int:
        pos = self._pos
        raw = self._raw
        if pos == len(raw):
            self._take(1)
            raw, pos = self._raw, self._pos
        self._pos = pos + 1
        return raw[pos]

    def close(self) -> None:
        """Put the bit generator exactly where the draws stand (position and buffered 32-bit half)."""
        pos = self._pos
        if pos == len(self._raw) and self._has_half == self._had_half and self._half == self._old_half:
            return  # the usual case: the bit generator already stands there, with its own half
        a, c = _jump(pos)
        base = self._base = (a * self._base + c * self._increment) & _MASK128
        state = {"state": base, "inc": self._increment}
        self._bit_generator.state = {"bit_generator": "PCG64", "state": state, "has_uint32": int(self._has_half), "uinteger": self._half}
        self._raw, self._pos = [], 0
        self._had_half, self._old_half = self._has_half, self._half

    def _by_numpy(self, draw: Callable[[], Any]) -> Any:
        """A draw made by numpy itself from where the draws stand; counting restarts after it, with a new
        block as long as what was left of the old one (about what the draws still need)."""
        left = len(self._raw) - self._pos
        self.close()
        value = draw()
        self._take_state()
        if left:
            self._raw = self._bit_generator.random_raw(left).tolist()
        return value

    def __enter__(self) -> RawDraws:
        return self

    # -------------------------------------------------------------------------------- draws
    random = Pcg64Draws._random

    def randoms(self, count: int) -> list[float]:
        if self._pos + count > len(self._raw):
            self._take(count)
        pos = self._pos
        self._pos = pos + count
        return [(word >> 11) * _DOUBLE_UNIT for word in self._raw[pos : pos + count]]

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        low, high = float(low), float(high)
        if not 0.0 <= high - low < math.inf:
            _check_uniform(low, high)  # numpy's error
        return low + (high - low) * ((self._next64() >> 11) * _DOUBLE_UNIT)

    def integers(self, n: int) -> int:
        """``int(rng.integers(n))`` for 1 <= n <= 2**63."""
        if type(n) is not int or not 1 <= n <= 1 << 63:
            raise ValueError(f"n must be an int in 1..2**63, got {n!r}")
        return self._below(n)

    def normal(self, loc: float = 0.0, scale: float = 1.0) -> float:
        _check_scale(float(scale))
        return float(loc) + float(scale) * self.standard_normal()

    def standard_normal(self) -> float:
        fast_limit, width = ziggurat_tables()
        raw = self._next64()
        layer = raw & 0xFF
        magnitude = (raw >> 9) & _MASK52
        if magnitude < fast_limit[layer]:
            value = magnitude * width[layer]
            return -value if raw & 0x100 else value
        return self._numpy_normal()

    def _numpy_normal(self) -> float:
        """Off the ziggurat's fast path (the tail or a layer's edge, under 1% of draws): numpy draws this
        normal from the position of the output just read."""
        self._pos -= 1
        return self._by_numpy(lambda: float(self.rng.standard_normal()))  # type: ignore[no-any-return]

    def sample(self, n: int, k: int) -> list[int]:
        if type(n) is int and type(k) is int and 0 <= k <= n:
            return self._sample(n, k)
        return self._by_numpy(lambda: PlainDraws.sample(self, n, k))  # type: ignore[no-any-return]  # numpy's errors

    def shuffle(self, items: list[Any]) -> None:
        # Pcg64Draws._shuffle with _interval and _next32 inlined: a catalogue's shuffle makes dozens of draws.
        raw, pos, has_half, half = self._raw, self._pos, self._has_half, self._half
        for i in range(len(items) - 1, 0, -1):
            mask = (1 << i.bit_length()) - 1  # the smallest all-ones mask covering i
            while True:
                if has_half:
                    has_half, value = False, half
                else:
                    if pos == len(raw):
                        self._pos = pos
                        self._take(1)
                        raw, pos = self._raw, self._pos
                    word = raw[pos]
                    pos += 1
                    has_half, half, value = True, word >> 32, word & _MASK32
                j = value & mask
                if j <= i:
                    break
            items[i], items[j] = items[j], items[i]
        self._pos, self._has_half, self._half = pos, has_half, half

    def _standard_gamma(self, shape: float) -> float:
        """``rng.standard_gamma(shape)`` for ``shape > 1`` (Marsaglia and Tsang, as numpy)."""
        fast_limit, width = ziggurat_tables()
        b = shape - 1.0 / 3.0
        c = 1.0 / math.sqrt(9 * b)
        while True:
            while True:
                raw = self._next64()  # standard_normal(), inlined
                layer, magnitude = raw & 0xFF, (raw >> 9) & _MASK52
                if magnitude < fast_limit[layer]:
                    x = magnitude * width[layer]
                    if raw & 0x100:
                        x = -x
                else:
                    x = self._numpy_normal()
                v = 1.0 + c * x
                if v > 0.0:
                    break
            v = v * v * v
            u = (self._next64() >> 11) * _DOUBLE_UNIT
            if u < 1.0 - 0.0331 * (x * x) * (x * x):
                return b * v
            if math.log(u) < 0.5 * x * x + b * (1.0 - v + math.log(v)):
                return b * v

    def dirichlet(self, alpha: tuple[float, ...]) -> list[float]:
        if not all(a > 1.0 for a in alpha):  # other shapes take other algorithms: numpy's own
            return self._by_numpy(lambda: PlainDraws.dirichlet(self, alpha))  # type: ignore[no-any-return]
        gammas = [self._standard_gamma(a) for a in alpha]
        total = 0.0
        for value in gammas:  # numpy's running sum, in order
            total = total + value
        inverse = 1.0 / total
        return [value * inverse for value in gammas]

    def records(self, bounds: list[tuple[float, float]], loc: float, scale: float, *ranges: int) -> list[tuple[Any, ...]]:
        """As :meth:`PlainDraws.records`, for ``bounds`` of floats with finite, non-negative spans (not
        checked here: :func:`uniform_normal_integers` checks them)."""
        if scale < 0:
            _check_scale(scale)  # numpy's error
        first_range, second_range = ranges if len(ranges) == 2 else (0, 0)
        if not (type(first_range) is int and type(second_range) is int and 2 <= first_range <= _MASK32 and 2 <= second_range <= _MASK32):
            return PlainDraws.records(self, bounds, loc, scale, *ranges)  # one draw at a time, by the methods above
        fast_limit, width = ziggurat_tables()
        out: list[tuple[Any, ...]] = []
        append = out.append
        done, count = 0, len(bounds)
        while done < count:
            self._take(3 * (count - done))
            pos, raw = self._pos, self._raw
            # The common case, inlined: three outputs a record (a uniform, a fast-path normal, two 32-bit
            # integers without a rejection). Two 32-bit draws a record leave the kept half as they found it:
            # one output's halves, or the kept half and one output's low half (its high half kept next).
            words = iter(raw[pos : pos + 3 * (count - done)])
            half, has_half, start = self._half, self._has_half, done
            mask32, mask52, unit = _MASK32, _MASK52, _DOUBLE_UNIT
            for (low, high), word, normal_raw, ints in zip(bounds[start:], words, words, words):
                magnitude = (normal_raw >> 9) & mask52
                layer = normal_raw & 0xFF
                if has_half:
                    first, second = half * first_range, (ints & mask32) * second_range
                else:
                    first, second = (ints & mask32) * first_range, (ints >> 32) * second_range
                if magnitude >= fast_limit[layer] or first & mask32 < first_range or second & mask32 < second_range:
                    break
                half = ints >> 32
                value = magnitude * width[layer]
                append((low + (high - low) * ((word >> 11) * unit), loc + scale * (-value if normal_raw & 0x100 else value),
                        first >> 32, second >> 32))
            done = len(out)
            self._pos, self._half = pos + 3 * (done - start), half
            if done < count:  # this record leaves the common case: drawn one draw at a time
                out += PlainDraws.records(self, bounds[done : done + 1], loc, scale, first_range, second_range)
                done += 1
        return out


def draws(rng: np.random.Generator, expected: int) -> PlainDraws:
    """``rng``'s draws: from raw blocks (``expected`` outputs the first) when its bit generator is PCG64
    and the emulation matches this numpy (:func:`emulation_matches_numpy`), else numpy's own calls."""
    if type(rng.bit_generator) is np.random.PCG64 and emulation_matches_numpy():
        return RawDraws(rng, expected)
    return PlainDraws(rng)


def uniform_normal_integers(
    rng: np.random.Generator, bounds: list[tuple[float, float]], loc: float, scale: float, ranges: tuple[int, ...]
) -> list[tuple[Any, ...]]:
    """For each ``(low, high)`` of ``bounds`` in turn: ``rng.uniform(low, high)``, ``rng.normal(loc, scale)``,
    then ``rng.integers(n)`` for each ``n`` of ``ranges``, as a tuple of floats and ints: the
    record-per-item pattern of a generated catalogue (:meth:`RawDraws.records`)."""
    bounds = [(float(low), float(high)) for low, high in bounds]
    for low, high in bounds:
        _check_uniform(low, high)
    _check_scale(float(scale))
    with draws(rng, len(bounds) * (2 + len(ranges) // 2)) as drawn:  # the fewest outputs the records take
        return drawn.records(bounds, float(loc), float(scale), *ranges)


@functools.cache
def emulation_matches_numpy() -> bool:
    """Whether the draws emulated here are this numpy's, checked once per process (some 20 ms) on
    draws of every kind against numpy's own calls: :class:`RawDraws` from small blocks (refills) and
    a buffered 32-bit half, slow-path normals, rejected integers, samples, shuffles, Dirichlet and
    records, with numpy drawing in between; :class:`SeededDraws`' samples (both of ``choice``'s
    algorithms, 32- and 64-bit draws) and permutations; :func:`integer_below`; :func:`weighted_index`;
    each ending with the generator's state. The algorithms have been numpy's since 1.17; should a
    release change one (or the check itself fail), every draw goes back to numpy's own calls."""
    try:
        return _emulated_draws_are_numpys()
    except Exception:  # an emulated algorithm that raises where numpy does not is one that differs
        return False


def _emulated_draws_are_numpys() -> bool:
    program = np.random.default_rng(20_251_130)
    for seed in range(3):
        rng, expected_rng = np.random.default_rng(seed), np.random.default_rng(seed)
        rng.integers(7), expected_rng.integers(7)  # start with a buffered 32-bit half
        drawn, reference = RawDraws(rng, 8), PlainDraws(expected_rng)
        for _ in range(120):
            kind = int(program.integers(10))
            if kind == 9:  # numpy draws in between, from where the draws stand
                drawn.close()
                same = (float(rng.random()), int(rng.integers(3))) == (reference.random(), reference.integers(3))
                drawn = RawDraws(rng, 0)
            else:
                state = program.bit_generator.state
                ours = _check_step(kind, program, drawn)
                program.bit_generator.state = state  # the reference makes the same draw
                same = ours == _check_step(kind, program, reference)
            if not same:
                return False
        drawn.close()
        if rng.bit_generator.state != expected_rng.bit_generator.state:
            return False
    rng, expected_rng = np.random.default_rng(4), np.random.default_rng(4)
    with RawDraws(rng, 100) as drawn:  # four of these 200 normals are off the fast path
        if [drawn.standard_normal() for _ in range(200)] != expected_rng.standard_normal(200).tolist():
            return False
    if rng.bit_generator.state != expected_rng.bit_generator.state:
        return False
    cases = [(1, 1), (2, 0), (5, 5), (40, 3), (200, 5), (10_001, 300), (3, 1), (2**33, 2), (7, 4)]
    for seed in range(3):
        ours, expected = SeededDraws(seed), np.random.default_rng(seed)
        for n, k in cases:
            if ours._sample(n, k) != expected.choice(n, size=k, replace=False).tolist():
                return False
            if n < 1000 and ours._permutation(n) != expected.permutation(n).tolist():
                return False
        if ours.generator().bit_generator.state != expected.bit_generator.state:
            return False
    rng, expected_rng = np.random.default_rng(5), np.random.default_rng(5)
    for n in [2**33, 2**48, 2**63, 2**62 + 1, 2**63 - 2**61 + 1, 2**32 + 1] * 10:
        if _raw_integer_below(rng.bit_generator, n) != int(expected_rng.integers(n)):
            return False
    weights = np.array([0.5, 0.2, 0.2, 0.1])
    if not all(_weighted_index(rng, weights) == int(expected_rng.choice(4, p=weights)) for _ in range(50)):
        return False
    return bool(rng.bit_generator.state == expected_rng.bit_generator.state)


def _check_step(kind: int, program: np.random.Generator, drawn: PlainDraws) -> Any:
    """One draw of :func:`emulation_matches_numpy`'s program, its arguments drawn from ``program``."""
    if kind == 0:
        value: Any = drawn.uniform(-3.0, 5.0)
    elif kind == 1:
        value = drawn.normal(1.5, 2.0)
    elif kind == 2:
        value = drawn.integers([1, 2, 5, 24, 1000, 2**31 + 1, 2**32, 2**40 + 3][int(program.integers(8))])
    elif kind == 3:
        value = drawn.sample(*[(6, 4), (40, 0), (20_000, 401)][int(program.integers(3))])
    elif kind == 4:
        value = list(range(int(program.integers(40))))
        drawn.shuffle(value)
    elif kind == 5:
        value = drawn.dirichlet(((2.0, 2.0, 2.0, 2.0), (0.5, 2.0))[int(program.integers(2))])
    elif kind == 6:
        value = drawn.records([(40.0, 400.0), (400.0, 2000.0)] * 6, 3.9, 0.6, *((5, 5), (2**31 + 1, 3), (7,))[int(program.integers(3))])
    elif kind == 7:
        value = drawn.randoms(int(program.integers(5)))
    else:
        value = drawn.random()
    return value


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
