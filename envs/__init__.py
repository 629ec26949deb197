"""feedbackgym environments: registration only, so that importing stays cheap (no torch, no litellm)."""

from feedbackgym.envs.core.feedback import FeedbackEvent, FeedbackLevel, Verdict
from feedbackgym.envs.core.registry import RegistryError
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
    "RegistryError",
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
    "SolverFeedback-Deceptive-v0",
    _SOLVER,
    kwargs={"task": "knowledge_mcq", "max_turns": 5, "terminate_on_success": False, "feedback_level": "critique_with_answer"},
    wrappers=[("deceptive_feedback", {"intent": "malicious", "knowledge": "grounded"})],
    description="The teacher as a malicious judge citing fabricated evidence (WAFER-QA over SolverFeedback).",
)
register(
    "SolverFeedback-RLTF-v0",
    _SOLVER,
    kwargs={"max_turns": 2, "feedback_level": "critique", "template": "rltf"},
    description="RLTF: horizon 2, one expert critique between the attempts.",
)

# ---- issue 5: judges and critics (deceptive judge, critic training, pairwise vs pointwise judging)
register_wrapper("deceptive_feedback", "feedbackgym.wrappers.deceptive:DeceptiveFeedback")
register_wrapper("distractor", "feedbackgym.wrappers.distractor:Distractor")
_DECEPTIVE = "feedbackgym.envs.deceptive_judge:DeceptiveJudgeEnv"
register("DeceptiveJudge-v0", _DECEPTIVE, description="WAFER-QA: a solver, a judge of given intent and knowledge, keep or switch over rounds.")
register(
    "DeceptiveJudge-RoundTable-v0",
    _DECEPTIVE,
    kwargs={"workflow": "round_table", "n_peers": 2},
    description="WAFER-QA round table: the solver, two honest peers and one deceptive judge.",
)
register(
    "DeceptiveJudge-Moderator-v0",
    _DECEPTIVE,
    kwargs={"workflow": "moderator"},
    description="WAFER-QA with a moderator who assesses the judge's critique before the solver decides.",
)
register("Critic-v0", "feedbackgym.envs.critic:CriticEnv", description="Critique-RL / RefCritic: a critic judges an actor's attempt, the actor refines.")
register("JudgeProtocol-v0", "feedbackgym.envs.judge_protocol:JudgeProtocolEnv", description="Pairwise or pointwise judging of two responses of known latent quality.")

# ---- negotiation with a coaching critic (Fu et al. 2023) and the simulated user (MINT, RLUF, AlpacaFarm): issue 4
_NEGOTIATION = "feedbackgym.envs.negotiation:NegotiationEnv"
register(
    "Negotiation-v0",
    _NEGOTIATION,
    description="Balloon bargaining over 5 games; a critic coaches the seller between games (Fu et al. 2023).",
)
register(
    "Negotiation-Buyer-v0",
    _NEGOTIATION,
    kwargs={"coached": "buyer"},
    description="Fu et al. 2023 with the critic coaching the buyer.",
)
register(
    "Negotiation-HumanTips-v0",
    _NEGOTIATION,
    kwargs={"feedback_source": "human_pool"},
    description="Fu et al. 2023's human-feedback baseline: 3 of 10 hand-written tips instead of the critic.",
)
_SIMULATED_USER = "feedbackgym.envs.simulated_user:SimulatedUserEnv"
register(
    "SimulatedUser-v0",
    _SIMULATED_USER,
    description="A recommendation dialogue with a user whose requirements are hidden; textual feedback on each recommendation.",
)
register(
    "SimulatedUser-MINT-v0",
    _SIMULATED_USER,
    kwargs={"goal": "task", "max_turns": 5},
    description="MINT: 5 turns to solve a task, a simulated user's textual feedback without the ground truth.",
)
register(
    "SimulatedUser-MINT-Binary-v0",
    _SIMULATED_USER,
    kwargs={"goal": "task", "max_turns": 5, "feedback_form": "binary"},
    description="MINT with binary feedback: 'This is GOOD.' / 'This is BAD.'",
)
register(
    "SimulatedUser-Reaction-v0",
    _SIMULATED_USER,
    kwargs={"mode": "reaction"},
    description="RLUF: sparse love/dislike reactions to recommendations, some adversarial users.",
)
register(
    "SimulatedUser-Preference-v0",
    _SIMULATED_USER,
    kwargs={"mode": "preference"},
    description="AlpacaFarm: an annotator from a biased, noisy pool picks the better of two replies.",
)

# ---- issue 6: numeric views for torch policies (chosen roles see numbers and act with Discrete choices)
register_wrapper("numeric_view", "feedbackgym.wrappers.encoding:NumericAEC")
