"""Numeric views that cover the game: hidden others, one padded space for all agents, default answer ranges, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import api_test

from feedbackgym.envs import make
from feedbackgym.envs.core.checks import ArgumentError
from feedbackgym.wrappers.encoding import NumericAEC, default_answers, default_encoder


def numeric(env_id: str, **kwargs):
    return make(env_id, wrappers=[("numeric_view", kwargs)])


def play_to_end(env, seed: int = 0) -> list[str]:
    """Every visible agent acts with action 0 (a valid index for every encoder); returns who acted."""
    env.reset(seed=seed)
    acted = []
    for agent in env.agent_iter(500):
        observation, _, terminated, truncated, _ = env.last()
        if terminated or truncated:
            env.step(None)
            continue
        assert env.observation_space(agent).contains(observation), agent
        acted.append(agent)
        env.step(0)
    assert not env.agents
    return acted


def test_others_are_played_inside_and_hidden() -> None:
    env = numeric("Critic-v0", others={"actor_0": "scripted_actor"}, flatten=True)
    assert env.possible_agents == ["critic_0"]
    env.reset(seed=0)
    assert set(env.rewards) == set(env.terminations) == set(env.infos) == {"critic_0"}
    acted = play_to_end(env)
    assert acted and set(acted) == {"critic_0"}
    # the hidden actor did play: the transcript holds its moves
    assert any(message.to_dict()["sender"] == "actor_0" for message in env.unwrapped.transcript)


def test_without_others_the_text_roles_stay_visible() -> None:
    env = numeric("Critic-v0")
    assert env.possible_agents == ["actor_0", "critic_0"]
    assert type(env.action_space("actor_0")).__name__ == "PrintableText"


def test_a_view_with_others_passes_pettingzoo_api_test() -> None:
    api_test(numeric("Negotiation-v0", others={"critic_0": "critic_coach"}, flatten=True), num_cycles=30)


def test_hidden_others_give_the_same_episode_as_playing_them_outside() -> None:
    """Seeding: the hidden agent is reset with agent_seed(seed, index), as the runner does."""
    from feedbackgym.agents import make_agent
    from feedbackgym.envs.core.seeding import agent_seed

    hidden = numeric("Negotiation-v0", others={"critic_0": "critic_coach"}, flatten=True)
    shown = numeric("Negotiation-v0", flatten=True)
    coach = make_agent("critic_coach")
    play_to_end(hidden, seed=3)
    shown.reset(seed=3)
    coach.reset(seed=agent_seed(3, shown.unwrapped.possible_agents.index("critic_0")))
    for agent in shown.agent_iter(500):
        observation, _, terminated, truncated, info = shown.last()
        if terminated or truncated:
            shown.step(None)
        else:
            shown.step(coach.act(observation, info) if agent == "critic_0" else 0)
    assert [m.to_dict() for m in hidden.unwrapped.transcript] == [m.to_dict() for m in shown.unwrapped.transcript]


def test_pad_gives_every_agent_one_space_and_a_mask() -> None:
    env = numeric("DeceptiveJudge-v0", pad=True)
    spaces = {agent: env.observation_space(agent) for agent in env.possible_agents}
    assert len({repr(space) for space in spaces.values()}) == 1
    assert len({repr(env.action_space(agent)) for agent in env.possible_agents}) == 1
    env.reset(seed=0)
    observation = env.observe(env.agent_selection)
    encoder = env.encoders[env.agent_selection]
    assert observation["action_mask"].sum() == encoder.n_actions
    assert observation["observation"].shape == spaces[env.agent_selection]["observation"].shape
    play_to_end(env)


def test_pad_plays_a_masked_action_as_an_invalid_move_not_an_error() -> None:
    env = numeric("DeceptiveJudge-v0", pad=True)
    env.reset(seed=0)
    narrow = [a for a in env.possible_agents if env.encoders[a].n_actions < env.action_space(a).n]
    assert narrow, "the solver keeps or switches (2 actions); the judge has more"
    for agent in env.agent_iter(50):
        observation, _, terminated, truncated, _ = env.last()
        if terminated or truncated:
            env.step(None)
        elif agent in narrow:
            assert observation["action_mask"][-1] == 0
            before = len(env.unwrapped.transcript)
            env.step(env.action_space(agent).n - 1)  # masked: never raises
            assert len(env.unwrapped.transcript) > before
            message = env.unwrapped.transcript[before].to_dict()
            assert (message["sender"], message["kind"], message["text"]) == (agent, "invalid", "")
            return
        else:
            env.step(0)
    pytest.fail("the narrow role never got a turn")


def test_pad_refuses_visible_text_roles() -> None:
    with pytest.raises(ValueError, match="critic_0"):
        numeric("Negotiation-v0", pad=True)


@pytest.mark.parametrize("env_id", ["SolverFeedback-v0", "SolverFeedback-MINT-v0", "SolverFeedback-RLTF-v0", "SolverFeedback-UFO-v0"])
def test_arithmetic_solvers_get_a_default_answer_range(env_id: str) -> None:
    env = numeric(env_id, others={"teacher_0": "scripted_teacher"}, flatten=True)
    assert env.encoders["solver_0"].answers == (0, 7200)  # difficulty 2 with + - * /
    acted = play_to_end(env)
    assert acted


def test_default_answers_cover_every_generated_answer() -> None:
    from feedbackgym.envs.tasks.arithmetic import ArithmeticTasks

    for difficulty, operations, negative in [(1, "+-*/", False), (2, "+-", True), (3, "+-", False), (2, "+-*/", True)]:
        source = ArithmeticTasks(difficulty=difficulty, operations=operations, allow_negative=negative)
        low, high = default_answers(source)
        answers = [int(source.from_seed(seed).answer) for seed in range(400)]
        assert low <= min(answers) and max(answers) <= high


def test_long_multiplication_refuses_with_the_way_out() -> None:
    with pytest.raises(ArgumentError, match=r"answers=\(low, high\)"):
        numeric("SolverFeedback-FF-v0")
    env = numeric("SolverFeedback-FF-v0", encoders={"solver_0": {"answers": [0, 99]}})
    assert env.encoders["solver_0"].n_actions == 100


@pytest.mark.parametrize("env_id", ["JudgeProtocol-v0", "SimulatedUser-v0", "SimulatedUser-MINT-v0"])
def test_games_without_a_built_in_encoder_are_refused_not_left_unencoded(env_id: str) -> None:
    with pytest.raises(ArgumentError, match="would encode nothing"):
        numeric(env_id)


def test_others_and_encoders_may_not_name_the_same_role() -> None:
    with pytest.raises(ValueError, match="both encoded and played"):
        numeric("Critic-v0", encoders={"critic_0": None}, others={"critic_0": "scripted_critic"})
    with pytest.raises(ValueError, match="not agents"):
        NumericAEC(make("Critic-v0"), others={"nobody_0": "random"})


def test_default_encoder_on_a_numeric_task_reads_the_range() -> None:
    env = make("SolverFeedback-v0")
    encoder = default_encoder(env, "solver_0")
    assert encoder.answers == (0, 7200)
    assert np.isfinite(encoder.flat_space().low).all()
