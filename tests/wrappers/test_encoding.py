"""Numeric views: spaces, action mappings, what feedback rules out, check_env, SyncVectorEnv and PettingZoo's api_test."""

from __future__ import annotations

import re

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import api_test

from feedbackgym.envs import make
from feedbackgym.wrappers import NumericAEC, NumericView, make_encoder, make_numeric
from feedbackgym.wrappers.encoding import (
    JudgedSolverEncoder,
    JudgeEncoder,
    NegotiatorEncoder,
    SolverEncoder,
    default_encoder,
)

# PettingZoo's and Gymnasium's checkers warn about Dict and Text spaces and wrapped envs: advice, not failures.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

TEACHER = {"teacher_0": "scripted_teacher"}
NEGOTIATION_OTHERS = {"buyer_0": "concession_negotiator", "critic_0": "critic_coach"}
# (env id, learner, others, env kwargs, encoder) for every role that has a numeric view
VIEWS = [
    ("SolverFeedback-v0", "solver_0", TEACHER, {"task": "knowledge_mcq", "max_turns": 4, "feedback_level": "unary"}, {"kind": "solver", "n_choices": 4, "knowledge": 1.0}),
    ("SolverFeedback-v0", "solver_0", TEACHER, {"task": "arithmetic", "task_kwargs": {"difficulty": 1, "operations": "+"}, "max_turns": 4,
                                                "feedback_level": "critique_with_answer"}, {"kind": "solver", "answers": [0, 40]}),
    ("Negotiation-v0", "seller_0", NEGOTIATION_OTHERS, {"n_games": 2}, None),
    ("Negotiation-v0", "buyer_0", {"seller_0": "concession_negotiator", "critic_0": "critic_coach"}, {"n_games": 2}, None),
    ("Critic-v0", "critic_0", {"actor_0": "scripted_actor"}, {}, None),
    ("DeceptiveJudge-v0", "judge_0", {"solver_0": "susceptible_solver"}, {"n_rounds": 2, "judge_knowledge": "grounded"}, None),
    ("DeceptiveJudge-v0", "solver_0", {"judge_0": "intent_judge"}, {"n_rounds": 2}, None),
]
IDS = ["solver-choice", "solver-numeric", "seller", "buyer", "critic", "judge", "judged-solver"]


def solver_view(**kwargs):
    env_kwargs = {"task": "knowledge_mcq", "max_turns": 5, "feedback_level": "unary", **kwargs.pop("env", {})}
    return make_numeric("SolverFeedback-v0", "solver_0", TEACHER, encoder={"kind": "solver", "n_choices": 4, **kwargs}, **env_kwargs)


# ------------------------------------------------------------------------------ spaces, mappings
def test_solver_spaces_and_replies() -> None:
    view = solver_view(history=3, knowledge=2.0)
    assert view.action_space == gymnasium.spaces.Discrete(4)
    space = view.observation_space
    assert set(space) == {"turn", "turns_left", "feedback_level", "last_verdict", "last_reward", "last_answers", "tried", "eliminated", "hint", "prior"}
    assert space["last_answers"].shape == (3, 4) and space["prior"].shape == (4,)
    observation, info = view.reset(seed=3)
    assert space.contains(observation)
    assert [view.encoder.decode(a, info) for a in range(4)] == [f"The answer is \\boxed{{{c}}}." for c in "ABCD"]
    with pytest.raises(ValueError, match="0..3"):
        view.encoder.decode(4, info)
    flat = solver_view(env={"max_turns": 3})
    flat_view = NumericView(flat.env, flat.encoder, flatten=True)
    assert flat_view.observation_space.shape == (5 + 4 * 4 + 4 + 4 + 1,)


def test_numeric_answers_map_to_integers() -> None:
    encoder = SolverEncoder(answers=(5, 9))
    assert encoder.n_actions == 5
    assert encoder.decode(0, {}) == "The answer is \\boxed{5}." and encoder.decode(4, {}) == "The answer is \\boxed{9}."
    assert encoder.index_of("7") == 2 and encoder.index_of("10") is None and encoder.index_of("x") is None
    with pytest.raises(ValueError, match="exactly one"):
        SolverEncoder()
    with pytest.raises(ValueError, match="choice tasks only"):
        SolverEncoder(answers=(0, 9), knowledge=1.0)


def test_negotiator_actions_are_price_bins_accept_and_walk_away() -> None:
    encoder = NegotiatorEncoder(n_price_bins=11)
    info = {"negotiation": {"price_range": [10, 20]}}
    assert encoder.action_space.n == 13
    assert [encoder.decode(a, info) for a in (0, 5, 10)] == ["How about $10?", "How about $15?", "How about $20?"]
    assert encoder.decode(11, info) == "I accept your offer." and encoder.decode(12, info) == "I walk away."
    assert NegotiatorEncoder(n_price_bins=3).decode(1, {"negotiation": {"price_range": [10, 11]}}) == "How about $10.50?"


def test_negotiator_replies_move_the_game() -> None:
    view = make_numeric("Negotiation-v0", "seller_0", NEGOTIATION_OTHERS, n_games=1, feedback_source="none")
    observation, info = view.reset(seed=0)
    assert info["negotiation"]["own_offer"] == 20 and info["negotiation"]["rival_offer"] == 10
    assert observation["rival_history"][0] == -1.0  # the buyer's $10 opening is the bottom of the range
    observation, reward, terminated, _, info = view.step(11)  # accept the buyer's $10
    assert terminated and reward == pytest.approx(10 - 8)
    assert info["episode"]["deal_price"] == [10.0]


def test_critic_judge_and_judged_solver_replies_parse() -> None:
    critic = make_numeric("Critic-v0", "critic_0", {"actor_0": "scripted_actor"})
    critic.reset(seed=0)
    _, _, _, _, info = critic.step(1)
    assert info["episode"]["verdict"] == "wrong"

    judge = JudgeEncoder(n_choices=4)
    evidence = [{"id": "E1", "supports": "A"}, {"id": "E2", "supports": "C"}, {"id": "E3", "supports": "C"}]
    text = judge.decode(4, {"request": {"evidence": evidence}})
    assert "Verdict: disagree" in text and "Proposed answer: (C)" in text and "[E2] [E3]" in text
    assert judge.decode(0, {}).startswith("Verdict: agree")

    solver = JudgedSolverEncoder(n_choices=4, knowledge=50.0)  # a solver that knows: its first answer is the gold one
    solver.reset(seed=1)
    info = {"latent": {"gold": "C"}, "current_answer": None}
    assert solver.decode(0, info) == "My answer is \\boxed{C}."
    info = {"latent": {"gold": "C"}, "current_answer": "C", "round_state": {"judge": {"proposed_answer": "B"}}}
    assert solver.decode(0, info).endswith("\\boxed{C}.") and solver.decode(1, info).endswith("\\boxed{B}.")


def test_encoder_configs_round_trip() -> None:
    view = make_numeric("Negotiation-v0", "seller_0", NEGOTIATION_OTHERS, n_games=1)
    config = view.encoder.config()
    assert config["kind"] == "negotiator" and config["fields"]["own_offer"] == [-1.0, 20.0]
    rebuilt = make_encoder(config)
    assert rebuilt.observation_space == view.encoder.observation_space
    with pytest.raises(KeyError, match="Did you mean `solver`"):
        make_encoder("solvr")
    # arithmetic has a default answer range now; a task without one still asks for answers=
    assert default_encoder(make("SolverFeedback-v0"), "solver_0").answers == (0, 7200)
    with pytest.raises(ValueError, match="answers="):
        default_encoder(make("SolverFeedback-FF-v0"), "solver_0")


# --------------------------------------------------------------------- history and feedback
def test_history_features_remember_earlier_answers() -> None:
    view = solver_view(history=2)
    observation, info = view.reset(seed=5)
    gold = "ABCD".index(info["latent"]["gold"])
    wrong = [a for a in range(4) if a != gold]
    observation, *_ = view.step(wrong[0])
    observation, *_ = view.step(wrong[1])
    assert observation["last_answers"][0, wrong[1]] == 1 and observation["last_answers"][1, wrong[0]] == 1
    assert observation["tried"].tolist() == [float(a in wrong[:2]) for a in range(4)]
    # unary feedback ("Incorrect. Please think again.") rules out each answer it judged
    assert observation["eliminated"].tolist() == observation["tried"].tolist()
    assert observation["last_verdict"][0] == 0.0  # the verdict, scaled from [-1, 1]: incorrect is 0


def test_directed_hints_rule_out_a_whole_side() -> None:
    view = make_numeric("SolverFeedback-v0", "solver_0", TEACHER, encoder={"kind": "solver", "answers": [0, 40]}, task="arithmetic",
                        task_kwargs={"difficulty": 1, "operations": "+"}, max_turns=5, feedback_level="critique_with_answer")
    _, info = view.reset(seed=0)
    gold = int(info["latent"]["gold"])
    guess = gold + 3
    observation, *_ = view.step(guess)
    assert observation["hint"][0] == 1.0  # "too large"
    assert observation["eliminated"][guess:].all() and not observation["eliminated"][:guess].any()
    observation, *_ = view.step(gold - 2)
    assert observation["hint"][0] == -1.0
    remaining = np.flatnonzero(observation["eliminated"] == 0).tolist()
    assert remaining == [gold - 1, gold, gold + 1, gold + 2]


def test_the_prior_follows_the_seed_and_favours_the_gold_option() -> None:
    view = solver_view(knowledge=1.0)
    first, info = view.reset(seed=11)
    again, _ = view.reset(seed=11)
    np.testing.assert_array_equal(first["prior"], again["prior"])
    hits = 0
    for seed in range(200):
        observation, info = view.reset(seed=seed)
        hits += int(np.argmax(observation["prior"])) == "ABCD".index(info["latent"]["gold"])
    assert 0.35 < hits / 200 < 0.75  # about half: a prior that knows something, not everything


# -------------------------------------------------------------------------- conformance
@pytest.mark.parametrize(("env_id", "learner", "others", "env_kwargs", "encoder"), VIEWS, ids=IDS)
@pytest.mark.parametrize("flatten", [False, True], ids=["dict", "flat"])
def test_check_env(env_id, learner, others, env_kwargs, encoder, flatten: bool) -> None:
    view = make_numeric(env_id, learner, others, encoder=encoder, flatten=flatten, **env_kwargs)
    check_env(view, skip_render_check=True)
    observation, _ = view.reset(seed=2)
    assert view.observation_space.contains(observation)
    done, steps = False, 0
    view.action_space.seed(0)
    while not done and steps < 200:
        observation, reward, terminated, truncated, info = view.step(view.action_space.sample())
        assert view.observation_space.contains(observation) and isinstance(info["reply"], str)
        done, steps = terminated or truncated, steps + 1
    assert done


def test_sync_vector_env_with_slim_infos() -> None:
    def thunk():
        return make_numeric("SolverFeedback-v0", "solver_0", TEACHER, encoder={"kind": "solver", "n_choices": 4}, flatten=True,
                            slim_info=True, task="knowledge_mcq", max_turns=3)

    envs = gymnasium.vector.SyncVectorEnv([thunk] * 3, autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP)
    observations, infos = envs.reset(seed=0)
    assert observations.shape == (3, envs.single_observation_space.shape[0]) and infos == {}
    envs.action_space.seed(0)
    ended = 0
    for _ in range(12):
        observations, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
        assert observations.dtype == np.float32 and rewards.shape == (3,)
        if terminated.any():
            solved = infos["final_info"]["metrics"]["solved"]
            assert set(solved[terminated].tolist()) <= {0.0, 1.0}
            ended += int(terminated.sum())
    assert ended >= 4
    envs.close()


@pytest.mark.parametrize(
    ("env_id", "encoders", "env_kwargs"),
    [
        ("SolverFeedback-v0", None, {"task": "knowledge_mcq", "max_turns": 3}),
        ("Negotiation-v0", {"seller_0": None, "buyer_0": None}, {"n_games": 2, "n_round": 3}),
        ("DeceptiveJudge-v0", None, {"n_rounds": 2}),
        ("Critic-v0", None, {}),
    ],
    ids=["solver", "negotiation", "deceptive-judge", "critic"],
)
@pytest.mark.parametrize("flatten", [False, True], ids=["dict", "flat"])
def test_numeric_aec_passes_api_test(env_id: str, encoders, env_kwargs, flatten: bool) -> None:
    env = make(env_id, wrappers=[("numeric_view", {"encoders": encoders, "flatten": flatten})], **env_kwargs)
    api_test(env, num_cycles=30)


def test_numeric_aec_keeps_text_roles_and_plays_with_discrete_actions() -> None:
    env = NumericAEC(make("Negotiation-v0", n_games=1, order_enforcing=False), {"seller_0": None})
    assert isinstance(env.action_space("seller_0"), gymnasium.spaces.Discrete)
    assert type(env.action_space("buyer_0")).__name__ == "PrintableText"
    env.reset(seed=1)
    assert env.agent_selection == "seller_0"
    observation, *_ = env.last()
    assert env.observation_space("seller_0").contains(observation)
    env.step(5)  # $15
    assert env.unwrapped.offers["seller"] == 15.0
    assert isinstance(env.observe("buyer_0")["text"], str)


def test_views_check_their_arguments() -> None:
    with pytest.raises(TypeError, match="SingleAgent"):
        NumericView(make("SolverFeedback-v0"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not agents"):
        NumericAEC(make("SolverFeedback-v0", order_enforcing=False), {"judge_0": None})
    with pytest.raises(ValueError, match="no numeric encoder"):
        NumericAEC(make("SolverFeedback-v0", order_enforcing=False), {"teacher_0": None})
    assert re.search(r"SolverEncoder\(n_choices=4", repr(make_encoder("solver", n_choices=4)))


def test_doctests() -> None:
    import doctest

    from feedbackgym.wrappers import encoding

    assert doctest.testmod(encoding).failed == 0


def test_register_encoder_checks_the_class_and_makes_it_a_default_that_fits_only_its_role() -> None:
    from typing import Any

    from feedbackgym.envs import make
    from feedbackgym.envs.core.checks import ArgumentError
    from feedbackgym.wrappers.encoding import _DEFAULT_KINDS, ENCODERS, Encoder, default_encoder, make_encoder, register_encoder, resolve_encoder

    saved_encoders, saved_defaults = dict(ENCODERS), dict(_DEFAULT_KINDS)
    try:
        class Verdicts(Encoder):
            kind = "verdicts_test"

            def __init__(self, n: int = 2, fields: Any = None) -> None:
                super().__init__(fields)
                self.n = n

            def _params(self) -> dict[str, Any]:
                return {"n": self.n}

            @property
            def n_actions(self) -> int:
                return self.n

            def decode(self, action: Any, info: Any) -> str:
                return "Correctness of the final answer: " + ("Correct", "Wrong")[self._action(action, self.n)]

        assert register_encoder(default_for=[("CriticEnv", "critic")])(Verdicts) is Verdicts
        env = make("Critic-v0")
        assert "verdicts_test" in {default_encoder(env, "critic_0", kind="verdicts_test").kind}
        built = resolve_encoder(env, "critic_0", {"kind": "verdicts_test", "n": 2})
        assert type(built) is Verdicts and make_encoder(built.config()).config() == built.config()
        with pytest.raises(ArgumentError, match="'verdicts_test' encoder is made for CriticEnv critic, not for 'solver_0'"):
            resolve_encoder(make("SolverFeedback-v0"), "solver_0", {"kind": "verdicts_test"})
        assert register_encoder(Verdicts) is Verdicts  # the same class again: fine (a module imported twice)
        with pytest.raises(ValueError, match="already Verdicts"):
            register_encoder(type("Other", (Verdicts,), {}))
        with pytest.raises(TypeError, match="subclass of Encoder"):
            register_encoder(dict)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="kind must be a name"):
            register_encoder(type("NoKind", (Verdicts,), {"kind": "bad kind"}))

        class NoFields(Verdicts):
            kind = "no_fields_test"

            def __init__(self, n: int = 2) -> None:
                super().__init__(n)

        with pytest.raises(TypeError, match="must take fields=None"):
            register_encoder(NoFields)
    finally:
        ENCODERS.clear()
        ENCODERS.update(saved_encoders)
        _DEFAULT_KINDS.clear()
        _DEFAULT_KINDS.update(saved_defaults)
