"""Every registered id at the edges of PettingZoo's API: seeds and options of every kind, and PettingZoo's converters."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pettingzoo.utils.conversions import aec_to_parallel

from feedbackgym.envs import make, registry
from feedbackgym.envs.core.checks import ArgumentError

ENV_IDS = sorted(registry)
# The ids whose episodes play a task from a task source: reset(options={"task": Task}) gives the task.
TASK_ENV_IDS = [env_id for env_id in ENV_IDS if getattr(make(env_id).unwrapped, "task_source", None) is not None]
REPLY = "I think the answer is \\boxed{3}. How about $12?"


def opening(env_id: str, seed, steps: int = 12, options=None) -> list[tuple[str, str]]:
    """The first messages of an episode in which every agent says the same reply."""
    env = make(env_id)
    env.reset(seed=seed, options=options)
    for agent in env.agent_iter(steps):
        _, _, terminated, truncated, _ = env.last()
        env.step(None if terminated or truncated else REPLY)
    return [(message.sender, message.text) for message in env.unwrapped.transcript]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_aec_to_parallel_refuses_the_turn_based_games_at_once(env_id: str) -> None:
    # The metadata said is_parallelizable=True, so aec_to_parallel wrapped the env and then failed in the
    # middle of an episode ("expects agents to step in a cycle"); make_parallel is the Parallel API here.
    assert make(env_id).metadata["is_parallelizable"] is False
    with pytest.raises(AssertionError, match="is_parallelizable"):
        aec_to_parallel(make(env_id))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_a_numpy_integer_seed_plays_the_episode_of_its_int(env_id: str) -> None:
    # Gymnasium's seeding refused numpy integers (what np.random.integers and seed arrays give).
    expected = opening(env_id, 5)
    assert opening(env_id, np.int64(5)) == expected
    assert opening(env_id, np.uint16(5)) == expected


@pytest.mark.parametrize("seed", [True, False, -1, 3.0, "3", np.array([3])], ids=repr)
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_a_seed_that_is_no_integer_is_an_error_naming_the_seed(env_id: str, seed) -> None:
    # seed=True used to play an episode of its own (not seed 1's); -1 raised Gymnasium's own error type.
    env = make(env_id)
    with pytest.raises(ArgumentError, match=r"seed must be an integer >= 0 or None"):
        env.reset(seed=seed)


@pytest.mark.parametrize("options", ["task", ["task"], 5], ids=repr)
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_options_that_are_not_a_dict_are_an_error_naming_options(env_id: str, options) -> None:
    # They reached the environment's episode start and failed there ("'str' object has no attribute 'get'").
    with pytest.raises(ArgumentError, match=r"^options must be a dict"):
        make(env_id).reset(seed=0, options=options)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_an_unknown_option_is_unused_and_named_in_a_warning(env_id: str) -> None:
    # Not an error (PettingZoo's api_test resets with options={"options": 1}), but no longer silent either.
    env = make(env_id)
    with pytest.warns(UserWarning, match=r"reset options 'tsak' are unused"):
        env.reset(seed=0, options={"tsak": None})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env.reset(seed=0, options={key: None for key in env.unwrapped.reset_options})  # every listed key is used


@pytest.mark.parametrize("env_id", TASK_ENV_IDS)
def test_a_task_option_that_is_not_a_task_is_an_error_and_the_episode_plays_on(env_id: str) -> None:
    # A prompt string was ignored (a random task played instead); SimulatedUser failed deep inside on it.
    env = make(env_id)
    env.reset(seed=0)
    env.step(REPLY)
    before = [(message.sender, message.text) for message in env.unwrapped.transcript]
    with pytest.raises(ArgumentError, match=r"options\['task'\] must be a Task"):
        env.reset(seed=1, options={"task": "Compute 2 + 2."})
    assert [(message.sender, message.text) for message in env.unwrapped.transcript] == before  # refused before anything changed


@pytest.mark.parametrize("env_id", TASK_ENV_IDS)
def test_a_given_task_is_the_episodes_task(env_id: str) -> None:
    assert "task" in make(env_id).unwrapped.reset_options
    env = make(env_id)
    env.reset(seed=1)
    task = env.unwrapped.task
    env.reset(seed=2, options={"task": task})
    assert env.unwrapped.task is task


def test_critics_attempt_correct_option_takes_a_real_bool() -> None:
    env = make("Critic-v0")
    env.reset(seed=0)
    attempt, transcript = env.unwrapped.attempt, list(env.unwrapped.transcript)
    with pytest.raises(ArgumentError, match=r"options\['attempt_correct'\] must be true or false, got 'false'"):
        env.reset(seed=1, options={"attempt_correct": "false"})  # bool("false") made a correct attempt
    assert env.unwrapped.attempt is attempt and env.unwrapped.transcript == transcript  # refused before the reset began
    for correct in (True, False):
        env.reset(seed=0, options={"attempt_correct": correct})
        assert env.unwrapped.infos["critic_0"]["latent"]["attempt_correct"] is correct


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_spaces_of_a_wrong_agent_id_name_the_agents(env_id: str) -> None:
    # A bare KeyError('nobody') (or a TypeError for an unhashable id) said nothing about what the agents are.
    env = make(env_id)
    agents = env.unwrapped.possible_agents
    for space in (env.observation_space, env.action_space):
        for wrong in ("nobody", ["solver_0"]):
            with pytest.raises(KeyError, match=f"is not an agent of .*; its agents are {', '.join(agents)}"):
                space(wrong)
        assert all(space(agent) is not None for agent in agents)  # in an episode or not


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_a_refused_first_reset_leaves_the_env_unstarted(env_id: str) -> None:
    # PettingZoo's order wrapper marked the env reset before trying, so step went on into an env that never
    # started and failed deep inside (no agent_selection).
    env = make(env_id)
    with pytest.raises(ArgumentError):
        env.reset(seed=-1)
    with pytest.raises(AssertionError, match=r"reset\(\) needs to be called before step"):
        env.step(REPLY)
    env.reset(seed=0)
    env.step(REPLY)
