"""``AnswerReader``: a task's ``normalize``, remembered for an episode, with the very same answers."""

from __future__ import annotations

import dataclasses

import pytest

from feedbackgym.envs.deception import AnswerReader
from feedbackgym.envs.tasks import Task

CHOICE = Task(id="t", prompt="Pick one.", answer="B", kind="choice", choices=("Oslo", "Bergen", "Tromsø"))
NUMERIC = Task(id="n", prompt="2 + 2?", answer="4", kind="numeric")
TEXTS = ["B", "(b)", " **C** ", "bergen", "(A) Oslo", "D", "", "nonsense", "4", "4.0", "1,234", "-0", "x" * 300]


@pytest.mark.parametrize("task", [CHOICE, NUMERIC], ids=["choice", "numeric"])
def test_it_reads_what_the_task_reads(task: Task) -> None:
    read = AnswerReader(task)
    for text in TEXTS * 2:  # the second pass answers from memory
        assert read(text) == task.normalize(text)


CALLS: list[str] = []


class CountingTask(Task):
    """A task that records the texts it normalises."""

    def normalize(self, answer: str) -> str | None:
        CALLS.append(answer)
        return super().normalize(answer)


def test_a_text_is_normalised_once_and_memory_is_bounded() -> None:
    read = AnswerReader(CountingTask(**dataclasses.asdict(CHOICE)))
    CALLS.clear()
    for _ in range(3):
        assert read("(b)") == "B"
    assert CALLS == ["(b)"]
    for i in range(AnswerReader.MAX_REMEMBERED + 10):
        read(f"option {i}")
    CALLS.clear()
    read(f"option {AnswerReader.MAX_REMEMBERED + 5}")  # past the bound: read again, not remembered
    read("option 0")  # remembered
    assert CALLS == [f"option {AnswerReader.MAX_REMEMBERED + 5}"]


def test_an_error_of_the_task_is_raised_and_not_remembered() -> None:
    class Failing(Task):
        def normalize(self, answer: str) -> str | None:
            if answer == "boom":
                raise ArithmeticError("no")
            return super().normalize(answer)

    read = AnswerReader(Failing(**dataclasses.asdict(NUMERIC)))
    for _ in range(2):
        with pytest.raises(ArithmeticError):
            read("boom")
    assert read("7") == "7"


@pytest.mark.parametrize("n_choices", [0, 1, 2, 4, 26])
def test_bare_option_letters_known_from_the_start_read_as_the_task_reads_them(n_choices: int) -> None:
    choices = tuple(f"option {i}" for i in range(n_choices))
    task = Task(id="c", prompt="Pick.", answer="A", kind="choice", choices=choices)
    read = AnswerReader(task)
    assert len(read._known) == (n_choices or 26)  # known without a call to normalize
    for code in range(ord("A"), ord("Z") + 1):
        for text in (chr(code), chr(code).lower(), f"({chr(code)})"):
            assert read(text) == task.normalize(text)


def test_no_letter_is_assumed_beyond_the_plain_task() -> None:
    many = Task(id="m", prompt="Pick.", answer="A", kind="choice", choices=("x",))
    # Past the 26 letters (a Task cannot be built so; forced here, and Task.normalize's memo forgotten):
    # the reader assumes no letter, and reading one is the task's own error.
    object.__setattr__(many, "choices", tuple(f"o{i}" for i in range(27)))
    object.__setattr__(many, "_normalized", None)
    assert AnswerReader(many)._known == {}
    with pytest.raises(ValueError):
        AnswerReader(many)("A")
    assert AnswerReader(CountingTask(**dataclasses.asdict(CHOICE)))._known == {}  # a subclass may read letters its own way
