"""Scripted behaviour models that reproduce the papers' dynamics offline."""

from feedbackgym.agents.scripted.random_agent import RandomAgent
from feedbackgym.agents.scripted.solver import FrictionSolver
from feedbackgym.agents.scripted.teacher import ScriptedTeacher

__all__ = ["FrictionSolver", "RandomAgent", "ScriptedTeacher"]
