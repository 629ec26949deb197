"""Torch policies trained with RL on the numeric views: a CleanRL-style PPO and the ``ppo`` agent.

This package is the only place that imports torch; ``feedbackgym.agents`` registers ``ppo`` by a
lazy entry point, so importing the agents (or the environments) never loads it.
"""

from feedbackgym.agents.torch.ppo import Agent, Args, TrainResult, train
from feedbackgym.agents.torch.ppo_agent import PPOAgent, load_checkpoint, save_checkpoint

__all__ = ["Agent", "Args", "PPOAgent", "TrainResult", "load_checkpoint", "save_checkpoint", "train"]
