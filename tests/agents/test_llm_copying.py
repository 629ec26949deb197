"""An LLMAgent's pickle never holds its API key; a deep copy (in this process) keeps it and plays alike."""

from __future__ import annotations

import copy
import os
import pickle

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from feedbackgym.agents.llm import LLMAgent

SECRET = "sk-copying-secret-9f8e7d6c5b4a"
VARIABLE = "FEEDBACKGYM_TEST_COPYING_KEY"


def test_a_pickle_reads_the_key_again_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, SECRET)
    agent = LLMAgent(model="openai/x", api_key_env=VARIABLE, mock_response="\\boxed{4}", seed=3)
    data = pickle.dumps(agent)
    assert SECRET.encode() not in data and b"copying-secret" not in data
    monkeypatch.setenv(VARIABLE, SECRET + "-rotated")  # the unpickled agent uses the variable as it is now
    twin = pickle.loads(data)
    assert twin._api_key == SECRET + "-rotated" and agent._api_key == SECRET
    observation = {"text": "What is 2 + 2?"}
    assert twin.act(observation, {}) == agent.act(observation, {}) == "\\boxed{4}"


def test_a_pickle_refuses_a_key_given_as_is() -> None:
    agent = LLMAgent(model="openai/x", api_key=SECRET, mock_response="ok")
    with pytest.raises(TypeError, match="api_key_env") as error:
        pickle.dumps(agent)
    assert SECRET not in str(error.value)


def test_an_agent_without_a_key_pickles_as_it_is() -> None:
    agent = LLMAgent(model="openai/x", api_base="http://127.0.0.1:9", mock_response="ok", temperature=0.3)
    twin = pickle.loads(pickle.dumps(agent))
    assert twin._api_key is None and twin.temperature == 0.3 and twin.api_base == agent.api_base


def test_unpickling_where_the_variable_is_missing_says_which(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, SECRET)
    data = pickle.dumps(LLMAgent(model="openai/x", api_key_env=VARIABLE, mock_response="ok"))
    monkeypatch.delenv(VARIABLE)
    with pytest.raises(ValueError, match=VARIABLE):
        pickle.loads(data)


@pytest.mark.parametrize("given", ["api_key", "api_key_env"])
def test_a_deep_copy_keeps_the_key_and_its_own_state(given: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, SECRET)
    options = {"api_key": SECRET} if given == "api_key" else {"api_key_env": VARIABLE}
    agent = LLMAgent(model="openai/x", mock_response="\\boxed{7}", seed=5, **options)
    agent.act({"text": "7?"}, {})
    twin = copy.deepcopy(agent)
    assert twin._api_key == SECRET
    assert twin.calls == agent.calls and twin.calls is not agent.calls
    twin.act({"text": "7 again?"}, {})
    assert len(twin.calls) == len(agent.calls) + 1  # independent records


def test_an_agent_with_a_cache_copies_to_the_same_file(tmp_path) -> None:
    """The cache is a file shared in a process: a deep copy shares it; a pickle opens it again where it lands."""
    import subprocess
    import sys

    path = tmp_path / "llm.sqlite"
    agent = LLMAgent(model="openai/x", mock_response="\\boxed{9}", cache="read_write", cache_path=str(path))
    assert agent.act({"text": "9?"}, {}) == "\\boxed{9}" and len(agent.cache) == 1
    assert copy.deepcopy(agent).cache is agent.cache
    data = pickle.dumps(agent)
    assert pickle.loads(data).cache is agent.cache  # this process's object for that file and mode
    script = (
        "import os, pickle, sys; os.environ.setdefault('LITELLM_LOCAL_MODEL_COST_MAP', 'True')\n"
        "agent = pickle.loads(sys.stdin.buffer.read())\n"
        "twin = type(agent)(model='openai/x', cache='read_only', cache_path=str(agent.cache.path), mock_response='unused')\n"
        "print(len(agent.cache), agent.cache.mode, twin.act({'text': '9?'}, {}), twin.calls[-1]['cached'])\n"
    )
    shown = subprocess.run([sys.executable, "-c", script], input=data, capture_output=True, timeout=120, check=True).stdout.decode().split()
    assert shown == ["1", "read_write", "\\boxed{9}", "True"]  # reopened there, and its reply replays from it
