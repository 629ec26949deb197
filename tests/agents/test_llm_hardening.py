"""LLMAgent against hostile servers: text that cannot be encoded, secrets echoed back, damaged caches."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import feedbackgym
from feedbackgym.agents.llm import LLMAgent
from feedbackgym.agents.llm.agent import wire_safe
from feedbackgym.agents.llm.cache import request_key
from feedbackgym.agents.llm.fake_server import FakeLLMServer

SECRET = "sk-hardening-SECRET-0123456789abcdef"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(retry_after="0.05", hang_seconds=5.0) as running:
        yield running


def llm(server: FakeLLMServer, model: str = "learner", **kwargs: object) -> LLMAgent:
    options = {"api_base": server.url, "api_key": SECRET, "timeout": 5.0, "backoff_initial": 0.01, "backoff_max": 0.05}
    options.update(kwargs)
    return LLMAgent(model=f"openai/{model}", **options)  # type: ignore[arg-type]


def unique(name: str) -> str:
    return f"{name}-{os.urandom(3).hex()}"


# ------------------------------------------------------------------------------------ Unicode
def test_wire_safe_joins_pairs_and_replaces_lone_surrogates() -> None:
    assert wire_safe("plain text é") == "plain text é"
    assert wire_safe("a \ud83d\ude00 b") == "a \U0001f600 b"  # a pair given as two code points
    assert wire_safe("Hmm \ud800 x \udfff") == "Hmm \ufffd x \ufffd"
    wire_safe("\ud800" * 1000 + "end").encode("utf-8")  # always encodable
    assert request_key({"m": "Hmm \ud800"}) != request_key({"m": "Hmm \ufffd"})  # no UnicodeEncodeError


@pytest.mark.parametrize("cache", ["off", "read_write"])
def test_a_reply_with_a_lone_surrogate_does_not_break_later_calls(server: FakeLLMServer, tmp_path: Path, cache: str) -> None:
    model = unique("learner-fault-surrogate")
    options = {"cache": cache, "cache_path": str(tmp_path / "c.sqlite"), "max_retries": 1}
    agents = {"solver_0": llm(server, model, **options), "teacher_0": llm(server, **options)}
    result = feedbackgym.rollout("SolverFeedback-v0", agents, seed=0, max_turns=3)
    assert result.error is None, result.error
    solver_moves = [m["text"] for m in result.transcript if m["sender"] == "solver_0"]
    assert len(solver_moves) >= 2 and all(text.startswith("Hmm \ud800 I think ") for text in solver_moves)  # kept exactly
    sent = [messages for name, messages in server.log if name == model]
    later = json.dumps(sent[-1], ensure_ascii=False)
    assert "\ufffd" in later and "\ud800" not in later  # what went out was encodable
    assert agents["solver_0"].stats()["failed_calls"] == 0
    line = result.to_json()
    assert json.loads(line)["transcript"] == json.loads(json.dumps(result.transcript))
    if cache == "read_write":
        replay_agents = {role: llm(server, agent.model.split("/", 1)[1], cache="read_only", cache_path=options["cache_path"]) for role, agent in agents.items()}
        before = server.requests
        replay = feedbackgym.rollout("SolverFeedback-v0", replay_agents, seed=0, max_turns=3)
        assert server.requests == before and replay.error is None
        assert replay.transcript == result.transcript
