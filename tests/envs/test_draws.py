"""The draws of envs.core.draws are numpy's, bit for bit, and leave the stream where numpy would.

SeededDraws is exactly np.random.default_rng(seed)'s draws and state, whatever is asked of it; RawDraws
reproduces a live generator's scalar draws from raw blocks (PlainDraws: numpy's own calls elsewhere).
"""

from __future__ import annotations

import random

import numpy as np
import pytest

import feedbackgym.envs.core.draws as draws_module
from feedbackgym.envs.core.draws import (
    PlainDraws,
    RawDraws,
    SeededDraws,
    draws,
    emulation_matches_numpy,
    uniform_normal_integers,
    weighted_index,
)
from feedbackgym.envs.core.seeding import seed_state_words
from feedbackgym.envs.core.ziggurat import _first_slow

# Edge counts of values (high - low): the 32/64-bit switches, ranges that reject often (just above a
# power of two), and the int64 limit.
EDGE_RANGES = sorted({1, 2, 3, 5, 7, 10, 2**31 - 1, 2**31, 2**31 + 1, 2**32 - 1, 2**32, 2**32 + 1, 2**33, 2**33 + 7,
                      2**48, 2**62, 2**62 + 1, 2**63 - 1, 2**63})


# ----------------------------------------------------------------------- SeededDraws: default_rng(seed)
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
            high = rng.choice([*EDGE_RANGES, rng.randrange(1, 2**63)])
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


# ------------------------------------------------------ RawDraws: a live Generator, from raw blocks
def _program(seed: int, length: int) -> list[tuple[str, tuple]]:
    """A random mix of draws, with ranges that reject often (just above a power of two) and edge ranges."""
    chooser = np.random.default_rng(10_000 + seed)
    steps: list[tuple[str, tuple]] = []
    for _ in range(length):
        kind = chooser.integers(5)
        if kind == 0:
            steps.append(("random", ()))
        elif kind == 1:
            low = float(chooser.integers(-1000, 1000))
            steps.append(("uniform", (low, low + float(chooser.integers(1, 2000)) * float(chooser.random()))))
        elif kind == 2:
            bits = int(chooser.integers(1, 64))
            n = EDGE_RANGES[int(chooser.integers(len(EDGE_RANGES)))] if chooser.random() < 0.4 else (1 << bits) + int(chooser.integers(0, 3))
            steps.append(("integers", (min(n, 2**63),)))
        else:
            steps.append(("normal", (float(chooser.normal(0, 5)), float(chooser.uniform(0.01, 3)))))
    return steps


def _numpy_value(rng: np.random.Generator, name: str, args: tuple) -> float | int:
    value = getattr(rng, name)(*args)
    return int(value) if name == "integers" else float(value)


@pytest.mark.parametrize("seed", range(40))
def test_mixed_draws_match_numpy_and_leave_the_stream_where_numpy_does(seed: int) -> None:
    program = _program(seed, 150)
    expected_rng = np.random.default_rng(seed)
    if seed % 2:  # start with a buffered 32-bit half
        expected_rng.integers(7)
    rng = np.random.default_rng(seed)
    if seed % 2:
        rng.integers(7)
    expected = [_numpy_value(expected_rng, name, args) for name, args in program]
    block = [0, 1, 10, 60][seed % 4]  # at most the outputs the program will take
    with RawDraws(rng, block) as drawn:
        got = [getattr(drawn, name)(*args) for name, args in program]
    assert got == expected
    assert rng.bit_generator.state == expected_rng.bit_generator.state
    assert rng.integers(2**40, size=3).tolist() == expected_rng.integers(2**40, size=3).tolist()
    assert rng.integers(3) == expected_rng.integers(3)  # the buffered half, if any, is the same


@pytest.mark.parametrize("n", EDGE_RANGES)
def test_integers_over_edge_ranges(n: int) -> None:
    for seed in range(30):
        expected_rng, rng = np.random.default_rng(seed), np.random.default_rng(seed)
        expected = [int(expected_rng.integers(n)) for _ in range(25)]
        with RawDraws(rng, 0) as drawn:
            assert [drawn.integers(n) for _ in range(25)] == expected
        assert rng.bit_generator.state == expected_rng.bit_generator.state


def test_normal_draws_cover_the_slow_path_and_match() -> None:
    class Counting(RawDraws):
        slow = 0

        def _numpy_normal(self) -> float:
            Counting.slow += 1
            return super()._numpy_normal()

    rng, expected_rng = np.random.default_rng(5), np.random.default_rng(5)
    expected = [float(expected_rng.normal(3.9, 0.6)) for _ in range(5000)]
    with Counting(rng, 5000) as drawn:
        got = [drawn.normal(3.9, 0.6) for _ in range(5000)]
    assert Counting.slow > 10  # the slow path (numpy's own draw) really ran
    assert got == expected
    assert rng.bit_generator.state == expected_rng.bit_generator.state


def test_a_block_larger_than_used_is_handed_back() -> None:
    rng, expected_rng = np.random.default_rng(1), np.random.default_rng(1)
    with RawDraws(rng, 50) as drawn:
        assert drawn.integers(10) == expected_rng.integers(10)
    assert rng.bit_generator.state == expected_rng.bit_generator.state


def test_other_bit_generators_get_numpys_own_calls() -> None:
    rng = np.random.Generator(np.random.MT19937(3))
    expected_rng = np.random.Generator(np.random.MT19937(3))
    with draws(rng, 10) as drawn:
        assert isinstance(drawn, PlainDraws) and not isinstance(drawn, RawDraws)
        assert [drawn.integers(6), drawn.uniform(1, 2), drawn.normal(), drawn.random()] == [
            int(expected_rng.integers(6)), float(expected_rng.uniform(1, 2)), float(expected_rng.normal()), float(expected_rng.random())]


def test_bad_range_is_refused() -> None:
    with RawDraws(np.random.default_rng(0), 0) as drawn:
        for bad in (0, -3, 2**63 + 1, 2.0):
            with pytest.raises(ValueError, match="n must be"):
                drawn.integers(bad)


@pytest.mark.parametrize("seed", range(60))
def test_catalogue_records_match_numpys_scalar_draws(seed: int) -> None:
    chooser = np.random.default_rng(seed)
    n = int(chooser.integers(1, 60))
    bounds = [(float(chooser.integers(0, 500)), float(chooser.integers(500, 3000))) for _ in range(n)]
    # Ranges just above a power of two reject half the time: the general path must take over exactly.
    ranges = [(5, 5), (5,), (2**31 + 1,), (7, 2**32 - 1, 3), (2, 3, 4, 5), (2**33 + 7, 5)][seed % 6]
    rng, expected_rng = np.random.default_rng(seed), np.random.default_rng(seed)
    if seed % 3 == 0:  # a buffered 32-bit half at the start
        rng.integers(9), expected_rng.integers(9)
    expected = [(float(expected_rng.uniform(low, high)), float(expected_rng.normal(3.9, 0.6)), *(int(expected_rng.integers(r)) for r in ranges))
                for low, high in bounds]
    assert uniform_normal_integers(rng, bounds, 3.9, 0.6, ranges) == expected
    assert rng.bit_generator.state == expected_rng.bit_generator.state
    assert rng.integers(5, size=3).tolist() == expected_rng.integers(5, size=3).tolist()


def test_catalogue_records_on_other_bit_generators() -> None:
    rng, expected_rng = np.random.Generator(np.random.MT19937(4)), np.random.Generator(np.random.MT19937(4))
    expected = [(float(expected_rng.uniform(1, 2)), float(expected_rng.normal(0, 1)), int(expected_rng.integers(5))) for _ in range(3)]
    assert uniform_normal_integers(rng, [(1, 2)] * 3, 0, 1, (5,)) == expected


@pytest.mark.parametrize("seed", range(30))
def test_weighted_index_is_numpys_choice_with_p(seed: int) -> None:
    chooser = np.random.default_rng(500 + seed)
    rng, expected_rng = np.random.default_rng(seed), np.random.default_rng(seed)
    for _ in range(200):
        n = int(chooser.integers(1, 12))
        weights = np.maximum(chooser.dirichlet(np.ones(n) * float(chooser.uniform(0.05, 3))), 1e-12)
        if chooser.random() < 0.2:
            weights[int(chooser.integers(n))] = 1e-12  # a weight at the floor, as the scripted solver makes
        p = weights / weights.sum()
        if chooser.random() < 0.3:  # a buffered 32-bit half in the state, which the draw must leave alone
            assert int(rng.integers(7)) == int(expected_rng.integers(7))
        given = p.tolist() if chooser.random() < 0.5 else p  # a list of floats is read as the same float64 values
        assert weighted_index(rng, given) == int(expected_rng.choice(n, p=p))
    assert rng.bit_generator.state == expected_rng.bit_generator.state


def test_weighted_index_of_a_list_that_is_not_all_floats_is_numpys_own() -> None:
    for p in ([1, 0], [0.5, np.float64(0.5)], [True, False]):
        rng, expected_rng = np.random.default_rng(4), np.random.default_rng(4)
        assert weighted_index(rng, p) == int(expected_rng.choice(len(p), p=p))
        assert rng.bit_generator.state == expected_rng.bit_generator.state


def test_weighted_index_rejects_what_numpy_rejects() -> None:
    for bad in (np.array([0.5, 0.6]), np.array([-0.1, 1.1]), np.array([np.nan, 1.0]), np.array([])):
        with pytest.raises(ValueError):
            weighted_index(np.random.default_rng(0), bad)


def test_bad_arguments_raise_as_numpy_does() -> None:
    rng = np.random.default_rng(0)
    with RawDraws(rng, 0) as drawn:
        with pytest.raises(ValueError, match="scale < 0"):
            drawn.normal(0.0, -1.0)
        with pytest.raises(OverflowError):
            drawn.uniform(-1e308, 1e308)
    with pytest.raises(ValueError, match="scale < 0"):
        uniform_normal_integers(rng, [(0.0, 1.0)], 0.0, -0.5, (5, 5))
    with pytest.raises(ValueError, match="scale < 0"):
        np.random.default_rng(0).normal(0.0, -0.5)  # the same message from numpy itself


def test_the_emulation_checks_itself_against_this_numpy() -> None:
    assert emulation_matches_numpy()  # else every draw silently goes back to numpy's own calls


def test_when_the_check_fails_every_draw_is_numpys_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(draws_module, "emulation_matches_numpy", lambda: False)
    rng = np.random.default_rng(0)
    assert type(draws_module.draws(rng, 5)) is PlainDraws
    expected_rng = np.random.default_rng(0)
    assert draws_module.uniform_normal_integers(rng, [(1.0, 2.0)] * 3, 0.0, 1.0, (5, 5)) == [
        (float(expected_rng.uniform(1.0, 2.0)), float(expected_rng.normal(0.0, 1.0)), int(expected_rng.integers(5)), int(expected_rng.integers(5)))
        for _ in range(3)]
    p = np.array([0.25, 0.75])
    assert weighted_index(rng, p) == int(expected_rng.choice(2, p=p))


def test_the_ziggurat_limit_search_finds_the_first_slow_magnitude_from_any_guess() -> None:
    top = 1 << 52
    for limit in (2, 3, 17, 1000, 2**40 + 5, top - 1, top):
        for guess in {2, 3, max(limit - 1, 2), limit, limit + 1, 2**51, top}:
            assert _first_slow(lambda magnitude: magnitude < limit, min(guess, top)) == min(limit, top), (limit, guess)


@pytest.mark.parametrize("seed", [0, 7, 2**40 + 3])
def test_seeded_and_raw_draws_step_the_same_stream(seed: int) -> None:
    """Both reproduce default_rng(seed)'s stream: from the seed, and from a live generator's raw block."""
    seeded, rng = SeededDraws(seed), np.random.default_rng(seed)
    with RawDraws(rng, 4) as raw:
        for n in (5, 2**32, 2**40 + 3, 1, 7):
            assert int(seeded.integers(n)) == raw.integers(n)
        assert seeded.random() == raw.random()
    assert seeded.generator().bit_generator.state == rng.bit_generator.state


# ------------------------------------------------------- SeededDraws' plain-value draws and integer_below
def _plain_call(rng, kind: str, args: tuple) -> object:
    """The numpy call each plain-value draw reproduces."""
    if kind == "below":
        return int(rng.integers(*args))
    if kind == "between":
        return int(rng.integers(*args))
    if kind == "sample":
        return rng.choice(args[0], size=args[1], replace=False).tolist()
    if kind == "indices":
        return rng.choice(args[0], size=args[1]).tolist()
    return rng.permutation(*args).tolist()


def _random_call(rng: random.Random) -> tuple[str, tuple]:
    kind = rng.choice(["below", "between", "sample", "sample", "indices", "permutation_list", "random"])
    if kind == "below":
        return kind, (rng.choice([*EDGE_RANGES, rng.randrange(1, 60)]),)
    if kind == "between":
        low = rng.choice([0, 1, -7, -(2**63), rng.randrange(-(2**40), 2**40)])
        return kind, (low, low + rng.choice([1, 2, 3, 51, 2**32, 2**33 + 7, rng.randrange(1, 1000)]))
    if kind == "sample":
        n = rng.choice([1, 2, 5, 7, 40, 200, 1000, 2**32 - 1, 2**32, 2**32 + 1, 2**40, rng.randrange(1, 80)])
        return kind, (n, rng.randint(0, min(n, 9)))
    if kind == "indices":
        return kind, (rng.choice([1, 2, 3, 10, 2**32 + 1]), rng.randint(0, 6))
    if kind == "permutation_list":
        return kind, (rng.choice([0, 1, 2, 3, 6, 7, 8, 17, 64, 65]),)
    return kind, ()


def test_plain_value_draws_are_numpys_calls_bit_for_bit() -> None:
    assert draws_module.emulation_matches_numpy()  # else sample and permutation_list are numpy's own calls
    rng = random.Random(5)
    for _ in range(1500):
        seed = rng.choice([rng.randrange(2**48), rng.randrange(100), rng.randrange(2**128)])
        ours, numpy_rng = SeededDraws(seed), np.random.default_rng(seed)
        for _ in range(rng.randint(1, 10)):
            kind, args = _random_call(rng)
            if kind == "random":
                assert ours.random() == numpy_rng.random()
                continue
            mine = getattr(ours, kind)(*args)
            assert mine == _plain_call(numpy_rng, kind, args) and type(mine) is (list if isinstance(mine, list) else int), (seed, kind, args)
        assert ours.generator().bit_generator.state == numpy_rng.bit_generator.state  # the stream left where numpy leaves it


@pytest.mark.parametrize(("n", "k"), [(10_001, 201), (10_001, 10_001), (20_000, 5), (10_001, 200), (12_345, 1000)])
def test_a_large_sample_takes_numpys_tail_shuffle_or_floyd_as_numpy_does(n: int, k: int) -> None:
    for seed in range(3):
        ours, numpy_rng = SeededDraws(seed), np.random.default_rng(seed)
        assert ours.sample(n, k) == numpy_rng.choice(n, size=k, replace=False).tolist()
        assert ours.generator().bit_generator.state == numpy_rng.bit_generator.state


def test_plain_value_draws_after_the_generator_took_over_are_its_own() -> None:
    rng = random.Random(8)
    for seed in range(200):
        ours, numpy_rng = SeededDraws(seed), np.random.default_rng(seed)
        assert ours.standard_normal() == numpy_rng.standard_normal()  # numpy's from here on
        for _ in range(4):
            kind, args = _random_call(rng)
            if kind != "random":
                assert getattr(ours, kind)(*args) == _plain_call(numpy_rng, kind, args)
        assert ours.generator().bit_generator.state == numpy_rng.bit_generator.state


@pytest.mark.parametrize(("kind", "args"), [("below", (0,)), ("below", (2**63 + 1,)), ("between", (5, 5)), ("sample", (3, 4)),
                                            ("sample", (3, -1)), ("sample", (0, 1)), ("indices", (0, 2)), ("permutation_list", (-1,)),
                                            ("below", (2.5,)), ("sample", (np.int64(5), 2))])
def test_bad_plain_draws_raise_what_numpy_raises_or_agree(kind: str, args: tuple) -> None:
    ours, numpy_rng = SeededDraws(1), np.random.default_rng(1)
    try:
        expected = _plain_call(numpy_rng, kind, args)
    except Exception as error:  # noqa: BLE001 - whatever numpy raises, ours raises too
        with pytest.raises(type(error)):
            getattr(ours, kind)(*args)
    else:
        assert getattr(ours, kind)(*args) == expected


def test_generator_draws_answer_like_seeded_draws() -> None:
    from feedbackgym.envs.core.draws import GeneratorDraws, plain_draws

    rng = random.Random(2)
    for seed in range(150):
        ours, theirs = SeededDraws(seed), GeneratorDraws(np.random.default_rng(seed))
        for _ in range(6):
            kind, args = _random_call(rng)
            assert getattr(ours, kind)(*args) == getattr(theirs, kind)(*args)
    assert type(plain_draws(np.random.default_rng(0))) is GeneratorDraws and type(plain_draws(ours)) is SeededDraws


def test_integer_below_is_numpys_integers_and_leaves_the_stream_alone() -> None:
    from feedbackgym.envs.core.draws import integer_below

    rng = random.Random(4)
    ranges = [2**32 + 1, 2**33, 2**48, 2**62 + 1, 2**63 - 1, 2**63, 2**63 - 2**61 + 1]  # the last rejects often
    for seed in range(400):
        ours, numpy_rng = np.random.default_rng(seed), np.random.default_rng(seed)
        if seed % 2:  # a buffered 32-bit half in the state: a 64-bit draw must leave it there
            assert int(ours.integers(7)) == int(numpy_rng.integers(7))
        for _ in range(3):
            n = rng.choice(ranges)
            assert integer_below(ours, n) == int(numpy_rng.integers(n))
        assert ours.bit_generator.state == numpy_rng.bit_generator.state
    for n in (1, 5, 2**32, 2**63 + 1):  # ranges numpy draws otherwise (or refuses): its own call
        ours, numpy_rng = np.random.default_rng(3), np.random.default_rng(3)
        try:
            expected = int(numpy_rng.integers(n))
        except ValueError:
            with pytest.raises(ValueError):
                integer_below(ours, n)
        else:
            assert integer_below(ours, n) == expected and ours.bit_generator.state == numpy_rng.bit_generator.state
    mt, mt_expected = np.random.Generator(np.random.MT19937(5)), np.random.Generator(np.random.MT19937(5))
    assert integer_below(mt, 2**48) == int(mt_expected.integers(2**48))


def test_integer_below_checks_itself_and_steps_aside_when_the_check_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from feedbackgym.envs.core.draws import integer_below

    assert emulation_matches_numpy()
    consulted = []
    monkeypatch.setattr(draws_module, "emulation_matches_numpy", lambda: consulted.append(True) and False)
    ours, expected = np.random.default_rng(1), np.random.default_rng(1)
    assert integer_below(ours, 2**48) == int(expected.integers(2**48)) and consulted
    assert ours.bit_generator.state == expected.bit_generator.state


def test_sampling_emulation_checks_itself_and_steps_aside_when_it_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    assert draws_module.emulation_matches_numpy()
    monkeypatch.setattr(draws_module, "emulation_matches_numpy", lambda: False)
    monkeypatch.setattr(draws_module.SeededDraws, "_sample", None)  # would fail if called
    monkeypatch.setattr(draws_module.SeededDraws, "_permutation", None)
    ours, numpy_rng = SeededDraws(9), np.random.default_rng(9)
    assert ours.sample(40, 3) == numpy_rng.choice(40, size=3, replace=False).tolist()
    assert ours.permutation_list(6) == numpy_rng.permutation(6).tolist()


# ------------------------------------------------------------------ the one implementation, checked
@pytest.mark.parametrize("k", [0, 1, 7, 4095, 4096, 4097, 10_000, 2**40 + 3])
def test_a_jump_of_k_steps_is_numpys_advance(k: int) -> None:
    rng = np.random.default_rng(k)
    state = rng.bit_generator.state["state"]
    a, c = draws_module._jump(k)
    rng.bit_generator.advance(k)
    assert (a * state["state"] + c * state["inc"]) % 2**128 == rng.bit_generator.state["state"]["state"]


def test_raw_draws_go_on_after_close_and_across_many_refills() -> None:
    rng, expected_rng = np.random.default_rng(12), np.random.default_rng(12)
    drawn = RawDraws(rng, 3)
    for round_ in range(4):
        assert [drawn.integers(2**31 + 1) for _ in range(300)] == expected_rng.integers(2**31 + 1, size=300).tolist()
        drawn.close()
        assert rng.bit_generator.state == expected_rng.bit_generator.state
        assert drawn.sample(30, 4) == expected_rng.choice(30, size=4, replace=False).tolist()  # drawing goes on
        drawn.close()
        assert float(rng.random()) == float(expected_rng.random())  # numpy draws in between: then a new RawDraws
        drawn = RawDraws(rng, round_)
    drawn.close()
    assert rng.bit_generator.state == expected_rng.bit_generator.state


def test_raw_uniform_refuses_a_reversed_range_as_numpy_does() -> None:
    with pytest.raises(ValueError, match="high - low < 0"):
        np.random.default_rng(0).uniform(5.0, 3.0)
    with RawDraws(np.random.default_rng(0), 0) as drawn, pytest.raises(ValueError, match="high - low < 0"):
        drawn.uniform(5.0, 3.0)
    with pytest.raises(ValueError, match="high - low < 0"):
        uniform_normal_integers(np.random.default_rng(0), [(5.0, 3.0)], 0.0, 1.0, (5, 5))


@pytest.mark.parametrize("broken", ["_below", "_wide_below", "_interval", "_sample", "standard_normal", "_numpy_normal", "shuffle", "dirichlet", "records"])
def test_the_self_check_fails_when_any_emulated_algorithm_differs(monkeypatch: pytest.MonkeyPatch, broken: str) -> None:
    owner = draws_module.Pcg64Draws if broken.startswith("_") and broken != "_numpy_normal" else RawDraws
    right = getattr(owner, broken)

    def wrong(self, *args):  # the right draws, then one value off: as a changed numpy algorithm would be
        value = right(self, *args)
        if broken == "shuffle":
            args[0].reverse()
        elif isinstance(value, list):
            value.reverse() if len(value) > 1 else value.append(0)
        elif isinstance(value, (int, float)):
            value += 1
        return value

    monkeypatch.setattr(owner, broken, wrong)
    assert not draws_module.emulation_matches_numpy.__wrapped__()
