"""LLMAgent without a network: litellm's mock_response, a patched acompletion, and the retry policy."""

from __future__ import annotations

import asyncio
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import feedbackgym
from feedbackgym.agents import make_agent
from feedbackgym.agents.llm import LLMAgent, LLMCallError
from feedbackgym.agents.llm.limits import RateLimiter
from feedbackgym.agents.llm.retry import RetriesExhausted, RetryPolicy, call_with_retries, is_retryable, retry_after_seconds
from feedbackgym.agents.secrets import REDACTED, redact


def solver_and_teacher(solver_reply: str, **solver_kwargs: Any) -> dict[str, LLMAgent]:
    return {
        "solver_0": make_agent("llm", model="gpt-4o-mini", mock_response=solver_reply, **solver_kwargs),
        "teacher_0": make_agent("llm", model="gpt-4o-mini", mock_response="Your answer is incorrect."),
    }


def test_mock_response_episode_with_accounting() -> None:
    result = feedbackgym.rollout("SolverFeedback-v0", solver_and_teacher("The answer is \\boxed{-99999}."), seed=0, max_turns=3)
    assert result.error is None and result.metrics["attempts"] == 3
    stats = result.agents["solver_0"]
    assert stats["calls"] == 3 and stats["prompt_tokens"] > 0 and stats["completion_tokens"] > 0
    assert stats["cost"] > 0  # gpt-4o-mini is in litellm's bundled price map
    assert all(call["latency"] >= 0 for call in stats["per_call"])
    assert result.agents["teacher_0"]["calls"] == 2


def test_build_messages_alternates_roles_and_applies_templates() -> None:
    agent = LLMAgent(model="gpt-4o-mini", prompt="ufo_solver")
    messages = agent.build_messages(
        [
            {"role": "system", "content": "env instructions"},
            {"role": "user", "content": "task"},
            {"role": "user", "content": "more"},
            {"role": "assistant", "content": "a1"},
        ]
    )
    assert messages[0] == {"role": "system", "content": "You are solving Math problems. Only give the final answer between <answer> and </answer>."}
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "task\n\nmore"
    assert messages[-1]["content"].startswith("Continue.\nAlways output: <think>")
    extended = LLMAgent(model="x/y", system_prompt="Be brief. {env_system}").build_messages([{"role": "system", "content": "E"}, {"role": "user", "content": "q"}])
    assert extended[0]["content"] == "Be brief. E"


def test_unknown_prompt_and_bad_knobs_fail_clearly() -> None:
    with pytest.raises(KeyError, match="Did you mean `ufo_solver`"):
        LLMAgent(prompt="ufo_solvr")
    with pytest.raises(ValueError, match="cache must be one of off, read_write, read_only"):
        LLMAgent(cache="sometimes")
    with pytest.raises(ValueError, match="api_key_env names 'NO_SUCH_KEY_VAR'"):
        LLMAgent(api_key_env="NO_SUCH_KEY_VAR")


class Recorder:
    """Stands in for litellm.acompletion: records each call's kwargs, replies from a script."""

    def __init__(self, replies: list[str]) -> None:
        import litellm

        self.replies = replies
        self.calls: list[dict[str, Any]] = []
        self.real = litellm.acompletion  # taken before the test patches it

    async def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        reply = self.replies[(len(self.calls) - 1) % len(self.replies)]
        return await self.real(model="gpt-4o-mini", messages=kwargs["messages"], mock_response=reply)


def test_temperature_schedule_and_rejection_of_tried_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    import litellm

    recorder = Recorder(["\\boxed{1}", "\\boxed{1}", "\\boxed{2}"])
    monkeypatch.setattr(litellm, "acompletion", recorder)
    agent = LLMAgent(model="openai/m", temperature=0.0, temperature_step=0.15, temperature_cap=0.4, reject_previous=3, sample_with_n=False, seed=0)
    info = {"messages": [{"role": "user", "content": "q"}], "turn": 4, "tried_answers": ["1"]}
    reply = asyncio.run(agent.aact({"text": "q"}, info))
    assert reply == "\\boxed{2}"  # the only sample whose answer was not tried
    assert [call["temperature"] for call in recorder.calls] == [0.4, 0.4, 0.4]  # 0 + 0.15*4 capped at 0.4
    first_turn = asyncio.run(agent.aact({"text": "q"}, {"messages": [{"role": "user", "content": "q"}], "turn": 0}))
    assert recorder.calls[-1]["temperature"] == 0.0 and first_turn


def test_cache_replays_transcripts_without_requests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import litellm

    recorder = Recorder(["\\boxed{3}", "Your answer is incorrect.", "\\boxed{4}", "Your answer is incorrect.", "\\boxed{5}"])
    monkeypatch.setattr(litellm, "acompletion", recorder)
    cache = str(tmp_path / "cache.sqlite")

    def agents(mode: str) -> dict[str, LLMAgent]:
        return {role: LLMAgent(model="openai/m", cache=mode, cache_path=cache) for role in ("solver_0", "teacher_0")}

    first = feedbackgym.rollout("SolverFeedback-v0", agents("read_write"), seed=7, max_turns=3)
    sent = len(recorder.calls)
    assert sent == 5
    replay = feedbackgym.rollout("SolverFeedback-v0", agents("read_only"), seed=7, max_turns=3)
    assert len(recorder.calls) == sent  # no request
    assert json.dumps(replay.transcript) == json.dumps(first.transcript)
    assert replay.agents["solver_0"]["cached_calls"] == 3
    missing = feedbackgym.rollout("SolverFeedback-v0", agents("read_only"), seed=8, max_turns=3)
    assert missing.error is not None and "read_only" in missing.error


class FakeRateLimitError(Exception):
    status_code = 429

    def __init__(self, retry_after: str | None) -> None:
        super().__init__("rate limited")
        self.headers = {"retry-after": retry_after} if retry_after else {}


FakeRateLimitError.__name__ = "RateLimitError"


class AuthenticationError(Exception):
    status_code = 401


def test_retry_policy_backoff_jitter_and_retry_after() -> None:
    policy = RetryPolicy(max_retries=3, initial_delay=1.0, multiplier=2.0, max_delay=5.0, jitter=0.25)
    rng = random.Random(0)
    delays = [policy.delay(k, None, rng) for k in range(4)]
    for k, delay in enumerate(delays):
        nominal = min(5.0, 2.0**k)
        assert 0.75 * nominal <= delay <= 1.25 * nominal
    assert policy.delay(0, 7.5, rng) == 7.5  # the server's Retry-After is honoured
    assert retry_after_seconds(FakeRateLimitError("2")) == 2.0
    assert is_retryable(FakeRateLimitError(None)) and not is_retryable(AuthenticationError("bad key"))


def test_call_with_retries_gives_up_with_every_cause() -> None:
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    attempts = {"n": 0}

    async def flaky() -> str:
        attempts["n"] += 1
        if attempts["n"] <= 2:
            raise FakeRateLimitError("0.5")
        return "ok"

    result, tries = asyncio.run(call_with_retries(flaky, RetryPolicy(max_retries=3), sleep=fake_sleep))
    assert (result, tries, waits) == ("ok", 3, [0.5, 0.5])

    async def always() -> str:
        raise FakeRateLimitError(None)

    with pytest.raises(RetriesExhausted) as info:
        asyncio.run(call_with_retries(always, RetryPolicy(max_retries=2, initial_delay=0.0), sleep=fake_sleep))
    assert len(info.value.attempts) == 3 and "gave up after 3 tries" in str(info.value)

    async def unauthorised() -> str:
        raise AuthenticationError("bad key")

    with pytest.raises(RetriesExhausted, match="not retryable"):
        asyncio.run(call_with_retries(unauthorised, RetryPolicy(max_retries=5), sleep=fake_sleep))


def test_rate_limiter_waits_for_the_window() -> None:
    async def run() -> float:
        limiter = RateLimiter(requests_per_minute=2, window=0.2)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for _ in range(3):
            await limiter.acquire()
        return loop.time() - start

    assert asyncio.run(run()) >= 0.19


def test_rate_limiters_are_shared_within_a_loop_and_never_inherited_by_another() -> None:
    import gc

    from feedbackgym.agents.llm import limits

    async def two() -> tuple[RateLimiter, RateLimiter, RateLimiter]:
        return (limits.shared_limiter("m", "http://x", 5, None), limits.shared_limiter("m", "http://x", 5, None),
                limits.shared_limiter("m", "http://y", 5, None))

    first, same, other = asyncio.run(two())
    assert first is same and first is not other
    gc.collect()
    assert len(limits._shared) == 0  # the finished loop took its limiters with it
    # many loops in a row (ids of dead loops get reused): each starts with a fresh limiter
    seen = []
    for _ in range(20):
        seen.append(asyncio.run(two())[0])
        gc.collect()
    assert all(limiter is not first for limiter in seen)
    assert all(a is not b for a, b in zip(seen, seen[1:]))


def test_api_key_never_reaches_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-0123456789abcdefSECRET"
    agents = solver_and_teacher("My key is sk-test-0123456789abcdefSECRET \\boxed{1}", api_key=secret)
    result = feedbackgym.rollout("SolverFeedback-v0", agents, seed=0, max_turns=2)
    line = result.to_json()
    assert secret not in line and REDACTED in line
    assert secret not in repr(agents["solver_0"])
    monkeypatch.setenv("MY_PROVIDER_API_KEY", "plain-value-123456")
    assert redact("error talking with key plain-value-123456") == f"error talking with key {REDACTED}"


def test_a_rejected_key_stops_the_rollout_with_the_cause_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    import litellm

    from feedbackgym.agents.llm.agent import LLMConfigurationError

    async def broken(**kwargs: Any) -> Any:
        raise AuthenticationError("invalid api key sk-live-abcdefghijklmnopqrstuv")

    monkeypatch.setattr(litellm, "acompletion", broken)
    # a configuration fault would fail every episode alike: it is raised, not recorded per episode
    with pytest.raises(LLMConfigurationError) as raised:
        feedbackgym.rollout("SolverFeedback-v0", {"solver_0": LLMAgent(model="openai/m"), "teacher_0": "scripted_teacher"}, seed=0)
    assert "not retryable" in str(raised.value) and "sk-live" not in str(raised.value)
    with pytest.raises(LLMCallError):
        LLMAgent(model="openai/m").act({"text": "q"}, {"messages": [{"role": "user", "content": "q"}]})


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": None, "content": "hi"}],
        [{"content": "no role"}],
        [{"role": "seller_0", "content": "a"}, {"role": "tool", "content": "b"}, {"role": "USER", "content": "c"}],
        [{"role": "user", "content": 5}, {"role": "user", "content": None}],
        [{"role": "user", "content": [{"type": "text", "text": "part"}]}, {"role": "user", "content": "b"}],
        ["bare text", {"role": "assistant", "content": "a"}],
    ],
)
def test_build_messages_makes_odd_chat_messages_well_formed(messages: list[Any]) -> None:
    built = LLMAgent(model="x/y").build_messages(messages)
    assert all(set(m) == {"role", "content"} and m["role"] in ("system", "user", "assistant") for m in built)
    assert all(isinstance(m["content"], str) for m in built) and built[-1]["role"] == "user"
    assert all(not (a["role"] == b["role"] != "system") for a, b in zip(built, built[1:]))


def test_odd_info_fields_still_give_one_request() -> None:
    agent = LLMAgent(model="gpt-4o-mini", mock_response="\\boxed{1}", temperature_step=0.1, reject_previous=2)
    for observation, info in [(None, None), ({"text": None}, {"messages": "not a list"}),
                              ({}, {"turn": "x", "tried_answers": 5}), ({}, {"turn": float("nan"), "tried_answers": [1, None, "2"]}),
                              ({}, {"turn": 10**400})]:
        agent.reset(seed=0)
        assert agent.act(observation, info) == "\\boxed{1}"


@pytest.mark.parametrize("name", ["stream", "messages", "n", "mock_response"])
def test_completion_kwargs_may_not_set_what_the_agent_sets_itself(name: str) -> None:
    with pytest.raises(ValueError, match=f"completion_kwargs may not set '{name}'") as caught:
        make_agent("llm", model="gpt-4o-mini", mock_response="x", completion_kwargs={name: "zq-value-8812"})
    assert "zq-value-8812" not in str(caught.value)


def test_keys_in_completion_kwargs_are_redacted_like_api_key() -> None:
    make_agent("llm", model="gpt-4o-mini", mock_response="x",
               completion_kwargs={"api_key": "zqNestedKey7731", "extra_headers": {"Authorization": "Bearer zqBearer5512", "X-Trace": "visible-1"}})
    assert redact("zqNestedKey7731 zqBearer5512 visible-1") == f"{REDACTED} {REDACTED} visible-1"
