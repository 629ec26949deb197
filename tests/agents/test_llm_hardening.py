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
    # the random part goes in front: after the name, digits would read as a fault count (fault-surrogate-1a2b3c)
    return f"u{os.urandom(3).hex()}-{name}"


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


# ------------------------------------------------------------------------------------ secrets
def leaks(data: bytes | str, secret: str = SECRET) -> bool:
    """Whether ``data`` holds ``secret`` or any prefix of it long enough to matter."""
    from feedbackgym.agents.secrets import MIN_SECRET_PREFIX

    head = secret[:MIN_SECRET_PREFIX]
    return (head.encode() in data) if isinstance(data, bytes) else (head in data)


def files_leak(folder: Path, secret: str = SECRET) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file() and leaks(path.read_bytes(), secret)]


def test_error_text_is_redacted_before_it_is_cut() -> None:
    from feedbackgym.agents.secrets import register_secret
    from feedbackgym.agents.llm.retry import describe

    register_secret(SECRET)
    unknown = "zq-unregistered-TOKEN-abcdefghij0123"
    for cut in range(250, 300):
        known = describe(RuntimeError("." * cut + " authorization: Bearer " + SECRET + " more"))
        assert not leaks(known), (cut, known[-60:])
        shaped = describe(RuntimeError("." * cut + " Bearer " + unknown))
        assert unknown[:8] not in shaped, (cut, shaped[-60:])
    assert describe(RuntimeError("x" * 1000)).endswith("x" * 10) and len(describe(RuntimeError("x" * 1000))) < 330


def test_a_cut_key_is_redacted_anywhere() -> None:
    from feedbackgym.agents.secrets import REDACTED, redact, register_secret

    register_secret(SECRET)
    assert redact(f"the key was {SECRET[:11]}... and {SECRET[:20]}") == f"the key was {REDACTED}... and {REDACTED}"
    assert redact("x-api-key: 0123456789abcdef, api_key=${oc.env:MY_KEY}") == f"x-api-key: {REDACTED}, api_key=${{oc.env:MY_KEY}}"
    assert redact("a short sk-xyz and a plain sentence") == "a short sk-xyz and a plain sentence"


@pytest.mark.parametrize("source", ["config", "environment"])
def test_the_cache_never_stores_a_secret_the_server_echoes(server: FakeLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    secret = SECRET + source
    if source == "environment":
        monkeypatch.setenv("HARDENING_PROVIDER_KEY", secret)  # a name that is not secret-looking
        key_options: dict[str, object] = {"api_key": None, "api_key_env": "HARDENING_PROVIDER_KEY"}
    else:
        key_options = {"api_key": secret}
    cache = str(tmp_path / "cache.sqlite")
    agents = {
        "solver_0": llm(server, unique("learner-echo-headers"), cache="read_write", cache_path=cache, **key_options),
        "teacher_0": llm(server, unique("echo-headers"), cache="read_write", cache_path=cache, **key_options),
    }
    result = feedbackgym.rollout("SolverFeedback-v0", agents, seed=0, max_turns=3)
    assert result.error is None and f"Bearer {secret}" in server.api_keys_seen
    solver_text = next(m["text"] for m in result.transcript if m["sender"] == "solver_0")
    assert "request headers:" in solver_text and "authorization: Bearer [redacted]" in solver_text
    assert not leaks(result.to_json(), secret)
    assert not files_leak(tmp_path, secret)
    rows = sqlite3.connect(cache).execute("SELECT value FROM responses").fetchall()
    assert rows and all(set(json.loads(value)) == {"choices", "usage", "cost"} for (value,) in rows)  # no headers


def test_errors_that_echo_the_key_across_the_cut_leak_nothing(server: FakeLLMServer) -> None:
    from feedbackgym.agents.llm import LLMCallError

    messages = [{"role": "user", "content": "Compute 1 + 1."}]
    for pad in range(0, 320, 9):  # the key lands on both sides of the 300-character cut
        agent = llm(server, unique(f"fault-500echo-1-pad-{pad}"), max_retries=0)
        with pytest.raises(LLMCallError) as error:
            asyncio.run(agent.aact({"text": "q"}, {"messages": messages}))
        assert "InternalServerError" in str(error.value)
        assert not leaks(str(error.value)) and not leaks(json.dumps(agent.stats())), pad


def test_a_multirun_sweep_writes_and_prints_no_key(server: FakeLLMServer, tmp_path: Path) -> None:
    import subprocess
    import sys

    secret = "sk-multirun-SECRET-abcdef0123456789"
    completed = subprocess.run(
        [sys.executable, "-m", "feedbackgym.experiments.cli", "run", "--multirun", "experiment=single", "run.episodes=1",
         "run.progress=false", "run.plot=false", "agent@agents.solver_0=llm", "agents.solver_0.model=openai/learner",
         f"agents.solver_0.api_base={server.url}", f"agents.solver_0.api_key={secret}", "run.seed=0,1", f"hydra.sweep.dir={tmp_path}"],
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert f"Bearer {secret}" in server.api_keys_seen  # the jobs used the key ...
    assert not leaks(completed.stdout + completed.stderr, secret)  # ... printed nowhere ...
    assert (tmp_path / "multirun.yaml").exists() and not files_leak(tmp_path, secret)  # ... written nowhere
    records = [json.loads(line) for job in ("0", "1") for line in (tmp_path / job / "episodes.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["error"] is None for r in records)


# -------------------------------------------------------------------------------------- cache
def damage(path: Path, how: str) -> None:
    from feedbackgym.agents.llm.cache import ResponseCache

    if how == "directory":
        path.mkdir()
        return
    if how == "garbage":
        path.write_bytes(b"not a database at all " * 200)
        return
    cache = ResponseCache(path)
    for i in range(300):
        cache.put(f"key{i}", {"choices": [f"reply {i} " * 60], "usage": {}})
    cache.close()
    data = bytearray(path.read_bytes())
    if how == "truncated":
        path.write_bytes(bytes(data[: len(data) // 3]))
    else:  # a bad page in the middle
        middle = len(data) // 2 // 4096 * 4096
        data[middle : middle + 4096] = bytes(range(256)) * 16
        path.write_bytes(bytes(data))


@pytest.mark.parametrize("mode", ["read_write", "read_only"])
@pytest.mark.parametrize("how", ["truncated", "garbage", "directory", "bad_page"])
def test_a_damaged_cache_fails_at_once_naming_the_file_and_the_way_out(tmp_path: Path, how: str, mode: str) -> None:
    from feedbackgym.agents.llm.cache import CacheFileError

    path = tmp_path / f"{how}.sqlite"
    damage(path, how)
    with pytest.raises(CacheFileError) as error:
        LLMAgent(model="openai/m", api_base="http://127.0.0.1:9/v1", cache=mode, cache_path=str(path))
    message = str(error.value)
    assert str(path) in message and "Delete it" in message and "cache=off" in message


def test_a_damaged_cache_stops_a_run_before_its_first_episode(server: FakeLLMServer, tmp_path: Path) -> None:
    from hydra import compose, initialize_config_module

    from feedbackgym.experiments.evaluate import run_experiment

    cache = tmp_path / "llm.sqlite"
    damage(cache, "bad_page")
    overrides = [
        "experiment=single", "run.episodes=2", "run.progress=false", "run.plot=false", "agent@agents.solver_0=llm",
        "agents.solver_0.model=openai/learner", f"agents.solver_0.api_base={server.url}", "agents.solver_0.cache=read_write",
        f"agents.solver_0.cache_path={cache}",
    ]
    with initialize_config_module(config_module="feedbackgym.conf.run", version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    before = server.requests
    with pytest.raises(ValueError, match=str(cache).replace("\\", "\\\\")):
        run_experiment(cfg, tmp_path / "out")
    assert server.requests == before and not (tmp_path / "out" / "episodes.jsonl").exists()


@pytest.mark.parametrize("state", ["missing", "empty"])
def test_read_only_never_creates_or_writes_a_cache(server: FakeLLMServer, tmp_path: Path, state: str) -> None:
    path = tmp_path / "cache.sqlite"
    if state == "empty":
        path.write_bytes(b"")
    agents = {role: llm(server, cache="read_only", cache_path=str(path)) for role in ("solver_0", "teacher_0")}
    result = feedbackgym.rollout("SolverFeedback-v0", agents, seed=0)
    assert result.error is not None and "read_only" in result.error and str(path) in result.error
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if state == "missing" else ["cache.sqlite"])
    if state == "empty":
        assert path.read_bytes() == b""


def test_read_only_leaves_a_warm_cache_untouched(server: FakeLLMServer, tmp_path: Path) -> None:
    from feedbackgym.agents.llm.cache import open_cache

    path = tmp_path / "cache.sqlite"
    first = feedbackgym.rollout(
        "SolverFeedback-v0", {role: llm(server, cache="read_write", cache_path=str(path)) for role in ("solver_0", "teacher_0")}, seed=4
    )
    open_cache(path, "read_write").close()  # as at the end of a run: the writer's -wal is folded back
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    replay = feedbackgym.rollout(
        "SolverFeedback-v0", {role: llm(server, cache="read_only", cache_path=str(path)) for role in ("solver_0", "teacher_0")}, seed=4
    )
    assert replay.error is None and replay.transcript == first.transcript
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # same files, same bytes


def test_a_read_only_replay_reproduces_every_record_but_the_documented_fields(tmp_path: Path) -> None:
    import time

    from feedbackgym.agents.llm.cache import replay_comparable
    from feedbackgym.envs import make
    from feedbackgym.experiments.runner import EpisodeJob, run_episodes

    def slow_first_samples(messages: object, model: str, sample_index: int) -> str:
        time.sleep(0.02 * (3 - sample_index))  # live, later samples finish first; from the cache, in order
        return "word " * (sample_index + 1) + f"The answer is \\boxed{{{1000 + sample_index}}}."

    with FakeLLMServer() as fake:
        fake.add_rule(r"you are the solver", slow_first_samples)
        cache = str(tmp_path / "cache.sqlite")

        def run(mode: str, output: Path) -> list[dict[str, object]]:
            jobs = [EpisodeJob(str(i), i) for i in range(6)]
            make_agents = lambda c: {  # noqa: E731
                "solver_0": llm(fake, "m", cache=mode, cache_path=cache, reject_previous=3, sample_with_n=False),
                "teacher_0": llm(fake, "t", cache=mode, cache_path=cache),
            }
            return asyncio.run(run_episodes(jobs, lambda c: make("SolverFeedback-v0", max_turns=3), make_agents, concurrency=3, output=output))

        run("read_write", tmp_path / "first.jsonl")
        sent = fake.requests
        run("read_only", tmp_path / "replay.jsonl")
        assert fake.requests == sent
    first, replay = ({json.loads(line)["episode_id"]: json.loads(line) for line in (tmp_path / name).read_text().splitlines()} for name in ("first.jsonl", "replay.jsonl"))
    assert sorted(first) == sorted(replay) and all(r["error"] is None for r in first.values())
    for episode_id in first:
        assert json.dumps(replay[episode_id]["transcript"]) == json.dumps(first[episode_id]["transcript"])
        assert replay_comparable(replay[episode_id]) == replay_comparable(first[episode_id]), episode_id


def test_hide_secrets_moves_keys_from_config_and_overrides_into_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    from feedbackgym.experiments.redact_hydra import hide_secrets

    secret, other = "sk-hide-SECRET-0123456789", "plain-token-abcdefgh"
    overrides = ["agent@agents.solver_0=llm", f"agents.solver_0.api_key={secret}", "agent@agents.teacher_0=llm", f"agents.teacher_0.api_key={other}"]
    with initialize_config_module(config_module="feedbackgym.conf.run", version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
    for name in [n for n in os.environ if n.startswith("FEEDBACKGYM_HIDDEN_")]:
        monkeypatch.delenv(name)
    assert hide_secrets(cfg) == 4  # two config values, two overrides
    saved = OmegaConf.to_yaml(cfg)
    assert secret[:8] not in saved and other[:8] not in saved
    assert cfg.agents.solver_0.api_key == secret and cfg.agents.teacher_0.api_key == other  # the job still resolves them
    task = OmegaConf.to_container(cfg.hydra.overrides.task, resolve=False)  # as the sweeper reads them
    assert any(line.startswith("agents.solver_0.api_key=${oc.env:FEEDBACKGYM_HIDDEN_") for line in task)
    for name in [n for n in os.environ if n.startswith("FEEDBACKGYM_HIDDEN_")]:
        monkeypatch.setenv(name, os.environ[name])  # registered with monkeypatch, so removed after the test
