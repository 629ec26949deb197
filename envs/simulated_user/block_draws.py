"""The draws of a simulated user's episode (catalogue, taste, goal) from one block of a generator's raw outputs.

A catalogue of 24 items takes about 130 draws of a few kinds (a sample of categories without
replacement, a shuffle, a uniform, a normal and two bounded integers per item, a Dirichlet taste,
uniforms, the goal's integers). Made one numpy call at a time they cost more than everything else
in an episode. :class:`BlockDraws` takes the generator's raw 64-bit outputs as one block and runs
numpy's own algorithms over it in Python, then leaves the bit generator exactly where numpy's calls
would have left it, so an episode is the same episode either way. :class:`NumpyDraws` is the same
interface answered by numpy's calls: the reference, and the path for any generator that is not a
``PCG64`` or a numpy whose algorithms differ (:func:`block_draws_match_numpy`, checked once a process).

numpy's algorithms, as reproduced (``Generator``, numpy 1.17 and later):

- ``choice(pop, size, replace=False)`` (``pop`` up to 10 000): Floyd's algorithm, for ``j`` from
  ``pop - size`` to ``pop - 1`` a bounded integer in ``0..j``, taken unless already taken, else ``j``;
  then the sample is shuffled, ``i`` from ``size - 1`` down to 1 swapping with a bounded integer in ``0..i``;
- ``shuffle`` of a list: ``i`` from ``n - 1`` down to 1 swaps with a masked-rejection integer in ``0..i``
  (32-bit draws masked to the smallest all-ones mask covering ``i``, redrawn while above ``i``);
- ``dirichlet(alpha)`` with every ``alpha > 1``: Marsaglia and Tsang's gamma variates, normalised by their sum;
- bounded integers (Lemire), ``random``, ``uniform`` and the ziggurat normal as in
  :mod:`feedbackgym.envs.core.draws`; a normal off the ziggurat's fast path (under 1% of them) is
  drawn by numpy itself from the very same position.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from feedbackgym.envs.core.draws import _ziggurat_tables, emulation_matches_numpy, uniform_normal_integers
from feedbackgym.envs.core.seeding import PCG64_MULTIPLIER

_MASK32, _MASK52, _MASK128 = (1 << 32) - 1, (1 << 52) - 1, (1 << 128) - 1
_DOUBLE_UNIT = 1.0 / 9007199254740992.0  # 2**-53
_REFILL = 32  # outputs taken at once when a block runs out (rejections, or more draws than expected)
_MAX_FLOYD_POPULATION = 10_000  # above it (with a large sample) numpy's choice shuffles a range instead
_JUMP_TABLE_LIMIT = 4096  # positions whose state is computed from the table; beyond it numpy steps back

# (M**k, M**(k-1) + ... + M + 1) modulo 2**128: the PCG64 state k steps after s is (A * s + C * inc).
_JUMPS: list[tuple[int, int]] = [(1, 0)]


def _jump(k: int) -> tuple[int, int]:
    jumps = _JUMPS
    while len(jumps) <= k:
        a, c = jumps[-1]
        jumps.append(((a * PCG64_MULTIPLIER) & _MASK128, (c * PCG64_MULTIPLIER + 1) & _MASK128))
    return jumps[k]


class NumpyDraws:
    """The draws of an episode, each one numpy call: the reference :class:`BlockDraws` reproduces."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def random(self) -> float:
        return float(self.rng.random())

    def uniform(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    def randoms(self, count: int) -> list[float]:
        """``count`` draws of :meth:`random`."""
        return [float(self.rng.random()) for _ in range(count)]

    def integers(self, n: int) -> int:
        return int(self.rng.integers(n))

    def normal(self, loc: float, scale: float) -> float:
        return float(self.rng.normal(loc, scale))

    def distinct(self, population: int, size: int) -> list[int]:
        """``rng.choice(population, size, replace=False)`` as a list."""
        return [int(i) for i in self.rng.choice(population, size=size, replace=False)]

    def shuffle(self, items: list[Any]) -> None:
        self.rng.shuffle(items)

    def dirichlet(self, alpha: tuple[float, ...]) -> list[float]:
        return [float(w) for w in self.rng.dirichlet(np.array(alpha, dtype=float))]

    def records(self, bounds: list[tuple[float, float]], loc: float, scale: float, n_brands: int, n_colors: int) -> list[tuple[Any, ...]]:
        """Per bound in turn: a uniform in it, a normal, and an integer below each of ``n_brands`` and ``n_colors``."""
        return uniform_normal_integers(self.rng, bounds, loc, scale, (n_brands, n_colors))

    def close(self) -> None:
        pass

    def __enter__(self) -> NumpyDraws:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BlockDraws(NumpyDraws):
    """The same draws from a block of a ``PCG64`` generator's raw outputs (see the module's docstring).

    ``expected`` outputs are taken at once (more follow when needed). Use it as a context manager, or
    call :meth:`close`, which puts the bit generator where the draws stand; until then draw from
    nothing else.
    """

    def __init__(self, rng: np.random.Generator, expected: int) -> None:
        self.rng = rng
        self._bit_generator = rng.bit_generator
        self._take_state()
        self._raw: list[int] = self._bit_generator.random_raw(max(expected, 1)).tolist()
        self._closed = False

    # ----------------------------------------------------------------------- the stream
    def _take_state(self) -> None:
        """Start counting from the bit generator's current state (no outputs taken yet)."""
        state = self._bit_generator.state
        self._base, self._increment = state["state"]["state"], state["state"]["inc"]
        self._has_half, self._half = bool(state["has_uint32"]), int(state["uinteger"])
        self._raw, self._pos = [], 0

    def _refill(self, count: int = _REFILL) -> None:
        # The bit generator stands right after the block: more outputs simply continue it.
        self._raw += self._bit_generator.random_raw(count).tolist()

    def _next64(self) -> int:
        pos = self._pos
        if pos == len(self._raw):
            self._refill()
        self._pos = pos + 1
        return self._raw[pos]

    def _next32(self) -> int:
        if self._has_half:
            self._has_half = False
            return self._half
        value = self._next64()
        self._has_half, self._half = True, value >> 32
        return value & _MASK32

    def _sync(self) -> None:
        """Put the bit generator exactly where the draws stand (position and buffered 32-bit half)."""
        bit_generator = self._bit_generator
        if self._pos < _JUMP_TABLE_LIMIT:
            a, c = _jump(self._pos)
            state = {"state": (a * self._base + c * self._increment) & _MASK128, "inc": self._increment}
            bit_generator.state = {"bit_generator": "PCG64", "state": state, "has_uint32": int(self._has_half), "uinteger": self._half}
            return
        ahead = len(self._raw) - self._pos
        if ahead:
            bit_generator.advance(-ahead)  # wraps modulo 2**128: steps back
        full = bit_generator.state
        full["has_uint32"], full["uinteger"] = int(self._has_half), self._half
        bit_generator.state = full

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._sync()

    def __enter__(self) -> BlockDraws:
        return self

    # --------------------------------------------------------------------------- draws
    def random(self) -> float:
        return (self._next64() >> 11) * _DOUBLE_UNIT

    def randoms(self, count: int) -> list[float]:
        pos = self._pos
        if pos + count > len(self._raw):
            self._refill(pos + count - len(self._raw) + _REFILL)
        self._pos = pos + count
        return [(word >> 11) * _DOUBLE_UNIT for word in self._raw[pos : pos + count]]

    def uniform(self, low: float, high: float) -> float:
        low, high = float(low), float(high)
        if not math.isfinite(high - low):  # numpy's own checks and messages
            raise OverflowError("high - low range exceeds valid bounds")
        if high - low < 0:
            raise ValueError("high - low < 0")
        return low + (high - low) * ((self._next64() >> 11) * _DOUBLE_UNIT)

    def integers(self, n: int) -> int:
        """An integer in ``0 .. n - 1`` (``1 <= n < 2**32``): Lemire's method on 32-bit draws, as numpy."""
        if type(n) is not int or not 1 <= n <= _MASK32:
            raise ValueError(f"n must be an int in 1..2**32-1, got {n!r}")
        return self._below(n)

    def _below(self, n: int) -> int:
        """:meth:`integers` for an ``n`` known to be valid, with the 32-bit draw inlined."""
        if n == 1:
            return 0  # numpy draws nothing for a single value
        if self._has_half:
            self._has_half = False
            m = self._half * n
        else:
            value = self._next64()
            self._has_half, self._half = True, value >> 32
            m = (value & _MASK32) * n
        if m & _MASK32 < n:
            threshold = ((1 << 32) - n) % n
            while m & _MASK32 < threshold:
                m = self._next32() * n
        return m >> 32

    def standard_normal(self) -> float:
        fast_limit, width = _ziggurat_tables()
        raw = self._next64()
        layer = raw & 0xFF
        magnitude = (raw >> 9) & _MASK52
        if magnitude < fast_limit[layer]:
            value = magnitude * width[layer]
            return -value if raw & 0x100 else value
        return self._numpy_normal()

    def _numpy_normal(self) -> float:
        """Off the fast path: numpy draws this normal from the same position."""
        self._pos -= 1  # the output just read is numpy's first
        return self._by_numpy(lambda: float(self.rng.standard_normal()))

    def _by_numpy(self, draw: Any) -> Any:
        """A draw made by numpy itself from where the draws stand; counting restarts after it, with a new
        block as long as what was left of the old one (about what the draws still need)."""
        left = len(self._raw) - self._pos
        self._sync()
        value = draw()
        self._take_state()
        if left:
            self._raw = self._bit_generator.random_raw(left).tolist()
        return value

    def normal(self, loc: float, scale: float) -> float:
        if scale < 0:
            raise ValueError("scale < 0")
        return loc + scale * self.standard_normal()

    def distinct(self, population: int, size: int) -> list[int]:
        if not 0 <= size <= population <= _MAX_FLOYD_POPULATION:
            return self._by_numpy(lambda: super(BlockDraws, self).distinct(population, size))
        chosen: list[int] = []
        taken: set[int] = set()
        for j in range(population - size, population):
            value = self._below(j + 1)
            if value in taken:
                value = j
            taken.add(value)
            chosen.append(value)
        for i in range(size - 1, 0, -1):
            k = self._below(i + 1)
            chosen[i], chosen[k] = chosen[k], chosen[i]
        return chosen

    def shuffle(self, items: list[Any]) -> None:
        # _next32 inlined: a catalogue's shuffle makes dozens of these draws.
        raw, pos, has_half, half = self._raw, self._pos, self._has_half, self._half
        for i in range(len(items) - 1, 0, -1):
            mask = (1 << i.bit_length()) - 1  # the smallest all-ones mask covering i
            while True:
                if has_half:
                    has_half, value = False, half
                else:
                    if pos == len(raw):
                        self._refill()
                        raw = self._raw
                    word = raw[pos]
                    pos += 1
                    has_half, half, value = True, word >> 32, word & _MASK32
                j = value & mask
                if j <= i:
                    break
            items[i], items[j] = items[j], items[i]
        self._pos, self._has_half, self._half = pos, has_half, half

    def gamma(self, shape: float) -> float:
        """``rng.standard_gamma(shape)`` for ``shape > 1`` (Marsaglia and Tsang, as numpy)."""
        fast_limit, width = _ziggurat_tables()
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
            return self._by_numpy(lambda: super(BlockDraws, self).dirichlet(alpha))
        gammas = [self.gamma(a) for a in alpha]
        total = 0.0
        for value in gammas:
            total = total + value
        inverse = 1.0 / total
        return [value * inverse for value in gammas]

    def records(self, bounds: list[tuple[float, float]], loc: float, scale: float, n_brands: int, n_colors: int) -> list[tuple[Any, ...]]:
        """As :meth:`NumpyDraws.records`, for bounds of finite floats (not checked here: a catalogue's are constants)."""
        if scale < 0:
            raise ValueError("scale < 0")
        if not (2 <= n_brands <= _MASK32 and 2 <= n_colors <= _MASK32):  # pragma: no cover - never an episode's
            return [(self.uniform(low, high), self.normal(loc, scale), self.integers(n_brands), self.integers(n_colors)) for low, high in bounds]
        fast_limit, width = _ziggurat_tables()
        out: list[tuple[Any, ...]] = []
        append = out.append
        done, count = 0, len(bounds)
        while done < count:
            pos = self._pos
            if pos + 3 * (count - done) > len(self._raw):
                self._refill(pos + 3 * (count - done) - len(self._raw) + _REFILL)
            # The common case, inlined: three outputs a record (a uniform, a fast-path normal, two 32-bit
            # integers without a rejection). Two 32-bit draws a record leave the kept half as they found it:
            # one output's halves, or the kept half and one output's low half (its high half kept next).
            words = iter(self._raw[pos : pos + 3 * (count - done)])
            half, has_half, start = self._half, self._has_half, done
            mask32, mask52, unit = _MASK32, _MASK52, _DOUBLE_UNIT
            for (low, high), word, normal_raw, ints in zip(bounds[start:], words, words, words):
                magnitude = (normal_raw >> 9) & mask52
                layer = normal_raw & 0xFF
                if has_half:
                    brand, colour = half * n_brands, (ints & mask32) * n_colors
                else:
                    brand, colour = (ints & mask32) * n_brands, (ints >> 32) * n_colors
                if magnitude >= fast_limit[layer] or brand & mask32 < n_brands or colour & mask32 < n_colors:
                    break
                half = ints >> 32
                value = magnitude * width[layer]
                append((low + (high - low) * ((word >> 11) * unit), loc + scale * (-value if normal_raw & 0x100 else value),
                        brand >> 32, colour >> 32))
            done = len(out)
            self._pos, self._half = pos + 3 * (done - start), half
            if done < count:  # this record leaves the common case: drawn one draw at a time
                low, high = bounds[done]
                out.append((self.uniform(low, high), self.normal(loc, scale), self.integers(n_brands), self.integers(n_colors)))
                done += 1
        return out


def episode_draws(rng: np.random.Generator, expected: int) -> NumpyDraws:
    """The episode's draws from ``rng``: from one block of ``expected`` raw outputs when it is a ``PCG64``
    generator (and this numpy's algorithms are the ones reproduced), else numpy's own calls."""
    if type(rng.bit_generator) is np.random.PCG64 and block_draws_match_numpy():
        return BlockDraws(rng, expected)
    return NumpyDraws(rng)


@functools.cache
def block_draws_match_numpy() -> bool:
    """Whether :class:`BlockDraws` gives this numpy's draws, checked once a process on a few hundred
    draws of every kind (slow-path normals, rejected integers and a generator left mid-word included)."""
    if not emulation_matches_numpy():
        return False
    program = np.random.default_rng(20_251_130)
    for seed in range(4):
        rng, expected_rng = np.random.default_rng(seed), np.random.default_rng(seed)
        expected_rng.integers(7)
        rng.integers(7)  # start with a buffered 32-bit half
        drawn, reference = BlockDraws(rng, 16), NumpyDraws(expected_rng)
        for _ in range(60):
            kind = int(program.integers(8))
            if kind == 0:
                same = drawn.uniform(-2.0, 3.0) == reference.uniform(-2.0, 3.0)
            elif kind == 1:
                same = drawn.normal(3.9, 0.6) == reference.normal(3.9, 0.6)
            elif kind == 2:
                n = (2, 3, 5, 24, 1000, 2**31 + 1)[int(program.integers(6))]
                same = drawn.integers(n) == reference.integers(n)
            elif kind == 3:
                same = drawn.distinct(6, 4) == reference.distinct(6, 4)
            elif kind == 4:
                ours, theirs = list(range(24)), list(range(24))
                drawn.shuffle(ours)
                reference.shuffle(theirs)
                same = ours == theirs
            elif kind == 5:
                same = drawn.dirichlet((2.0, 2.0, 2.0, 2.0)) == reference.dirichlet((2.0, 2.0, 2.0, 2.0))
            elif kind == 6:
                bounds = [(40.0, 400.0), (400.0, 2000.0)] * 8
                same = drawn.records(bounds, 3.9, 0.6, 5, 5) == reference.records(bounds, 3.9, 0.6, 5, 5)
            else:
                same = drawn.random() == reference.random()
            if not same:
                return False
        drawn.close()
        if rng.bit_generator.state != expected_rng.bit_generator.state:
            return False
    return True
