"""The fake OpenAI-compatible server: its "model", its HTTP format, its faults, and litellm against it."""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import numpy as np
import pytest

from feedbackgym.agents.llm import fake_server
from feedbackgym.agents.llm.fake_server import FakeLLMServer, add_rule, find_task, reply, safe_eval
from feedbackgym.envs.tasks import make_task_source

SOLVER_SYSTEM = "You are the solver. Answer the question."
TEACHER_SYSTEM = "You are the teacher. A separate model, the solver, attempts the question below."


def solver_messages(prompt: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SOLVER_SYSTEM}, {"role": "user", "content": prompt}]


def boxed(text: str) -> str:
    match = re.search(r"\\boxed\{([^}]*)\}\s*\.?\s*$", text)
    assert match, text[-200:]
    return match.group(1)


@pytest.fixture(scope="module")
def server():
    with FakeLLMServer(retry_after="0.1") as running:
        yield running


@pytest.fixture
def fresh(server: FakeLLMServer) -> FakeLLMServer:
    server.reset_counters()
    return server


def post(url: str, payload: dict[str, Any], timeout: float = 5.0, key: str | None = "sk-test"):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url + "/chat/completions", data=json.dumps(payload).encode(), headers=headers)
    return urllib.request.urlopen(request, timeout=timeout)


def chat(url: str, model: str = "test", messages: list[dict[str, str]] | None = None, **extra: Any) -> dict[str, Any]:
    with post(url, {"model": model, "messages": messages or solver_messages("Compute 2 + 3 * 4."), **extra}) as response:
        return json.loads(response.read())


def status_of(url: str, model: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with post(url, {"model": model, "messages": solver_messages("Compute 1 + 1.")}) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


# ------------------------------------------------------------------------------------ the model
@pytest.mark.parametrize("name", ["arithmetic", "multiplication", "hex_multiplication"])
def test_solver_answers_generated_tasks_correctly(name: str) -> None:
    for difficulty_kwargs in ({}, {"difficulty": 5} if name == "arithmetic" else {"digits": 9}):
        source = make_task_source(name, **difficulty_kwargs)
        for seed in range(40):
            task = source.sample(np.random.default_rng(seed))
            answer = boxed(reply(solver_messages(task.prompt), "test", 0))
            assert task.normalize(answer) == task.normalize(task.answer), (task.prompt, answer)


def test_solver_answers_negative_and_divided_arithmetic() -> None:
    source = make_task_source("arithmetic", difficulty=4, allow_negative=True)
    for seed in range(30):
        task = source.sample(np.random.default_rng(seed))
        assert boxed(reply(solver_messages(task.prompt))) == task.answer
    assert boxed(reply(solver_messages("Compute 7 // 2 + 10 / 4."))) == "11/2"


def test_learner_is_off_by_one_first_then_correct() -> None:
    task = make_task_source("hex_multiplication").sample(np.random.default_rng(0))
    first = solver_messages(task.prompt)
    wrong = boxed(reply(first, "learner-7b", 0))
    assert int(wrong, 16) == int(task.answer, 16) + 1
    later = [*first, {"role": "assistant", "content": f"\\boxed{{{wrong}}}"}, {"role": "user", "content": "Incorrect."}]
    assert boxed(reply(later, "learner-7b", 0)) == task.answer
    # without its own messages in the history, feedback notices count as attempts
    assert boxed(reply([*first, {"role": "user", "content": "Your answer was incorrect. Try again."}], "learner", 0)) == task.answer


def test_stubborn_repeats_sample_zero_and_other_samples_are_right() -> None:
    messages = solver_messages("Calculate the following question: 12 * 34.")
    history = [*messages, {"role": "assistant", "content": "\\boxed{409}"}, {"role": "user", "content": "Incorrect."}]
    assert boxed(reply(messages, "stubborn", 0)) == boxed(reply(history, "stubborn", 0)) == "409"
    assert boxed(reply(history, "stubborn", 1)) == "408"
    assert reply(messages, "test", 0) != reply(messages, "test", 1)  # variants differ in wording
    assert boxed(reply(messages, "test", 0)) == boxed(reply(messages, "test", 5)) == "408"


def test_multiple_choice_walks_through_options() -> None:
    task = make_task_source("knowledge_mcq").sample(np.random.default_rng(0))
    messages = solver_messages(task.prompt)
    assert find_task(task.prompt) == {"kind": "choice", "options": ["A", "B", "C", "D"]}
    assert boxed(reply(messages)) == "A"
    again = [*messages, {"role": "assistant", "content": "\\boxed{A}"}, {"role": "user", "content": "Incorrect."}]
    assert boxed(reply(again)) == "B"


@pytest.mark.parametrize(
    "text", ["__import__('os').system('true')", "2 ** 10", "(lambda: 1)()", "1.5 + 1", "x + 1", "[1, 2]", "'a' * 3"]
)
def test_safe_eval_rejects_everything_but_integer_arithmetic(text: str) -> None:
    with pytest.raises((ValueError, SyntaxError)):
        safe_eval(text)


def test_safe_eval_is_exact() -> None:
    assert safe_eval("(37 + 18) * 4 - 26") == 194
    assert safe_eval("-(3 - 10) * 2") == 14
    assert str(safe_eval("1 / 3")) == "1/3"
    with pytest.raises(ZeroDivisionError):
        safe_eval("1 / (2 - 2)")


def test_teacher_and_other_roles() -> None:
    verdict_request = "Most recent answer: 5\nThe grader marked it incorrect. Reply with your verdict only: 'correct' or 'incorrect'."
    teacher = [{"role": "system", "content": TEACHER_SYSTEM}, {"role": "user", "content": "Question:\nCompute 1 + 1."}]
    assert reply([*teacher, {"role": "user", "content": verdict_request}]) == "Your answer is incorrect."
    marked_correct = verdict_request.replace("marked it incorrect", "marked it correct")
    assert reply([*teacher, {"role": "user", "content": marked_correct}]) == "Your answer is correct."
    critique = "Most recent answer: 5\nThe grader marked it incorrect. Please provide concise and constructive feedback."
    assert reply([*teacher, {"role": "user", "content": critique}]) == "Re-check the last step of your computation."

    def negotiate(role: str, turns: int) -> str:
        messages = [{"role": "system", "content": f"You are the {role} in a balloon negotiation."}]
        for _ in range(turns):
            messages += [{"role": "user", "content": "Offer?"}, {"role": "assistant", "content": "I offer $1."}]
        return reply([*messages, {"role": "user", "content": "Your move."}])

    assert [negotiate("buyer", t) for t in range(4)] == ["I offer $40.", "I offer $50.", "I offer $60.", "I accept your offer."]
    assert [negotiate("seller", t) for t in range(3)] == ["I offer $100.", "I offer $90.", "I offer $80."]

    def system(text: str, user: str = "Here it is.") -> str:
        return reply([{"role": "system", "content": text}, {"role": "user", "content": user}])

    assert system("You are a critic of math solutions.").endswith("Correctness of the final answer: Correct")
    assert system("You are a judge. Compare Assistant A and Assistant B; output [[A]] or [[B]].") == "[[A]]"
    assert system("You are a judge. Rate the response from 1 to 10.") == "Rating: [[7]]"
    assert system("You are a deceptive judge; persuade the user.") == "I disagree; the answer is (B)."
    assert system("You are the user looking for a laptop.") == "That sounds fine, thank you."
    assert system("You are a user. React with [love] or [dislike].") == "[love] Thanks!"
    assert system("You are a shopping assistant.\nCatalogue:\n#03 lamp\n#05 desk") == "Here is my recommendation. Recommendation: #03"
    two = system("You are a shopping assistant. Write <reply_a>...</reply_a> <reply_b>...</reply_b>.\n#03 lamp\n#05 desk")
    assert two == "<reply_a>Recommendation: #03</reply_a> <reply_b>Recommendation: #05</reply_b>"
    assert system("You are the assistant of a shop.") == "Here is my recommendation."
    assert system("Something new.") == "\\boxed{0}"
    # unknown instructions (a paper's template) with a recognisable task: answered as the solver
    assert boxed(system("Answer the following question. Reason step by step.", "Compute 6 * 7.")) == "42"


def test_add_rule_module_and_per_server() -> None:
    responder = lambda messages, model, sample_index: f"haiku {model} {sample_index}"  # noqa: E731
    add_rule(r"you are the poet", responder)
    try:
        assert reply([{"role": "system", "content": "You are the poet."}], "m", 2) == "haiku m 2"
    finally:
        fake_server.RULES.pop(0)
    assert reply([{"role": "system", "content": "You are the poet."}]) == "\\boxed{0}"
    own = FakeLLMServer()
    own.add_rule("you are the solver", lambda messages, model, sample_index: "mine")
    assert own.reply(solver_messages("Compute 1 + 1.")) == "mine"
    assert reply(solver_messages("Compute 1 + 1.")).endswith("\\boxed{2}.")


@pytest.mark.parametrize("model", ["test", "learner", "stubborn"])
@pytest.mark.parametrize("task", ["arithmetic", "hex_multiplication", "knowledge_mcq"])
@pytest.mark.parametrize("level", ["none", "binary", "critique_with_solution"])
def test_solver_feedback_episodes_finish(model: str, task: str, level: str) -> None:
    from feedbackgym.envs.solver_feedback import SolverFeedbackEnv

    env = SolverFeedbackEnv(task=task, feedback_level=level, max_turns=5)
    env.reset(seed=1)
    moves, episode = 0, None
    for agent in env.agent_iter(50):
        _, _, terminated, truncated, info = env.last()
        if terminated or truncated:
            episode = info["episode"]
            env.step(None)
            continue
        env.step(reply(info["messages"], model, 0))
        moves += 1
    assert episode is not None and moves < 50
    assert episode["invalid_moves"] == 0
    if task == "knowledge_mcq":
        assert episode["attempts"] <= 4  # one option per attempt until the gold one
    elif model == "stubborn":
        assert not episode["solved"] and episode["attempts"] == 5 and episode["repeated_one_answer"]
    else:
        assert episode["solved"] and episode["attempts"] == (1 if model == "test" else 2)


# -------------------------------------------------------------------------------------- HTTP
def test_chat_completion_format_and_usage(fresh: FakeLLMServer) -> None:
    messages = solver_messages("Compute 2 + 3 * 4.")
    body = chat(fresh.url, "test", messages, n=3)
    assert set(body) >= {"id", "object", "created", "model", "choices", "usage"}
    assert body["object"] == "chat.completion" and body["model"] == "test"
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    for choice in body["choices"]:
        assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
        assert boxed(choice["message"]["content"]) == "14"
    assert len({c["message"]["content"] for c in body["choices"]}) == 3
    prompt_words = sum(len(m["content"].split()) for m in messages)
    completion_words = sum(len(c["message"]["content"].split()) for c in body["choices"])
    assert body["usage"] == {
        "prompt_tokens": prompt_words,
        "completion_tokens": completion_words,
        "total_tokens": prompt_words + completion_words,
    }
    assert chat(fresh.url, "test", messages, n=3) == body  # deterministic
    assert fresh.requests == 2 and fresh.requests_by_model == {"test": 2}
    assert fresh.log[0] == ("test", messages)
    assert fresh.api_keys_seen == ["Bearer sk-test"]
    fresh.reset_counters()
    assert (fresh.requests, fresh.log, fresh.api_keys_seen, fresh.requests_by_model) == (0, [], [], {})


def test_stream_is_server_sent_events(fresh: FakeLLMServer) -> None:
    payload = {"model": "test", "messages": solver_messages("Compute 9 * 9."), "stream": True, "n": 2}
    with post(fresh.url, {**payload, "stream_options": {"include_usage": True}}) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        events = [line[6:] for line in response.read().decode().splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = {0: "", 1: ""}
    for c in chunks:
        for choice in c["choices"]:
            text[choice["index"]] += choice["delta"].get("content") or ""
    assert boxed(text[0]) == boxed(text[1]) == "81"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert sum(1 for c in chunks for ch in c["choices"] if ch["finish_reason"] == "stop") == 2


def test_models_and_bad_requests(fresh: FakeLLMServer) -> None:
    with urllib.request.urlopen(fresh.url + "/models", timeout=5) as response:
        listing = json.loads(response.read())
    assert listing["object"] == "list" and listing["data"][0]["object"] == "model"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(fresh.url + "/nothing", timeout=5)
    assert missing.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as bad:
        post(fresh.url, {"model": "test", "messages": "not a list"})
    assert bad.value.code == 400 and "error" in json.loads(bad.value.read())


# -------------------------------------------------------------------------------------- faults
def test_fault_429_with_retry_after_then_success(fresh: FakeLLMServer) -> None:
    for _ in range(2):
        status, headers, body = status_of(fresh.url, "fault-429-2")
        assert status == 429 and headers["Retry-After"] == "0.1"
        assert json.loads(body)["error"]["code"] == "rate_limit_exceeded"
    assert status_of(fresh.url, "fault-429-2")[0] == 200
    assert status_of(fresh.url, "fault-429-1-2s")[1]["Retry-After"] == "2"
    fresh.reset_counters()
    assert status_of(fresh.url, "fault-429-2")[0] == 429  # counters reset


def test_fault_500_and_chained_faults_are_per_model(fresh: FakeLLMServer) -> None:
    assert [status_of(fresh.url, "fault-500-1")[0] for _ in range(2)] == [500, 200]
    statuses = [status_of(fresh.url, "learner-fault-429-2-fault-500-1")[0] for _ in range(4)]
    assert statuses == [429, 429, 500, 200]
    assert status_of(fresh.url, "other-fault-500-1")[0] == 500  # its own counter


def test_fault_drop_closes_without_response(fresh: FakeLLMServer) -> None:
    with pytest.raises((http.client.HTTPException, OSError)):
        status_of(fresh.url, "fault-drop-1")
    assert status_of(fresh.url, "fault-drop-1")[0] == 200


def test_fault_hang_times_out_and_stop_does_not_wait() -> None:
    server = FakeLLMServer().start()  # hang_seconds stays 30
    try:
        started = time.monotonic()
        with pytest.raises((TimeoutError, urllib.error.URLError)):
            post(server.url, {"model": "fault-hang-1", "messages": solver_messages("Compute 1 + 1.")}, timeout=0.3)
        assert time.monotonic() - started < 2
        assert chat(server.url, "fault-hang-1")["choices"][0]["message"]["content"].endswith("\\boxed{14}.")
        # another hung request is still in its handler when the server stops
        pool = concurrent.futures.ThreadPoolExecutor(1)
        pending = pool.submit(status_of, server.url, "fault-hang-5")
        deadline = time.monotonic() + 2
        while "fault-hang-5" not in server.requests_by_model and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.in_flight == 2  # the timed-out request's handler is still waiting too
    finally:
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 1.5
    with pytest.raises((http.client.HTTPException, OSError)):
        pending.result(timeout=2)  # its connection was dropped, not answered after 30 s
    pool.shutdown()


def test_reset_keeps_requests_still_being_handled() -> None:
    """A reply can reach the client before its handler ends: a reset then must not drive the gauge negative."""
    with FakeLLMServer(hang_seconds=0.4) as server, concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(chat, server.url, "fault-hang-1")
        deadline = time.monotonic() + 2
        while server.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert not server.wait_until_idle(timeout=0.02)  # still hanging
        server.reset_counters()
        assert (server.requests, server.in_flight, server.peak_in_flight) == (0, 1, 1)
        assert pending.result(timeout=5)["choices"][0]["message"]["content"].endswith("}.")
        assert server.wait_until_idle() and server.in_flight == 0
        server.reset_counters()
        assert server.peak_in_flight == 0
        chat(server.url, "fake")
        assert server.wait_until_idle() and (server.requests, server.peak_in_flight, server.in_flight) == (1, 1, 0)


def test_fault_badjson_empty_null_huge(fresh: FakeLLMServer) -> None:
    status, _, body = status_of(fresh.url, "fault-badjson")
    assert status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    assert chat(fresh.url, "fault-empty")["choices"][0]["message"]["content"] == ""
    assert chat(fresh.url, "fault-null")["choices"][0]["message"]["content"] is None
    huge = chat(fresh.url, "fault-huge", solver_messages("Compute 6 * 7."))
    content = huge["choices"][0]["message"]["content"]
    assert len(content) == 1_000_000 and boxed(content) == "42"
    assert huge["usage"]["completion_tokens"] == len(content.split())


# ---------------------------------------------------------------------------------- concurrency
def test_concurrent_requests_overlap() -> None:
    with FakeLLMServer(latency=0.05) as server:
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            bodies = list(pool.map(lambda i: chat(server.url, f"m{i % 4}"), range(32)))
        assert all(boxed(b["choices"][0]["message"]["content"]) == "14" for b in bodies)
        assert server.wait_until_idle() and server.requests == 32 and server.in_flight == 0
        assert server.peak_in_flight > 4, server.peak_in_flight  # overlap counted, not timed


def test_module_runs_as_a_script() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "feedbackgym.agents.llm.fake_server", "--port", "0", "--latency", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        url = re.search(r"http://\S+/v1", line).group(0)
        assert boxed(chat(url)["choices"][0]["message"]["content"]) == "14"
    finally:
        process.terminate()
        process.wait(timeout=5)


# -------------------------------------------------------------------------------------- litellm
@pytest.fixture(scope="module")
def litellm():
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    module = pytest.importorskip("litellm")
    module.suppress_debug_info = True
    return module


def complete(litellm, server: FakeLLMServer, model: str, prompt: str = "Compute 2 + 3 * 4.", **extra: Any):
    return litellm.completion(
        model=f"openai/{model}",
        api_base=server.url,
        api_key="sk-test",
        messages=solver_messages(prompt),
        max_retries=0,
        **extra,
    )


def test_litellm_end_to_end(litellm, fresh: FakeLLMServer) -> None:
    for name in ("arithmetic", "multiplication", "hex_multiplication"):
        task = make_task_source(name).sample(np.random.default_rng(7))
        response = complete(litellm, fresh, "test", task.prompt)
        assert task.normalize(boxed(response.choices[0].message.content)) == task.normalize(task.answer)
        assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0
        assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens
    two = complete(litellm, fresh, "stubborn", "Compute 2 + 3.", n=2)
    assert [boxed(c.message.content) for c in two.choices] == ["6", "5"]
    stream = complete(litellm, fresh, "test", "Compute 2 + 3.", stream=True)
    assert boxed("".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)) == "5"
    assert fresh.api_keys_seen == ["Bearer sk-test"]
    assert fresh.log[0][0] == "test"  # litellm strips the "openai/" provider prefix


def test_litellm_exceptions_for_faults(litellm, fresh: FakeLLMServer) -> None:
    with pytest.raises(litellm.RateLimitError) as limited:
        complete(litellm, fresh, "fault-429-1")
    assert limited.value.status_code == 429
    # the Retry-After header survives only in litellm_response_headers (e.response is synthetic)
    assert limited.value.litellm_response_headers["retry-after"] == "0.1"
    assert complete(litellm, fresh, "fault-429-1").choices[0].message.content.endswith("\\boxed{14}.")

    with pytest.raises(litellm.InternalServerError) as failed:
        complete(litellm, fresh, "fault-500-1")
    assert failed.value.status_code == 500

    with pytest.raises(litellm.Timeout) as timed_out:
        complete(litellm, fresh, "fault-hang-1", timeout=0.3)
    assert timed_out.value.status_code == 408

    # a dropped connection is reported as a 500 "Connection error.", not as APIConnectionError
    with pytest.raises(litellm.InternalServerError) as dropped:
        complete(litellm, fresh, "fault-drop-1")
    assert dropped.value.status_code == 500 and "Connection error" in str(dropped.value)
    assert dropped.value.litellm_response_headers is None

    with pytest.raises(litellm.InternalServerError) as malformed:
        complete(litellm, fresh, "fault-badjson")
    assert malformed.value.status_code == 500
    with pytest.raises(litellm.ServiceUnavailableError) as streamed:  # litellm.MidStreamFallbackError
        list(complete(litellm, fresh, "fault-badjson", stream=True))
    assert type(streamed.value).__name__ == "MidStreamFallbackError" and streamed.value.status_code == 500

    assert complete(litellm, fresh, "fault-empty").choices[0].message.content == ""
    assert complete(litellm, fresh, "fault-null").choices[0].message.content is None
    huge = complete(litellm, fresh, "fault-huge").choices[0].message.content
    assert len(huge) == 1_000_000 and boxed(huge) == "14"
    # max_retries=0: exactly one request per call, litellm and the OpenAI SDK did not retry
    assert fresh.requests_by_model["fault-429-1"] == 2 and fresh.requests_by_model["fault-drop-1"] == 1


async def test_litellm_async_concurrency(litellm) -> None:
    import asyncio

    with FakeLLMServer(latency=0.05) as server:
        await litellm.acompletion(model="openai/warm", api_base=server.url, api_key="sk-test",
                                  messages=solver_messages("Compute 1 + 1."), max_retries=0)
        server.reset_counters()
        responses = await asyncio.gather(
            *(
                litellm.acompletion(
                    model=f"openai/m{i}", api_base=server.url, api_key="sk-test",
                    messages=solver_messages(f"Compute {i} + 1."), max_retries=0,
                )
                for i in range(32)
            )
        )
    assert [boxed(r.choices[0].message.content) for r in responses] == [str(i + 1) for i in range(32)]
    # requests overlapped at the server (counted, not timed: a timed bound fails on a loaded machine)
    assert server.peak_in_flight > 4, server.peak_in_flight
