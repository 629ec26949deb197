"""Importing this module registers every role of every feedbackgym environment as a Gymnasium id.

``gymnasium.make("feedbackgym.gym:feedbackgym/SolverFeedback-v0-solver_0-numeric")`` imports it
itself (also in vector-env worker processes); ids and arguments: ``feedbackgym.experiments.views``.
"""

from __future__ import annotations

from feedbackgym.experiments.views import register_gymnasium_envs

GYMNASIUM_IDS = register_gymnasium_envs()

__all__ = ["GYMNASIUM_IDS"]
