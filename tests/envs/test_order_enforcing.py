"""make()'s FastOrderEnforcing hands step and agent_iter straight down, with PettingZoo's order checks intact."""

from __future__ import annotations

import pytest
from pettingzoo.utils.env_logger import EnvLogger
from pettingzoo.utils.wrappers import OrderEnforcingWrapper

import feedbackgym
from feedbackgym.envs.registration import FastOrderEnforcing


def _pair(env_id: str = "Critic-v0") -> tuple[FastOrderEnforcing, OrderEnforcingWrapper]:
    fast = feedbackgym.make(env_id)
    assert isinstance(fast, FastOrderEnforcing)
    return fast, OrderEnforcingWrapper(feedbackgym.make(env_id, order_enforcing=False))


def _error(call) -> tuple[type, str]:
    with pytest.raises(Exception) as caught:
        call()
    return type(caught.value), str(caught.value)


def test_before_reset_step_and_agent_iter_fail_as_in_pettingzoo() -> None:
    fast, plain = _pair()
    assert _error(lambda: fast.step("x")) == _error(lambda: plain.step("x"))
    assert _error(lambda: fast.agent_iter()) == _error(lambda: plain.agent_iter())


def test_iterating_without_stepping_fails_as_in_pettingzoo() -> None:
    for env in _pair():
        env.reset(seed=0)
        agents = iter(env.agent_iter())
        next(agents)
        with pytest.raises(AssertionError, match="need to call step"):
            next(agents)


def test_the_agent_loop_and_max_iter_match_pettingzoo() -> None:
    walks = []
    for env in _pair("JudgeProtocol-v0"):
        env.reset(seed=3)
        iterable = env.agent_iter(max_iter=4)
        walk = []
        for agent in iterable:
            walk.append(agent)
            env.step(None if any(env.last()[2:4]) else "Here is an answer.\n[[A]]")
        assert iter(iterable) is not iter(iterable)  # an iterable: each iter() starts a new walk
        walks.append(walk)
    assert walks[0] == walks[1] and len(walks[0]) == 4


def test_step_after_the_end_warns_as_in_pettingzoo() -> None:
    messages = []
    for env in _pair():
        env.reset(seed=0)
        for agent in env.agent_iter():
            done = any(env.last()[2:4])
            env.step(None if done else "Correctness of the final answer: Correct\nThe answer is [1].")
        EnvLogger.flush()
        env.step(None)
        messages.append(list(EnvLogger.mqueue))
        EnvLogger.flush()
    assert messages[0] == messages[1] and messages[0]
