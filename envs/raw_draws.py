"""numpy ``Generator`` scalar draws reproduced, bit for bit, from one block of the bit generator's raw output.

A scalar ``rng.integers(5)``, ``rng.uniform(a, b)`` or ``rng.normal(m, s)`` costs about 1 us, most of
it in argument handling around a few nanoseconds of arithmetic; an episode that builds a catalogue
makes a hundred of them. :class:`RawDraws` takes the same stream as one ``random_raw`` block and
applies numpy's own algorithms to it in Python, then leaves the bit generator exactly where the
scalar calls would have left it (its position and its buffered 32-bit half), so the draws that
follow are unchanged:

- ``random()`` is ``(raw >> 11) * 2**-53``; ``uniform(a, b)`` is ``a + (b - a) * random()``;
- ``integers(n)`` below 2**32 is Lemire's method on 32-bit halves, which PCG64 hands out low half
  first and buffers the high half (shared with every later 32-bit draw); 2**32 exactly is one half
  as is; above it, Lemire's method on whole 64-bit outputs (2**64 one output as is); 1 draws nothing;
- ``standard_normal()`` is the ziggurat: in 99% of draws one output picks a layer (8 bits), a sign
  (1 bit) and a magnitude (52 bits), and the value is magnitude * layer width. The layer tables are
  numpy's, read from numpy itself once per process (:func:`_ziggurat_tables`); a draw outside the
  fast path is handed to numpy at the same stream position.

Only PCG64 (``default_rng``'s bit generator) is emulated; any other bit generator gets the plain
numpy calls (:class:`PlainDraws`), so the values never depend on which path ran.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import sys
from typing import Any

import numpy as np

_MASK32, _MASK64, _MASK128 = (1 << 32) - 1, (1 << 64) - 1, (1 << 128) - 1
_DOUBLE_UNIT = 1.0 / 9007199254740992.0  # 2**-53
_PCG_MULT = 0x2360ED051FC65DA44385DF649FCCF645
_PCG_MULT_INVERSE = pow(_PCG_MULT, -1, 1 << 128)


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


class RawDraws(PlainDraws):
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

    def _next32(self) -> int:
        if self._has_half:
            self._has_half = False
            return self._half
        raw = self._next64()
        self._has_half, self._half = True, raw >> 32
        return raw & _MASK32

    # -------------------------------------------------------------------------------- draws
    def random(self) -> float:
        return (self._next64() >> 11) * _DOUBLE_UNIT

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        low, high = float(low), float(high)
        _check_uniform(low, high)
        return low + (high - low) * ((self._next64() >> 11) * _DOUBLE_UNIT)

    def integers(self, n: int) -> int:
        """``int(rng.integers(n))`` for 1 <= n <= 2**63."""
        if type(n) is not int or not 1 <= n <= 1 << 63:
            raise ValueError(f"n must be an int in 1..2**63, got {n!r}")
        if n == 1:
            return 0
        if n < 1 << 32:
            m = self._next32() * n
            if m & _MASK32 < n:
                threshold = ((1 << 32) - n) % n
                while m & _MASK32 < threshold:
                    m = self._next32() * n
            return m >> 32
        if n == 1 << 32:
            return self._next32()
        m = self._next64() * n
        if m & _MASK64 < n:
            threshold = ((1 << 64) - n) % n
            while m & _MASK64 < threshold:
                m = self._next64() * n
        return m >> 64

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


def uniform_normal_integers(
    rng: np.random.Generator, bounds: list[tuple[float, float]], loc: float, scale: float, ranges: tuple[int, ...]
) -> list[tuple[Any, ...]]:
    """For each ``(low, high)`` of ``bounds`` in turn: ``rng.uniform(low, high)``, ``rng.normal(loc, scale)``,
    then ``rng.integers(n)`` for each ``n`` of ``ranges``, as a tuple of floats and ints.

    The record-per-item pattern of a generated catalogue. With an even number of ranges (each
    2 to 2**32 - 1) every record takes the same outputs: 1 for the uniform, 1 for the normal, one
    per two integers (PCG64's two 32-bit halves), so a block of records is computed with numpy's
    vector arithmetic, the same operations in the same order as numpy's scalar code, hence the same
    values. A record off that common path (an integer that may be rejected, the ziggurat's slow
    path: about one in eighty) is drawn by :class:`RawDraws`, which handles every case, and the
    vector pass resumes after it. Other patterns and bit generators take :class:`RawDraws` throughout.
    """
    for low, high in bounds:
        _check_uniform(float(low), float(high))
    _check_scale(float(scale))
    even = len(ranges) % 2 == 0 and all(type(n) is int and 2 <= n <= _MASK32 for n in ranges)
    if not even or sys.byteorder != "little" or type(rng.bit_generator) is not np.random.PCG64:
        return _records_by_draws(draws(rng, len(bounds) * 2), bounds, loc, scale, ranges)
    out: list[tuple[Any, ...]] = []
    done = 0
    while done < len(bounds):
        done += _vector_records(rng.bit_generator, bounds[done:], float(loc), float(scale), ranges, out)
        if done < len(bounds):  # this record is off the common path
            out.extend(_records_by_draws(RawDraws(rng, 2 + len(ranges) // 2), bounds[done : done + 1], loc, scale, ranges))
            done += 1
    return out


_U8, _U9, _U11, _U32 = np.uint64(0xFF), np.uint64(9), np.uint64(11), np.uint64(32)
_LOW32, _LOW52, _SIGN = np.uint64(_MASK32), np.uint64(0xFFFFFFFFFFFFF), np.uint64(0x100)


def _vector_records(bit_generator: np.random.BitGenerator, bounds: list[tuple[float, float]], loc: float, scale: float,
                    ranges: tuple[int, ...], out: list[tuple[Any, ...]]) -> int:
    """Append the records of ``bounds`` up to the first one off the common path; return how many,
    with the bit generator just past them (and so just before the one off the path)."""
    state = bit_generator.state
    has_half, half = int(state["has_uint32"]), int(state["uinteger"])
    n_records, n_words = len(bounds), len(ranges) // 2
    per_record = 2 + n_words
    block = bit_generator.random_raw(n_records * per_record).reshape(n_records, per_record)
    fast_limit, width = _ziggurat_arrays()
    wanted = np.array(ranges, dtype=np.uint64)
    normal_raw = block[:, 1]
    layer = (normal_raw & _U8).astype(np.intp)
    magnitude = (normal_raw >> _U9) & _LOW52
    # The 32-bit halves in the order numpy takes them: each output's low half, then its high half
    # (a little-endian uint32 view), after the buffered half if there is one.
    halves = block[:, 2:].copy().view(np.uint32)
    if has_half:
        halves = np.concatenate((np.array([half], dtype=np.uint32), halves.reshape(-1)[:-1])).reshape(n_records, len(ranges))
    product = halves * wanted  # uint64: below 2**64, no overflow
    # Lemire's method rejects only when the low word is below the range: those records go the general way.
    common = (magnitude < fast_limit[layer]) & ((product & _LOW32) >= wanted).all(axis=1)
    good = n_records if common.all() else int(common.argmin())
    if good:
        lows, highs = np.array(bounds[:good], dtype=np.float64).T
        uniforms = lows + (highs - lows) * ((block[:good, 0] >> _U11) * _DOUBLE_UNIT)
        value = magnitude[:good].astype(np.float64) * width[layer[:good]]
        normals = loc + scale * np.where(normal_raw[:good] & _SIGN, -value, value)
        out.extend(zip(uniforms.tolist(), normals.tolist(), *(product[:good] >> _U32).T.tolist()))
    # An even count of halves per record: a half is buffered after them as before, and numpy's buffer
    # slot holds the high half of the last output taken for integers, used or not.
    new_half = int(block[good - 1, -1] >> _U32) if good and n_words else half
    if good < n_records:
        bit_generator.advance(-(n_records - good) * per_record)
        state = bit_generator.state
        state["has_uint32"], state["uinteger"] = has_half, new_half
        bit_generator.state = state
    elif new_half != half:
        state["state"] = bit_generator.state["state"]
        state["uinteger"] = new_half
        bit_generator.state = state
    return good


def _records_by_draws(drawn: PlainDraws, bounds: list[tuple[float, float]], loc: float, scale: float,
                      ranges: tuple[int, ...]) -> list[tuple[float, float, int, ...]]:
    with drawn:
        return [(drawn.uniform(low, high), drawn.normal(loc, scale), *(drawn.integers(n) for n in ranges)) for low, high in bounds]


def draws(rng: np.random.Generator, expected: int) -> PlainDraws:
    """Scalar draws of ``rng``: from one raw block when its bit generator is PCG64, else numpy's own calls."""
    if type(rng.bit_generator) is np.random.PCG64:
        return RawDraws(rng, expected)
    return PlainDraws(rng)


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
    ``k * width[i]``. The width is the value of magnitude 1; the limit is found by bisection on
    whether numpy's draw used one output or more. About 14 000 probes, some 50 ms, once per process.
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
        width, fast = probe(layer, 1)
        if not fast:
            limits.append(0)  # no fast path at all in this layer
            widths.append(0.0)
            continue
        low, high = 1, 1 << 52  # fast at low; the limit is in (low, high]
        if probe(layer, high - 1)[1]:
            low = high
        while high - low > 1:
            middle = (low + high) // 2
            if probe(layer, middle)[1]:
                low = middle
            else:
                high = middle
        limits.append(low + 1 if low == high else high)
        widths.append(width)
    return tuple(limits), tuple(widths)


@functools.cache
def _ziggurat_arrays() -> tuple[np.ndarray, np.ndarray]:
    """:func:`_ziggurat_tables` as numpy arrays (uint64 limits, float64 widths), for vector draws."""
    limits, widths = _ziggurat_tables()
    return np.array([min(limit, 1 << 52) for limit in limits], dtype=np.uint64), np.array(widths, dtype=np.float64)


def _forced_after(output: int) -> int:
    """The PCG64 state right after the forced step that emits ``output``."""
    state = _forced(output)["state"]
    stepped = (state["state"] * _PCG_MULT + state["inc"]) & _MASK128
    return stepped


# ------------------------------------------------------------------ a weighted choice of an index
_CHOICE_TOLERANCE = 1e-9  # far inside numpy's own (about 1.5e-8): only clearly valid weights take the fast path


def weighted_index(rng: np.random.Generator, p: np.ndarray) -> int:
    """``int(rng.choice(len(p), p=p))``: numpy's algorithm (running sums, scaled by the last, then the
    first running sum above one ``rng.random()``) in plain Python, a fifth of the cost for a handful
    of weights. Anything numpy might reject (negative, non-finite, not summing to 1) goes to numpy
    itself, which raises as it always has."""
    weights = p.tolist() if isinstance(p, np.ndarray) and p.ndim == 1 and p.dtype == np.float64 else None
    if not weights or not all(0.0 <= w < math.inf for w in weights) or abs(math.fsum(weights) - 1.0) > _CHOICE_TOLERANCE:
        return int(rng.choice(len(p), p=p))
    cdf = list(itertools.accumulate(weights))  # numpy's cumsum: the same additions in the same order
    last = cdf[-1]
    cdf = [value / last for value in cdf]
    return bisect.bisect_right(cdf, rng.random())
