"""Slow, single-slot model servers: a per-endpoint limit on requests in flight that adapts (AIMD)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from feedbackgym.agents.llm import LLMAgent
from feedbackgym.agents.llm.agent import EndpointTimeout
from feedbackgym.agents.llm.fake_server import FakeLLMServer
from feedbackgym.agents.llm.limits import EndpointGate, endpoint_gate
from feedbackgym.envs import make
from feedbackgym.experiments.runner import EpisodeJob, run_episodes

MESSAGES = [{"role": "system", "content": "You are the solver."}, {"role": "user", "content": "Compute 2 + 3."}]


def test_the_limit_halves_once_per_congestion_and_grows_back() -> None:
    async def scenario() -> None:
        gate = EndpointGate(max_in_flight=8)
        starts = [await gate.acquire() for _ in range(8)]
        gate.release(starts[0], "congested")  # a timeout: half of what was in flight
        gate.release(starts[1], "congested")  # sent before that cut: no second cut
        assert (gate.limit, gate.cuts, gate.in_flight) == (4, 1, 6)
        waiter = asyncio.ensure_future(gate.acquire())
        await asyncio.sleep(0)
        assert not waiter.done()  # 6 in flight, limit 4
        for started in starts[2:5]:
            gate.release(started, "ok")
        await asyncio.sleep(0)
        assert waiter.done() and gate.in_flight == 4
        assert gate.in_flight == gate.limit  # full: the next caller would wait
        gate.release(starts[5], "ok")
        fresh = await gate.acquire()
        gate.release(fresh, "congested")  # a 429 on a request sent after the cut: cut again
        assert gate.limit == 2 and gate.cuts == 2 and gate.lowest_limit == 2
        for started in (starts[6], starts[7], waiter.result()):
            gate.release(started, "other")  # no signal: the limit stays
        assert gate.in_flight == 0 and gate.limit == 2
        for _ in range(60):  # successes: +1 per `limit` in a row, back to the cap and never above
            gate.release(await gate.acquire(), "ok")
        assert gate.limit == 8
        assert EndpointGate(max_in_flight=None).limit == float("inf")

    asyncio.run(scenario())


def test_waiters_are_served_in_arrival_order() -> None:
    async def scenario() -> list[int]:
        gate = EndpointGate(max_in_flight=1)
        order: list[int] = []

        async def one(index: int) -> None:
            started = await gate.acquire()
            order.append(index)
            await asyncio.sleep(0)
            gate.release(started, "ok")

        await asyncio.gather(*(one(i) for i in range(6)))
        return order

    assert asyncio.run(scenario()) == list(range(6))


def test_a_request_given_up_on_keeps_its_slot_until_it_really_ends() -> None:
    class SlowClient:
        def __init__(self) -> None:
            self.finish = asyncio.Event()

        async def acompletion(self, **kwargs: Any) -> str:
            await self.finish.wait()
            return "late reply"

    async def scenario() -> None:
        gate = EndpointGate(max_in_flight=4)
        client = SlowClient()
        agent = LLMAgent(model="openai/m", api_base="http://127.0.0.1:9/v1", timeout=0.05)
        with pytest.raises(EndpointTimeout, match="timeout=0.05s"):
            await agent._call_in_slot(gate, client, {})
        assert gate.in_flight == 1 and gate.limit == 1  # still held, and the limit was cut
        client.finish.set()
        for _ in range(5):
            await asyncio.sleep(0)
        assert gate.in_flight == 0

    asyncio.run(scenario())


@pytest.fixture()
def single_slot() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(latency=0.1, slots=1) as running:
        yield running


def agent(server: FakeLLMServer, **kwargs: Any) -> LLMAgent:
    options: dict[str, Any] = {"api_base": server.url, "timeout": 0.6, "max_retries": 3, "backoff_initial": 0.05, "backoff_max": 0.2}
    options.update(kwargs)
    options.setdefault("model", "openai/learner")
    return LLMAgent(**options)


def test_the_timeout_measures_the_endpoint_not_our_queue(single_slot: FakeLLMServer) -> None:
    """Eight calls at once, one slot: the last waits ~8 x 0.1 s in our queue, yet none times out (0.6 s; headroom for a loaded machine)."""

    async def scenario() -> list[str]:
        await agent(single_slot, model="openai/warm-up", timeout=30).aact({"text": ""}, {"messages": MESSAGES})  # litellm's first call sets up
        assert single_slot.wait_until_idle()  # the warm-up's handler may still be finishing after its reply
        single_slot.reset_counters()
        agents = [agent(single_slot, max_in_flight=1, max_retries=0) for _ in range(8)]
        return await asyncio.gather(*(a.aact({"text": ""}, {"messages": MESSAGES}) for a in agents))

    replies = asyncio.run(scenario())
    assert all(reply.endswith("\\boxed{6}.") for reply in replies)  # learner: off by one at first
    assert single_slot.peak_in_flight == 1 and single_slot.requests == 8


def test_a_run_at_concurrency_8_against_a_single_slot_server_loses_no_episode(single_slot: FakeLLMServer) -> None:
    """No cap set: the limit finds the server's size by itself (naively, most episodes time out)."""

    async def scenario() -> tuple[list[dict[str, Any]], EndpointGate]:
        records = await run_episodes(
            [EpisodeJob(str(i), i) for i in range(10)],
            lambda c: make("SolverFeedback-v0"),
            lambda c: {"solver_0": agent(single_slot, max_retries=4), "teacher_0": agent(single_slot, max_retries=4)},
            concurrency=8,
        )
        return records, endpoint_gate("openai/learner", single_slot.url)

    records, gate = asyncio.run(scenario())
    assert len(records) == 10
    assert [r["error"] for r in records] == [None] * 10
    assert all(r["metrics"]["solved"] for r in records)
    assert gate.cuts >= 1 and gate.lowest_limit < 8  # it did back off


def test_429s_cut_the_limit_and_successes_restore_it() -> None:
    with FakeLLMServer(retry_after="0.01") as server:

        async def scenario() -> EndpointGate:
            model = f"fault-429-3-{os.urandom(3).hex()}"
            agents = [LLMAgent(model=f"openai/{model}", api_base=server.url, max_in_flight=4, backoff_initial=0.01, backoff_max=0.02) for _ in range(4)]
            await asyncio.gather(*(a.aact({"text": ""}, {"messages": MESSAGES}) for a in agents))
            gate = endpoint_gate(f"openai/{model}", server.url)
            assert gate.cuts >= 1 and gate.lowest_limit <= 2
            for _ in range(5):
                await asyncio.gather(*(a.aact({"text": ""}, {"messages": MESSAGES}) for a in agents))
            return gate

        gate = asyncio.run(scenario())
        assert gate.limit == 4


def test_bad_max_in_flight_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match=r"max_in_flight must be an integer in 1\.\.100000 or None, got 0"):
        LLMAgent(max_in_flight=0)
    with pytest.raises(ValueError, match="slots must be >= 1"):
        FakeLLMServer(slots=0)
