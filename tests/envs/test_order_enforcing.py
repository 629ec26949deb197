"""make()'s FastOrderEnforcing (envs/registration.py) hands step and agent_iter straight down and behaves as
PettingZoo's OrderEnforcingWrapper: the same checks, errors, warnings and answers, only cheaper."""

from __future__ import annotations

import pytest
from pettingzoo.utils.env_logger import EnvLogger
from pettingzoo.utils.wrappers import OrderEnforcingWrapper

import feedbackgym
from feedbackgym.envs.registration import FastOrderEnforcing


def _pair(env_id: str = "Critic-v0", **kwargs) -> tuple[FastOrderEnforcing, OrderEnforcingWrapper]:
    fast = feedbackgym.make(env_id, **kwargs)
    assert type(fast) is FastOrderEnforcing
    return fast, OrderEnforcingWrapper(feedbackgym.make(env_id, order_enforcing=False, **kwargs))


def _error(call) -> tuple[type, str]:
    with pytest.raises(Exception) as caught:
        call()
    return type(caught.value), str(caught.value)


def test_before_reset_attributes_step_and_agent_iter_fail_as_in_pettingzoo() -> None:
    fast, plain = _pair()
    for name in ("agents", "agent_selection", "rewards", "terminations", "truncations", "infos", "num_agents"):
        error = _error(lambda: getattr(fast, name))
        assert error == _error(lambda: getattr(plain, name))
        assert error[0] is AttributeError and f"{name} cannot be accessed before reset" in error[1]
    step_error = _error(lambda: fast.step("x"))
    assert step_error == _error(lambda: plain.step("x")) and "reset" in step_error[1]
    iter_error = _error(lambda: fast.agent_iter())
    assert iter_error == _error(lambda: plain.agent_iter()) and "reset" in iter_error[1]


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


def test_a_whole_episode_answers_as_in_pettingzoo() -> None:
    plays = {}
    for env in _pair("SolverFeedback-v0", max_turns=2):
        env.reset(seed=3)
        seen = []
        for agent in env.agent_iter():
            observation, reward, terminated, truncated, info = env.last()
            assert (env.agents, env.agent_selection, env.rewards, env.terminations, env.truncations, env.infos) == (
                env.unwrapped.agents, agent, env.unwrapped.rewards, env.unwrapped.terminations, env.unwrapped.truncations, env.unwrapped.infos)
            seen.append((agent, observation["text"], float(reward), terminated, truncated))
            env.step(None if terminated or truncated else "\\boxed{-1}" if agent == "solver_0" else "incorrect")
        plays[type(env)] = seen
        assert env.agents == [] and env.num_agents == 0
    assert plays[OrderEnforcingWrapper] == plays[FastOrderEnforcing]


def test_step_after_the_end_warns_as_in_pettingzoo(caplog: pytest.LogCaptureFixture) -> None:
    messages, logged = [], []
    for env in _pair():
        env.reset(seed=0)
        for agent in env.agent_iter():
            done = any(env.last()[2:4])
            env.step(None if done else "Correctness of the final answer: Correct\nThe answer is [1].")
        EnvLogger.flush()
        EnvLogger.unsuppress_output()
        caplog.clear()
        env.step(None)  # after the end: PettingZoo's warning, not an error
        messages.append(list(EnvLogger.mqueue))
        logged.append(caplog.text)
        EnvLogger.flush()
    assert messages[0] == messages[1] and messages[0]
    assert all("terminated or truncated" in text for text in logged)


def test_last_before_and_after_reset_answers_as_in_pettingzoo() -> None:
    fast, plain = _pair("SolverFeedback-v0", max_turns=2)
    assert _error(lambda: fast.last()) == _error(lambda: plain.last())  # before reset: PettingZoo's error
    for seed in (3, 4):  # bound to the wrapped env's last at reset, and again at the next
        for env in (fast, plain):
            env.reset(seed=seed)
        assert fast.last.__self__ is fast.unwrapped
        for agent in fast.agent_iter():
            mine, theirs = fast.last(), plain.last()
            assert mine[1:] == theirs[1:] and mine[0]["text"] == theirs[0]["text"]
            assert fast.last(observe=False)[0] is None
            action = None if any(mine[2:4]) else "\\boxed{-1}" if agent == "solver_0" else "incorrect"
            fast.step(action)
            plain.step(action)
