"""numpy's ziggurat tables for ``standard_normal``, read from numpy itself (once per process).

numpy's ziggurat draws a normal from one 64-bit output in 99% of draws: 8 bits pick a layer, 1 bit the
sign and 52 bits a magnitude; the value is magnitude * the layer's width when the magnitude is below
the layer's limit (the fast path), and anything else (the tail, a layer's edge) takes more work and
more outputs. :func:`ziggurat_tables` finds each layer's width and limit by handing numpy chosen
outputs (:func:`_forced`) and watching how many it used, so the emulation in
:mod:`feedbackgym.envs.core.draws` needs no copy of numpy's constants.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from feedbackgym.envs.core.seeding import PCG64_MULTIPLIER, pcg64_step

_MASK64, _MASK128 = (1 << 64) - 1, (1 << 128) - 1
_PCG_MULT_INVERSE = pow(PCG64_MULTIPLIER, -1, 1 << 128)


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
def ziggurat_tables() -> tuple[tuple[int, ...], tuple[float, ...]]:
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


