"""Wrappers and views at the edges: wrappers on environments they cannot change, bad Discrete actions, seeds of other types."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

import feedbackgym.gym
from feedbackgym.envs import make, registry, wrapper_registry
from feedbackgym.envs.core.checks import ArgumentError
from feedbackgym.wrappers import FeedbackWrapper, SingleAgent

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

FEEDBACK_WRAPPERS = [name for name in wrapper_registry.names() if issubclass(wrapper_registry.get(name), FeedbackWrapper)]
# One numeric Gymnasium id per environment class and role (the variants share their encoders).
NUMERIC_IDS = list({
    (gym_id.split("/")[1].split("-")[0], gym_id.split("-v0-")[1]): gym_id  # (environment family, role)
    for gym_id in feedbackgym.gym.GYMNASIUM_IDS
    if gym_id.endswith("-numeric") and "-FF-" not in gym_id  # FF's 5-digit products need an answers range
}.values())
# Not one integer of the Discrete space: each was read as some move (the first of several values, 1.5 as 1) or
# failed deep inside (int() of NaN, IndexError of an empty array, OverflowError of infinity).
BAD_ACTIONS = [-1, 10**6, 1.5, float("nan"), float("inf"), "1", None, True, np.array([1, 0]), np.array([]), object()]
GOOD_ACTIONS = [1, np.int64(1), np.array(1), np.array([1]), 1.0, np.float32(1.0)]


def test_the_generators_cover_every_feedback_wrapper_and_numeric_role() -> None:
    assert {"unary_feedback", "binary_feedback", "text_feedback", "deceptive_feedback"} <= set(FEEDBACK_WRAPPERS)
    assert len(NUMERIC_IDS) >= 6


@pytest.mark.parametrize("name", FEEDBACK_WRAPPERS)
def test_a_feedback_wrapper_refuses_an_environment_without_feedback_events(name: str) -> None:
    # JudgeProtocol-v0's judge reports to the environment: the wrapper was accepted and never changed anything.
    base = make("JudgeProtocol-v0", order_enforcing=False)
    with pytest.raises(TypeError, match="emits none"):
        wrapper_registry.get(name)(base)
    assert base.unwrapped.feedback_transforms == []


@pytest.mark.parametrize("env_id", [env_id for env_id in sorted(registry) if getattr(make(env_id).unwrapped, "task_source", None) is None])
def test_deceptive_feedback_refuses_an_environment_without_tasks(env_id: str) -> None:
    # Without a task it passed every event through unchanged: a deception experiment with no deception.
    base = make(env_id, order_enforcing=False)
    with pytest.raises(TypeError, match="has no tasks"):
        wrapper_registry.get("deceptive_feedback")(base)
    assert base.unwrapped.feedback_transforms == []  # the refused wrapper left nothing behind


@pytest.mark.parametrize("gym_id", NUMERIC_IDS)
def test_a_numeric_view_refuses_what_is_not_one_integer_of_its_space_and_plays_on(gym_id: str) -> None:
    env = gymnasium.make(f"feedbackgym.gym:{gym_id}", disable_env_checker=True)
    env.reset(seed=0)
    transcript = env.unwrapped.env.unwrapped.transcript
    before = len(transcript)
    for action in BAD_ACTIONS:
        with pytest.raises(ArgumentError, match=r"^action must be one integer in 0\.\.\d+ \(the Discrete action space\)"):
            env.step(action)
    assert len(transcript) == before  # refused before anything was played
    for action in GOOD_ACTIONS:
        env.reset(seed=0)
        observation, *_ = env.step(action)
        assert env.observation_space.contains(observation)


@pytest.mark.parametrize("action", [float("inf"), float("nan"), 1.5, "x", np.array([0, 1]), object()], ids=repr)
def test_a_padded_numeric_view_plays_any_action_outside_the_mask_as_an_invalid_move(action) -> None:
    env = make("Negotiation-v0", n_games=1, wrappers=[("numeric_view", {"pad": True, "others": {"critic_0": "critic_coach"}})])
    env.reset(seed=0)
    agent = env.agent_selection
    before = len(env.unwrapped.transcript)
    env.step(action)  # infinity raised OverflowError; the rest were played as an empty reply, a legal move here
    assert env.unwrapped.invalid_moves[agent] == 1
    invalid = env.unwrapped.transcript[before]
    assert (invalid.sender, invalid.kind, invalid.text) == (agent, "invalid", "")
    assert "outside this role's action mask" in invalid.data["error"]


@pytest.mark.parametrize("view", ["feedbackgym/SolverFeedback-v0-solver_0", "feedbackgym/Negotiation-v0-seller_0-numeric"])
def test_views_take_numpy_integer_seeds_and_refuse_bools(view: str) -> None:
    # Gymnasium's seeding refused np.int64 (SyncVectorEnv.reset(seed=np.int64(5)) hands on seed + i) and took True.
    def first(seed):
        observation, info = gymnasium.make(f"feedbackgym.gym:{view}", disable_env_checker=True).reset(seed=seed)
        return {key: np.asarray(value).tolist() for key, value in observation.items()} if isinstance(observation, dict) else observation.tolist()

    assert first(np.int64(7)) == first(7)
    with pytest.raises(ArgumentError, match="seed must be an integer >= 0 or None, got True"):
        first(True)


def test_numeric_aec_takes_numpy_integer_seeds() -> None:
    def opening(seed):
        env = make("Negotiation-v0", n_games=1, wrappers=[("numeric_view", {"others": {"critic_0": "critic_coach"}})])
        env.reset(seed=seed)
        return {key: value.tolist() for key, value in env.last()[0].items()}

    assert opening(np.int64(3)) == opening(3)


def test_single_agent_reset_with_a_numpy_seed_is_the_int_seeds_episode() -> None:
    def opening(seed):
        env = SingleAgent("SolverFeedback-v0", "solver_0", {"teacher_0": "scripted_teacher"})
        observation, info = env.reset(seed=seed)
        return observation["text"], env.episode_seed

    assert opening(np.uint32(11)) == opening(11)
    assert type(opening(np.uint32(11))[1]) is int


def test_a_numeric_view_over_a_numeric_view_is_refused_when_built() -> None:
    # The outer view decoded an index into reply text and handed it to the inner one, which failed at the first
    # step on "action must be ... got 'The answer is \\boxed{2511}.'" (an action the user never gave).
    from feedbackgym.wrappers import make_numeric

    with pytest.raises(TypeError, match="already has a numeric view"):
        make("SolverFeedback-v0", wrappers=["numeric_view", "unary_feedback", "numeric_view"])
    with pytest.raises(TypeError, match="already has a numeric view"):
        make_numeric(make("SolverFeedback-v0", wrappers=["numeric_view"]), "solver_0", {"teacher_0": "scripted_teacher"})


@pytest.mark.parametrize("name", sorted(wrapper_registry.names()))
def test_every_wrapper_given_no_aec_environment_says_what_it_wraps(name: str) -> None:
    # An id, a Gymnasium view or None failed deep inside ("'str' object has no attribute 'unwrapped'").
    wrapper = wrapper_registry.get(name)
    view = SingleAgent("SolverFeedback-v0", "solver_0", {"teacher_0": "scripted_teacher"})
    for target, hint in (("SolverFeedback-v0", "build it first"), (view, "single-role Gymnasium view"), (None, "got None")):
        with pytest.raises(TypeError, match=f"wraps a PettingZoo AEC environment .*{hint}"):
            wrapper(target)


@pytest.mark.parametrize("name", FEEDBACK_WRAPPERS)
def test_a_feedback_wrapper_for_no_receiver_is_an_error(name: str) -> None:
    # receivers=[] (a Hydra list left empty) made a wrapper that never applied, without a word.
    with pytest.raises(ArgumentError, match=r"receivers must be a non-empty list of agent ids, or None for every receiver, got \[\]"):
        make("SolverFeedback-v0", task="knowledge_mcq", wrappers=[(name, {"receivers": []})])


def test_a_solver_without_an_answer_range_is_told_the_argument_of_the_view_it_called() -> None:
    # The Gymnasium id of SolverFeedback-FF-v0 advised encoders={'solver_0': ...}, numeric_view's argument, which
    # gymnasium.make does not take; the single-role form is encoder={'answers': [low, high]}.
    gym_id = "feedbackgym.gym:feedbackgym/SolverFeedback-FF-v0-solver_0-numeric"
    with pytest.raises(ArgumentError, match=r"encoder=\{'answers': \[0, 200\]\} for a single-role view") as refused:
        gymnasium.make(gym_id)
    assert "encoders={'solver_0': {'answers': [0, 200]}} for numeric_view" in str(refused.value)
    assert gymnasium.make(gym_id, encoder={"answers": [0, 200]}).action_space.n == 201


def test_a_refused_reset_of_a_view_leaves_its_episode_and_seed() -> None:
    # episode_seed was set before the environment refused the options: it named an episode that never started.
    def view():
        env = SingleAgent("SolverFeedback-v0", "solver_0", {"teacher_0": "scripted_teacher"})
        env.reset(seed=3)
        return env

    refused, untouched = view(), view()
    with pytest.raises(ArgumentError, match="options must be a dict"):
        refused.reset(seed=4, options="task=knowledge_mcq")
    assert refused.episode_seed == 3
    assert refused.step("\\boxed{1}")[0]["text"] == untouched.step("\\boxed{1}")[0]["text"]
