"""The draws of a simulated user's episode (catalogue, taste, goal), from raw blocks of the generator's outputs.

A catalogue of 24 items takes about 130 draws of a few kinds (a sample of categories without
replacement, a shuffle, a uniform, a normal and two bounded integers per item, a Dirichlet taste,
uniforms, the goal's integers). Made one numpy call at a time they cost more than everything else
in an episode. :class:`BlockDraws` is :class:`~feedbackgym.envs.core.draws.RawDraws`: numpy's own
algorithms run in Python over one block of raw outputs, the bit generator left exactly where
numpy's calls would have left it, so an episode is the same episode either way. :class:`NumpyDraws`
is the same interface answered by numpy's calls: the reference, and the path for any generator that
is not a ``PCG64`` or a numpy whose algorithms differ (``emulation_matches_numpy``, checked once a
process). Both add the catalogue's name for a sample without replacement, :meth:`NumpyDraws.distinct`.
"""

from __future__ import annotations

import numpy as np

from feedbackgym.envs.core.draws import PlainDraws, RawDraws, emulation_matches_numpy


class NumpyDraws(PlainDraws):
    """The draws of an episode, each one numpy call: the reference :class:`BlockDraws` reproduces."""

    def distinct(self, population: int, size: int) -> list[int]:
        """``rng.choice(population, size, replace=False)`` as a list."""
        return self.sample(population, size)


class BlockDraws(RawDraws, NumpyDraws):
    """The same draws from blocks of a ``PCG64`` generator's raw outputs (``expected`` of them the first).
    Use it as a context manager, or call :meth:`close`, which puts the bit generator where the draws
    stand; until then draw from nothing else."""

    distinct = RawDraws.sample  # NumpyDraws.distinct without its call


def episode_draws(rng: np.random.Generator, expected: int) -> NumpyDraws:
    """The episode's draws from ``rng``: from one block of ``expected`` raw outputs when it is a ``PCG64``
    generator (and this numpy's algorithms are the ones reproduced), else numpy's own calls."""
    if type(rng.bit_generator) is np.random.PCG64 and emulation_matches_numpy():
        return BlockDraws(rng, expected)
    return NumpyDraws(rng)
