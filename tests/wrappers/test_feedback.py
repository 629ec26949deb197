"""Feedback wrappers: the exact text each shows, what the receiver's info keeps, and argument checks."""

from __future__ import annotations

import doctest
import json
from typing import Any

import pytest
from pettingzoo import AECEnv

import feedbackgym.wrappers.feedback as feedback_wrappers
from feedbackgym.envs import make
from feedbackgym.envs.core.feedback import BINARY_MESSAGES, TEXT_TEMPLATES, UNARY_MESSAGE
from feedbackgym.experiments.runner import rollout
from feedbackgym.wrappers.feedback import BinaryFeedback, TextFeedback, UnaryFeedback

SOLVER, TEACHER = "solver_0", "teacher_0"
CRITIQUE = "Recheck the second partial product."

# The papers' literal strings (docs/protocols.md): Feedback Friction, MINT, RLTF, UFO.
PAPER_BINARY = {
    "ff": ("Your answer was correct.", "Your answer was incorrect. Please answer the question again."),
    "mint": ("This is GOOD.", "This is BAD."),
    "rltf": ("Your previous attempt was correct.", "Your previous attempt was incorrect."),
}


def episode(plan, plan_solver, verdict_teacher, *, wrappers=(), feedback_level="critique_with_answer", **kwargs: Any):
    """Play the plan against a teacher that writes CRITIQUE (or a verdict); returns the env and the solver."""
    env = make("SolverFeedback-v0", feedback_level=feedback_level, wrappers=list(wrappers), **{"max_turns": len(plan), **kwargs})
    solver = plan_solver(plan)
    result = rollout(env, {SOLVER: solver, TEACHER: verdict_teacher(reply=critique_or_verdict)}, seed=0)
    assert result.error is None
    return env, solver


def critique_or_verdict(info) -> str:
    """CRITIQUE where a critique is asked for, else the grader's verdict (a verdict level needs one)."""
    request = info["request"]
    return f"Your answer is {request['verdict']}." if request["level"] in ("unary", "binary") else CRITIQUE


def feedback_messages(env):
    return [m for m in env.unwrapped.transcript if m.kind == "feedback"]


def shown_feedback(solver) -> list[dict]:
    """The feedback events the solver's info carried on the turns right after feedback."""
    return [info["feedback"] for _, info in solver.seen if info["feedback"] and info["feedback"]["turn"] == info["turn"]]


def layers(env):
    while True:
        yield env
        if not hasattr(env, "env"):
            return
        env = env.env


def test_papers_strings_are_the_shared_constants() -> None:
    assert BINARY_MESSAGES == PAPER_BINARY
    assert UNARY_MESSAGE == "Incorrect. Please think again."


# ------------------------------------------------------------------------------ unary
def test_unary_default_message(plan_solver, verdict_teacher) -> None:
    env, solver = episode(["W0", "W1", "W2"], plan_solver, verdict_teacher, wrappers=["unary_feedback"])
    assert [m.text for m in feedback_messages(env)] == ["Incorrect. Please think again."] * 2
    assert "[teacher_0] Incorrect. Please think again." in solver.seen[-1][0]["text"]
    for shown in shown_feedback(solver):
        assert shown["text"] == "Incorrect. Please think again."
        assert shown["content"] == "" and shown["level"] == "unary" and shown["level_value"] == 1
        assert shown["proposed_answer"] is None and shown["evidence"] == []
        assert shown["rendered_by"] == ["UnaryFeedback"]


def test_unary_custom_message(plan_solver, verdict_teacher) -> None:
    env, solver = episode(["W0", "W1"], plan_solver, verdict_teacher, wrappers=[("unary_feedback", {"message": "Let's try again."})])
    assert [m.text for m in feedback_messages(env)] == ["Let's try again."]
    assert shown_feedback(solver)[0]["text"] == "Let's try again."


def test_unary_shows_nothing_on_a_correct_verdict(plan_solver, verdict_teacher) -> None:
    env, solver = episode(["R", "W0", "R"], plan_solver, verdict_teacher, wrappers=["unary_feedback"], terminate_on_success=False)
    messages = feedback_messages(env)
    assert [m.text for m in messages] == ["", "Incorrect. Please think again."]
    assert messages[0].data["original"]["verdict"] == "correct"
    # After the correct answer the solver read no feedback, only the request to answer again.
    observation, info = solver.seen[1]
    assert "[teacher_0]" not in observation["text"] and CRITIQUE not in observation["text"]
    assert observation["text"].endswith("[env] Please answer the question again.")
    assert info["feedback"]["text"] == "" and info["feedback"]["verdict"] == "correct"


# ----------------------------------------------------------------------------- binary
@pytest.mark.parametrize("style", ["ff", "mint", "rltf"])
def test_binary_styles(style, plan_solver, verdict_teacher) -> None:
    env, solver = episode(
        ["W0", "R", "W1"], plan_solver, verdict_teacher, wrappers=[("binary_feedback", {"style": style})], terminate_on_success=False
    )
    right, wrong = PAPER_BINARY[style]
    assert [m.text for m in feedback_messages(env)] == [wrong, right]
    shown = shown_feedback(solver)
    assert [s["text"] for s in shown] == [wrong, right]
    assert all(s["content"] == "" and s["level"] == "binary" and s["rendered_by"] == ["BinaryFeedback"] for s in shown)


def test_binary_never_raises_the_level(plan_solver, verdict_teacher) -> None:
    env, solver = episode(["W0", "W1"], plan_solver, verdict_teacher, wrappers=["binary_feedback"], feedback_level="unary")
    (shown,) = shown_feedback(solver)
    assert shown["level"] == "unary" and shown["text"] == PAPER_BINARY["ff"][1]


# ------------------------------------------------------------------------------- text
TEXT_EXPECTED = {
    "ff": f"Your answer was incorrect.\nHere is the feedback:\n{CRITIQUE}\nPlease answer the question again.",
    "mint": f"Observation:\nYour answer is wrong.\n\nExpert feedback:\n{CRITIQUE}",
    "rltf": (
        f"Expert Critique:\n{CRITIQUE}\n\nInstructions:\n- Write your answer as a fresh solution to the original problem. "
        "Do not refer to your previous attempt.\n- Do not mention or refer to the critique or the revision process."
    ),
}


@pytest.mark.parametrize("template", ["ff", "mint", "rltf"])
def test_text_templates(template, plan_solver, verdict_teacher) -> None:
    other = "mint" if template != "mint" else "ff"  # the env renders with another template first
    env, solver = episode(
        ["W0", "W1"], plan_solver, verdict_teacher, wrappers=[("text_feedback", {"template": template})], template=other
    )
    assert [m.text for m in feedback_messages(env)] == [TEXT_EXPECTED[template]]
    (shown,) = shown_feedback(solver)
    assert shown["content"] == CRITIQUE and shown["level"] == "critique_with_answer"
    assert TEXT_TEMPLATES[template].format(verdict="V", feedback="F")  # every template names both fields


def test_text_feedback_on_correct_verdicts(plan_solver, verdict_teacher) -> None:
    mint = [("text_feedback", {"template": "mint"})]
    env, _ = episode(["R", "W0"], plan_solver, verdict_teacher, wrappers=mint, terminate_on_success=False)
    assert [m.text for m in feedback_messages(env)] == [f"Observation:\nYour answer is correct.\n\nExpert feedback:\n{CRITIQUE}"]


@pytest.mark.parametrize("level", ["unary", "binary"])
def test_text_feedback_leaves_verdict_levels_alone(level, plan_solver, verdict_teacher) -> None:
    plain, _ = episode(["W0", "W1"], plan_solver, verdict_teacher, feedback_level=level)
    wrapped, _ = episode(["W0", "W1"], plan_solver, verdict_teacher, wrappers=["text_feedback"], feedback_level=level)
    assert [m.text for m in feedback_messages(wrapped)] == [m.text for m in feedback_messages(plain)]
    assert feedback_messages(plain)[0].text in (UNARY_MESSAGE, PAPER_BINARY["ff"][1])


# ------------------------------------------------------------------ hidden content and receivers
@pytest.mark.parametrize("wrapper", ["unary_feedback", "binary_feedback"])
def test_hidden_content_is_gone_from_the_solver_view_but_kept_in_the_transcript(wrapper, plan_solver, verdict_teacher) -> None:
    env, solver = episode(["W0", "W1", "W2"], plan_solver, verdict_teacher, wrappers=[wrapper])
    for observation, info in solver.seen:
        assert CRITIQUE not in observation["text"]
        assert CRITIQUE not in json.dumps(info)
    for message in feedback_messages(env):
        assert message.data["event"]["content"] == ""
        assert message.data["original"]["content"] == CRITIQUE
        assert CRITIQUE in message.data["original"]["text"] and message.data["original"]["rendered_by"] == []
    # The teacher's own move keeps the critique, visible to the teacher only.
    moves = [m for m in env.unwrapped.transcript if m.sender == TEACHER and m.kind == "move"]
    assert [m.text for m in moves] == [CRITIQUE] * 2 and all(m.visible_to == (TEACHER,) for m in moves)


def test_unwrapped_feedback_has_no_original(plan_solver, verdict_teacher) -> None:
    env, solver = episode(["W0", "W1"], plan_solver, verdict_teacher)
    (message,) = feedback_messages(env)
    assert "original" not in message.data and message.data["event"]["content"] == CRITIQUE
    assert shown_feedback(solver)[0] == message.data["event"]


@pytest.mark.parametrize(("receivers", "applies"), [(["teacher_0"], False), (["solver_0"], True), (None, True)])
def test_receivers_restrict_the_wrapper(receivers, applies, plan_solver, verdict_teacher) -> None:
    env, solver = episode(["W0", "W1"], plan_solver, verdict_teacher, wrappers=[("unary_feedback", {"receivers": receivers})])
    (message,) = feedback_messages(env)
    assert (message.text == UNARY_MESSAGE) is applies
    assert (CRITIQUE in message.text) is not applies
    assert shown_feedback(solver)[0]["rendered_by"] == (["UnaryFeedback"] if applies else [])


def test_stacked_wrappers_apply_innermost_first(plan_solver, verdict_teacher) -> None:
    env, solver = episode(
        ["W0", "W1"], plan_solver, verdict_teacher, wrappers=[("text_feedback", {"template": "rltf"}), ("unary_feedback", {})]
    )
    (shown,) = shown_feedback(solver)
    assert shown["text"] == UNARY_MESSAGE and shown["rendered_by"] == ["TextFeedback", "UnaryFeedback"]
    assert feedback_messages(env)[0].data["original"]["rendered_by"] == []


def test_wrapping_a_made_env_by_hand(plan_solver, verdict_teacher) -> None:
    env = BinaryFeedback(make("SolverFeedback-v0", max_turns=2, feedback_level="critique"), style="mint")
    rollout(env, {SOLVER: plan_solver(["W0", "W1"]), TEACHER: verdict_teacher(reply=lambda info: CRITIQUE)}, seed=0)
    assert [m.text for m in feedback_messages(env)] == ["This is BAD."]
    assert isinstance(env, AECEnv) and env.unwrapped.feedback_transforms


def test_reset_does_not_stack_transforms(plan_solver, verdict_teacher) -> None:
    env = make("SolverFeedback-v0", max_turns=2, feedback_level="critique", wrappers=["unary_feedback"])
    for seed in range(3):
        rollout(env, {SOLVER: plan_solver(["W0", "W1"]), TEACHER: verdict_teacher(reply=lambda info: CRITIQUE)}, seed=seed)
    assert len(env.unwrapped.feedback_transforms) == 1
    assert feedback_messages(env)[0].data["event"]["rendered_by"] == ["UnaryFeedback"]


def test_ufo_variant_shows_unary_feedback(plan_solver, verdict_teacher) -> None:
    env = make("SolverFeedback-UFO-v0")
    solver = plan_solver(["W0", "W1", "R"])
    rollout(env, {SOLVER: solver, TEACHER: verdict_teacher()}, seed=0)
    assert [m.text for m in feedback_messages(env)] == [UNARY_MESSAGE] * 2
    assert all(s["level"] == "unary" for s in shown_feedback(solver))


# ---------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda env: UnaryFeedback(env, message=""), "message must be a non-empty string"),
        (lambda env: UnaryFeedback(env, message="   "), "message must be a non-empty string"),
        (lambda env: UnaryFeedback(env, message=5), "message must be a non-empty string"),
        (lambda env: BinaryFeedback(env, style="paper"), "style must be one of ff, mint, rltf, got 'paper'"),
        (lambda env: TextFeedback(env, template="x"), "template must be one of ff, mint, rltf, got 'x'"),
        (lambda env: UnaryFeedback(env, receivers=["nobody_0"]), r"receivers \['nobody_0'\] are not agents.*solver_0"),
    ],
)
def test_bad_arguments_raise_value_error(build, match) -> None:
    env = make("SolverFeedback-v0")
    with pytest.raises(ValueError, match=match):
        build(env)
    assert env.unwrapped.feedback_transforms == []  # a rejected wrapper leaves nothing behind


def test_bad_arguments_through_make() -> None:
    with pytest.raises(ValueError, match="style must be one of ff, mint, rltf"):
        make("SolverFeedback-v0", wrappers=[("binary_feedback", {"style": "GOOD"})])
    with pytest.raises(TypeError, match="Accepted: message, receivers"):
        make("SolverFeedback-v0", wrappers=[("unary_feedback", {"text": "x"})])


def test_wrapper_needs_a_feedback_env() -> None:
    class Plain(AECEnv):
        possible_agents = ["a_0"]

    with pytest.raises(TypeError, match="needs a feedbackgym environment"):
        UnaryFeedback(Plain())


def test_module_doctests() -> None:
    assert doctest.testmod(feedback_wrappers).failed == 0
