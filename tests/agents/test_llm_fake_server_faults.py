"""The fake server's newer faults (lone surrogates, header echoes, empty choices, 429 without
Retry-After, fault schedules) and its single-slot mode, over plain HTTP."""

from __future__ import annotations

import concurrent.futures
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from feedbackgym.agents.llm.fake_server import FakeLLMServer

MESSAGES = [{"role": "system", "content": "You are the solver."}, {"role": "user", "content": "Compute 2 + 3."}]


def post(url: str, model: str, key: str = "sk-fake-server-KEY-0123456789") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url + "/chat/completions",
        data=json.dumps({"model": model, "messages": MESSAGES}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def content(body: bytes) -> Any:
    choices = json.loads(body)["choices"]
    return choices[0]["message"]["content"] if choices else None


def test_reply_faults_by_model_name() -> None:
    with FakeLLMServer() as server:
        status, _, body = post(server.url, "fault-surrogate")
        assert status == 200 and b"\\ud800" in body and content(body) == "Hmm \ud800 I think The answer is \\boxed{5}."
        status, _, body = post(server.url, "pad-5-echo-headers")
        assert content(body).startswith(".....request headers: ") and "authorization: Bearer sk-fake-server-KEY-0123456789" in content(body)
        assert json.loads(post(server.url, "fault-nochoices")[2])["choices"] == []
        status, headers, _ = post(server.url, "fault-429bare-1")
        assert status == 429 and "Retry-After" not in headers
        status, _, body = post(server.url, "fault-500echo-1")
        assert status == 500 and "authorization: Bearer" in json.loads(body)["error"]["message"]
        assert post(server.url, "fault-500echo-1")[0] == 200  # counted: the second request succeeds
        assert [post(server.url, "fault-surrogate-1")[2].count(b"\\ud800") for _ in range(2)] == [1, 0]
        assert server.faults_injected == {"429bare": 1, "500echo": 1, "surrogate": 1}


def test_a_fault_schedule_applies_by_arrival_and_is_checked() -> None:
    plan = {0: "500", 1: "echo", 3: "nochoices"}
    with FakeLLMServer(faults=lambda i: plan.get(i)) as server:
        statuses = [post(server.url, "m")[0] for _ in range(5)]
        assert statuses == [500, 200, 200, 200, 200]
        assert server.faults_injected == {"500": 1, "echo": 1, "nochoices": 1}
    with FakeLLMServer(faults=lambda i: "explode") as server:
        with pytest.raises(Exception):
            post(server.url, "m")


def test_single_slot_serves_one_request_at_a_time() -> None:
    with FakeLLMServer(latency=0.05, slots=1) as server:
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(lambda _: post(server.url, "m")[0], range(6)))
        assert statuses == [200] * 6 and server.peak_in_flight >= 2 and server.peak_waiting >= 2
    with FakeLLMServer(latency=0.02) as server:
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda _: post(server.url, "m")[0], range(6)))
        assert server.peak_waiting == 0
