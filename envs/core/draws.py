"""``np.random.default_rng(seed)`` for a few scalar draws, reproduced bit for bit in Python.

A procedural task is built from a private generator seeded with the task's seed, and from only a
handful of scalar draws (``integers``, ``random``). Inside an environment's loop, building that
generator (``SeedSequence`` hashing) and each scalar draw cost numpy more than the Python arithmetic
that gives the same numbers: :class:`SeededDraws` computes the seed's ``PCG64`` state with the
algorithms of :mod:`feedbackgym.envs.core.seeding` and serves the draws from it with numpy's own
algorithms:

- ``PCG64`` (XSL-RR 128/64) steps the 128-bit state and then outputs; its 32-bit draws use each
  64-bit output twice, low half first, the high half kept for the next 32-bit draw;
- ``random()`` is ``(next_uint64 >> 11) * 2**-53``;
- ``integers(low, high)`` (int64, ``high`` excluded) draws nothing when ``high - 1 == low``; for a
  range ``r = high - 1 - low`` below ``2**32 - 1`` it uses Lemire's method on 32-bit draws, for
  ``2**32 - 1`` one plain 32-bit draw, for ``2**64 - 1`` one plain 64-bit draw, and otherwise Lemire's
  method on 64-bit draws (``random_bounded_uint64_fill`` in numpy's ``distributions.c``).

Anything else (array draws, other methods or dtypes, bad bounds) goes to a real ``Generator`` set
to the very same state, which serves every later call: the stream stays numpy's whatever is asked.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from feedbackgym.envs.core.seeding import pcg64_state, seed_state_words

_MASK32, _MASK64, _MASK128 = (1 << 32) - 1, (1 << 64) - 1, (1 << 128) - 1
_PCG_MULT = 0x2360ED051FC65DA44385DF649FCCF645
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_MAX_FAST_SEED = (1 << 128) - 1  # seeds of at most four 32-bit words: no extra SeedSequence mixing round


class SeededDraws:
    """The draws of ``np.random.default_rng(seed)`` (a non-negative ``int`` seed): scalar ``integers`` and
    ``random`` computed here, everything else by a numpy ``Generator`` in the same state."""

    __slots__ = ("_state", "_increment", "_has_half", "_half", "_generator")

    def __init__(self, seed: int) -> None:
        self._generator: np.random.Generator | None = None
        # The high half of a 64-bit output kept for the next 32-bit draw, as PCG64 keeps it (has_uint32,
        # uinteger: the value stays after use, as numpy's state shows it).
        self._has_half, self._half = False, 0
        if type(seed) is int and 0 <= seed <= _MAX_FAST_SEED:
            self._state, self._increment = pcg64_state(seed_state_words(seed))
        else:
            self._state = self._increment = 0
            self._generator = np.random.default_rng(seed)  # numpy says what is wrong with the seed

    # ------------------------------------------------------------------------------ the stream
    def _next64(self) -> int:
        state = self._state = (self._state * _PCG_MULT + self._increment) & _MASK128
        value = ((state >> 64) ^ state) & _MASK64
        rotation = state >> 122
        return ((value >> rotation) | (value << (64 - rotation))) & _MASK64

    def _next32(self) -> int:
        if self._has_half:
            self._has_half = False
            return self._half
        value = self._next64()
        self._has_half, self._half = True, value >> 32
        return value & _MASK32

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

    # ------------------------------------------------------------------------------- the draws
    def random(self, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or self._generator is not None:
            return self.generator().random(*args, **kwargs)
        return (self._next64() >> 11) * (1.0 / 9007199254740992.0)

    def integers(self, low: Any, high: Any = None, *args: Any, **kwargs: Any) -> Any:
        if high is None:
            low, high = 0, low
        if args or kwargs or self._generator is not None or type(low) is not int or type(high) is not int:
            return self.generator().integers(low, high, *args, **kwargs)
        top = high - 1  # numpy draws from the closed range [low, high - 1]
        if not _INT64_MIN <= low <= top <= _INT64_MAX:
            return self.generator().integers(low, high)  # numpy's own error
        span = top - low
        if span == 0:
            value = 0
        elif span < _MASK32:
            value = self._lemire(span + 1, self._next32, 32)
        elif span == _MASK32:
            value = self._next32()
        elif span == _MASK64:
            value = self._next64()
        else:
            value = self._lemire(span + 1, self._next64, 64)
        return np.int64(low + value)

    @staticmethod
    def _lemire(count: int, draw: Any, bits: int) -> int:
        """A uniform integer below ``count`` from ``bits``-bit draws, by Lemire's multiply-and-reject."""
        mask = (1 << bits) - 1
        product = draw() * count
        if product & mask < count:
            threshold = (mask + 1 - count) % count  # numpy's (UINT_MAX - rng) % rng_excl
            while product & mask < threshold:
                product = draw() * count
        return product >> bits

    def __getattr__(self, name: str) -> Any:
        # Any other Generator method or attribute: numpy's, from the same state on.
        return getattr(self.generator(), name)
