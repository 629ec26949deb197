"""Which agent may play which role: an environment's families and roles, an agent's ``plays``.

An agent says which roles it is made for with a ``plays`` attribute of ``"Family/role"`` strings:
the family is an environment class's name without ``Env`` (``SolverFeedback``, ``Negotiation``),
the role an agent id without its number (``solver`` for ``solver_0``). An agent without ``plays``
(or with an empty one) plays any role. These checks live beside the environments so that wrappers
can use them without importing the agents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

GENERIC_AGENTS = "llm, random, human, ppo"


def env_families(env: Any) -> list[str]:
    """The families an environment (or environment class) belongs to: its class's name and its bases', without ``Env``."""
    cls = env if isinstance(env, type) else type(getattr(env, "unwrapped", env))
    names = [klass.__name__ for klass in cls.__mro__]
    return [name[: -len("Env")] if name.endswith("Env") else name for name in names if name not in ("object", "AECEnv")]


def role_of(agent_id: str) -> str:
    """An agent id's role: ``solver_0`` -> ``solver``."""
    head, _, tail = agent_id.rpartition("_")
    return head if head and tail.isdigit() else agent_id


def fits(plays: tuple[str, ...], env: Any, agent_id: str) -> bool:
    """Whether an agent that ``plays`` these roles may play ``agent_id`` of ``env`` (empty: anything)."""
    if not plays:
        return True
    families, role = set(env_families(env)), role_of(agent_id)
    return any(entry.partition("/")[0] in families and entry.partition("/")[2] == role for entry in plays)


def env_name(env: Any) -> str:
    """``SolverFeedback-v0 (SolverFeedback)``, or the family alone for an unregistered env."""
    env_id = getattr(getattr(env, "spec", None), "id", None)
    family = env_families(env)[0]
    return f"{env_id} ({family})" if env_id else family


def check_roles(env: Any, agents: Mapping[str, Any]) -> None:
    """Every key of ``agents`` must be an agent id of ``env``; the error names the environment's roles."""
    possible = list(env.unwrapped.possible_agents)
    unknown = [agent_id for agent_id in agents if agent_id not in possible]
    if unknown:
        which = "is not a role" if len(unknown) == 1 else "are not roles"
        raise ValueError(f"agents given for {unknown}, which {which} of {env_name(env)}; its roles are {possible}")


def check_agents_fit(env: Any, agents: Mapping[str, Any], *, name_of: Callable[[Any], str | None] | None = None) -> None:
    """Refuse agents mounted on roles the environment lacks, or on roles they are not made for.

    An agent may also define ``check_fit(env, agent_id)`` for finer checks (a PPO checkpoint compares
    the environment, role and task it was trained on). ``name_of`` names an agent in messages
    (the agent registry's name); by default its class name.
    """
    check_roles(env, agents)
    for agent_id, agent in agents.items():
        plays = tuple(getattr(agent, "plays", ()) or ())
        if not fits(plays, env, agent_id):
            name = (name_of(agent) if name_of else None) or type(agent).__name__
            made_for = ", ".join(entry.replace("/", " ") for entry in plays)
            raise ValueError(
                f"agents[{agent_id!r}]: {name} plays {made_for}, not {agent_id!r} of {env_name(env)}; "
                f"mount an agent made for that role, or one that plays any role ({GENERIC_AGENTS})"
            )
        check_fit = getattr(agent, "check_fit", None)
        if callable(check_fit):
            check_fit(env, agent_id)
