"""Agents, interchangeable per role through a registry (scripted, human; LLM and torch in later modules)."""

from feedbackgym.agents.base import Agent
from feedbackgym.agents.registration import agent_registry, make_agent, register_agent, registered_agents
from feedbackgym.agents import human, scripted  # noqa: F401  (registers the built-in agents)

__all__ = ["Agent", "agent_registry", "make_agent", "register_agent", "registered_agents"]
