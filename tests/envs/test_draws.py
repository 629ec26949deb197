"""SeededDraws gives exactly np.random.default_rng(seed)'s draws and state, whatever is asked of it."""

from __future__ import annotations

import random

import numpy as np
import pytest

from feedbackgym.envs.core.draws import SeededDraws
from feedbackgym.envs.core.seeding import seed_state_words

EDGE_HIGHS = (1, 2, 3, 7, 10, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**33, 2**48, 2**62, 2**63 - 1, 2**63)


def test_seed_state_words_are_seed_sequences() -> None:
    rng = random.Random(3)
    seeds = [0, 1, 2**32 - 1, 2**32, 2**48 - 1, 2**64, 2**96 + 5, 2**128 - 1] + [rng.randrange(2**rng.choice((8, 32, 48, 128))) for _ in range(400)]
    for seed in seeds:
        assert seed_state_words(seed) == np.random.SeedSequence(seed).generate_state(8, np.uint32).tolist(), seed


def test_scalar_draws_are_bit_exact_over_random_and_edge_ranges() -> None:
    rng = random.Random(11)
    for _ in range(2500):
        seed = rng.choice([rng.randrange(2**48), rng.randrange(2**16), rng.randrange(2**128)])
        ours, numpy_rng = SeededDraws(seed), np.random.default_rng(seed)
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.3:
                assert ours.random() == numpy_rng.random()
                continue
            high = rng.choice([*EDGE_HIGHS, rng.randrange(1, 2**63)])
            low = min(rng.choice([0, 0, 1, -5, -(2**63), rng.randrange(-(2**62), 0)]), high - 1)
            if rng.random() < 0.2 and low == 0:
                mine, theirs = ours.integers(high), numpy_rng.integers(high)
            else:
                mine, theirs = ours.integers(low, high), numpy_rng.integers(low, high)
            assert mine == theirs and type(mine) is type(theirs), (seed, low, high)
        assert ours.generator().bit_generator.state == numpy_rng.bit_generator.state


def test_the_full_64_bit_range_and_the_empty_range() -> None:
    ours, numpy_rng = SeededDraws(5), np.random.default_rng(5)
    assert ours.integers(-(2**63), 2**63) == numpy_rng.integers(-(2**63), 2**63)  # a plain 64-bit draw
    assert ours.integers(7, 8) == numpy_rng.integers(7, 8) == 7  # draws nothing
    assert ours.integers(2**32) == numpy_rng.integers(2**32)  # a plain 32-bit draw
    assert ours.generator().bit_generator.state == numpy_rng.bit_generator.state


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.integers(0, 10, size=5).tolist(),
        lambda r: r.integers(np.int64(3), 9),
        lambda r: r.integers(0, 10, endpoint=True),
        lambda r: r.integers(0, 10, dtype=np.int32),
        lambda r: r.random(3).tolist(),
        lambda r: r.choice(10, size=3, replace=False).tolist(),
        lambda r: r.standard_normal(),
        lambda r: float(r.beta(2.0, 3.0)),
    ],
)
def test_anything_else_is_numpys_from_the_same_state_on(call) -> None:
    for seed in (0, 9, 2**40 + 1):
        ours, numpy_rng = SeededDraws(seed), np.random.default_rng(seed)
        assert ours.integers(5) == numpy_rng.integers(5)  # a 32-bit half is kept in both
        assert call(ours) == call(numpy_rng)
        assert ours.integers(1, 100) == numpy_rng.integers(1, 100) and ours.random() == numpy_rng.random()
        assert ours.generator().bit_generator.state == numpy_rng.bit_generator.state


def test_bad_bounds_and_seeds_raise_numpys_errors() -> None:
    for args in ((5, 5), (0,), (3, 1), (0, 2**63 + 1)):
        with pytest.raises(ValueError) as numpy_error:
            np.random.default_rng(1).integers(*args)
        with pytest.raises(ValueError, match=str(numpy_error.value).replace("(", r"\(").replace(")", r"\)")):
            SeededDraws(1).integers(*args)
    with pytest.raises(ValueError):
        SeededDraws(-1)
    assert SeededDraws(2**130).random() == np.random.default_rng(2**130).random()  # a long seed: numpy's own seeding
