"""Seeds derived from an episode's seed, so every participant's randomness is reproducible, and cheap.

``np.random.default_rng(seed)`` costs about 15 us, most of it in ``SeedSequence``'s hashing, and an
episode makes several (the env's generator, each agent's, each agent's derived seed). Episodes are
usually played with consecutive seeds, so :func:`agent_seed` and :func:`generator` hash a block of
256 consecutive seeds at once with numpy's vector arithmetic (the same algorithm, so the very same
numbers), and :func:`generator` reseeds a generator it made before in place instead of building one.
Nothing changes but the cost: the seeds and streams are exactly ``SeedSequence``'s.

A block keeps its generator states as one array and a seed's row becomes Python ints only when that
seed is used; a block that leaves the cache takes only its own seeds out of the lookup table. (Turning
every state into lists up front, and rebuilding the table from every cached block at each eviction,
cost 17 us per episode seed, more than the hashing.)
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

BLOCK = 256  # consecutive seeds hashed together (numpy's per-call cost is paid once for all of them)
MAX_INDEX = 4  # agent positions whose seeds a block precomputes; others take the plain path
_CACHED_BLOCKS = 8  # the last 2048 episode seeds

# numpy's SeedSequence constants (numpy/random/bit_generator.pyx).
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_MASK32, _MASK128 = 0xFFFFFFFF, (1 << 128) - 1
_LITTLE_ENDIAN = sys.byteorder == "little"
PCG64_MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645  # PCG64's 128-bit LCG multiplier


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


# The hash constants SeedSequence's hashmix takes, in the order it takes them, for one seed: the pool's
# four words, then its twelve cross-mixes; and those of generate_state's eight output words.
def _constants(start: int, multiplier: int, count: int) -> tuple[tuple[int, int], ...]:
    pairs, constant = [], start
    for _ in range(count):
        following = (constant * multiplier) & _MASK32
        pairs.append((constant, following))
        constant = following
    return tuple(pairs)


_POOL_CONSTANTS = _constants(_INIT_A, _MULT_A, 16)
_STATE_CONSTANTS = _constants(_INIT_B, _MULT_B, 8)
_MIXES = tuple((source, target) for source in range(4) for target in range(4) if source != target)


def _straight_line(returns: str) -> Any:
    """SeedSequence's hash of an int seed as straight-line code with its constants inlined.

    The hash is 36 short multiply-xor-shift steps; as a loop over the constant tables the loop's own
    bookkeeping (indexing, tuple unpacking) costs about as much as the arithmetic, so the steps are
    written out here, from the very tables above, and compiled once. Seeds below ``2**64`` (episode
    and task seeds) start from two constant pool words, hashed here. ``returns`` is the final
    statement, over the eight state words ``w0 .. w7``.
    """
    mask = _MASK32

    def hashed(word: int, constant: int, following: int) -> int:
        value = ((word ^ constant) * following) & mask
        return value ^ (value >> 16)

    def body(narrow: bool) -> list[str]:
        lines = []
        for index, (constant, following) in enumerate(_POOL_CONSTANTS[:4]):
            if narrow and index >= 2:
                lines.append(f"    p{index} = {hashed(0, constant, following)}")  # a zero word's hash
                continue
            word = f"((seed >> {32 * index}) & {mask})" if index else f"(seed & {mask})"
            lines.append(f"    v = ({word} ^ {constant}) * {following} & {mask}")
            lines.append(f"    p{index} = v ^ (v >> 16)")
        for (source, target), (constant, following) in zip(_MIXES, _POOL_CONSTANTS[4:]):
            lines.append(f"    v = ((p{source} ^ {constant}) * {following}) & {mask}")
            lines.append(f"    v = ({_MIX_L} * p{target} - {_MIX_R} * (v ^ (v >> 16))) & {mask}")
            lines.append(f"    p{target} = v ^ (v >> 16)")
        for index, (constant, following) in enumerate(_STATE_CONSTANTS):
            lines.append(f"    v = ((p{index & 3} ^ {constant}) * {following}) & {mask}")
            lines.append(f"    w{index} = v ^ (v >> 16)")
        lines.append(f"    {returns}")
        return lines

    source = ["def narrow(seed):", "    if seed >> 64:", "        return wide(seed)", *body(True), "def wide(seed):", *body(False)]
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(source), "<seed hash>", "exec"), namespace)  # noqa: S102 - built from our own constants
    return namespace["narrow"]


seed_state_words: Callable[[int], list[int]] = _straight_line("return [w0, w1, w2, w3, w4, w5, w6, w7]")
seed_state_words.__doc__ = """``SeedSequence(seed).generate_state(8, np.uint32)`` for an int ``0 <= seed < 2**128``, in plain Python.

One seed at a time, where the numpy call (with its ``errstate`` wrapper) costs more; the blocks
below do the same for many seeds at once."""

# pcg64_state(seed_state_words(seed)) in the same straight line: the words never become a list.
seed_pcg64_state: Callable[[int], tuple[int, int]] = _straight_line(
    f"increment = ((((w5 << 32 | w4) << 64) | (w7 << 32 | w6)) << 1 | 1) & {_MASK128}; "
    f"return ((increment + (((w1 << 32 | w0) << 64) | (w3 << 32 | w2))) * {PCG64_MULTIPLIER} + increment) & {_MASK128}, increment"
)
seed_pcg64_state.__doc__ = """``pcg64_state(seed_state_words(seed))``: the PCG64 (state, increment) of ``default_rng(seed)``."""


def pcg64_state(words: list[int]) -> tuple[int, int]:
    """PCG64's (state, increment) after seeding with SeedSequence state ``words`` (eight uint32)."""
    # pcg64_set_seed: the four uint64 words are initstate (high, low) and initseq (high, low).
    w = words
    initstate = ((w[1] << 32 | w[0]) << 64) | (w[3] << 32 | w[2])
    initseq = ((w[5] << 32 | w[4]) << 64) | (w[7] << 32 | w[6])
    increment = ((initseq << 1) | 1) & _MASK128
    state = (increment + initstate) & _MASK128
    return pcg64_step(state, increment), increment


def pcg64_step(state: int, increment: int) -> int:
    """PCG64's next 128-bit state: one step of its linear congruential generator."""
    return (state * PCG64_MULTIPLIER + increment) & _MASK128


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
            # default_rng(s) for the episode seeds and the derived seeds: SeedSequence([s]).generate_state(4, uint64).
            # Row r holds the words of the episode seed first + r for r < BLOCK, then of the derived seeds in order.
            entropy = np.concatenate([seeds, derived])
            self.words = np.stack(_state_words(_pools([entropy]), 8), axis=1)
        self.first = first
        self.derived_rows = dict(zip(derived.tolist(), range(BLOCK, BLOCK * (1 + MAX_INDEX))))
        # The same words paired into uint64 (w0 | w1 << 32, ...), as PCG64 reads them on a little-endian
        # machine: a row is then four ints, the halves of initstate and initseq.
        self.words64 = self.words.view(np.uint64) if _LITTLE_ENDIAN else None

    def state_words(self, row: int) -> list[int]:
        return self.words[row].tolist()

    def pcg64_state(self, row: int) -> tuple[int, int]:
        """``pcg64_state(self.state_words(row))``, from the row's uint64 halves."""
        if self.words64 is None:
            return pcg64_state(self.state_words(row))
        state_high, state_low, sequence_high, sequence_low = self.words64[row].tolist()
        increment = (((sequence_high << 64) | sequence_low) << 1 | 1) & _MASK128
        return (((((state_high << 64) | state_low) + increment) * PCG64_MULTIPLIER + increment) & _MASK128), increment


_blocks: OrderedDict[int, _Block] = OrderedDict()
_derived_states: dict[int, tuple[_Block, int]] = {}  # a derived seed -> its block (still cached) and row


def _block(seed: int) -> _Block:
    first = seed - seed % BLOCK
    block = _blocks.get(first)
    if block is None:
        block = _blocks[first] = _Block(first)
        for derived, row in block.derived_rows.items():
            _derived_states[derived] = (block, row)
        if len(_blocks) > _CACHED_BLOCKS:
            _, evicted = _blocks.popitem(last=False)
            for derived in evicted.derived_rows:
                # Only the evicted block's entries: a seed that another block derives too is simply looked
                # up the slow way later (the same state, from SeedSequence).
                if _derived_states.get(derived, (None,))[0] is evicted:
                    del _derived_states[derived]
    else:
        _blocks.move_to_end(first)
    return block


def _cached_state(seed: int, episode_seed: bool) -> tuple[int, int] | None:
    """The PCG64 (state, increment) of ``default_rng(seed)`` when a cached block has the seed's words (an
    episode seed's block is built when missing if ``episode_seed``), else None."""
    found = _derived_states.get(seed)
    if found is not None:
        return found[0].pcg64_state(found[1])
    first = seed - seed % BLOCK
    block = _blocks.get(first)
    if block is None:
        if not episode_seed:
            return None
        block = _block(seed)
    return block.pcg64_state(seed - first)


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
    if reuse is not None and type(seed) is int and 0 <= seed <= _MASK32 - BLOCK:
        bit_generator = reuse.bit_generator
        if type(bit_generator) is np.random.PCG64:
            found = _cached_state(seed, episode_seed)
            if found is not None:
                bit_generator.state = {"bit_generator": "PCG64", "state": {"state": found[0], "inc": found[1]}, "has_uint32": 0, "uinteger": 0}
                return reuse
    return np.random.Generator(np.random.PCG64(seed))
