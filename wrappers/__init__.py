"""Wrappers: what feedback an agent sees (``feedback``), and one role as a Gymnasium env (``single_agent``)."""

from feedbackgym.wrappers.feedback import BinaryFeedback, FeedbackWrapper, TextFeedback, UnaryFeedback
from feedbackgym.wrappers.single_agent import SingleAgent

__all__ = ["BinaryFeedback", "FeedbackWrapper", "SingleAgent", "TextFeedback", "UnaryFeedback"]
# issue 5: deceptive judges over any feedback giver; distractors for judge protocols
from feedbackgym.wrappers.deceptive import DeceptiveFeedback  # noqa: E402
from feedbackgym.wrappers.distractor import Distractor  # noqa: E402

__all__ += ["DeceptiveFeedback", "Distractor"]
# issue 6: numeric views (numbers in, discrete choices out) for torch policies and RL libraries
from feedbackgym.wrappers.encoding import (  # noqa: E402
    Encoder,
    NumericAEC,
    NumericView,
    default_encoder,
    make_encoder,
    make_numeric,
    register_encoder,
)

__all__ += ["Encoder", "NumericAEC", "NumericView", "default_encoder", "make_encoder", "make_numeric", "register_encoder"]
