"""Shared helpers for the environment, wrapper and agent tests.

Tests reach the helpers through fixtures (``plan_solver``, ``verdict_teacher``, ``wrong_answer``,
``play``, ``steps``, ``time_limit``) rather than ``import conftest``, which breaks as soon as a second conftest exists.
"""

from __future__ import annotations

import contextlib
import re
import signal
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest

from feedbackgym.agents.base import Agent

SOLVER, TEACHER = "solver_0", "teacher_0"


@pytest.fixture(autouse=True)
def _secrets_stay_in_their_test() -> Iterator[None]:
    """The process-wide set of known secrets, as it was before each test: a key one test registers (a
    hostile knob of ``x`` characters) must not redact another test's text."""
    from feedbackgym.agents import secrets

    before = set(secrets._known)
    yield
    secrets._known.clear()
    secrets._known.update(before)


@pytest.fixture
def restore_registries() -> Iterator[None]:
    """Every registry as it was before the test: what a test registers (an environment, an agent, a
    wrapper, a task source, an encoder) does not reach the other tests."""
    from feedbackgym.agents.registration import agent_registry
    from feedbackgym.envs.registration import registry, wrapper_registry
    from feedbackgym.envs.tasks.registration import TASK_SOURCES
    from feedbackgym.wrappers.encoding import _DEFAULT_KINDS, ENCODERS

    plain = [(table, dict(table)) for table in (registry, ENCODERS, _DEFAULT_KINDS)]
    named = [(r, dict(r._entries), dict(r._aliases)) for r in (agent_registry, wrapper_registry, TASK_SOURCES)]
    try:
        yield
    finally:
        for table, entries in plain:
            table.clear()
            table.update(entries)
        for r, entries, aliases in named:
            r._entries.clear()
            r._entries.update(entries)
            r._aliases.clear()
            r._aliases.update(aliases)


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def wrong_answer(info: Mapping[str, Any], k: int = 0) -> str:
    """A readable answer to the solver's task that is not the gold one; different k, different answers."""
    task, gold = info["task"], info["latent"]["gold"]
    if task["choices"]:
        letters = [LETTERS[i] for i in range(len(task["choices"])) if LETTERS[i] != gold]
        return letters[k % len(letters)]
    if task["base"] == 16:
        return format(int(gold, 16) + k + 1, "X")
    return str(Decimal(gold) + k + 1)


class PlanSolver(Agent):
    """Replies by a plan, one entry per move: ``"R"`` the gold answer (read from ``info["latent"]``),
    ``"W<k>"`` the k-th wrong answer (``"W"`` is ``"W0"``), anything else sent verbatim (also non-strings).

    After the plan runs out it repeats the last entry. ``seen`` keeps every (observation, info) it got.
    """

    def __init__(self, plan: Sequence[Any]) -> None:
        super().__init__()
        self.plan = list(plan)
        self.moves = 0
        self.seen: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self.moves = 0
        self.seen = []

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> Any:
        self.seen.append((observation, info))
        entry = self.plan[min(self.moves, len(self.plan) - 1)]
        self.moves += 1
        if entry == "R":
            return f"The answer is \\boxed{{{info['latent']['gold']}}}."
        wrong = re.fullmatch(r"W(\d*)", entry) if isinstance(entry, str) else None
        if wrong:
            return f"The answer is \\boxed{{{wrong_answer(info, int(wrong.group(1) or 0))}}}."
        return entry


class VerdictTeacher(Agent):
    """A teacher that states the grader's verdict, optionally followed by fixed critique text.

    ``reply`` may be a callable ``(info) -> str`` for full control.
    """

    def __init__(self, critique: str = "", reply: Callable[[dict[str, Any]], Any] | None = None) -> None:
        super().__init__()
        self.critique = critique
        self.reply = reply
        self.seen: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self.seen = []

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> Any:
        self.seen.append((observation, info))
        if self.reply is not None:
            return self.reply(info)
        return f"Your answer is {info['request']['verdict']}. {self.critique}".strip()


def play(env: Any, agents: Mapping[str, Agent], seed: int | None = 0, max_steps: int = 10_000) -> list[str]:
    """Play one episode by hand (plain PettingZoo loop); returns the ids of the agents that moved, in order."""
    movers: list[str] = []
    for _ in steps(env, agents, seed, max_steps, movers):
        pass
    return movers


def steps(
    env: Any, agents: Mapping[str, Agent], seed: int | None = 0, max_steps: int = 10_000, movers: list[str] | None = None
) -> Iterator[str]:
    """Like :func:`play`, but yields after every step so that episodes can be interleaved."""
    env.reset(seed=seed)
    for index, agent in enumerate(env.unwrapped.possible_agents):
        agents[agent].reset(seed=None if seed is None else seed * 100 + index)
    for agent in env.agent_iter(max_steps):
        observation, _, terminated, truncated, info = env.last()
        if terminated or truncated:
            env.step(None)
        else:
            if movers is not None:
                movers.append(agent)
            env.step(agents[agent].act(observation, info))
        yield agent


class StepTooSlow(AssertionError):
    pass


@contextlib.contextmanager
def time_limit(seconds: float, what: str = "step") -> Iterator[None]:
    """Fail (instead of hanging) when the block runs longer than ``seconds``: a quadratic parser on a
    megabyte of hostile text takes minutes, and the suite must stay fast even when it finds one."""

    def expire(signum: int, frame: Any) -> None:
        raise StepTooSlow(f"{what} took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(name="time_limit")
def time_limit_fixture() -> Callable[..., contextlib.AbstractContextManager[None]]:
    return time_limit


@pytest.fixture
def plan_solver() -> type[PlanSolver]:
    return PlanSolver


@pytest.fixture
def verdict_teacher() -> type[VerdictTeacher]:
    return VerdictTeacher


@pytest.fixture(name="wrong_answer")
def wrong_answer_fixture() -> Callable[..., str]:
    return wrong_answer


@pytest.fixture(name="play")
def play_fixture() -> Callable[..., list[str]]:
    return play


@pytest.fixture(name="steps")
def steps_fixture() -> Callable[..., Iterator[str]]:
    return steps
