"""The scripted cast of every environment: which scripted agent plays each role by default.

Used by tests and benchmarks that drive every registered environment offline (the determinism and
hostile-input checks); the Hydra configs (``conf/experiment``) pick casts for the experiments.
"""

from __future__ import annotations

import re
from typing import Any

from feedbackgym.agents.base import Agent
from feedbackgym.agents.registration import make_agent

# By role (an agent id without its index), then by environment class where a role name is shared.
_BY_ROLE = {
    "teacher": "scripted_teacher",
    "peer": "honest_peer",
    "moderator": "scripted_moderator",
    "actor": "scripted_actor",
    "seller": "concession_negotiator",
    "buyer": "concession_negotiator",
    "assistant": "scripted_assistant",
    "user": "simulated_user",
    "generator": "scripted_generator",
}
_BY_ENV_ROLE = {
    ("DeceptiveJudgeEnv", "solver"): "susceptible_solver",
    ("DeceptiveJudgeEnv", "judge"): "intent_judge",
    ("SolverFeedbackEnv", "solver"): "friction_solver",
    ("JudgeProtocolEnv", "judge"): "distractible_judge",
    ("CriticEnv", "critic"): "scripted_critic",
    ("NegotiationEnv", "critic"): "critic_coach",
}


def scripted_cast_names(env: Any) -> dict[str, str]:
    """The registered agent name for each of ``env``'s agents (an env instance, wrapped or not)."""
    base = env.unwrapped
    kind = type(base).__name__
    names = {}
    for agent_id in base.possible_agents:
        role = re.sub(r"_\d+$", "", agent_id)
        name = _BY_ENV_ROLE.get((kind, role)) or _BY_ROLE.get(role)
        if name is None:
            if role in ("solver", "judge", "critic"):  # a subclass of a known env: look up its bases
                for parent in type(base).__mro__[1:]:
                    name = _BY_ENV_ROLE.get((parent.__name__, role))
                    if name:
                        break
            if name is None:
                raise KeyError(f"no scripted agent for role {role!r} of {kind}; known roles: {sorted({*_BY_ROLE, *(r for _, r in _BY_ENV_ROLE)})}")
        names[agent_id] = name
    return names


def scripted_cast(env: Any) -> dict[str, Agent]:
    """Fresh scripted agents for every role of ``env``."""
    return {agent_id: make_agent(name) for agent_id, name in scripted_cast_names(env).items()}
