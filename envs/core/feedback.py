"""Feedback events: the one type every environment emits and every feedback wrapper rewrites."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any

from feedbackgym.envs.core.checks import fail, is_int


class FeedbackLevel(IntEnum):
    """The feedback ladder, from least to most informative (docs/protocols.md, "Shared invariants" item 4)."""

    NONE = 0
    UNARY = 1  # "Incorrect. Please think again." (UFO)
    BINARY = 2  # a verdict: "Your answer was incorrect." / "This is GOOD."
    CRITIQUE = 3  # a critique written without the gold answer (MINT no-GT, RLTF judge)
    CRITIQUE_WITH_ANSWER = 4  # the giver saw the gold answer, masked in the text (Feedback Friction)
    CRITIQUE_WITH_SOLUTION = 5  # the giver saw the gold solution or process (FF process-level)

    @classmethod
    def parse(cls, value: FeedbackLevel | str | int) -> FeedbackLevel:
        """Accept a level, its name in any case (``"critique_with_answer"``) or its number."""
        if isinstance(value, FeedbackLevel):
            return value
        if isinstance(value, str):
            key = value.strip().upper().replace("-", "_").replace(" ", "_")
            if key in cls.__members__:
                return cls[key]
            if key.isdigit():
                value = int(key)
        if is_int(value) and 0 <= value <= 5:  # numpy ints too; never a bool
            return cls(int(value))
        allowed = ", ".join(level.name.lower() for level in cls)
        raise fail("feedback_level", f"one of {allowed} (or 0-5)", value)


class Verdict(str, Enum):
    CORRECT = "correct"
    INCORRECT = "incorrect"
    UNKNOWN = "unknown"


@dataclass(frozen=True, init=False)
class FeedbackEvent:
    """Who told whom what, and what is structurally true about it.

    ``text`` is what the receiver reads; the other fields are the structure behind it, so that a
    wrapper can re-render the same event at another level of the ladder and an analysis can count
    deceptive or leaking feedback without parsing prose.
    """

    giver: str
    receiver: str
    text: str  # what the receiver reads, rendered from the fields below
    content: str = ""  # the giver's own words (a critique), gold answer already masked
    verdict: Verdict = Verdict.UNKNOWN
    level: FeedbackLevel = FeedbackLevel.CRITIQUE
    turn: int = 0
    proposed_answer: str | None = None
    evidence: tuple[str, ...] = ()
    deceptive: bool = False
    leaked_gold: bool = False  # the giver's text contained the gold answer before masking
    rendered_by: tuple[str, ...] = field(default=())  # wrappers that rewrote the event, innermost first

    def __init__(
        self,
        giver: str,
        receiver: str,
        text: str,
        content: str = "",
        verdict: Verdict = Verdict.UNKNOWN,
        level: FeedbackLevel = FeedbackLevel.CRITIQUE,
        turn: int = 0,
        proposed_answer: str | None = None,
        evidence: tuple[str, ...] = (),
        deceptive: bool = False,
        leaked_gold: bool = False,
        rendered_by: tuple[str, ...] = (),
    ) -> None:
        # The fields written straight into the instance dict: a frozen dataclass's generated __init__ makes
        # one object.__setattr__ call per field, over half the cost of an event (and one is made every
        # feedback step). The signature and defaults are the fields' (a test holds them together).
        fields = self.__dict__
        fields["giver"] = giver
        fields["receiver"] = receiver
        fields["text"] = text
        fields["content"] = content
        fields["verdict"] = verdict
        fields["level"] = level
        fields["turn"] = turn
        fields["proposed_answer"] = proposed_answer
        fields["evidence"] = evidence
        fields["deceptive"] = deceptive
        fields["leaked_gold"] = leaked_gold
        fields["rendered_by"] = rendered_by

    def replace(self, **changes: Any) -> FeedbackEvent:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready dict (enums as their names) for info and transcripts."""
        return {
            "giver": self.giver,
            "receiver": self.receiver,
            "text": self.text,
            "content": self.content,
            "verdict": self.verdict._value_,  # .value, without the enum property's cost
            "level": _LEVEL_NAMES[self.level] if type(self.level) is FeedbackLevel else self.level.name.lower(),
            "level_value": int(self.level),
            "turn": self.turn,
            "proposed_answer": self.proposed_answer,
            "evidence": list(self.evidence),
            "deceptive": self.deceptive,
            "leaked_gold": self.leaked_gold,
            "rendered_by": list(self.rendered_by),
        }


_LEVEL_NAMES = {level: level.name.lower() for level in FeedbackLevel}  # to_dict runs at every feedback

# The papers' exact strings (docs/protocols.md sections 1, 4, 5, 6), shared by environments and wrappers.
UNARY_MESSAGE = "Incorrect. Please think again."  # UFO's code; its paper says "Let's try again."
BINARY_MESSAGES: dict[str, tuple[str, str]] = {
    # style: (text when correct, text when incorrect)
    "ff": ("Your answer was correct.", "Your answer was incorrect. Please answer the question again."),
    "mint": ("This is GOOD.", "This is BAD."),
    "rltf": ("Your previous attempt was correct.", "Your previous attempt was incorrect."),
}
TEXT_TEMPLATES: dict[str, str] = {
    # {verdict} is the sentence for the verdict, {feedback} the giver's words.
    "ff": "{verdict}\nHere is the feedback:\n{feedback}\nPlease answer the question again.",
    "mint": "Observation:\n{verdict}\n\nExpert feedback:\n{feedback}",
    "rltf": (
        "Expert Critique:\n{feedback}\n\nInstructions:\n- Write your answer as a fresh solution to the original "
        "problem. Do not refer to your previous attempt.\n- Do not mention or refer to the critique or the revision process."
    ),
}
TEXT_VERDICTS: dict[str, tuple[str, str]] = {
    "ff": ("Your answer was correct.", "Your answer was incorrect."),
    "mint": ("Your answer is correct.", "Your answer is wrong."),
    "rltf": ("Your previous attempt was correct.", "Your previous attempt was incorrect."),
}


def _pick(pair: tuple[str, str], verdict: Verdict) -> str:
    if verdict is Verdict.CORRECT:
        return pair[0]
    if verdict is Verdict.INCORRECT:
        return pair[1]
    return ""


def render_unary(verdict: Verdict, message: str = UNARY_MESSAGE) -> str:
    """UFO shows only negative feedback: the message on a wrong answer, nothing otherwise."""
    return message if verdict is Verdict.INCORRECT else ""


def render_binary(verdict: Verdict, style: str = "ff") -> str:
    if style not in BINARY_MESSAGES:
        raise ValueError(f"binary style must be one of {sorted(BINARY_MESSAGES)}, got {style!r}")
    return _pick(BINARY_MESSAGES[style], verdict)


def render_text(verdict: Verdict, content: str, template: str = "ff") -> str:
    if template not in TEXT_TEMPLATES:
        raise ValueError(f"text template must be one of {sorted(TEXT_TEMPLATES)}, got {template!r}")
    return TEXT_TEMPLATES[template].format(verdict=_pick(TEXT_VERDICTS[template], verdict), feedback=content).strip()


def render_event_text(level: FeedbackLevel, verdict: Verdict, content: str, template: str = "ff") -> str:
    """The text a receiver reads for feedback of ``level``: the ladder rendered with one template family."""
    if level is FeedbackLevel.NONE:
        return ""
    if level is FeedbackLevel.UNARY:
        return render_unary(verdict)
    if level is FeedbackLevel.BINARY:
        return render_binary(verdict, template)
    return render_text(verdict, content, template)
