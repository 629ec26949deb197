"""Other libraries' policies in the runner: PolicyAgent, evaluate_policy, bare agents with only act, Gymnasium ids."""

from __future__ import annotations

import asyncio

import gymnasium
import numpy as np
import pytest

from feedbackgym.agents import make_agent
from feedbackgym.agents.policy import PolicyAgent
from feedbackgym.envs import make
from feedbackgym.experiments.runner import EpisodeJob, rollout, run_episodes
from feedbackgym.experiments.views import evaluate_policy, gym_id, make_view, parse_gym_id
from feedbackgym.wrappers.encoding import make_numeric

MCQ = {"task": "knowledge_mcq", "max_turns": 3}
ENCODER = {"kind": "solver", "n_choices": 4, "knowledge": 1.0}


class ActOnly:
    """The whole agent protocol: act. No reset, aact, stats, plays."""

    def act(self, observation, info):
        return "The answer is \\boxed{A}."


def test_an_object_with_only_act_plays_in_the_runner() -> None:
    result = rollout("SolverFeedback-v0", {"solver_0": ActOnly(), "teacher_0": "scripted_teacher"}, seed=0, **MCQ)
    assert result.error is None and result.steps >= 1
    assert result.agents == {}  # no stats: nothing recorded, nothing raised


def test_an_object_with_only_act_plays_in_run_episodes_and_async_act_is_awaited() -> None:
    class AsyncAct:
        async def act(self, observation, info):
            return "The answer is \\boxed{B}."

    jobs = [EpisodeJob(str(i), i) for i in range(3)]
    for agent in (ActOnly(), AsyncAct()):
        records = asyncio.run(run_episodes(jobs, lambda c: make("SolverFeedback-v0", **MCQ),
                                           lambda c, a=agent: {"solver_0": a, "teacher_0": make_agent("scripted_teacher")}))
        assert [r["error"] for r in records] == [None] * 3


def test_policy_agent_sees_what_the_numeric_view_shows() -> None:
    """The same seeds give the same features in the view and in the runner (so a trained policy behaves alike)."""
    seen_in_runner: list[np.ndarray] = []

    def policy(observation: np.ndarray) -> int:
        seen_in_runner.append(observation.copy())
        return int(np.argmax(observation[-4:]))  # the prior's favourite option

    result = rollout("SolverFeedback-v0", {"solver_0": PolicyAgent(policy, encoder=ENCODER), "teacher_0": "scripted_teacher"},
                     seed=7, **MCQ)
    view = make_numeric("SolverFeedback-v0", "solver_0", {"teacher_0": "scripted_teacher"}, encoder=ENCODER, flatten=True, **MCQ)
    observation, _ = view.reset(seed=7)
    np.testing.assert_allclose(observation, seen_in_runner[0])
    assert result.error is None


def test_policy_agent_takes_sb3_style_and_import_path_policies() -> None:
    class Predicts:
        def predict(self, observation, deterministic=True):
            return np.array(2), None

    agent = PolicyAgent(Predicts(), encoder=ENCODER)
    result = rollout("SolverFeedback-v0", {"solver_0": agent, "teacher_0": "scripted_teacher"}, seed=0, **MCQ)
    replies = [m["text"] for m in result.transcript if m["sender"] == "solver_0"]
    assert replies and all("\\boxed{C}" in reply for reply in replies)
    by_name = make_agent("policy", policy="builtins:abs", encoder=None)  # any importable callable
    assert callable(by_name._call)
    with pytest.raises(Exception, match="cannot be imported"):
        PolicyAgent("no_such_module_x:policy")


def test_policy_agent_builds_the_default_encoder_when_mounted() -> None:
    agent = PolicyAgent(lambda obs: 0)
    result = rollout("Negotiation-v0", {"seller_0": agent, "buyer_0": "concession_negotiator", "critic_0": "critic_coach"}, seed=1)
    assert result.error is None and agent.encoder.kind == "negotiator"
    with pytest.raises(Exception, match="made for"):
        rollout("Critic-v0", {"critic_0": PolicyAgent(lambda obs: 0, encoder={"kind": "solver", "n_choices": 4}), "actor_0": "scripted_actor"}, seed=0)


def test_evaluate_policy_returns_the_runners_metrics() -> None:
    view = make_numeric("SolverFeedback-v0", "solver_0", {"teacher_0": "scripted_teacher"}, encoder=ENCODER, flatten=True, **MCQ)
    always_a = evaluate_policy(lambda obs: 0, view, episodes=6, seed=0)
    assert always_a.summary["episodes"] == 6 and 0.0 <= always_a.summary["acc@1"] <= 1.0
    assert len(always_a.metrics) == 6 and all("solved" in m for m in always_a.metrics)
    by_id = evaluate_policy(lambda obs: 0, gym_id("SolverFeedback-v0", "solver_0", numeric=True), episodes=6, seed=0,
                            encoder=ENCODER, **MCQ)
    assert by_id.metrics == always_a.metrics  # same seeds, same episodes
    # the view's own episodes: the solver answers A every turn, so solved iff the gold is A
    for i, metrics in enumerate(always_a.metrics):
        _, info = view.reset(seed=i)
        assert metrics["solved"] == (info["latent"]["gold"] == "A")


def test_gymnasium_ids_text_and_numeric() -> None:
    import feedbackgym.gym  # noqa: F401  (registers the ids)

    assert parse_gym_id("feedbackgym/DeceptiveJudge-Moderator-v0-judge_0-numeric") == ("DeceptiveJudge-Moderator-v0", "judge_0", True)
    text = gymnasium.make("feedbackgym/SolverFeedback-v0-solver_0", **MCQ)
    observation, info = text.reset(seed=0)
    assert isinstance(observation["text"], str)
    numeric = gymnasium.make("feedbackgym.gym:feedbackgym/Negotiation-v0-buyer_0-numeric")
    observation, _ = numeric.reset(seed=0)
    assert numeric.observation_space.contains(observation) and isinstance(numeric.action_space, gymnasium.spaces.Discrete)
    assert "feedbackgym/SimulatedUser-v0-assistant_0-numeric" not in gymnasium.registry  # no encoder: no numeric id
    envs = gymnasium.make_vec("feedbackgym/SolverFeedback-v0-solver_0-numeric", num_envs=2, vectorization_mode="sync",
                              encoder=ENCODER, **MCQ)
    observations, _ = envs.reset(seed=0)
    assert observations.shape == (2, 34)
    envs.step(np.array([0, 1]))
    envs.close()


def test_make_view_defaults_the_other_roles() -> None:
    view = make_view("Critic-v0", "critic_0", numeric=True)
    assert sorted(view.env.others) == ["actor_0"] and type(view.env.others["actor_0"]).__name__ == "ScriptedActor"


def test_doctests() -> None:
    import doctest

    from feedbackgym.agents import policy
    from feedbackgym.experiments import views

    assert doctest.testmod(policy).failed == 0
    assert doctest.testmod(views).failed == 0


@pytest.mark.parametrize("returned", [1.5, float("nan"), float("inf"), [1, 2], np.array([0, 3]), "1", None, True, np.array([], dtype=np.int64)])
def test_a_policy_returning_no_single_integer_is_refused_not_truncated(returned) -> None:
    """1.5 was played as 1 and [1, 2] as 1: moves the policy never chose."""
    agent = PolicyAgent(lambda features: returned, encoder=ENCODER)
    env = make("SolverFeedback-v0", **MCQ)
    agent.check_fit(env, "solver_0")
    env.reset(seed=0)
    observation, _, _, _, info = env.last()
    with pytest.raises(ValueError, match="needs one integer action index"):
        agent.act(observation, info)


@pytest.mark.parametrize("returned", [2, np.int64(2), 2.0, np.array([2]), np.array([[2.0]])])
def test_a_policy_returning_one_integer_in_any_form_plays_it(returned) -> None:
    import torch

    env = make("SolverFeedback-v0", **MCQ)
    for value in (returned, torch.tensor(np.asarray(returned, dtype=np.float32), requires_grad=True)):
        agent = PolicyAgent(lambda features, value=value: value, encoder=ENCODER)
        agent.check_fit(env, "solver_0")
        env.reset(seed=0)
        observation, _, _, _, info = env.last()
        assert agent.action(observation, info) == 2 and "\\boxed{C}" in agent.act(observation, info)
