"""Environments survive pickling and deep copies at any point of an episode, and a copy plays on alone.

A copy taken mid-episode (the environment with its wrappers and its scripted cast, copied together) must
continue exactly as the original does, and copying must not disturb the original: both are checked
against the same episode played without a copy, over every registered id and every non-default
configuration of the broad golden set, with hostile replies mixed into the cast's.
"""

from __future__ import annotations

import copy
import importlib.util
import pickle
import random
import warnings
from pathlib import Path
from typing import Any, Callable

import pytest

import feedbackgym
from feedbackgym.agents.scripted.casts import scripted_cast
from feedbackgym.envs import registered_envs
from feedbackgym.envs.core.seeding import agent_seed

_spec = importlib.util.spec_from_file_location("feedbackgym_golden_for_copying", Path(__file__).with_name("golden.py"))
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)
HOSTILE_REPLIES, _digest, broad_configurations = golden.HOSTILE_REPLIES, golden._digest, golden.broad_configurations

COPIERS: dict[str, Callable[[Any], Any]] = {
    "pickle": lambda value: pickle.loads(pickle.dumps(value)),
    "deepcopy": copy.deepcopy,
}


def _start(env_id: str, kwargs: dict[str, Any], wrappers: list[Any], seed: int) -> tuple[Any, dict[str, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some configurations are unusual on purpose
        env = feedbackgym.make(env_id, wrappers=wrappers, **kwargs)
    agents = scripted_cast(env)
    env.reset(seed=seed)
    for index, agent_id in enumerate(env.possible_agents):
        agents[agent_id].reset(seed=agent_seed(seed, index))
    return env, agents


def _play(env: Any, agents: dict[str, Any], replies: random.Random, steps: int | None) -> list[str]:
    """Up to ``steps`` steps (all, if None) with hostile replies at rate 0.3; a digest of each step's view."""
    trace = []
    while env.agents and (steps is None or len(trace) < steps):
        agent_id = env.agent_selection
        observation, reward, terminated, truncated, info = env.last()
        trace.append(_digest({"agent": agent_id, "observation": observation, "info": info, "reward": reward}))
        if terminated or truncated:
            action = None
        elif replies.random() < 0.3:
            action = replies.choice(HOSTILE_REPLIES)
        else:
            action = agents[agent_id].act(observation, info)
        env.step(action)
        if len(trace) > 5000:
            raise AssertionError("the episode did not end")
    return trace


def _ending(env: Any) -> str:
    base = env.unwrapped
    return _digest([[message.to_dict() for message in base.transcript], base.episode_metrics])


def _check_branch(env_id: str, kwargs: dict[str, Any], wrappers: list[Any], seed: int, split: int, copier: str) -> None:
    env, agents = _start(env_id, kwargs, wrappers, seed)
    reference = _play(env, agents, random.Random(seed), None)
    reference_ending = _ending(env)

    env, agents = _start(env_id, kwargs, wrappers, seed)
    replies = random.Random(seed)
    before = _play(env, agents, replies, split)
    twin_env, twin_agents, twin_replies = COPIERS[copier]((env, agents, replies))
    after = _play(env, agents, replies, None)
    twin_after = _play(twin_env, twin_agents, twin_replies, None)
    assert before + after == reference, f"{env_id} {kwargs} {wrappers}: copying changed the original's episode"
    assert twin_after == after, f"{env_id} {kwargs} {wrappers}: the copy played on differently from the original"
    assert _ending(env) == _ending(twin_env) == reference_ending


@pytest.mark.parametrize("copier", sorted(COPIERS))
@pytest.mark.parametrize("env_id", registered_envs())
def test_every_environment_copies_mid_episode(env_id: str, copier: str) -> None:
    for seed in (0, 1):
        _check_branch(env_id, {}, [], seed, split=1 + 2 * seed, copier=copier)


# Feedback wrappers the broad set leaves out (it has unary_feedback and deceptive_feedback).
MORE_WRAPPED = [
    ("SolverFeedback-v0", {"feedback_level": "critique_with_answer"}, ["binary_feedback"]),
    ("SolverFeedback-v0", {"feedback_level": "binary"}, ["text_feedback"]),
    ("JudgeProtocol-v0", {}, ["distractor"]),
    ("SolverFeedback-v0", {"feedback_level": "critique"}, [("deceptive_feedback", {"intent": "hypercritical"}), "unary_feedback"]),
]


@pytest.mark.parametrize("copier", sorted(COPIERS))
def test_every_broad_configuration_copies_at_a_random_point(copier: str) -> None:
    points = random.Random(20261130)
    for env_id, kwargs, wrappers in broad_configurations() + MORE_WRAPPED:
        if env_id.startswith("Negotiation"):
            kwargs = {**kwargs, "n_games": 1}  # a series is hundreds of moves; one game shows the same
        _check_branch(env_id, kwargs, wrappers, seed=points.randrange(1000), split=points.randrange(0, 8), copier=copier)


@pytest.mark.parametrize("env_id", ["DeceptiveJudge-v0", "SolverFeedback-Deceptive-v0", "SolverFeedback-v0"])
def test_a_copy_before_the_first_reset_plays_the_same_episodes(env_id: str) -> None:
    env = feedbackgym.make(env_id)
    twin = pickle.loads(pickle.dumps(env))
    for seed in (3, 4):
        traces = []
        for each in (env, twin):
            agents = scripted_cast(each)
            each.reset(seed=seed)
            for index, agent_id in enumerate(each.possible_agents):
                agents[agent_id].reset(seed=agent_seed(seed, index))
            traces.append((_play(each, agents, random.Random(seed), None), _ending(each)))
        assert traces[0] == traces[1]
