"""``SimulatedUser-v0``: an assistant and a simulated user (MINT, RLUF, AlpacaFarm). See :class:`SimulatedUserEnv`."""

from feedbackgym.envs.simulated_user.catalogue import Goal, Item, Taste, best_item, make_catalogue, make_goal, make_taste, utility
from feedbackgym.envs.simulated_user.env import ASSISTANT, USER, SimulatedUserEnv
from feedbackgym.envs.simulated_user.prompts import PROMPTS
from feedbackgym.envs.simulated_user.replies import Style, candidates, choice_of, reaction_of, recommended_ids, style_of

__all__ = [
    "ASSISTANT",
    "PROMPTS",
    "USER",
    "Goal",
    "Item",
    "SimulatedUserEnv",
    "Style",
    "Taste",
    "best_item",
    "candidates",
    "choice_of",
    "make_catalogue",
    "make_goal",
    "make_taste",
    "reaction_of",
    "recommended_ids",
    "style_of",
    "utility",
]
