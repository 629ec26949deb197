"""Wrappers: what feedback an agent sees (``feedback``), and one role as a Gymnasium env (``single_agent``)."""

from feedbackgym.wrappers.feedback import BinaryFeedback, FeedbackWrapper, TextFeedback, UnaryFeedback
from feedbackgym.wrappers.single_agent import SingleAgent

__all__ = ["BinaryFeedback", "FeedbackWrapper", "SingleAgent", "TextFeedback", "UnaryFeedback"]
