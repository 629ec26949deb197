"""The agent registry: ``@register_agent("name", "alias")`` and ``make_agent("name", **kwargs)``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from feedbackgym.envs.core.registry import Registry
from feedbackgym.envs.core.checks import fail
from feedbackgym.envs.registration import check_kwargs

from feedbackgym.agents.base import Agent
from feedbackgym.envs.core import roles

A = TypeVar("A", bound=type)

agent_registry: Registry[Callable[..., Agent]] = Registry("agent")


def register_agent(name: str, *aliases: str, override: bool = False) -> Callable[[A], A]:
    """Class decorator that makes an agent constructible by name (in code and in Hydra configs)."""
    return agent_registry.decorator(name, *aliases, override=override)  # type: ignore[return-value]


def make_agent(name: str, **kwargs: Any) -> Agent:
    """Build a registered agent; an unknown name or argument gets a "Did you mean" error."""
    if not isinstance(name, str):
        raise fail("agent name", f"a registered agent name ({', '.join(registered_agents())})", name)
    constructor = agent_registry.get(name)
    check_kwargs(constructor, kwargs, f"agent `{name}`")
    return constructor(**kwargs)


def registered_agents() -> list[str]:
    return agent_registry.names()


def agent_kwargs(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor arguments of an agent spec: every key but ``name`` (a nested ``kwargs`` mapping is merged in,
    its values winning)."""
    kwargs = {key: value for key, value in spec.items() if key not in ("name", "kwargs")}
    nested = spec.get("kwargs")
    if nested is not None and not isinstance(nested, Mapping):
        raise fail(f"agent `{spec.get('name')}` kwargs", "a mapping of constructor arguments or None", nested)
    kwargs.update(nested or {})
    odd = [key for key in kwargs if not isinstance(key, str)]
    if odd:
        raise fail(f"agent `{spec.get('name')}` argument names", "strings", odd[0])
    return kwargs


# ------------------------------------------------------------------- the agent protocol, minimal
# An agent is any object with ``act(observation, info) -> str``. ``reset(seed)``, ``aact`` and
# ``stats()`` are optional: the runner and the views call them through these helpers.
def reset_agent(agent: Any, seed: Any) -> None:
    """Call ``agent.reset(seed=seed)`` when the agent has one (an agent without ``reset`` keeps its state)."""
    reset = getattr(agent, "reset", None)
    if callable(reset):
        reset(seed=seed)


async def agent_reply(agent: Any, observation: Any, info: Any) -> Any:
    """``await agent.aact(...)`` when the agent has it, else ``agent.act(...)`` (awaited when it returns an awaitable)."""
    aact = getattr(agent, "aact", None)
    if callable(aact):
        return await aact(observation, info)
    reply = agent.act(observation, info)
    if inspect.isawaitable(reply):
        reply = await reply
    return reply


def agent_stats(agent: Any) -> dict[str, Any]:
    """``agent.stats()`` when the agent has it and it returns a mapping, else ``{}``."""
    stats = getattr(agent, "stats", None)
    value = stats() if callable(stats) else None
    return dict(value) if isinstance(value, Mapping) else {}


def build_agents(specs: Mapping[str, Any], env: Any = None) -> dict[str, Any]:
    """Agents per role from agent objects (anything with ``act``; ``reset``, ``aact``, ``stats`` are optional), registered names, or
    ``{"name": ..., **kwargs}`` mappings (Hydra's agent configs).

    With ``env``, every role must be one of the environment's and every agent must fit its role
    (:func:`check_agents_fit`), which is checked before any agent is built.
    """
    if not isinstance(specs, Mapping):
        raise TypeError(f"agents must map agent ids to agents, got {specs!r}")
    if env is not None:
        roles.check_roles(env, specs)
    built: dict[str, Any] = {}
    for agent_id, value in specs.items():
        if callable(getattr(value, "act", None)):
            built[agent_id] = value
        elif isinstance(value, str):
            built[agent_id] = make_agent(value)
        elif isinstance(value, Mapping) and "name" in value:
            built[agent_id] = make_agent(value["name"], **agent_kwargs(value))
        else:
            raise TypeError(
                f"agents[{agent_id!r}] must be an Agent (any object with act(observation, info)), a registered name "
                f"or {{'name': ..., **kwargs}}, got {value!r}"
            )
    if env is not None:
        check_agents_fit(env, built)
    return built


def check_agents_fit(env: Any, agents: Mapping[str, Any]) -> None:
    """Refuse agents on roles ``env`` lacks or on roles they are not made for (see ``envs.core.roles``)."""
    roles.check_agents_fit(env, agents, name_of=lambda agent: agent_registry.name_of(type(agent)))
