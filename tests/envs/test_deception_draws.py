"""The deception helpers' draws: the same values and the same stream as the plain numpy calls they stand for."""

from __future__ import annotations

import numpy as np
import pytest

from feedbackgym.envs.deception import format_number, perturb_number


def _reference_perturb(value: int, rng: np.random.Generator, base: int) -> int:
    """perturb_number as first written: ``rng.integers(0, digits)`` even for one digit."""
    digits = max(len(format_number(abs(value), base)), 1)
    while True:
        power = int(rng.integers(0, digits))
        delta = int(rng.integers(1, base)) * base**power * (1 if rng.random() < 0.5 else -1)
        if value < 0 or value + delta >= 0:
            return value + delta


@pytest.mark.parametrize("base", [10, 16])
@pytest.mark.parametrize("value", [0, 3, -7, 9, 15, 42, -120, 98765])
def test_perturb_number_draws_as_numpy_would(value: int, base: int) -> None:
    for seed in range(40):
        rng, expected_rng = np.random.default_rng(seed), np.random.default_rng(seed)
        rng.integers(7), expected_rng.integers(7)  # a buffered 32-bit half in play
        assert [perturb_number(value, rng, base) for _ in range(3)] == [_reference_perturb(value, expected_rng, base) for _ in range(3)]
        assert rng.bit_generator.state == expected_rng.bit_generator.state


def test_citations_are_read_in_the_first_20000_characters_only() -> None:
    from feedbackgym.envs.deception import citations

    assert citations("No passages cited here.") == []
    assert citations("See [E2], [ e 1 ] and [E2] again.") == [2, 1]
    assert citations("x" * 19_994 + "[E3]") == [3]
    assert citations("x" * 19_997 + "[E3]") == []  # cut at 20000: the bracket is in, the citation is not
    assert citations("x" * 20_000 + "[E3]") == []


def test_option_letters_are_a_character_at_a_time_from_A_for_any_count() -> None:
    from feedbackgym.envs.deception import option_letters

    for n in range(0, 41):
        letters = option_letters(n)
        assert letters == [chr(ord("A") + i) for i in range(n)]
        letters.append("mine")  # a fresh list each call: a caller may change its own
        assert option_letters(n) == [chr(ord("A") + i) for i in range(n)]
