"""feedbackgym environments: registration only, so that importing stays cheap (no torch, no litellm)."""

from feedbackgym.envs.core.feedback import FeedbackEvent, FeedbackLevel, Verdict
from feedbackgym.envs.registration import (
    EnvSpec,
    apply_wrapper,
    make,
    make_parallel,
    register,
    register_wrapper,
    registered_envs,
    registry,
    spec,
    wrapper_registry,
)

__all__ = [
    "EnvSpec",
    "FeedbackEvent",
    "FeedbackLevel",
    "Verdict",
    "apply_wrapper",
    "make",
    "make_parallel",
    "register",
    "register_wrapper",
    "registered_envs",
    "registry",
    "spec",
    "wrapper_registry",
]

# ---- wrappers by name (for env variants and Hydra); lazy, the modules load on first use
register_wrapper("unary_feedback", "feedbackgym.wrappers.feedback:UnaryFeedback")
register_wrapper("binary_feedback", "feedbackgym.wrappers.feedback:BinaryFeedback")
register_wrapper("text_feedback", "feedbackgym.wrappers.feedback:TextFeedback")

# ---- solver and teacher (Feedback Friction, MINT, UFO, RLTF, RL2F)
_SOLVER = "feedbackgym.envs.solver_feedback:SolverFeedbackEnv"
register("SolverFeedback-v0", _SOLVER, description="A solver, a teacher who knows the gold answer, and the feedback ladder.")
register(
    "SolverFeedback-FF-v0",
    _SOLVER,
    kwargs={"task": "multiplication", "max_turns": 10, "feedback_level": "critique_with_answer", "template": "ff"},
    description="Feedback Friction: 5-digit multiplication, 10 rounds, answer-masked critiques.",
)
register(
    "SolverFeedback-UFO-v0",
    _SOLVER,
    kwargs={"max_turns": 5, "feedback_level": "binary", "reward_scheme": "ufo", "show_reward": True},
    wrappers=["unary_feedback"],
    description="A Simple 'Try Again': unary feedback, 5 turns, 1/2^t reward with repetition penalty.",
)
register(
    "SolverFeedback-MINT-v0",
    _SOLVER,
    kwargs={"max_turns": 5, "feedback_level": "critique", "template": "mint", "count_down": True},
    description="MINT without tools: 5 steps, count-down, expert feedback without the ground truth.",
)
register(
    "SolverFeedback-RLTF-v0",
    _SOLVER,
    kwargs={"max_turns": 2, "feedback_level": "critique", "template": "rltf"},
    description="RLTF: horizon 2, one expert critique between the attempts.",
)
