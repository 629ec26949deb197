"""Scalar draws of a scripted agent's generator made in Python: numpy's values, a fraction of the cost.

A scripted agent that makes a scalar draw at every move (a negotiator picking one of its phrasings,
``rng.integers(4)``) pays about 1 us of numpy's argument handling for a few nanoseconds of arithmetic.
:class:`StreamedRandom` gives such an agent a :class:`Pcg64Stream`: raw outputs of its generator's
``PCG64`` taken a block at a time and turned into draws with numpy's algorithms (``envs.core.draws``),
so every draw is the one numpy would have made, and the generator is put back exactly where numpy's
calls would have left it whenever anyone reads ``np_random``.

A generator of another bit generator, or a numpy whose algorithms are not the emulated ones
(``emulation_matches_numpy``), is served by numpy's own calls (:class:`NumpyStream`), with the same values.

:class:`LazilySeeded` is for an agent that rarely draws at all: its generator is reseeded only when used.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from feedbackgym.agents.base import Agent
from feedbackgym.envs.core.draws import PlainDraws, RawDraws, emulation_matches_numpy


class NumpyStream(PlainDraws):
    """The draws of :class:`Pcg64Stream` (``integers(n)``, ``random()``, ``standard_normal()`` and the
    rest of :class:`~feedbackgym.envs.core.draws.PlainDraws`), answered by the generator itself (any
    bit generator)."""

    def hand_back(self) -> None:
        pass


BLOCK = 64  # raw outputs taken at a time: a negotiator's episode uses about 30


class Pcg64Stream(RawDraws):
    """A PCG64 generator's draws as numpy makes them (:class:`~feedbackgym.envs.core.draws.RawDraws`),
    from raw outputs the bit generator hands over in blocks of :data:`BLOCK`.

    Between blocks the bit generator runs ahead of the draws; :meth:`hand_back` puts it just after the
    last output used and gives it back the 32-bit half the draws keep.
    """

    REFILL = BLOCK

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__(rng, 0)

    def hand_back(self) -> None:
        """Put the bit generator where numpy's own calls would have left it. Draw from a new stream after
        this: the generator may be drawn from directly, which this one would not know about."""
        self.close()


def stream(rng: np.random.Generator) -> Pcg64Stream | NumpyStream:
    """The cheapest exact stream of ``rng``'s draws: :class:`Pcg64Stream` for a ``PCG64`` generator when
    the emulation matches this numpy (``emulation_matches_numpy``, checked once a process), else
    :class:`NumpyStream`."""
    if type(rng.bit_generator) is np.random.PCG64 and emulation_matches_numpy():
        return Pcg64Stream(rng)
    return NumpyStream(rng)


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
        current = self.__dict__.get("_stream")
        if current is not None:
            current.hand_back()  # the replaced generator may be someone else's: left where numpy would leave it
            self.__dict__["_stream"] = None
        self.__dict__["_np_random"] = rng

    def reset(self, seed: int | None = None) -> None:
        current = self.__dict__.get("_stream")
        if seed is not None and current is not None:
            own = self.__dict__.get("_own_random")
            if not (type(seed) is int and seed >= 0 and own is not None and own is self.__dict__["_np_random"]):
                current.hand_back()
            # else Agent.reset reseeds the agent's own generator in place (or replaces it): its position is moot
            self.__dict__["_stream"] = None
        super().reset(seed)  # type: ignore[misc]

    def draws(self) -> Pcg64Stream | NumpyStream:
        """This agent's stream of draws (taken over from ``np_random`` on first use)."""
        current = self.__dict__.get("_stream")
        if current is None:
            current = self.__dict__["_stream"] = stream(self.__dict__["_np_random"])
        return current


class LazilySeeded:
    """Mixin for an :class:`~feedbackgym.agents.base.Agent` that often plays a whole episode without a draw.

    ``reset(seed)`` with a non-negative ``int`` seed only notes the seed (the rest of the ``reset`` chain
    runs as for ``reset(None)``); the generator is reseeded by ``Agent.reset`` itself, the same stream,
    when ``np_random`` is first read. An agent that draws nothing in an episode skips the reseeding, a
    few microseconds of an episode of a few steps. Any other seed is applied at once, so a bad one
    fails at ``reset`` as before.
    """

    @property
    def np_random(self) -> Any:
        # None when no seed waits (a waiting seed is a non-negative int). Not a sentinel object: the
        # agent may be pickled or deep-copied in between, and a copied sentinel is a different object.
        seed = self.__dict__.get("_pending_seed")
        if seed is not None:
            self.__dict__["_pending_seed"] = None
            Agent.reset(self, seed)  # type: ignore[arg-type]  # sets np_random through the setter below
        return self.__dict__["_np_random"]

    @np_random.setter
    def np_random(self, rng: Any) -> None:
        self.__dict__["_pending_seed"] = None
        self.__dict__["_np_random"] = rng

    def reset(self, seed: int | None = None) -> None:
        if type(seed) is int and seed >= 0:
            super().reset(None)  # type: ignore[misc]
            self.__dict__["_pending_seed"] = seed
        else:
            super().reset(seed)  # type: ignore[misc]
