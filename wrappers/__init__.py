"""Wrappers: what feedback an agent sees (``feedback``), and one role as a Gymnasium env (``single_agent``)."""

from feedbackgym.wrappers.feedback import BinaryFeedback, FeedbackWrapper, TextFeedback, UnaryFeedback
from feedbackgym.wrappers.single_agent import SingleAgent

__all__ = ["BinaryFeedback", "FeedbackWrapper", "SingleAgent", "TextFeedback", "UnaryFeedback"]
# issue 5: deceptive judges over any feedback giver; distractors for judge protocols
from feedbackgym.wrappers.deceptive import DeceptiveFeedback  # noqa: E402
from feedbackgym.wrappers.distractor import Distractor  # noqa: E402

__all__ += ["DeceptiveFeedback", "Distractor"]
