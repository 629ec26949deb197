"""Core task types: ``Evidence``, ``Task`` and the ``TaskSource`` interface every source implements."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, NoReturn

import numpy as np

from feedbackgym.envs.core.draws import SeededDraws, integer_below
from feedbackgym.envs.core.seeding import first_draw_state

from ._checks import require_generator, require_one_of
from .answers import (
    BASES,
    KINDS,
    LETTERS,
    group_thousands,
    normalize_choice,
    normalize_numeric,
    normalize_text,
)


class FrozenDict(dict):  # type: ignore[type-arg]
    """A read-only dict.

    A dict subclass rather than ``types.MappingProxyType`` because the runner writes task metadata to
    JSONL and environments get deep-copied and pickled; a mappingproxy survives neither.
    """

    def _readonly(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("task metadata is read-only; build a new Task with dataclasses.replace")

    __setitem__ = __delitem__ = __ior__ = _readonly  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        # The default dict-subclass pickling restores items through __setitem__, which is disabled.
        return (type(self), (dict(self),))

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))


_ATOMS = frozenset({str, int, float, bool, type(None)})  # exact types that are never containers


def freeze(value: Any) -> Any:
    """Deep read-only copy: mappings become FrozenDict, lists and tuples become tuples."""
    if type(value) in _ATOMS:
        return value  # the common leaf, answered before the (slow) ABC check below
    if isinstance(value, Mapping):
        return FrozenDict({key: freeze(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(item) for item in value)
    return value


@dataclass(frozen=True)
class Evidence:
    """A passage that supports one answer; judge environments cite these.

    ``is_true`` says whether the passage is faithful to the knowledge base; ``False`` marks a fabricated
    passage backing a plausible wrong answer (WAFER-QA style), which deceptive judges quote.
    """

    id: str
    text: str
    supports: str
    is_true: bool

    @classmethod
    def _built(cls, id: str, text: str, supports: str, is_true: bool) -> Evidence:  # noqa: A002 - the field's name
        """``Evidence(id, text, supports, is_true)`` without the frozen dataclass's per-field
        ``object.__setattr__`` calls: a generator makes several per task."""
        evidence = object.__new__(cls)
        evidence.__dict__.update(id=id, text=text, supports=supports, is_true=is_true)
        return evidence


# Task.normalize remembers its answers for strings up to this long, at most this many per task: agents and
# environments read the same few answers (the gold one above all) several times an episode, while a
# hostile agent's endless distinct answers must not grow the memo without bound.
_MEMO_MAX_CHARS = 256
_MEMO_MAX_ENTRIES = 64
_MISSING = object()
# A choice task reads a bare option letter as itself ("B" -> "B"), the answer agents give most: its memo
# starts with them. By number of options (0 means the 26 letters of an open choice).
_BARE_LETTERS = [{letter: letter for letter in LETTERS[: n or 26]} for n in range(27)]


@dataclass(frozen=True)
class Task:
    """One question with its gold answer and checker.

    Attributes:
        id: stable identifier; the same source knobs and seed give the same id.
        prompt: the full question a solver reads; choice tasks already list options as "(A) ...".
        answer: canonical gold answer; for choice tasks the letter "A".."Z".
        kind: "numeric", "choice" or "text"; selects how candidate answers are normalised.
        choices: option texts of a choice task, in letter order.
        solution: a worked, step-by-step solution (the gold process), if known.
        evidence: passages for and against the options (knowledge tasks).
        difficulty: on the source's own scale, larger is harder (arithmetic: level, multiplication: digits,
            knowledge: hops); not comparable across sources.
        base: 10 or 16, for numeric tasks.
        metadata: read-only structured facts about the task (operands, relation, source line, ...).

    Tasks are frozen and hashable; ``metadata`` is excluded from the hash but not from equality.
    """

    id: str
    prompt: str
    answer: str
    kind: str
    choices: tuple[str, ...] = ()
    solution: str | None = None
    evidence: tuple[Evidence, ...] = ()
    difficulty: float | None = None
    base: int = 10
    metadata: Mapping[str, Any] = field(default_factory=FrozenDict, hash=False)

    # normalize's memo, per task (not a field: no part of equality, hashing or repr); None until first used.
    _normalized: ClassVar[dict[str, str | None] | None] = None
    _aliases: ClassVar[tuple[str, ...] | None] = None  # aliases(), likewise

    def __post_init__(self) -> None:
        require_one_of("kind", self.kind, KINDS)
        require_one_of("base", self.base, BASES)
        # frozen dataclasses only allow this escape hatch; it keeps callers free to pass lists and dicts
        object.__setattr__(self, "choices", tuple(str(choice) for choice in self.choices))
        object.__setattr__(self, "evidence", tuple(self.evidence))
        object.__setattr__(self, "metadata", freeze(self.metadata))
        if self.normalize(self.answer) is None:
            raise ValueError(f"task {self.id!r}: gold answer {self.answer!r} cannot be read as a {self.kind} answer")

    @classmethod
    def _built(
        cls,
        id: str,  # noqa: A002 - the field's name
        prompt: str,
        answer: str,
        kind: str,
        choices: tuple[str, ...],
        solution: str | None,
        evidence: tuple[Evidence, ...],
        difficulty: float | None,
        base: int,
        metadata: FrozenDict,
        gold: str,
    ) -> Task:
        """The task ``Task(...)`` builds from these fields, for a procedural source that gives them in final
        form (a tuple of str choices, a tuple of evidence, metadata frozen as ``freeze`` would) with the gold
        answer's canonical form ``gold``: then every check and conversion of ``__post_init__`` would change
        nothing, and skipping them is most of the cost of a task. Each source's tests compare its tasks with
        ``Task(...)`` of the same fields."""
        task = object.__new__(cls)
        task.__dict__.update(
            id=id, prompt=prompt, answer=answer, kind=kind, choices=choices, solution=solution, evidence=evidence,
            difficulty=difficulty, base=base, metadata=metadata,
        )  # fmt: skip
        memo = task.__dict__["_normalized"] = task._first_memo()
        memo[answer] = gold
        return task

    def _first_memo(self) -> dict[str, str | None]:
        """normalize's memo as it starts: a choice task's bare letters (only for Task itself, whose rule that
        is; a subclass may read them its own way), else empty."""
        if type(self) is Task and self.kind == "choice" and len(self.choices) <= 26:
            return dict(_BARE_LETTERS[len(self.choices)])
        return {}

    def normalize(self, answer: str) -> str | None:
        """Canonical form of a candidate answer, or None if it cannot be read as this task's kind."""
        if type(answer) is str and len(answer) <= _MEMO_MAX_CHARS:
            memo = self._normalized
            if memo is None:
                memo = self._first_memo()
                object.__setattr__(self, "_normalized", memo)
            found = memo.get(answer, _MISSING)
            if found is not _MISSING:
                return found  # type: ignore[return-value]
            canonical = self._normalize(answer)
            if len(memo) < _MEMO_MAX_ENTRIES:
                memo[answer] = canonical
            return canonical
        return self._normalize(answer)

    def _normalize(self, answer: str) -> str | None:
        if isinstance(answer, (int, float)) and not isinstance(answer, bool):
            answer = str(answer)
        if not isinstance(answer, str):
            return None
        if self.kind == "numeric":
            return normalize_numeric(answer, self.base)
        if self.kind == "choice":
            return normalize_choice(answer, self.choices)
        return normalize_text(answer)

    def check(self, answer: str) -> bool:
        """Whether ``answer`` means the gold answer."""
        candidate = self.normalize(answer)
        return candidate is not None and candidate == self.normalize(self.answer)

    def aliases(self) -> tuple[str, ...]:
        """Strings that reveal the gold answer, longest first, so a masker replaces "(B)" before "B"."""
        found = self._aliases
        if found is None:  # a function of the frozen fields: worked out once per task (feedback masks every message)
            found = self._find_aliases()
            object.__setattr__(self, "_aliases", found)
        return found

    def _find_aliases(self) -> tuple[str, ...]:
        gold = self.normalize(self.answer) or self.answer
        found = [self.answer, gold]
        if self.kind == "choice":
            found += [f"({gold})", f"**{gold}**", f"{gold})"]
            index = ord(gold) - ord("A")
            if index < len(self.choices):
                found += [self.choices[index], f"({gold}) {self.choices[index]}"]
        elif self.kind == "numeric" and self.base == 16:
            sign, digits = ("-", gold[1:]) if gold.startswith("-") else ("", gold)
            found += [digits.lower(), f"{sign}0x{digits}", f"{sign}0x{digits.lower()}"]
        elif self.kind == "numeric":
            found.append(group_thousands(gold))
        unique = dict.fromkeys(alias for alias in found if alias)
        return tuple(sorted(unique, key=len, reverse=True))

    def public_view(self) -> dict[str, Any]:
        """What a solver may see: never the answer, solution or evidence."""
        return {
            "id": self.id,
            "prompt": self.prompt,
            "kind": self.kind,
            "choices": list(self.choices),
            "base": self.base,
            "difficulty": self.difficulty,
        }

    def choice_text(self, answer_letter: str) -> str:
        """The option text behind a letter, e.g. for feedback that names the option."""
        return self.choices[ord(answer_letter) - ord("A")]


class TaskSource(ABC):
    """A seeded supply of tasks.

    ``sample(rng)`` must draw only from ``rng``: never the global numpy or ``random`` state, so two
    environments stepped in turn cannot disturb each other. Finite sources (datasets) also implement
    ``__len__`` and ``__getitem__``. Constructors validate their knobs and raise ``ValueError`` naming the
    field and its allowed values.
    """

    name: str = "task_source"

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Task:
        """Draw one task using only ``rng``."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """The source's name and knobs, JSON-serialisable (for logs and run configs)."""

    def sample_many(self, rng: np.random.Generator, n: int) -> list[Task]:
        return [self.sample(rng) for _ in range(n)]

    def __repr__(self) -> str:
        knobs = ", ".join(f"{key}={value!r}" for key, value in self.describe().items() if key != "name")
        return f"{type(self).__name__}({knobs})"


class ProceduralTaskSource(TaskSource):
    """A generator whose every task is rebuilt from one integer seed drawn from the caller's rng.

    Ids look like ``arithmetic/cfg-1a2b3c4d/seed-123``: the middle part fingerprints the knobs, so the
    same id always denotes the same task, and ``from_seed`` regenerates a task from its id's seed.
    """

    SEED_BOUND = 2**48  # wide enough that ids of a million tasks practically never collide
    # True for a source whose _generate draws through SeededDraws' plain-value draws (or a few scalar
    # integers/random): it then gets SeededDraws, the same stream as default_rng(seed) computed in Python
    # (see feedbackgym.envs.core.draws), far cheaper than building a Generator for each task.
    scalar_draws: bool = False

    def sample(self, rng: np.random.Generator) -> Task:
        # integer_below is int(rng.integers(SEED_BOUND)), from one raw output where it can be.
        return self.from_seed(integer_below(require_generator(rng), self.SEED_BOUND))

    def from_seed(self, seed: int) -> Task:
        """The task with this seed (the number after ``seed-`` in its id)."""
        if self.scalar_draws:
            # An episode's task seed has its generator state in a table more often than not (first_draw_state).
            state = first_draw_state(seed, self.SEED_BOUND)
            rng: Any = SeededDraws(seed) if state is None else SeededDraws.from_state(*state)
        else:
            rng = np.random.default_rng(seed)
        return self._generate(rng, f"{self._id_prefix}{seed}")

    @cached_property
    def fingerprint(self) -> str:
        knobs = json.dumps(self.describe(), sort_keys=True, default=str)
        return hashlib.sha1(knobs.encode()).hexdigest()[:8]

    @cached_property
    def _id_prefix(self) -> str:
        return f"{self.name}/cfg-{self.fingerprint}/seed-"

    @abstractmethod
    def _generate(self, rng: np.random.Generator, task_id: str) -> Task:
        """Build one task from a private generator."""


__all__ = ["Evidence", "FrozenDict", "ProceduralTaskSource", "Task", "TaskSource", "freeze"]
