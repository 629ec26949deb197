"""Multiple-choice questions over a fictional knowledge base, with true and fabricated evidence."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from feedbackgym.envs.core.checks import ArgumentError, shown
from feedbackgym.envs.core.draws import GeneratorDraws, SeededDraws, plain_draws

from ._checks import require_int
from .answers import LETTERS, format_choices
from .base import Evidence, FrozenDict, ProceduralTaskSource, Task
from .knowledge_world import RELATIONS, Fact, KnowledgeBase

TWO_HOP = "inventor_born_in"  # the town where an invention's inventor was born
QUESTION_TYPES = (*RELATIONS, TWO_HOP)

_QUESTIONS = {
    "born_in": "In which town was the {profession} {subject} born?",
    "born_year": "In what year was the {profession} {subject} born?",
    "profession": "What was the profession of {subject}?",
    "founded_year": "In what year was the town of {subject} founded?",
    "river": "Which river flows through the town of {subject}?",
    "inventor": "Who invented the {subject}?",
    "invented_year": "In what year was the {subject} invented?",
    TWO_HOP: "In which town was the inventor of the {subject} born?",
}
# True and fabricated passages share one pool per relation, so style never gives a fabrication away.
_PASSAGES = {
    "born_in": (
        "{subject} was born in {object}.",
        "Parish records from {object} list the birth of {subject}, who later worked as {a_profession}.",
        "Born in {object}, {subject} became one of the best-known {profession}s of the region.",
    ),
    "born_year": (
        "{subject} was born in {object}.",
        "The {profession} {subject} was born in the year {object}.",
        "Biographies agree that {subject} came into the world in {object}.",
    ),
    "profession": (
        "{subject} worked as {a_object} for most of their life.",
        "{subject} is remembered today as {a_object}.",
        "Contemporaries knew {subject} chiefly as {a_object}.",
    ),
    "founded_year": (
        "The town of {subject} was founded in {object}.",
        "{subject} received its town charter in {object}.",
        "Chronicles date the founding of {subject} to {object}.",
    ),
    "river": (
        "{subject} lies on the banks of the {object}.",
        "The {object} flows through the town of {subject}.",
        "Mills along the {object} made {subject} prosperous.",
    ),
    "inventor": (
        "The {subject} was invented by {object}.",
        "{object} built the first working {subject}.",
        "Patent records credit {object} with the invention of the {subject}.",
    ),
    "invented_year": (
        "The {subject} was invented in {object}.",
        "The first {subject} was demonstrated in {object}.",
        "Workshop ledgers show the {subject} was first built in {object}.",
    ),
    TWO_HOP: (
        "The {subject} was invented by {inventor}, a native of {object}.",
        "{inventor}, who invented the {subject}, was born in {object}.",
        "The {subject} is the work of {inventor}, born in {object}.",
    ),
}
_YEAR_OFFSETS = tuple(range(1, 41))  # distractor years stay near the truth to be plausible
_LATEST_YEAR = 1999  # a distractor year in the future would give itself away


def _with_article(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


class KnowledgeBaseTasks(ProceduralTaskSource):
    """Multiple-choice questions about a generated fictional world (a controllable knowledge source).

    Knobs:
        n_entities: 24..20000 invented entities in the world (people, towns, rivers, inventions).
        n_choices: 2..6 options per question; exactly one is correct, the others are same-kind values
            (other towns, other rivers, years within 40 of the true year, ...).
        seed_world: builds the world with its own generator, so the world is fixed by this seed alone.
        relations: which question types to ask, any of ``QUESTION_TYPES`` (default: all). One of them,
            "inventor_born_in", is a two-hop question.

    Each task's evidence holds one or more true passages for the gold letter (``is_true=True``) and, for
    each wrong option, one fabricated passage that backs it in the same style (``is_true=False``), as in
    WAFER-QA; deceptive judges quote these. Evidence order is shuffled. The solution cites the true
    passage(s). ``Task.difficulty`` is the number of hops (1 or 2). The world is ``self.kb``; its facts
    are ``self.facts``.
    """

    name = "knowledge_mcq"
    scalar_draws = True  # every draw is emulated by SeededDraws: no numpy Generator is built per task

    def __init__(
        self, n_entities: int = 200, n_choices: int = 4, seed_world: int = 0, relations: Iterable[str] | None = None
    ) -> None:
        self.n_choices = require_int("n_choices", n_choices, 2, 6)
        listed = relations is None or (
            isinstance(relations, (list, tuple)) and all(isinstance(r, str) for r in relations)
        )
        chosen = tuple(QUESTION_TYPES if relations is None else relations) if listed else ()
        unknown = [r for r in chosen if r not in QUESTION_TYPES]
        if unknown or not chosen:
            allowed = ", ".join(QUESTION_TYPES)
            raise ArgumentError(f"relations must be a non-empty list from {allowed}, got {shown(relations)}")
        self.relations = tuple(r for r in QUESTION_TYPES if r in chosen)
        self.kb = KnowledgeBase(n_entities, seed_world)
        self._value_positions: dict[str, tuple[tuple[str, ...], dict[str, int] | None]] = {}

    @property
    def facts(self) -> tuple[Fact, ...]:
        return self.kb.facts

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n_entities": self.kb.n_entities,
            "n_choices": self.n_choices,
            "seed_world": self.kb.seed_world,
            "relations": list(self.relations),
        }

    def _options(self, draws: SeededDraws | GeneratorDraws, kind: str, gold: str) -> list[str]:
        wrong = self.n_choices - 1
        if kind == "year":
            # rng.choice(_YEAR_OFFSETS, wrong, replace=False) * rng.choice([-1, 1], wrong), then offsets that
            # would pass _LATEST_YEAR turned back: the same draws, in plain ints.
            magnitudes = [_YEAR_OFFSETS[i] for i in draws.sample(len(_YEAR_OFFSETS), wrong)]
            signs = [(-1, 1)[i] for i in draws.indices(2, wrong)]
            year = int(gold)
            distractors = []
            for magnitude, sign in zip(magnitudes, signs):
                offset = magnitude * sign
                distractors.append(str(year - magnitude if year + offset > _LATEST_YEAR else year + offset))
        else:
            # rng.choice over the values without gold, by index: index i of that pool is value i, or
            # i + 1 from gold's position on (values are distinct, so gold is at most one of them).
            values, positions = self._values(kind)
            if positions is None:  # repeated values (never in a KnowledgeBase): the pool drops every copy of gold
                pool = [value for value in values if value != gold]
                distractors = [pool[i] for i in draws.sample(len(pool), wrong)]
            else:
                position = positions.get(gold, len(values))
                distractors = [values[i if i < position else i + 1] for i in draws.sample(len(values) - (position < len(values)), wrong)]
        distractors.insert(draws.below(self.n_choices), gold)
        return distractors

    def _values(self, kind: str) -> tuple[tuple[str, ...], dict[str, int] | None]:
        """A kind's option values and each value's position (None if a value repeats), built once per source."""
        found = self._value_positions.get(kind)
        if found is None:
            values = self.kb.values(kind)
            positions: dict[str, int] | None = {value: index for index, value in enumerate(values)}
            if len(positions) != len(values):  # type: ignore[arg-type]
                positions = None
            found = self._value_positions[kind] = (values, positions)
        return found

    def _subject_fields(self, relation: str, subject: str) -> dict[str, str]:
        """The template fields of a relation's passages about ``subject`` other than the object."""
        fields = {"subject": subject}
        if RELATIONS.get(relation, ("",))[0] == "person":
            profession = self.kb.lookup(subject, "profession")
            fields |= {"profession": profession, "a_profession": _with_article(profession)}
        if relation == TWO_HOP:
            fields["inventor"] = self.kb.lookup(subject, "inventor")
        return fields

    def _passage(self, draws: SeededDraws | GeneratorDraws, relation: str, subject_fields: dict[str, str], value: str) -> str:
        templates = _PASSAGES[relation]
        return templates[draws.below(len(templates))].format(**subject_fields, object=value, a_object=_with_article(value))

    def _generate(self, rng: np.random.Generator, task_id: str) -> Task:
        # Plain-int draws (SeededDraws from from_seed): the values of the numpy calls the comments name.
        draws = plain_draws(rng)
        relation = self.relations[draws.below(len(self.relations))]
        subject_kind, kind = ("invention", "town") if relation == TWO_HOP else RELATIONS[relation]
        subjects = self.kb.entities[subject_kind]
        subject = subjects[draws.below(len(subjects))]
        if relation == TWO_HOP:
            inventor = self.kb.lookup(subject, "inventor")
            gold = self.kb.lookup(inventor, "born_in")
            hops = [("inventor", subject, inventor), ("born_in", inventor, gold)]
        else:
            gold = self.kb.lookup(subject, relation)
            hops = []
        options = self._options(draws, kind, gold)
        gold_letter = LETTERS[options.index(gold)]
        # (text, supports, is_true, cited in the solution)
        about_subject = self._subject_fields(relation, subject)  # shared by the gold and fabricated passages
        passages = [(self._passage(draws, relation, about_subject, gold), gold_letter, True, not hops)]
        passages += [(self._passage(draws, r, self._subject_fields(r, s), o), gold_letter, True, True) for r, s, o in hops]
        passages += [
            (self._passage(draws, relation, about_subject, option), LETTERS[i], False, False)
            for i, option in enumerate(options)
            if option != gold
        ]
        order = draws.permutation_list(len(passages))  # rng.permutation(len(passages))
        evidence = tuple([
            Evidence._built(f"{task_id}/ev-{k}", passages[i][0], passages[i][1], passages[i][2]) for k, i in enumerate(order)
        ])  # fmt: skip
        citations = " ".join([f'{e.id} says: "{e.text}"' for e, i in zip(evidence, order) if passages[i][3]])
        profession = about_subject.get("profession", "")  # a person's (their relations' fields hold it), else ""
        question = _QUESTIONS[relation].format(subject=subject, profession=profession)
        n_hops = 2 if hops else 1
        return Task._built(
            id=task_id,
            prompt=format_choices(question, options),
            answer=gold_letter,
            kind="choice",
            choices=tuple(options),
            solution=f"{citations} So the answer is ({gold_letter}) {gold}.",
            evidence=evidence,
            difficulty=float(n_hops),
            base=10,
            metadata=FrozenDict({"relation": relation, "subject": subject, "gold": gold, "hops": n_hops}),
            gold=gold_letter,  # a bare option letter is its own canonical form
        )
