"""The agent registry: ``@register_agent("name", "alias")`` and ``make_agent("name", **kwargs)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from feedbackgym.envs.core.registry import Registry
from feedbackgym.envs.registration import check_kwargs

from feedbackgym.agents.base import Agent

A = TypeVar("A", bound=type)

agent_registry: Registry[Callable[..., Agent]] = Registry("agent")


def register_agent(name: str, *aliases: str, override: bool = False) -> Callable[[A], A]:
    """Class decorator that makes an agent constructible by name (in code and in Hydra configs)."""
    return agent_registry.decorator(name, *aliases, override=override)  # type: ignore[return-value]


def make_agent(name: str, **kwargs: Any) -> Agent:
    """Build a registered agent; an unknown name or argument gets a "Did you mean" error."""
    constructor = agent_registry.get(name)
    check_kwargs(constructor, kwargs, f"agent `{name}`")
    return constructor(**kwargs)


def registered_agents() -> list[str]:
    return agent_registry.names()
