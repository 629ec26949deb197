"""feedbackgym: multi-agent environments in which language agents give, receive and learn from feedback.

The facade re-exports the few names most scripts need; everything else lives in the subpackages
``feedbackgym.envs``, ``feedbackgym.wrappers``, ``feedbackgym.agents`` and ``feedbackgym.experiments``.
Importing it stays cheap: agents and the runner load on first use.
"""

from __future__ import annotations

from typing import Any

from feedbackgym.envs import make, make_parallel, register, registry, spec

__version__ = "0.1.0"

__all__ = ["__version__", "make", "make_agent", "make_parallel", "register", "registry", "rollout", "spec"]


def make_agent(name: str, **kwargs: Any) -> Any:
    """Build a registered agent by name (see ``feedbackgym.agents``)."""
    from feedbackgym.agents import make_agent as _make_agent

    return _make_agent(name, **kwargs)


def rollout(env: Any, agents: Any, seed: int | None = None, **kwargs: Any) -> Any:
    """Play one episode and return its :class:`~feedbackgym.experiments.runner.EpisodeResult`.

    ``env`` is an environment id or instance; ``agents`` maps each agent id to an agent, or to the
    name of a registered agent.
    """
    from feedbackgym.experiments.runner import rollout as _rollout

    return _rollout(env, agents, seed=seed, **kwargs)
