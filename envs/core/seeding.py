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

One seed at a time, :func:`seed_state_words` and :func:`seed_pcg64_state` compute the hash in plain
Python as straight-line code. A task source draws each episode's task seed first from the episode's
generator and hashes it; once an episode is seen to do so, :func:`first_draw_state` computes the
first draws of all the block's episode seeds and hashes them together as well.
"""

from __future__ import annotations

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
_MASK32, _MASK64, _MASK128 = 0xFFFFFFFF, (1 << 64) - 1, (1 << 128) - 1
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
        self.states = _pcg64_states(self.words)
        self.first_draws: _FirstDraws | None = None  # built when an episode's first draw is seen to be a task seed
        self.first_draw_misses = 0
        self.episodes = 0  # episode seeds generator() seeded from this block: a table waits for the second

    def state_words(self, row: int) -> list[int]:
        return self.words[row].tolist()

    def pcg64_state(self, row: int) -> tuple[int, int]:
        """``pcg64_state(self.state_words(row))``."""
        return _row_state(self.states, row)


# PCG64's seeding step for many rows at once, in numpy: 128-bit values as four 32-bit limbs (least
# significant first) held in uint64 arrays, so products and column sums never overflow. Turning one row's
# words into its state in Python costs more than a whole block's rows here.
_LIMB, _LIMB_BITS = np.uint64(_MASK32), np.uint64(32)
_MULTIPLIER_LIMBS = tuple(np.uint64((PCG64_MULTIPLIER >> (32 * k)) & _MASK32) for k in range(4))


def _add128(a: list[np.ndarray], b: list[np.ndarray]) -> list[np.ndarray]:
    out, carry = [], None
    for k in range(4):
        total = a[k] + b[k] if carry is None else a[k] + b[k] + carry
        out.append(total & _LIMB)
        carry = total >> _LIMB_BITS
    return out  # modulo 2**128: the last carry is dropped


def _times_multiplier(a: list[np.ndarray]) -> list[np.ndarray]:
    """``a * PCG64_MULTIPLIER`` modulo 2**128: each 64-bit limb product split into the column it lands in
    and the next, at most eight 32-bit parts a column, then the carries."""
    columns: list[Any] = [None] * 4
    for i in range(4):
        for j in range(4 - i):
            product = a[i] * _MULTIPLIER_LIMBS[j]
            for column, part in ((i + j, product & _LIMB), (i + j + 1, product >> _LIMB_BITS)):
                if column < 4:
                    columns[column] = part if columns[column] is None else columns[column] + part
    return _add128(columns, [np.zeros_like(a[0])] * 4)


def _pcg64_states(words: np.ndarray) -> np.ndarray:
    """``pcg64_state`` of every row of eight uint32 state words, as rows (state high and low 64 bits,
    increment high and low 64 bits) of uint64."""
    with np.errstate(over="ignore"):
        w = words.astype(np.uint64)
        initstate = [w[:, 2], w[:, 3], w[:, 0], w[:, 1]]  # ((w1 << 32 | w0) << 64) | (w3 << 32 | w2)
        sequence = [w[:, 6], w[:, 7], w[:, 4], w[:, 5]]
        one, top = np.uint64(1), np.uint64(31)
        increment = [((sequence[0] << one) & _LIMB) | one] + [((sequence[k] << one) & _LIMB) | (sequence[k - 1] >> top) for k in (1, 2, 3)]
        state = _add128(_times_multiplier(_add128(initstate, increment)), increment)
        return _pack(state, increment)


def _pack(state: list[np.ndarray], increment: list[np.ndarray]) -> np.ndarray:
    halves = [(limbs[high] << _LIMB_BITS) | limbs[high - 1] for limbs in (state, increment) for high in (3, 1)]
    return np.stack(halves, axis=1)


def _row_state(states: np.ndarray, row: int) -> tuple[int, int]:
    state_high, state_low, increment_high, increment_low = states[row].tolist()
    return (state_high << 64) | state_low, (increment_high << 64) | increment_low


def _first_outputs(states: np.ndarray) -> np.ndarray:
    """``_first_output`` of every row of ``_pcg64_states``."""
    with np.errstate(over="ignore"):
        halves = [states[:, k] for k in range(4)]
        state = [halves[1] & _LIMB, halves[1] >> _LIMB_BITS, halves[0] & _LIMB, halves[0] >> _LIMB_BITS]
        increment = [halves[3] & _LIMB, halves[3] >> _LIMB_BITS, halves[2] & _LIMB, halves[2] >> _LIMB_BITS]
        stepped = _add128(_times_multiplier(state), increment)
        value = ((stepped[3] << _LIMB_BITS) | stepped[2]) ^ ((stepped[1] << _LIMB_BITS) | stepped[0])
        rotation = stepped[3] >> np.uint64(26)  # the state's top six bits
        return (value >> rotation) | (value << ((np.uint64(64) - rotation) & np.uint64(63)))  # type: ignore[no-any-return]


def _first_output(state: int, increment: int) -> int:
    """The first 64-bit output of a PCG64 in ``state``: one step, then XSL-RR."""
    state = (state * PCG64_MULTIPLIER + increment) & _MASK128
    value = ((state >> 64) ^ state) & _MASK64
    rotation = state >> 122
    return ((value >> rotation) | (value << (64 - rotation))) & _MASK64


class _FirstDraws:
    """The seeds the episodes of a block draw first, ``int(default_rng(s).integers(bound))`` for a power of
    two ``bound`` above ``2**32`` (then the draw is the first 64-bit output's top bits, never rejected),
    with the generator state words of each such seed, hashed together as the block's own seeds are.

    Task sources draw their task's seed so (``ProceduralTaskSource.sample``), and hashing one seed costs
    more than a whole arithmetic task's draws; a block of them hashes at a fraction of that per seed.
    """

    def __init__(self, block: _Block, bound: int) -> None:
        drawn = _first_outputs(block.states[:BLOCK]) >> np.uint64(65 - bound.bit_length())
        self.seeds: list[int] = drawn.tolist()
        with np.errstate(over="ignore"):
            low, high = (drawn & _LIMB).astype(np.uint32), (drawn >> _LIMB_BITS).astype(np.uint32)
            self.states = _pcg64_states(np.stack(_state_words(_pools([low, high]), 8), axis=1))

    def pcg64_state(self, row: int) -> tuple[int, int]:
        return _row_state(self.states, row)


_blocks: OrderedDict[int, _Block] = OrderedDict()
_derived_states: dict[int, tuple[_Block, int]] = {}  # a derived seed -> its block (still cached) and row
_first_draw_states: dict[int, tuple[_FirstDraws, int]] = {}  # a seed drawn first -> its table (block cached) and row
_recent_block: _Block | None = None  # the block _block() returned last (agent seeds are the same evicted or not)
_last_episode: tuple[_Block, int] | None = None  # the block and row of the episode seed generator() seeded last
_MAX_FIRST_DRAW_MISSES = 2  # a block whose episodes draw something else first stops being checked


def _block(seed: int) -> _Block:
    global _recent_block
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
            if evicted.first_draws is not None:
                for drawn in evicted.first_draws.seeds:
                    if _first_draw_states.get(drawn, (None,))[0] is evicted.first_draws:
                        del _first_draw_states[drawn]
    else:
        _blocks.move_to_end(first)
    _recent_block = block
    return block


def _cached_row(seed: int, episode_seed: bool) -> tuple[_Block, int] | None:
    """The cached block and row holding the state words of ``default_rng(seed)`` (an episode seed's block
    is built when missing if ``episode_seed``), else None."""
    found = _derived_states.get(seed)
    if found is not None:
        return found
    first = seed - seed % BLOCK
    block = _blocks.get(first)
    if block is None:
        if not episode_seed:
            return None
        block = _block(seed)
    return block, seed - first


def first_draw_state(seed: int, bound: int) -> tuple[int, int] | None:
    """``seed_pcg64_state(seed)`` from a table when ``seed`` is what a recent episode's generator drew first
    as ``integers(bound)``, else None (then hash the seed).

    The table of a block is built when the episode seeded last by :func:`generator` (``episode_seed=True``),
    the second or later of its block, is seen to draw ``seed`` first; a block whose episodes draw
    something else is checked twice, then left alone. Whatever the guess, a table only ever holds the
    true state of each of its seeds.
    """
    found = _first_draw_states.get(seed)
    if found is not None:
        return found[0].pcg64_state(found[1])
    last = _last_episode
    if last is None or type(bound) is not int or bound & (bound - 1) or not _MASK32 + 1 < bound <= 1 << 63:
        return None
    block, row = last
    if block.first_draws is not None or block.first_draw_misses >= _MAX_FIRST_DRAW_MISSES or _blocks.get(block.first) is not block:
        return None
    if block.episodes < 2:  # one episode seed of a block says nothing of its neighbours (random seeds, say)
        return None
    if _first_output(*block.pcg64_state(row)) >> (65 - bound.bit_length()) != seed:
        block.first_draw_misses += 1
        return None
    table = block.first_draws = _FirstDraws(block, bound)
    for table_row, drawn in enumerate(table.seeds):
        _first_draw_states[drawn] = (table, table_row)
    return table.pcg64_state(row)


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
        block = _recent_block  # every agent of an episode asks in turn: the block of the last answer, most often
        if block is None or not 0 <= seed - block.first < BLOCK:
            block = _block(seed)
        return block.agent_seeds[seed - block.first][index]
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def generator(seed: int, reuse: np.random.Generator | None = None, *, episode_seed: bool = False) -> np.random.Generator:
    """A generator with the stream of ``np.random.default_rng(seed)``.

    ``reuse``, a generator this function returned before and that nobody else holds, is reseeded in
    place when the seed's state is at hand (a derived seed of a recent block, or an episode seed),
    which costs a fifth of building one. ``episode_seed=True`` says ``seed`` is an episode's seed,
    whose neighbours will likely follow: its block is hashed if it is not cached yet (other seeds,
    random ones, would waste the block).
    """
    global _last_episode
    if reuse is not None and type(seed) is int and 0 <= seed <= _MASK32 - BLOCK:
        bit_generator = reuse.bit_generator
        if type(bit_generator) is np.random.PCG64:
            found = _cached_row(seed, episode_seed)
            if found is not None:
                state, increment = found[0].pcg64_state(found[1])
                bit_generator.state = {"bit_generator": "PCG64", "state": {"state": state, "inc": increment}, "has_uint32": 0, "uinteger": 0}
                if episode_seed:
                    _last_episode = found
                    found[0].episodes += 1
                return reuse
    return np.random.Generator(np.random.PCG64(seed))
