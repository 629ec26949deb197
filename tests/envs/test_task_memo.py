"""``Task.normalize`` remembers its readings per task, and a choice task knows its bare letters from the start."""

from __future__ import annotations

import dataclasses

import pytest

from feedbackgym.envs.tasks import Task

CHOICE = Task(id="t", prompt="Pick one.", answer="B", kind="choice", choices=("Oslo", "Bergen", "Tromsø"))


class CountingTask(Task):
    """A task that records the texts it actually reads (past the memo)."""

    calls: list[str] = []

    def _normalize(self, answer: str) -> str | None:
        CountingTask.calls.append(answer)
        return super()._normalize(answer)


@pytest.mark.parametrize("n_choices", [0, 1, 2, 4, 26])
def test_bare_option_letters_known_from_the_start_read_as_the_task_reads_them(n_choices: int) -> None:
    choices = tuple(f"option {i}" for i in range(n_choices))
    task = Task(id="c", prompt="Pick.", answer="A", kind="choice", choices=choices)
    fresh = Task(id="c", prompt="Pick.", answer="A", kind="choice", choices=choices)
    assert len(task._first_memo()) == (n_choices or 26)  # known without a reading
    for code in range(ord("A"), ord("Z") + 1):
        for text in (chr(code), chr(code).lower(), f"({chr(code)})"):
            assert task.normalize(text) == fresh._normalize(text)  # the memo's answer is the reading's


def test_a_letter_read_from_memory_costs_no_reading_but_other_texts_are_read_once() -> None:
    CountingTask.calls = []
    # A subclass may read letters its own way: nothing is assumed for it, each text is read once.
    task = CountingTask(**dataclasses.asdict(CHOICE))
    assert task._first_memo() == {}
    for _ in range(3):
        assert task.normalize("(b)") == "B" and task.normalize("C") == "C"
    assert CountingTask.calls.count("(b)") == 1 and CountingTask.calls.count("C") == 1


def test_no_letter_is_assumed_beyond_the_26() -> None:
    many = Task(id="m", prompt="Pick.", answer="A", kind="choice", choices=("x",))
    # Past the 26 letters (a Task cannot be built so; forced here, and the memo forgotten): no letter is
    # assumed, and reading one is the task's own error.
    object.__setattr__(many, "choices", tuple(f"o{i}" for i in range(27)))
    object.__setattr__(many, "_normalized", None)
    assert many._first_memo() == {}
    with pytest.raises(ValueError):
        many.normalize("A")
