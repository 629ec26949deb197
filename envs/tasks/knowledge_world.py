"""A generated fictional world: invented people, towns, rivers and inventions, and facts about them.

Everything is invented so that no model knows the answers from pre-training; what a judge or solver
knows can then be controlled exactly by which passages it is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from ._checks import require_int
from .base import FrozenDict

_ONSETS = (
    "b", "br", "d", "dr", "f", "g", "gr", "h", "k", "kr", "l", "m",
    "n", "p", "r", "s", "st", "t", "th", "v", "z", "sh", "j", "",
)  # fmt: skip
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ei")
_CODAS = ("", "", "", "n", "r", "l", "s", "m", "k")
_SURNAME_ENDINGS = ("", "", "ek", "sen", "ova", "ard")
_TOWN_ENDINGS = ("holm", "vane", "ford", "mere", "stad", "wick", "burg", "dale", "port", "moor")
_RIVER_ENDINGS = ("a", "en", "is", "ur", "")
_DEVICES = (
    "loom", "gauge", "press", "lamp", "engine", "compass",
    "lens", "pump", "kiln", "sextant", "valve", "barometer",
)  # fmt: skip
PROFESSIONS = (
    "clockmaker", "chemist", "engineer", "cartographer", "glassblower", "astronomer",
    "physician", "shipwright", "botanist", "printer", "weaver", "surveyor",
)  # fmt: skip

# relation -> (subject kind, object kind); "year" and "profession" are value kinds, not entities
RELATIONS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "born_in": ("person", "town"),
        "born_year": ("person", "year"),
        "profession": ("person", "profession"),
        "founded_year": ("town", "year"),
        "river": ("town", "river"),
        "inventor": ("invention", "person"),
        "invented_year": ("invention", "year"),
    }
)


@dataclass(frozen=True)
class Fact:
    """One true statement of the world: ``object`` is the value of ``relation`` for ``subject``."""

    subject: str
    relation: str
    object: str


def _word(rng: np.random.Generator, syllables: int) -> str:
    return "".join(
        _ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))] + _CODAS[rng.integers(len(_CODAS))]
        for _ in range(syllables)
    )


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _person(rng: np.random.Generator) -> str:
    first = _word(rng, int(rng.integers(2, 4))).capitalize()
    return f"{first} {_word(rng, int(rng.integers(1, 3))).capitalize()}{_pick(rng, _SURNAME_ENDINGS)}"


def _town(rng: np.random.Generator) -> str:
    return _word(rng, 2).capitalize() + _pick(rng, _TOWN_ENDINGS)


def _river(rng: np.random.Generator) -> str:
    return f"{_word(rng, 2).capitalize()}{_pick(rng, _RIVER_ENDINGS)} River"


def _invention(rng: np.random.Generator) -> str:
    return f"{_word(rng, 2)} {_pick(rng, _DEVICES)}"


class KnowledgeBase:
    """A deterministic fictional world built from ``seed_world``.

    ``n_entities`` (at least 24) is split into about 40% people, 25% towns, 25% inventions and 10%
    rivers, with at least 6 of each so every question can have 6 same-kind options.

    Attributes:
        entities: kind ("person", "town", "river", "invention") -> names, in creation order.
        facts: every true ``Fact``, in a fixed order.
    """

    def __init__(self, n_entities: int = 200, seed_world: int = 0) -> None:
        self.n_entities = require_int("n_entities", n_entities, 24, 20_000)
        self.seed_world = require_int("seed_world", seed_world, 0, 2**63 - 1)
        rng = np.random.default_rng(self.seed_world)  # its own generator: the world never depends on sampling
        n_rivers = max(6, n_entities // 10)
        n_towns = n_inventions = max(6, n_entities // 4)
        n_people = n_entities - n_rivers - n_towns - n_inventions
        used: set[str] = set()

        def unique(make: Callable[[np.random.Generator], str], count: int) -> tuple[str, ...]:
            names: list[str] = []
            while len(names) < count:
                name = make(rng)
                if name not in used:
                    used.add(name)
                    names.append(name)
            return tuple(names)

        people, towns, rivers = unique(_person, n_people), unique(_town, n_towns), unique(_river, n_rivers)
        inventions = unique(_invention, n_inventions)
        # Read-only, and unlike a mappingproxy it survives pickling and deep copies of the environment.
        self.entities: Mapping[str, tuple[str, ...]] = FrozenDict({"person": people, "town": towns, "river": rivers, "invention": inventions})
        facts: list[Fact] = []
        born: dict[str, int] = {}
        for person in people:
            born[person] = int(rng.integers(1700, 1921))
            facts += [
                Fact(person, "born_in", _pick(rng, towns)),
                Fact(person, "born_year", str(born[person])),
                Fact(person, "profession", _pick(rng, PROFESSIONS)),
            ]
        for town in towns:
            founded = str(int(rng.integers(1050, 1851)))
            facts += [Fact(town, "founded_year", founded), Fact(town, "river", _pick(rng, rivers))]
        # distinct inventors where there are enough people, so "the inventor of X" names one person's story
        inventors = rng.choice(len(people), size=n_inventions, replace=n_inventions > n_people)
        for invention, index in zip(inventions, inventors):
            inventor = people[int(index)]
            year = born[inventor] + int(rng.integers(20, 61))  # at most 1980
            facts += [Fact(invention, "inventor", inventor), Fact(invention, "invented_year", str(year))]
        self.facts: tuple[Fact, ...] = tuple(facts)
        self._index = {(fact.subject, fact.relation): fact.object for fact in facts}

    def lookup(self, subject: str, relation: str) -> str:
        """The object of a fact; KeyError naming both if the world has no such fact."""
        try:
            return self._index[(subject, relation)]
        except KeyError:
            raise KeyError(f"the world has no fact ({subject!r}, {relation!r})") from None

    def values(self, kind: str) -> tuple[str, ...]:
        """Every value of a kind that can fill an option: entity names or professions."""
        return PROFESSIONS if kind == "profession" else self.entities[kind]

    def subjects(self, relation: str) -> tuple[str, ...]:
        return self.entities[RELATIONS[relation][0]]
