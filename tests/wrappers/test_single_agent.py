"""SingleAgent: one role of an AEC env as a gymnasium.Env, checked against Gymnasium and the runner."""

from __future__ import annotations

import doctest
import subprocess
import sys
import textwrap

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from feedbackgym.agents import make_agent
from feedbackgym.envs import make
from feedbackgym.experiments import runner
from feedbackgym.wrappers import SingleAgent, single_agent

SOLVER, TEACHER = "solver_0", "teacher_0"


class Constant:
    """An agent-like object that is not an ``Agent``: always the same reply."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.seeds: list[int | None] = []

    def act(self, observation, info) -> str:
        return self.reply

    def reset(self, seed=None) -> None:
        self.seeds.append(seed)


class Oracle(Constant):
    """A solver that reads the gold answer from the behaviour-model info and is always right."""

    def __init__(self) -> None:
        super().__init__("")

    def act(self, observation, info) -> str:
        return f"\\boxed{{{info['latent']['gold']}}}"


@pytest.mark.parametrize(
    ("env_id", "learner", "others"),
    [
        ("SolverFeedback-v0", SOLVER, {TEACHER: "scripted_teacher"}),
        ("SolverFeedback-UFO-v0", SOLVER, {TEACHER: "scripted_teacher"}),
        ("SolverFeedback-v0", TEACHER, {SOLVER: "friction_solver"}),
    ],
)
def test_check_env(env_id, learner, others):
    env = SingleAgent(env_id, learner, others)
    check_env(env, skip_render_check=True)
    assert env.observation_space == env.env.observation_space(learner)
    assert env.action_space == env.env.action_space(learner)


def play(view: SingleAgent, learner_agent, seed: int):
    """One episode through the view, the learner's agent seeded as the runner would seed it."""
    index = view.env.possible_agents.index(view.learner)
    learner_agent.reset(seed=runner.agent_seed(seed, index))
    observation, info = view.reset(seed=seed)
    assert observation in view.observation_space
    rewards, steps, terminated, truncated = [], 0, False, False
    while not (terminated or truncated):
        action = learner_agent.act(observation, info)
        observation, reward, terminated, truncated, info = view.step(action)
        assert observation in view.observation_space
        rewards.append(reward)
        steps += 1
        assert steps < 1000
    return rewards, info


LEARNER_AGENTS = {SOLVER: ("friction_solver", {}), TEACHER: ("scripted_teacher", {"p_wrong_feedback": 0.2})}


@pytest.mark.parametrize("env_id", ["SolverFeedback-v0", "SolverFeedback-UFO-v0", "SolverFeedback-FF-v0", "SolverFeedback-MINT-v0"])
@pytest.mark.parametrize("learner", [SOLVER, TEACHER])
@pytest.mark.parametrize("seed", [0, 1, 7, 123])
def test_episode_matches_runner_rollout(env_id, learner, seed):
    specs = {agent: {"name": name, "kwargs": kwargs} for agent, (name, kwargs) in LEARNER_AGENTS.items()}
    expected = runner.rollout(env_id, specs, seed=seed)
    assert expected.error is None
    others = {agent: spec for agent, spec in specs.items() if agent != learner}
    view = SingleAgent(env_id, learner, others)
    rewards, final_info = play(view, make_agent(specs[learner]["name"], **specs[learner]["kwargs"]), seed)
    transcript = [message.to_dict() for message in view.env.unwrapped.transcript]
    assert transcript == expected.transcript
    assert sum(rewards) == pytest.approx(expected.returns[learner])
    # The view leaves out None values, so that each info key keeps one type (vector envs need it).
    assert final_info["episode"] == {key: value for key, value in expected.metrics.items() if value is not None}
    if expected.metrics["invalid_moves"] == 0:
        assert sum(rewards) == pytest.approx(expected.metrics["solver_return"])


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_rewards_include_invalid_move_penalties(seed):
    """A learner that often writes nonsense: penalties arrive in the rewards as in the AEC loop."""
    specs = {SOLVER: {"name": "random", "kwargs": {"p_valid": 0.4}}, TEACHER: "scripted_teacher"}
    expected = runner.rollout("SolverFeedback-UFO-v0", specs, seed=seed)
    view = SingleAgent("SolverFeedback-UFO-v0", SOLVER, {TEACHER: "scripted_teacher"})
    rewards, final_info = play(view, make_agent("random", p_valid=0.4), seed)
    assert [m.to_dict() for m in view.env.unwrapped.transcript] == expected.transcript
    assert sum(rewards) == pytest.approx(expected.returns[SOLVER])
    assert final_info["episode"]["invalid_moves"] == expected.metrics["invalid_moves"]


def test_agent_specs_as_the_runner_reads_them():
    """A name, a flat Hydra-style spec, and a nested "kwargs" spec all build the same agent."""
    flat = SingleAgent("SolverFeedback-v0", SOLVER, {TEACHER: {"name": "scripted_teacher", "p_wrong_feedback": 0.3}})
    nested = SingleAgent("SolverFeedback-v0", SOLVER, {TEACHER: {"name": "scripted_teacher", "kwargs": {"p_wrong_feedback": 0.3}}})
    assert flat.others[TEACHER].p_wrong_feedback == nested.others[TEACHER].p_wrong_feedback == 0.3
    assert runner.build_agents({TEACHER: {"name": "scripted_teacher", "p_wrong_feedback": 0.3}})[TEACHER].p_wrong_feedback == 0.3
    with pytest.raises(TypeError, match="p_wrong"):
        SingleAgent("SolverFeedback-v0", SOLVER, {TEACHER: {"name": "scripted_teacher", "p_wrong": 0.3}})


def test_agent_seed_matches_runner():
    for seed in (None, 0, 1, 2**40):
        for index in range(3):
            assert single_agent.agent_seed(seed, index) == runner.agent_seed(seed, index)


def test_others_are_reset_with_position_seeds():
    teacher = Constant("incorrect")
    view = SingleAgent("SolverFeedback-v0", SOLVER, {TEACHER: teacher})
    view.reset(seed=11)
    assert teacher.seeds == [runner.agent_seed(11, 1)]


def test_unseeded_resets_are_reproducible_from_the_constructor_seed():
    def episodes(view):
        firsts = [view.reset()[0]["text"] for _ in range(3)]
        return firsts, view.episode_seed

    one = SingleAgent("SolverFeedback-v0", SOLVER, {TEACHER: "scripted_teacher"}, seed=5)
    two = SingleAgent("SolverFeedback-v0", SOLVER, {TEACHER: "scripted_teacher"}, seed=5)
    assert episodes(one) == episodes(two)
    first, _ = one.reset(seed=9)
    again, _ = two.reset(seed=9)
    assert first["text"] == again["text"] and one.episode_seed == 9


def test_episode_ended_by_the_others_before_the_learner_moves():
    """The solver is right at once: the teacher never gets a turn, yet still receives its reward."""
    view = SingleAgent("SolverFeedback-v0", TEACHER, {SOLVER: Oracle()})
    observation, info = view.reset(seed=0)
    assert info["episode"]["solved"] is True
    observation, reward, terminated, truncated, info = view.step("this action is ignored")
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert not any(m.sender == TEACHER for m in view.env.unwrapped.transcript)
    with pytest.raises(RuntimeError, match="reset"):
        view.step("again")


def test_step_before_reset_raises():
    view = SingleAgent("SolverFeedback-v0", SOLVER, {TEACHER: "scripted_teacher"})
    with pytest.raises(RuntimeError, match="reset"):
        view.step("\\boxed{1}")


def test_final_observation_and_reward_of_a_long_failed_episode():
    view = SingleAgent("SolverFeedback-v0", SOLVER, {TEACHER: Constant("Your answer is incorrect.")}, max_turns=3)
    view.reset(seed=0)
    results = [view.step("\\boxed{-987654321}") for _ in range(3)]
    assert [r[2] for r in results] == [False, False, True]
    final_observation = results[-1][0]
    assert float(final_observation["turns_left"][0]) == 0.0 and float(final_observation["turn"][0]) == 3.0
    assert sum(r[1] for r in results) == 0.0
    assert results[-1][4]["episode"]["attempts"] == 3


def test_accepts_an_env_instance_and_agent_objects():
    env = make("SolverFeedback-v0", max_turns=2, render_mode="ansi")
    view = SingleAgent(env, SOLVER, {TEACHER: make_agent("scripted_teacher")})
    view.reset(seed=0)
    view.step("\\boxed{1}")
    text = view.render()
    assert text == env.unwrapped.render_transcript() and "solver_0 -> solver_0,teacher_0:\n    \\boxed{1}" in text
    with pytest.raises(TypeError, match="environment id"):
        SingleAgent(env, SOLVER, {TEACHER: "scripted_teacher"}, max_turns=3)


def test_render_without_render_mode_warns():
    view = SingleAgent("SolverFeedback-v0", SOLVER, {TEACHER: "scripted_teacher"})
    view.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode"):
        assert view.render() is None
    assert SingleAgent("SolverFeedback-v0", SOLVER, {TEACHER: "scripted_teacher"}, render_mode="ansi").render_mode == "ansi"


def test_unknown_learner_lists_the_agents():
    with pytest.raises(ValueError, match=r"'student_0'.*solver_0.*teacher_0"):
        SingleAgent("SolverFeedback-v0", "student_0", {TEACHER: "scripted_teacher"})


def test_missing_others_are_named():
    with pytest.raises(ValueError, match=r"others has no agent for \['teacher_0'\]"):
        SingleAgent("SolverFeedback-v0", SOLVER, {})


def test_extra_others_are_rejected():
    with pytest.raises(ValueError, match="is the learner"):
        SingleAgent("SolverFeedback-v0", SOLVER, {TEACHER: "scripted_teacher", SOLVER: "friction_solver"})
    with pytest.raises(ValueError, match=r"\['critic_0'\]"):
        SingleAgent("SolverFeedback-v0", SOLVER, {TEACHER: "scripted_teacher", "critic_0": "scripted_teacher"})


def test_bad_agent_values():
    with pytest.raises(TypeError, match=r"others\['teacher_0'\]"):
        SingleAgent("SolverFeedback-v0", SOLVER, {TEACHER: 42})
    with pytest.raises(Exception, match="scripted_teacher"):  # the registry's "did you mean"
        SingleAgent("SolverFeedback-v0", SOLVER, {TEACHER: "scripted_teachr"})
    # act is the whole agent protocol: an object without reset plays (it keeps its own state)
    env = SingleAgent("SolverFeedback-v0", SOLVER, {TEACHER: type("ActOnly", (), {"act": lambda self, o, i: "x"})()})
    env.reset(seed=0)
    env.step("\\boxed{1}")


def test_sync_vector_env_batches_four_copies():
    def thunk():
        return SingleAgent("SolverFeedback-v0", SOLVER, {TEACHER: "scripted_teacher"}, max_turns=3)

    envs = gymnasium.vector.SyncVectorEnv([thunk for _ in range(4)])
    observations, infos = envs.reset(seed=0)
    assert len(observations["text"]) == 4 and all(isinstance(text, str) for text in observations["text"])
    for key in ("turn", "turns_left", "feedback_level", "last_verdict", "last_reward"):
        assert observations[key].shape == (4, 1)
    for _ in range(4):  # past the end of the 3-turn episodes: autoreset runs too
        observations, rewards, terminated, truncated, infos = envs.step(("\\boxed{-987654321}",) * 4)
        assert rewards.shape == terminated.shape == truncated.shape == (4,)
        assert observations["turn"].shape == (4, 1)
    envs.close()


def test_import_stays_below_agents_and_experiments():
    """Importing the wrapper, and using it with agent objects, pulls in neither agents nor experiments."""
    code = textwrap.dedent(
        """
        import sys
        from feedbackgym.wrappers import SingleAgent

        class Teacher:
            def act(self, observation, info):
                return "incorrect"

            def reset(self, seed=None):
                pass

        view = SingleAgent("SolverFeedback-v0", "solver_0", {"teacher_0": Teacher()})
        view.reset(seed=0)
        view.step("\\\\boxed{1}")
        loaded = [m for m in sys.modules if m.startswith(("feedbackgym.agents", "feedbackgym.experiments"))]
        assert not loaded, loaded
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_returned_data_is_not_shared_with_the_env():
    view = SingleAgent("SolverFeedback-v0", SOLVER, {TEACHER: "scripted_teacher"})
    _, info = view.reset(seed=0)
    _, _, _, _, info = view.step("\\boxed{1}")
    info["feedback"]["text"] = "tampered"
    assert view.env.unwrapped.infos[SOLVER]["feedback"]["text"] != "tampered"


def test_docstring_example():
    results = doctest.testmod(single_agent, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0 and results.failed == 0


def test_numeric_observation_fields_are_float32_arrays():
    view = SingleAgent("SolverFeedback-v0", SOLVER, {TEACHER: "scripted_teacher"})
    observation, _ = view.reset(seed=0)
    assert observation["turn"].dtype == np.float32 and observation["turn"].shape == (1,)
