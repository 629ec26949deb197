"""The cheap seeding helpers give exactly numpy's seeds and streams."""

from __future__ import annotations

import numpy as np
import pytest

from feedbackgym.envs.core.seeding import BLOCK, agent_seed, generator

SEEDS = [0, 1, BLOCK - 1, BLOCK, 12_345, 2**31 - 1, 2**31 + 5, 2**32 - 1, 2**40 + 3, 2**63 - 2]


@pytest.mark.parametrize("seed", SEEDS)
def test_agent_seed_is_the_seed_sequence_of_seed_and_index(seed: int) -> None:
    for index in range(6):
        assert agent_seed(seed, index) == int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


@pytest.mark.parametrize("seed", SEEDS)
def test_generator_reseeded_in_place_has_default_rngs_stream(seed: int) -> None:
    reused = generator(7)
    for one in (seed, agent_seed(seed, 0), agent_seed(seed, 3)):
        fresh = generator(one, reused, episode_seed=one == seed)
        expected = np.random.default_rng(one)
        assert fresh.integers(0, 2**62, size=4).tolist() == expected.integers(0, 2**62, size=4).tolist()
        assert fresh.random() == expected.random() and fresh.standard_normal() == expected.standard_normal()
        reused = fresh


def test_an_envs_generator_held_by_a_user_is_not_reseeded_under_them() -> None:
    import feedbackgym

    env = feedbackgym.make("SolverFeedback-v0")
    env.reset(seed=3)
    mine = np.random.default_rng(99)
    env.unwrapped.np_random = mine  # the user's generator: the next reset builds a new one
    env.reset(seed=4)
    assert env.unwrapped.np_random is not mine and mine.random() == np.random.default_rng(99).random()


def test_streams_stay_exact_as_blocks_enter_and_leave_the_cache() -> None:
    from feedbackgym.envs.core import seeding

    reused = generator(7)
    checked = 0
    # More blocks than the cache holds, visited forwards and then back to the evicted ones.
    firsts = [block * BLOCK for block in range(seeding._CACHED_BLOCKS + 3)]
    for first in [*firsts, *reversed(firsts)]:
        for seed in (first, first + 1, first + BLOCK - 1):
            for one, episode in ((seed, True), (agent_seed(seed, 0), False), (agent_seed(seed, 3), False)):
                reused = generator(one, reused, episode_seed=episode)
                assert reused.integers(0, 2**62, size=2).tolist() == np.random.default_rng(one).integers(0, 2**62, size=2).tolist()
                checked += 1
    assert len(seeding._blocks) <= seeding._CACHED_BLOCKS
    assert all(block.first in seeding._blocks for block, _ in seeding._derived_states.values())  # no evicted block is referenced
    assert checked == 2 * len(firsts) * 9


def test_seed_pcg64_state_is_default_rngs_state() -> None:
    import random

    from feedbackgym.envs.core.seeding import pcg64_state, seed_pcg64_state, seed_state_words

    rng = random.Random(6)
    seeds = [0, 1, 2**32 - 1, 2**32, 2**48 - 1, 2**64 - 1, 2**64, 2**96 + 5, 2**128 - 1]
    seeds += [rng.randrange(2**rng.choice((8, 32, 48, 64, 65, 128))) for _ in range(600)]
    for seed in seeds:
        state = np.random.PCG64(seed).state["state"]
        assert seed_pcg64_state(seed) == (state["state"], state["inc"]) == pcg64_state(seed_state_words(seed)), seed


def test_first_draw_tables_hold_the_true_state_of_each_episodes_first_drawn_seed() -> None:
    from feedbackgym.envs.core import seeding
    from feedbackgym.envs.core.draws import integer_below
    from feedbackgym.envs.core.seeding import first_draw_state, seed_pcg64_state

    reused = generator(7)
    first = 300 * BLOCK
    reused = generator(first + 4, reused, episode_seed=True)
    drawn = integer_below(reused, 2**48)
    assert first_draw_state(drawn, 2**48) is None  # the block's first episode: no table yet (random seeds build none)
    reused = generator(first + 5, reused, episode_seed=True)
    drawn = integer_below(reused, 2**48)
    assert drawn == int(np.random.default_rng(first + 5).integers(2**48))
    assert first_draw_state(drawn + 1, 2**48) is None  # not what the episode drew: no table
    assert first_draw_state(drawn, 2**40 + 1) is None  # not a power-of-two bound: no table
    assert first_draw_state(drawn, 2**48) == seed_pcg64_state(drawn)  # the table is built from here
    for seed in range(first, first + BLOCK):  # every episode seed of the block: its first draw, its true state
        task_seed = int(np.random.default_rng(seed).integers(2**48))
        assert first_draw_state(task_seed, 2**48) == seed_pcg64_state(task_seed) == (
            np.random.PCG64(task_seed).state["state"]["state"], np.random.PCG64(task_seed).state["state"]["inc"])
    assert len(seeding._first_draw_states) >= BLOCK
    for seed in (first, first + 6, first + BLOCK - 1):  # the block's episode generators, from the table's states
        reused = generator(seed, reused, episode_seed=True)
        assert reused.bit_generator.state == np.random.default_rng(seed).bit_generator.state


def test_a_block_whose_episodes_draw_something_else_first_stops_being_checked() -> None:
    from feedbackgym.envs.core import seeding
    from feedbackgym.envs.core.seeding import first_draw_state

    reused = generator(7)
    reused = generator(310 * BLOCK, reused, episode_seed=True)
    reused = generator(310 * BLOCK + 1, reused, episode_seed=True)
    block = seeding._blocks[310 * BLOCK]
    for seed in (11, 12, 13):
        assert first_draw_state(seed, 2**48) is None
    assert block.first_draw_misses == seeding._MAX_FIRST_DRAW_MISSES and block.first_draws is None


def test_first_draw_tables_leave_with_their_blocks() -> None:
    from feedbackgym.envs.core import seeding
    from feedbackgym.envs.core.draws import integer_below
    from feedbackgym.envs.core.seeding import first_draw_state, seed_pcg64_state

    reused = generator(7)
    for block_index in range(400, 400 + seeding._CACHED_BLOCKS + 3):
        reused = generator(block_index * BLOCK, reused, episode_seed=True)
        reused = generator(block_index * BLOCK + 1, reused, episode_seed=True)
        drawn = integer_below(reused, 2**48)
        assert first_draw_state(drawn, 2**48) == seed_pcg64_state(drawn)
    cached_tables = {id(block.first_draws) for block in seeding._blocks.values()}
    assert all(id(table) in cached_tables for table, _ in seeding._first_draw_states.values())
    assert len(seeding._first_draw_states) <= seeding._CACHED_BLOCKS * BLOCK


def test_scattered_episode_seeds_build_no_first_draw_table() -> None:
    from feedbackgym.envs.core import seeding
    from feedbackgym.envs.core.draws import integer_below
    from feedbackgym.envs.core.seeding import first_draw_state

    reused = generator(7)
    for block_index in (500, 537, 611, 700):  # one episode per block, as random seeds play
        reused = generator(block_index * BLOCK + 3, reused, episode_seed=True)
        assert first_draw_state(integer_below(reused, 2**48), 2**48) is None
        assert seeding._blocks[block_index * BLOCK].first_draws is None


def test_vector_pcg64_seeding_is_the_python_arithmetic_for_every_row() -> None:
    import random

    from feedbackgym.envs.core.seeding import _first_output, _first_outputs, _pcg64_states, _row_state, pcg64_state

    rng = random.Random(9)
    # all-zero and all-ones words drive every carry of the 32-bit limb arithmetic
    words = np.array([[rng.choice([0, 0xFFFFFFFF, 0x80000000, rng.getrandbits(32)]) for _ in range(8)] for _ in range(3000)]
                     + [[0] * 8, [0xFFFFFFFF] * 8], dtype=np.uint32)
    states = _pcg64_states(words)
    outputs = _first_outputs(states).tolist()
    for row in range(len(words)):
        expected = pcg64_state(words[row].tolist())
        assert _row_state(states, row) == expected, row
        assert outputs[row] == _first_output(*expected), row
