"""The cheap task paths change nothing: tasks are the ones the plain numpy code made, Task._built is
Task(...), and Task.normalize's memo answers what the uncached function answers."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import pickle

import numpy as np
import pytest

from feedbackgym.envs.tasks import Evidence, FrozenDict, Task, make_task_source
from feedbackgym.envs.tasks import base as task_base

# sha256 prefixes of 150 seeds per configuration (sample() from default_rng(seed), and from_seed of a
# 41-bit seed), written by the generators as they were before their draws became plain Python: numpy
# scalar calls, Generator.choice and Generator.permutation. Never regenerate these.
PINNED = [
    ("arithmetic", {}, "96ef5e9056ba9a6cde02"),
    ("arithmetic", {"difficulty": 5}, "560061462370f8151f67"),
    ("arithmetic", {"difficulty": 3, "operations": "-/", "allow_negative": True}, "aca5c4454651643e241e"),
    ("arithmetic", {"difficulty": 4, "operations": "*/"}, "6e049757d83face5cb91"),
    ("knowledge_mcq", {}, "7ac15029cfe88a81cab5"),
    ("knowledge_mcq", {"n_choices": 6, "n_entities": 24}, "2efad603a6856be759b9"),
    ("knowledge_mcq", {"n_choices": 2, "relations": ["born_year", "inventor_born_in"]}, "84a28fc0af3680743c33"),
    ("multiplication", {"digits": 3}, "a193b5463c47a417568a"),
    ("hex_multiplication", {"digits": 4, "operand_digits": "decimal"}, "22f2d2c8207223509768"),
]


def _digest(name: str, kwargs: dict, seeds: range = range(150)) -> str:
    source = make_task_source(name, **kwargs)
    h = hashlib.sha256()
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for task in (source.sample(rng), source.from_seed(seed * 7919 + 2**40)):
            h.update(repr((task, dict(task.metadata), [type(v).__name__ for v in task.metadata.values()])).encode())
        h.update(repr(rng.bit_generator.state).encode())  # sample() leaves the caller's stream where numpy did
    return h.hexdigest()[:20]


@pytest.mark.parametrize(("name", "kwargs", "expected"), PINNED)
def test_generated_tasks_are_the_ones_numpys_calls_made(name: str, kwargs: dict, expected: str) -> None:
    assert _digest(name, kwargs) == expected


@pytest.mark.parametrize(("name", "kwargs"), [("arithmetic", {"difficulty": 5}), ("knowledge_mcq", {"n_choices": 6}),
                                              ("knowledge_mcq", {"relations": ["founded_year", "river", "profession"]})])
def test_a_numpy_generator_and_seeded_draws_generate_the_same_task(name: str, kwargs: dict) -> None:
    """_generate handed default_rng(seed) (numpy's own calls) builds what from_seed builds from the seed."""
    source = make_task_source(name, **kwargs)
    for seed in range(120):
        task = source.from_seed(seed)
        assert source._generate(np.random.default_rng(seed), task.id) == task  # type: ignore[attr-defined]


def _rebuilt(task: Task) -> Task:
    """The same fields through Task.__init__ and __post_init__ (lists and a plain dict, to be converted)."""
    return Task(id=task.id, prompt=task.prompt, answer=task.answer, kind=task.kind, choices=list(task.choices),
                solution=task.solution, evidence=[Evidence(e.id, e.text, e.supports, e.is_true) for e in task.evidence],
                difficulty=task.difficulty, base=task.base, metadata=copy.deepcopy(dict(task.metadata)))


@pytest.mark.parametrize("name", ["arithmetic", "knowledge_mcq", "multiplication", "hex_multiplication"])
def test_built_tasks_equal_tasks_built_through_init(name: str) -> None:
    source = make_task_source(name)
    for seed in range(80):
        task = source.from_seed(seed)
        plain = _rebuilt(task)
        assert task == plain and hash(task) == hash(plain) and repr(task) == repr(plain)
        assert list(vars(task)) == list(vars(plain))  # the same attributes, in the same order
        assert type(task.metadata) is FrozenDict and task.metadata == plain.metadata
        assert [type(v) for v in task.metadata.values()] == [type(v) for v in plain.metadata.values()]
        assert all(type(e) is Evidence for e in task.evidence) and type(task.choices) is tuple
        assert task.normalize(task.answer) == plain._normalize(plain.answer) == Task._normalize(task, task.answer)
        assert dataclasses.replace(task) == task


def test_built_evidence_equals_evidence() -> None:
    built = Evidence._built("t/ev-0", "text", "B", False)
    assert built == Evidence("t/ev-0", "text", "B", False) and hash(built) == hash(Evidence("t/ev-0", "text", "B", False))
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.text = "other"  # type: ignore[misc]


HOSTILE = [
    "", " ", "42", " 42 ", "42.", "42.0", "-0", "+7", "1,234", "$5", "0x1F", "1f", "−3", "4e3", "nan", "inf", "1/2",
    "A", "a", "(B)", "**C**", "[d]", "B.", "E)", "Z", "(A) north", "north", "NORTH ", "the answer is B", "\x00", "٣",
    "１２", "B" * 300, "9" * 5000, "A\nB", "(A)", "\t", "None", "True", "😀", "ß", "ﬃ",
]  # fmt: skip


def _tasks() -> list[Task]:
    return [
        make_task_source("arithmetic").from_seed(3),
        make_task_source("hex_multiplication").from_seed(4),
        make_task_source("knowledge_mcq").from_seed(5),
        Task(id="c", prompt="p", answer="B", kind="choice", choices=["north", "B", "a"]),
        Task(id="t", prompt="p", answer="The Answer.", kind="text"),
        Task(id="d", prompt="p", answer="-0.50", kind="numeric"),
    ]


@pytest.mark.parametrize("index", range(6))
def test_memoised_normalize_answers_what_the_function_answers(index: int) -> None:
    task = _tasks()[index]
    inputs = [*HOSTILE, *task.choices, task.answer, 7, -3, 2.5, float("nan"), True, None, b"A", ["A"], 10**30]
    for _ in range(2):  # the second pass answers from the memo
        for value in inputs:
            expected = Task._normalize(task, value)  # type: ignore[arg-type]
            got = task.normalize(value)  # type: ignore[arg-type]
            assert got == expected or (got is None and expected is None), (task.id, value)
            assert task.check(value) == (expected is not None and expected == Task._normalize(task, task.answer))  # type: ignore[arg-type]


def test_the_memo_is_bounded_and_skips_long_answers() -> None:
    task = make_task_source("arithmetic").from_seed(0)
    for number in range(1000):
        assert task.normalize(f" {number} ") == str(number)
    assert len(task._normalized) == task_base._MEMO_MAX_ENTRIES  # type: ignore[arg-type]
    fresh = make_task_source("arithmetic").from_seed(0)
    long_answer = "1" * (task_base._MEMO_MAX_CHARS + 1)
    assert fresh.normalize(long_answer) == long_answer and long_answer not in fresh._normalized  # type: ignore[operator]


def test_a_str_subclass_is_normalised_but_not_memoised() -> None:
    class Sneaky(str):
        def strip(self, *args: object) -> str:  # a subclass may answer differently from str
            return "999"

    task = make_task_source("arithmetic").from_seed(0)
    assert task.normalize(Sneaky("12")) == Task._normalize(task, Sneaky("12")) == "999"
    assert task.normalize("12") == "12"  # a plain "12" is not answered by the subclass's memo entry
    assert all(type(k) is str for k in task._normalized)  # type: ignore[union-attr]


def test_the_memo_is_no_part_of_equality_hashing_repr_or_copies() -> None:
    task = make_task_source("knowledge_mcq").from_seed(9)
    before = (hash(task), repr(task))
    for answer in ("A", "b", "(C)", "junk"):
        task.normalize(answer)
    assert (hash(task), repr(task)) == before and task == make_task_source("knowledge_mcq").from_seed(9)
    for copied in (pickle.loads(pickle.dumps(task)), copy.deepcopy(task), copy.copy(task)):
        assert copied == task and copied.normalize("(C)") == "C" and copied.check(task.answer)
    old = pickle.loads(pickle.dumps(task))
    del old.__dict__["_normalized"]  # a task pickled before the memo existed
    assert old.normalize(old.answer) == old.answer and old == task


def test_an_integer_of_thousands_of_digits_is_read_not_raised() -> None:
    from feedbackgym.envs.tasks.answers import normalize_numeric

    for text in ("9" * 5000, "9" * 5000 + ".0", "-" + "1" * 4500 + ".", "0" * 4100 + "12"):
        canonical = normalize_numeric(text)  # raised ValueError (int-to-str digit limit) before
        assert canonical == text.rstrip(".").removesuffix(".0").lstrip("0")


@pytest.mark.parametrize("index", range(6))
def test_aliases_are_worked_out_once_and_equal_the_uncached_ones(index: int) -> None:
    task = _tasks()[index]
    first = task.aliases()
    assert first == Task._find_aliases(task) and task.aliases() is first
    assert dataclasses.replace(task).aliases() == first and pickle.loads(pickle.dumps(task)).aliases() == first
    assert repr(task) == repr(_rebuilt(task)) and task == _rebuilt(task)


def test_format_choices_refuses_more_options_than_letters() -> None:
    from feedbackgym.envs.tasks.answers import format_choices

    assert format_choices("Q? ", ["x", "y"]) == "Q?\nChoices:\n(A) x\n(B) y"
    with pytest.raises(ValueError, match="0..25"):
        format_choices("Q", [str(i) for i in range(27)])


def test_options_from_a_world_with_repeated_values_drop_every_copy_of_gold() -> None:
    source = make_task_source("knowledge_mcq", relations=["river"])
    rivers = source.kb.entities["river"]
    source.kb.values = lambda kind: (*rivers, rivers[0], rivers[1]) if kind == "river" else ()  # type: ignore[method-assign]
    for seed in range(60):
        task = source.from_seed(seed)
        gold = task.metadata["gold"]
        assert task.choices.count(gold) == 1  # no copy of gold among the distractors
        assert source._generate(np.random.default_rng(seed), task.id) == task  # type: ignore[attr-defined]
