"""Agents, interchangeable per role through a registry: scripted behaviour models, LLMs, a human."""

from feedbackgym.agents.base import Agent
from feedbackgym.agents.registration import agent_registry, make_agent, register_agent, registered_agents
from feedbackgym.agents import human, llm, scripted  # noqa: F401  (registers the built-in agents; litellm loads lazily)

__all__ = ["Agent", "agent_registry", "make_agent", "register_agent", "registered_agents"]
# issue 6: a trained torch policy; a lazy entry point, so importing the agents never loads torch
agent_registry.register("ppo", "feedbackgym.agents.torch.ppo_agent:PPOAgent")
# issue 11: a language model inside the process; lazy too, so torch and transformers load only when it is built
agent_registry.register("hf", "feedbackgym.agents.hf.agent:HFAgent")
