"""The registry of task sources: ``make_task_source("hex_multiplication", digits=5)``."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from feedbackgym.envs.core.checks import ArgumentError, ResetOption, keyword_parameters, require_mapping, require_text, shown
from feedbackgym.envs.core.registry import Registry, UnknownNameError, did_you_mean

from .base import Task, TaskSource

TaskSourceFactory = Callable[..., TaskSource]

TASK_SOURCES: Registry[TaskSourceFactory] = Registry("task source")
_DEFAULT_KWARGS: dict[str, dict[str, Any]] = {}


class TaskSourceArgumentError(TypeError, ValueError):
    """A bad keyword for a task source; both a TypeError (like a bad call) and a ValueError (like a bad config)."""


def register_task_source(
    name: str,
    factory: TaskSourceFactory | str | None = None,
    *,
    defaults: Mapping[str, Any] | None = None,
    aliases: tuple[str, ...] = (),
    override: bool = False,
) -> Any:
    """Register a TaskSource class or factory (or a lazy ``"package.module:Attr"`` string) under ``name``.

    ``defaults`` are keyword arguments applied before the caller's (how "hex_multiplication" is
    ``MultiplicationTasks`` with ``base=16``). Without ``factory`` it returns a class decorator.
    """
    if factory is None:

        def decorate(cls: TaskSourceFactory) -> TaskSourceFactory:
            register_task_source(name, cls, defaults=defaults, aliases=aliases, override=override)
            return cls

        return decorate
    TASK_SOURCES.register(name, factory, aliases=aliases, override=override)
    _DEFAULT_KWARGS[name] = dict(defaults or {})
    return factory


def task_sources() -> list[str]:
    """The registered names, sorted."""
    return TASK_SOURCES.names()


def _check_arguments(name: str, factory: TaskSourceFactory, kwargs: Mapping[str, Any]) -> None:
    signature = keyword_parameters(factory)
    if signature is None:
        return
    accepted, required = signature
    unknown = [key for key in kwargs if key not in accepted]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, accepted, n=1)
            hints.append(f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key))
        raise TaskSourceArgumentError(
            f"task source `{name}` got unknown argument(s) {', '.join(hints)}; "
            f"accepted: {', '.join(accepted) or '(none)'}"
        )
    missing = [key for key in required if key not in kwargs]
    if missing:
        raise TaskSourceArgumentError(f"task source `{name}` needs argument(s) {', '.join(map(repr, missing))}")


def make_task_source(name: str, **kwargs: Any) -> TaskSource:
    """Build a registered task source; unknown names raise RegistryError with a "Did you mean" hint."""
    factory = TASK_SOURCES.get(name)
    canonical = TASK_SOURCES.canonical(name)
    arguments = {**_DEFAULT_KWARGS.get(canonical, {}), **kwargs}
    _check_arguments(canonical, factory, arguments)
    source = factory(**arguments)
    if not isinstance(source, TaskSource):
        raise TypeError(f"task source `{canonical}` built a {type(source).__name__}, not a TaskSource")
    return source


_HERE = "feedbackgym.envs.tasks"
register_task_source("arithmetic", f"{_HERE}.arithmetic:ArithmeticTasks")
register_task_source("multiplication", f"{_HERE}.arithmetic:MultiplicationTasks", defaults={"base": 10})
register_task_source("hex_multiplication", f"{_HERE}.arithmetic:MultiplicationTasks", defaults={"base": 16})
register_task_source("knowledge_mcq", f"{_HERE}.knowledge:KnowledgeBaseTasks")
register_task_source("jsonl", f"{_HERE}.jsonl:JsonlTasks")


def resolve_task_source(task: str | TaskSource, task_kwargs: Mapping[str, Any] | None = None) -> TaskSource:
    """An environment's ``task`` argument as a source: a registered name (built with ``task_kwargs``) or a source."""
    if isinstance(task, TaskSource):
        if task_kwargs:
            raise ArgumentError(f"task_kwargs must be empty when task is a TaskSource (it is built already), got {shown(task_kwargs)}")
        return task
    arguments = require_mapping("task_kwargs", task_kwargs) or {}
    if not isinstance(task, str):
        raise ArgumentError(f"task must be a registered task source name ({', '.join(task_sources())}) or a TaskSource, got {shown(task)}")
    name = require_text("task", task, max_chars=200)
    if name not in TASK_SOURCES:
        raise UnknownNameError(f"task must be a registered task source or a TaskSource: {did_you_mean(name, task_sources(), 'task source')}")
    try:
        return make_task_source(name, **dict(arguments))
    except TaskSourceArgumentError as error:  # say which knob of the environment it came through
        raise TaskSourceArgumentError(f"task_kwargs: {error}") from None


def episode_task(source: TaskSource, options: Mapping[str, Any], rng: np.random.Generator) -> Task:
    """The task of an episode: the one ``reset(options={"task": ...})`` passed, else a draw from ``source``."""
    given = options.get("task")
    return source.sample(rng) if given is None else require_task_option(given)


def require_task_option(given: Any) -> Task:
    """``options["task"]`` when it is a Task: a prompt string or a dict would have been ignored silently."""
    if not isinstance(given, Task):
        raise ArgumentError(f"options['task'] must be a Task (feedbackgym.envs.tasks.Task) or None, got {shown(given)}")
    return given


# reset(options=...)'s entry for the episode's task, as environments list it in their reset_options.
TASK_OPTION = {"task": ResetOption("a Task, the episode's task", require_task_option)}
