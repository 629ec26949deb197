"""Seeds derived from an episode's seed, so every participant's randomness is reproducible, and cheap.

``np.random.default_rng(seed)`` costs about 15 us, most of it in ``SeedSequence``'s hashing, and an
episode makes several (the env's generator, each agent's, each agent's derived seed). Episodes are
usually played with consecutive seeds, so :func:`agent_seed` and :func:`generator` hash a block of
64 consecutive seeds at once with numpy's vector arithmetic (the same algorithm, so the very same
numbers), and :func:`generator` reseeds a generator it made before in place instead of building one.
Nothing changes but the cost: the seeds and streams are exactly ``SeedSequence``'s.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

BLOCK = 64  # consecutive seeds hashed together
MAX_INDEX = 4  # agent positions whose seeds a block precomputes; others take the plain path
_CACHED_BLOCKS = 32

# numpy's SeedSequence constants (numpy/random/bit_generator.pyx).
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_MASK32, _MASK128 = 0xFFFFFFFF, (1 << 128) - 1
_PCG_MULT = 0x2360ED051FC65DA44385DF649FCCF645  # PCG64's 128-bit multiplier


def _pools(words: list[np.ndarray]) -> list[np.ndarray]:
    """``SeedSequence(entropy).pool`` for many entropies at once; ``words[i]`` is every entropy's i-th
    uint32 word (at most four words, no spawn key)."""
    hash_const = _INIT_A

    def hashmix(value: np.ndarray) -> np.ndarray:
        nonlocal hash_const
        value = value ^ np.uint32(hash_const)
        hash_const = (hash_const * _MULT_A) & _MASK32
        value = value * np.uint32(hash_const)
        return value ^ (value >> np.uint32(16))

    zeros = np.zeros_like(words[0])
    mixer = [hashmix(words[i] if i < len(words) else zeros) for i in range(4)]
    for source in range(4):
        for target in range(4):
            if source != target:
                mixed = np.uint32(_MIX_L) * mixer[target] - np.uint32(_MIX_R) * hashmix(mixer[source])
                mixer[target] = mixed ^ (mixed >> np.uint32(16))
    return mixer


def _state_words(pool: list[np.ndarray], n_words: int) -> list[np.ndarray]:
    """``SeedSequence.generate_state(n_words)`` (uint32) for every pool at once."""
    hash_const = _INIT_B
    out = []
    for index in range(n_words):
        value = pool[index % 4] ^ np.uint32(hash_const)
        hash_const = (hash_const * _MULT_B) & _MASK32
        value = value * np.uint32(hash_const)
        out.append(value ^ (value >> np.uint32(16)))
    return out


class _Block:
    """Derived seeds and generator states of the seeds ``first .. first + BLOCK - 1``."""

    def __init__(self, first: int) -> None:
        with np.errstate(over="ignore"):
            seeds = np.arange(first, first + BLOCK, dtype=np.uint32)
            indexes = np.arange(MAX_INDEX, dtype=np.uint32)
            pair_seeds = np.repeat(seeds, MAX_INDEX)
            pair_indexes = np.tile(indexes, BLOCK)
            # agent_seed: SeedSequence([seed, index]).generate_state(1)[0]
            derived = _state_words(_pools([pair_seeds, pair_indexes]), 1)[0]
            self.agent_seeds = derived.reshape(BLOCK, MAX_INDEX).tolist()
            # default_rng(s) for the episode seeds and the derived seeds: SeedSequence([s]).generate_state(4, uint64)
            entropy = np.concatenate([seeds, derived])
            words = np.stack(_state_words(_pools([entropy]), 8), axis=1).tolist()
        self.state_words = dict(zip(entropy.tolist(), words))


_blocks: OrderedDict[int, _Block] = OrderedDict()
_derived_states: dict[int, list[int]] = {}  # a derived seed's state words, from the blocks still cached


def _block(seed: int) -> _Block:
    first = seed - seed % BLOCK
    block = _blocks.get(first)
    if block is None:
        block = _blocks[first] = _Block(first)
        if len(_blocks) > _CACHED_BLOCKS:
            _blocks.popitem(last=False)
            _derived_states.clear()
            for kept in _blocks.values():
                _derived_states.update(kept.state_words)
        else:
            _derived_states.update(block.state_words)
    else:
        _blocks.move_to_end(first)
    return block


def _is_small_seed(seed: object) -> bool:
    return type(seed) is int and 0 <= seed <= _MASK32 - BLOCK  # type: ignore[operator]


def agent_seed(seed: int | None, index: int) -> int | None:
    """The seed of the agent at ``index`` of ``possible_agents`` in an episode seeded with ``seed``:
    ``SeedSequence([seed, index]).generate_state(1)[0]``.

    The runner and ``SingleAgent`` both use it, so an episode played either way is the same episode.
    """
    if seed is None:
        return None
    if _is_small_seed(seed) and type(index) is int and 0 <= index < MAX_INDEX:
        return _block(seed).agent_seeds[seed % BLOCK][index]
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def generator(seed: int, reuse: np.random.Generator | None = None, *, episode_seed: bool = False) -> np.random.Generator:
    """A generator with the stream of ``np.random.default_rng(seed)``.

    ``reuse``, a generator this function returned before and that nobody else holds, is reseeded in
    place when the seed's state is at hand (a derived seed of a recent block, or an episode seed),
    which costs a fifth of building one. ``episode_seed=True`` says ``seed`` is an episode's seed,
    whose neighbours will likely follow: its block is hashed if it is not cached yet (other seeds,
    random ones, would waste the block).
    """
    words = None
    if _is_small_seed(seed):
        words = _derived_states.get(seed)
        if words is None and episode_seed:
            words = _block(seed).state_words.get(seed)
    if words is None or reuse is None or type(reuse.bit_generator) is not np.random.PCG64:
        return np.random.Generator(np.random.PCG64(seed))
    # PCG64 seeding (pcg64_set_seed): the four uint64 words are initstate (high, low) and initseq (high, low).
    w = words
    initstate = ((w[1] << 32 | w[0]) << 64) | (w[3] << 32 | w[2])
    initseq = ((w[5] << 32 | w[4]) << 64) | (w[7] << 32 | w[6])
    increment = ((initseq << 1) | 1) & _MASK128
    state = (increment + initstate) & _MASK128
    state = (state * _PCG_MULT + increment) & _MASK128
    reuse.bit_generator.state = {"bit_generator": "PCG64", "state": {"state": state, "inc": increment}, "has_uint32": 0, "uinteger": 0}
    return reuse
