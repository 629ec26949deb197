"""Wrappers that change what feedback an agent sees: unary, binary, or a text template.

Each wrapper registers a transform on the environment's feedback channel
(``env.unwrapped.feedback_transforms``), so it works on every environment that emits
:class:`~feedbackgym.envs.core.feedback.FeedbackEvent` objects, whatever the wrapper order. The
transcript keeps the original event beside the one shown; the receiver's ``info["feedback"]`` is
the event as shown, with the hidden parts (critique content, proposed answer, evidence) removed.

An environment that emits no feedback events (``JudgeProtocol-v0``: its judge reports to the
environment) is refused with a TypeError, rather than wrapped to no effect. ``UnaryFeedback`` and
``BinaryFeedback`` show only a verdict, so an event without one (the coaching of a negotiation
critic, a moderator's note) is shown as nothing: its receiver reads no feedback that turn.
"""

from __future__ import annotations

from collections.abc import Iterable

from pettingzoo import AECEnv
from pettingzoo.utils.wrappers import BaseWrapper

from feedbackgym.envs.core.checks import fail, require_agent_ids, require_choice, require_text
from feedbackgym.envs.core.feedback import (
    BINARY_MESSAGES,
    TEXT_TEMPLATES,
    UNARY_MESSAGE,
    FeedbackEvent,
    FeedbackLevel,
    Verdict,
    render_binary,
    render_text,
    render_unary,
)


def require_aec(env: object, what: str) -> None:
    """A TypeError naming ``what`` unless ``env`` is a PettingZoo AEC environment (an id, a Gymnasium view or None
    failed deep inside the wrapper, on a missing ``unwrapped`` or ``possible_agents``)."""
    if isinstance(env, AECEnv):
        return
    hint = ""
    if isinstance(env, str):
        hint = f"; build it first: {what}(feedbackgym.make({env!r}))"
    elif hasattr(env, "observation_space") and hasattr(env, "step") and not hasattr(env, "possible_agents"):
        hint = "; this is a single-role Gymnasium view: wrap the AEC environment before making the view"
    raise TypeError(f"{what} wraps a PettingZoo AEC environment (feedbackgym.make(id)), got {env!r}{hint}")


class FeedbackWrapper(BaseWrapper):
    """Base for wrappers that rewrite feedback events for some (or all) receivers."""

    def __init__(self, env: AECEnv, receivers: Iterable[str] | None = None) -> None:
        require_aec(env, type(self).__name__)
        super().__init__(env)
        base = env.unwrapped
        if not hasattr(base, "feedback_transforms"):
            raise TypeError(f"{type(self).__name__} needs a feedbackgym environment that emits feedback events, got {base!r}")
        if not getattr(base, "emits_feedback", True):  # the wrapper would never see an event: a silent no-op
            raise TypeError(f"{type(self).__name__} rewrites feedback events, but {type(base).__name__} emits none "
                            "(no agent gives another feedback in it); it has nothing to rewrite")
        self.receivers = None if receivers is None else frozenset(require_agent_ids("receivers", receivers))
        if self.receivers is not None and not self.receivers:  # a wrapper for nobody would change nothing, silently
            raise fail("receivers", "a non-empty list of agent ids, or None for every receiver", receivers)
        unknown = set(self.receivers or ()) - set(base.possible_agents)
        if unknown:
            raise ValueError(f"receivers {sorted(unknown)} are not agents of this environment; agents: {base.possible_agents}")
        self.check_environment(base)
        base.feedback_transforms.append(self._transform)  # last: a wrapper that failed leaves the env as it was

    def check_environment(self, base: AECEnv) -> None:
        """Raise a TypeError when this wrapper could never change what ``base`` shows (a subclass's own needs)."""

    def last(self, observe: bool = True) -> tuple:
        # Feedback wrappers leave observations alone; hand the call down instead of reading
        # every attribute through BaseWrapper.__getattr__.
        return self.env.last(observe)

    def _transform(self, event: FeedbackEvent) -> FeedbackEvent:
        if self.receivers is not None and event.receiver not in self.receivers:
            return event
        shown = self.rewrite(event)
        return shown.replace(rendered_by=(*event.rendered_by, type(self).__name__))

    def rewrite(self, event: FeedbackEvent) -> FeedbackEvent:
        raise NotImplementedError


class UnaryFeedback(FeedbackWrapper):
    """Shows only a fixed message after a wrong answer and nothing after a right one ("A Simple 'Try Again'").

    >>> from feedbackgym.envs import make
    >>> env = UnaryFeedback(make("SolverFeedback-v0", feedback_level="critique_with_answer", order_enforcing=False))
    >>> env.message
    'Incorrect. Please think again.'
    """

    def __init__(self, env: AECEnv, message: str = UNARY_MESSAGE, receivers: Iterable[str] | None = None) -> None:
        self.message = require_text("message", message, multiline=True)
        super().__init__(env, receivers)

    def rewrite(self, event: FeedbackEvent) -> FeedbackEvent:
        return event.replace(
            text=render_unary(event.verdict, self.message),
            content="",
            level=min(event.level, FeedbackLevel.UNARY),
            proposed_answer=None,
            evidence=(),
        )


class BinaryFeedback(FeedbackWrapper):
    """Shows only the verdict, in the words of one paper: ``ff``, ``mint`` ("This is GOOD.") or ``rltf``.

    >>> BINARY_MESSAGES["mint"]
    ('This is GOOD.', 'This is BAD.')
    """

    def __init__(self, env: AECEnv, style: str = "ff", receivers: Iterable[str] | None = None) -> None:
        self.style = require_choice("style", style, sorted(BINARY_MESSAGES))
        super().__init__(env, receivers)

    def rewrite(self, event: FeedbackEvent) -> FeedbackEvent:
        return event.replace(
            text=render_binary(event.verdict, self.style),
            content="",
            level=min(event.level, FeedbackLevel.BINARY),
            proposed_answer=None,
            evidence=(),
        )


class TextFeedback(FeedbackWrapper):
    """Shows the verdict and the giver's critique through one paper's template: ``ff``, ``mint`` or ``rltf``.

    Events below the critique level have no critique to show; they keep their own text.

    >>> print(render_text(Verdict.INCORRECT, "Check step 2.", "mint"))
    Observation:
    Your answer is wrong.
    <BLANKLINE>
    Expert feedback:
    Check step 2.
    """

    def __init__(self, env: AECEnv, template: str = "ff", receivers: Iterable[str] | None = None) -> None:
        self.template = require_choice("template", template, sorted(TEXT_TEMPLATES))
        super().__init__(env, receivers)

    def rewrite(self, event: FeedbackEvent) -> FeedbackEvent:
        if event.level < FeedbackLevel.CRITIQUE:
            return event
        return event.replace(text=render_text(event.verdict, event.content, self.template))


__all__ = ["BinaryFeedback", "FeedbackWrapper", "TextFeedback", "UnaryFeedback", "Verdict"]
