"""Play many episodes concurrently, stream each one to JSONL as it finishes, resume, aggregate.

The environment loop is plain PettingZoo (``agent_iter`` / ``last`` / ``step``). Each concurrent
worker owns its own environment and agents, so episodes never share state; asyncio interleaves the
workers whenever an agent awaits (an LLM call), while fast scripted agents run inline.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import secrets
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from pettingzoo import AECEnv

from feedbackgym.agents import Agent
from feedbackgym.agents.base import AgentConfigurationError
from feedbackgym.agents.registration import agent_reply, agent_stats, build_agents, check_agents_fit, reset_agent
from feedbackgym.agents.secrets import redact
from feedbackgym.envs import make
from feedbackgym.envs.core.seeding import agent_seed

AgentSpec = Agent | str | Mapping[str, Any]


@dataclass
class EpisodeResult:
    """One finished episode: what it was, what happened, and how it ended."""

    episode_id: str
    seed: int | None
    env_id: str
    condition: str = "default"
    returns: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    transcript: list[dict[str, Any]] = field(default_factory=list)
    agents: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    # Token-level records of model-played agents (agent id -> feedbackgym.agents.hf.records.EpisodeTokens);
    # kept in memory, out of the JSON line (see feedbackgym.agents.hf.records.write_tokens).
    tokens: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_record(self) -> dict[str, Any]:
        """The fields as a dict that shares the (already plain) transcript and metrics; no deep copy."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "tokens"}

    def to_json(self) -> str:
        """One JSON line, valid UTF-8, that :func:`read_episode` turns back into exactly this record.

        Any API key that found its way into the episode is redacted. See :func:`dumps_exact` for how
        text with lone surrogates is kept exactly.
        """
        return dumps_exact(self.to_record(), transform=redact)


# ------------------------------------------------------------------------- exact JSON lines
# Agent text may hold lone surrogates (a model's broken emoji), which UTF-8 cannot encode. A JSON
# \u escape can, but a standard reader merges a high and a low surrogate escaped side by side into one
# character, so "\ud83d" followed by "\ude00" (two lone surrogates) would come back as one emoji. The
# writer escapes only surrogates (every other character is written as itself) and flags such lines; the
# reader splits escaped pairs on flagged lines before decoding, so every string comes back exactly.
LONE_SURROGATES_FLAG = "_lone_surrogates"
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# A high-surrogate escape followed by a low-surrogate escape; the backslash run before it must be even
# (an odd one would make the first backslash a literal, escaped one).
_ESCAPED_PAIR = re.compile(r"(?<!\\)((?:\\\\)*\\u[dD][89abAB][0-9a-fA-F]{2})(?=\\u[dD][c-fC-F][0-9a-fA-F]{2})")


def dumps_exact(record: Mapping[str, Any], transform: Callable[[str], str] | None = None) -> str:
    """``record`` as one JSON line of valid UTF-8 that :func:`read_episode` reads back exactly.

    Characters are written as themselves (``ensure_ascii=False``); lone surrogates, which UTF-8 cannot
    hold, as ``\\udXXX`` escapes, and then the line starts with ``"_lone_surrogates": true`` (which
    :func:`read_episode` removes). ``transform`` (redaction) is applied to the JSON text first.
    """
    line = json.dumps(record, ensure_ascii=False, default=_json_default)
    if transform is not None:
        line = transform(line)
    if _SURROGATE.search(line) is None:
        return line
    escaped = _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", line)
    body = escaped[1:].lstrip()
    return f'{{"{LONE_SURROGATES_FLAG}": true' + ("" if body.startswith("}") else ", ") + body


def read_episode(line: str) -> Any:
    """Decode one line written by :func:`dumps_exact` (any other JSON line is decoded as usual)."""
    record = json.loads(line)
    if not (isinstance(record, dict) and record.pop(LONE_SURROGATES_FLAG, False) is True):
        return record
    nonce = "zqsplit" + secrets.token_hex(8)
    while nonce in line:
        nonce = "zqsplit" + secrets.token_hex(8)
    # A nonce between the two escapes stops the decoder merging them; it is removed from every string after.
    record = json.loads(_ESCAPED_PAIR.sub(lambda match: match.group(1) + nonce, line))
    record.pop(LONE_SURROGATES_FLAG, None)
    return _without(record, nonce)


def _without(value: Any, nonce: str) -> Any:
    if isinstance(value, str):
        return value.replace(nonce, "") if nonce in value else value
    if isinstance(value, dict):
        return {_without(key, nonce): _without(item, nonce) for key, item in value.items()}
    if isinstance(value, list):
        return [_without(item, nonce) for item in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


async def play_episode(
    env: AECEnv,
    agents: Mapping[str, Agent],
    *,
    seed: int | None,
    episode_id: str = "0",
    condition: str = "default",
    max_steps: int = 100_000,
) -> EpisodeResult:
    """Play one episode of ``env`` with ``agents`` (one per agent id) and return its result.

    An exception raised by an agent ends the episode as errored, with its cause recorded; it does
    not propagate, so one failing episode never stops a run. The one exception is
    :class:`~feedbackgym.agents.base.AgentConfigurationError` (a missing key, an unknown model), which
    would fail every episode alike: it propagates and stops the run.
    """
    env_id = getattr(getattr(env, "spec", None), "id", type(env.unwrapped).__name__)
    result = EpisodeResult(episode_id=episode_id, seed=seed, env_id=env_id, condition=condition)
    missing = set(env.unwrapped.possible_agents) - set(agents)
    if missing:
        raise ValueError(f"no agent given for {sorted(missing)}; the environment's agents are {env.unwrapped.possible_agents}")
    # An agent made for another role is a configuration error. Agents for roles this env lacks are
    # left alone here: an experiment's conditions may differ in their roles (rollout refuses them).
    check_agents_fit(env, {agent_id: agents[agent_id] for agent_id in env.unwrapped.possible_agents})
    started = time.perf_counter()
    returns = dict.fromkeys(env.unwrapped.possible_agents, 0.0)
    # Agents that keep per-turn records (the hf agent) are told every reward they get.
    crediting = {agent_id: agent.credit_reward for agent_id, agent in agents.items() if hasattr(agent, "credit_reward")}
    try:
        env.reset(seed=seed)
        for index, agent_id in enumerate(env.unwrapped.possible_agents):
            reset_agent(agents[agent_id], agent_seed(seed, index))
        for agent_id in env.agent_iter(max_steps):
            observation, reward, terminated, truncated, info = env.last()
            returns[agent_id] += float(reward)
            if agent_id in crediting:
                crediting[agent_id](float(reward))
            if terminated or truncated:
                action = None
            else:
                action = await agent_reply(agents[agent_id], observation, info)
                result.steps += 1
            env.step(action)
        base = env.unwrapped
        result.metrics = dict(getattr(base, "episode_metrics", {}) or {})
        _say_what_is_missing(base)
        if base.agents:
            result.error = f"episode did not end within max_steps={max_steps}"
    except AgentConfigurationError:
        raise  # every episode would fail alike: the run stops with the cause
    except Exception as error:  # an agent's failure is recorded, never lost and never fatal to the run
        result.error = redact(f"{type(error).__name__}: {error}")
        result.metrics["traceback"] = redact(traceback.format_exc(limit=8))
    result.returns = returns
    result.transcript = [_message_record(message) for message in getattr(env.unwrapped, "transcript", None) or []]
    stats = {agent_id: agent_stats(agent) for agent_id, agent in agents.items()}
    result.agents = {agent_id: value for agent_id, value in stats.items() if value}
    result.tokens = {agent_id: tokens for agent_id, agent in agents.items() if (tokens := getattr(agent, "episode_tokens", lambda: None)()) is not None}
    result.seconds = time.perf_counter() - started
    return result


# What a custom environment gives the runner's records and tables (README: "Plugins and sweeps").
ENV_CONTRACT = {
    "episode_metrics": "a dict of the finished episode's metrics (numbers, or lists of numbers such as cumulative_accuracy), "
                       "which become the columns of results.csv",
    "transcript": "a list of messages (objects with to_dict(), or dicts) that episodes.jsonl records",
}
_told: set[tuple[str, str]] = set()


def _say_what_is_missing(base: Any) -> None:
    """Warn once per environment class that lacks what the tables and transcripts are made of (rather than leave them empty)."""
    import logging

    for name, meaning in ENV_CONTRACT.items():
        key = (f"{type(base).__module__}.{type(base).__qualname__}", name)
        if key not in _told and not hasattr(base, name):
            _told.add(key)
            logging.getLogger("feedbackgym").warning(
                f"{type(base).__name__} has no `{name}` attribute, so the runner records none: give it {meaning}. "
                "Until then results.csv has returns only and the transcripts are empty."
            )


def _message_record(message: Any) -> dict[str, Any]:
    if hasattr(message, "to_dict"):
        return message.to_dict()
    if isinstance(message, Mapping):
        return dict(message)
    return {"text": str(message)}


def rollout(
    env: AECEnv | str,
    agents: Mapping[str, AgentSpec],
    *,
    seed: int | None = None,
    **env_kwargs: Any,
) -> EpisodeResult:
    """Play one episode synchronously: ``rollout("SolverFeedback-v0", {"solver_0": "friction_solver", ...})``."""
    environment = make(env, **env_kwargs) if isinstance(env, str) else env
    return asyncio.run(play_episode(environment, build_agents(agents, environment), seed=seed))


# ------------------------------------------------------------------------------- many episodes
@dataclass(frozen=True)
class EpisodeJob:
    episode_id: str
    seed: int
    condition: str = "default"


def _lines(path: Path) -> Iterable[str | None]:
    """Each line of ``path`` decoded as UTF-8; None for a line that is not (a damaged file's bytes)."""
    with path.open("rb") as handle:
        for raw in handle:
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                yield None


def _records_in(path: Path) -> Iterable[dict[str, Any]]:
    """The episode records of a JSONL file, in file order; a torn or damaged line, or one that is no record, is skipped."""
    for line in _lines(path):
        record = _parse_record(line) if line is not None else None
        if record is not None:
            yield record


def read_finished(path: Path) -> dict[str, dict[str, Any]]:
    """Finished, error-free episodes already in a JSONL file, by id (a later line wins); a torn or damaged line is ignored."""
    finished: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return finished
    for record in _records_in(path):
        if record.get("error") is None:
            finished[record["episode_id"]] = record
    return finished


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every episode of a run's JSONL file once, in the order first written: a resumed run appends the replay of an
    errored episode after its errored record, so the later, error-free record stands for the episode (as in the
    run's results.csv); lines that are not episode records are skipped."""
    latest: dict[str, dict[str, Any]] = {}
    for record in _records_in(path):
        previous = latest.get(record["episode_id"])
        if previous is None or record.get("error") is None or previous.get("error") is not None:
            latest[record["episode_id"]] = record
    return list(latest.values())


# The fields of an episode record that the tables, the report and resume read, and their types.
_RECORD_FIELDS = {"metrics": Mapping, "returns": Mapping, "agents": Mapping, "transcript": list, "condition": str}


def _parse_record(line: str) -> dict[str, Any] | None:
    """The episode record on ``line``, or None for a line that is not one: a torn line (a run killed mid-write leaves
    one; that episode is played again) or text of another shape (a record whose metrics are not a mapping, ...)."""
    try:
        record = read_episode(line)
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("episode_id"), str):
        return None
    if any(record.get(key) is not None and not isinstance(record[key], kind) for key, kind in _RECORD_FIELDS.items()):
        return None
    return record


def repair_jsonl(path: Path) -> int:
    """Drop the lines of ``path`` that are not whole episode records (a run killed mid-write leaves a
    torn last line), so the file stays valid JSONL; returns how many lines were dropped. Dropped lines
    that held anything are kept in ``<path>.dropped`` (appended), so repairing never loses data."""
    if not path.exists():
        return 0
    data = path.read_bytes()
    lines = data.splitlines()
    kept, dropped = [], []
    for raw in lines:
        try:
            whole = _parse_record(raw.decode("utf-8")) is not None
        except UnicodeDecodeError:
            whole = False
        (kept if whole else dropped).append(raw)
    if dropped or (data and not data.endswith(b"\n")):
        damaged = [raw for raw in dropped if raw.strip()]
        if damaged:
            with path.with_name(path.name + ".dropped").open("ab") as handle:
                handle.write(b"".join(raw + b"\n" for raw in damaged))
            import logging

            logging.getLogger("feedbackgym").warning(
                f"{path}: {len(damaged)} line(s) were not whole episode records (a torn last line, damaged text); "
                f"they were moved to {path.name}.dropped and their episodes are played again")
        path.write_bytes(b"".join(raw + b"\n" for raw in kept))
    return len(dropped)


def open_output(
    output: Path | str | None, resume: bool, jobs: Sequence[EpisodeJob]
) -> tuple[Path | None, dict[str, dict[str, Any]], list[EpisodeJob]]:
    """A run's JSONL file made ready: repaired and read when resuming, removed otherwise. Returns the
    path, the records of ``jobs`` already finished there (by episode id) and the jobs still to play.

    A finished record counts for a job only when its seed and condition are the job's: a record of another
    run (a file copied in, another ``run.seed``) is played again, never mixed into this run's results."""
    path = Path(output) if output is not None else None
    if path is not None:
        if resume:
            repair_jsonl(path)
        elif path.exists():
            path.unlink()
    done = read_finished(path) if (path is not None and resume) else {}
    records = {job.episode_id: done[job.episode_id] for job in jobs
               if job.episode_id in done and _is_record_of(done[job.episode_id], job)}
    return path, records, [job for job in jobs if job.episode_id not in records]


def _is_record_of(record: Mapping[str, Any], job: EpisodeJob) -> bool:
    return record.get("seed") == job.seed and record.get("condition", "default") == job.condition


class JsonlSink:
    """Appends one JSON line per finished episode and flushes it, so a killed run loses nothing finished."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        needs_newline = path.exists() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
        self.handle = path.open("a", encoding="utf-8")
        if needs_newline:
            self.handle.write("\n")

    def write(self, line: str) -> None:
        """Append one episode's JSON line (``EpisodeResult.to_json``)."""
        self.handle.write(line + "\n")
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


async def run_episodes(
    jobs: Sequence[EpisodeJob],
    make_env: Callable[[str], AECEnv],
    make_agents: Callable[[str], Mapping[str, Agent]],
    *,
    concurrency: int = 8,
    output: Path | str | None = None,
    resume: bool = True,
    progress: bool | str = False,
) -> list[dict[str, Any]]:
    """Play ``jobs`` with up to ``concurrency`` episodes in flight; return every episode's record.

    ``progress``: True draws a progress bar; a string (``"job 3"``) logs plain lines prefixed with it
    every tenth of the episodes instead, which stay readable when parallel jobs share one terminal.

    ``make_env(condition)`` and ``make_agents(condition)`` build one worker's environment and agents.
    With ``output``, each finished episode is appended to that JSONL file as it completes; with
    ``resume``, episodes already finished there without error are not played again (a torn last line
    is dropped first), and without it the file is started afresh.
    An :class:`~feedbackgym.agents.base.AgentConfigurationError` stops every worker and propagates.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
    path, records, pending = open_output(output, resume, jobs)
    sink = JsonlSink(path) if path is not None else None
    bar = _progress(len(jobs), len(records), progress if isinstance(progress, str) else None) if progress else None
    queue: asyncio.Queue[EpisodeJob] = asyncio.Queue()
    for job in pending:
        queue.put_nowait(job)
    workers: dict[str, tuple[AECEnv, Mapping[str, Agent]]] = {}

    async def worker(worker_index: int) -> None:
        while not queue.empty():
            job = queue.get_nowait()
            key = f"{worker_index}/{job.condition}"
            if key not in workers:  # one env and one set of agents per worker and condition
                workers[key] = (make_env(job.condition), make_agents(job.condition))
            env, agents = workers[key]
            result = await play_episode(env, agents, seed=job.seed, episode_id=job.episode_id, condition=job.condition)
            line = result.to_json()  # serialised (and redacted) once, for the file and the record
            records[job.episode_id] = read_episode(line)
            if result.tokens:  # token-level records stay objects, in memory only
                records[job.episode_id]["tokens"] = result.tokens
            if sink is not None:
                sink.write(line)
            if bar is not None:
                bar.update(1)
            await asyncio.sleep(0)  # let the other workers run between episodes of scripted agents

    tasks = [asyncio.ensure_future(worker(i)) for i in range(min(concurrency, max(len(pending), 1)))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:  # a fatal error in one worker stops the others
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        if sink is not None:
            sink.close()
        if bar is not None:
            bar.close()
    return [records[job.episode_id] for job in jobs if job.episode_id in records]


def _progress(total: int, initial: int, label: str | None = None) -> Any:
    if label is not None:
        return LineProgress(total, initial, label)
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="episode", dynamic_ncols=True)


class LineProgress:
    """Progress as whole log lines (``[job 3] 40/100 episodes``), every tenth: readable when parallel jobs interleave."""

    def __init__(self, total: int, initial: int, label: str) -> None:
        import logging

        self.total, self.done, self.label = total, initial, label
        self.step = max(1, total // 10)
        self.log = logging.getLogger("feedbackgym")
        self._next = initial + self.step

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.done >= self._next or self.done == self.total:
            self.log.info(f"[{self.label}] {self.done}/{self.total} episodes")
            self._next = self.done + self.step

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------- aggregation
def aggregate(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per condition: episode counts (``episodes``, ``errors``, ``scored`` = error-free), and
    the mean of every numeric metric over the scored episodes.

    List metrics (``cumulative_accuracy``) are averaged element-wise into ``name@k`` columns
    (1-based); ``None`` values (a metric that does not apply to an episode, or to entry k of a
    list) are left out of means.
    """
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        groups.setdefault(record.get("condition", "default"), []).append(record)
    rows = []
    for condition, group in groups.items():
        ok = [r for r in group if r.get("error") is None]
        # "scored": the error-free episodes every metric of the row is a mean over
        row: dict[str, Any] = {"condition": condition, "episodes": len(group), "errors": len(group) - len(ok), "scored": len(ok)}
        values: dict[str, list[float]] = {}
        for record in ok:
            for key, value in (record.get("metrics") or {}).items():
                if isinstance(value, bool) or isinstance(value, (int, float)):
                    values.setdefault(key, []).append(as_float(value))
                elif isinstance(value, list) and value and all(v is None or isinstance(v, (int, float)) for v in value):
                    # None marks an entry that does not apply (no deal in game k): left out of that mean.
                    for k, v in enumerate(value, start=1):
                        series = values.setdefault(f"{_short(key)}@{k}", [])
                        if v is not None:
                            series.append(as_float(v))
            for agent_id, value in (record.get("returns") or {}).items():
                if isinstance(value, (int, float)):
                    values.setdefault(f"return/{agent_id}", []).append(as_float(value))
            for agent_id, stats in (record.get("agents") or {}).items():
                for key in ACCOUNTING if isinstance(stats, Mapping) else ():
                    if isinstance(stats.get(key), (int, float)):
                        values.setdefault(f"{agent_id}/{key}", []).append(as_float(stats[key]))
        for key, series in values.items():
            row[key] = float(np.mean(series)) if series else math.nan
            if key.endswith("/cost"):
                row[f"{key}_total"] = float(np.sum(series))
        rows.append(row)
    return rows


def as_float(value: int | float) -> float:
    """``value`` as a float; an integer beyond the float range (a record's ``10**400``) as an infinity, not an OverflowError."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


# Per-episode accounting of agents (LLM calls) that the table averages per episode.
ACCOUNTING = ("calls", "cached_calls", "failed_calls", "prompt_tokens", "completion_tokens", "cost", "latency")


def _short(name: str) -> str:
    return {"cumulative_accuracy": "acc"}.get(name, name)


def write_table(rows: Sequence[Mapping[str, Any]], path: Path | str) -> Path:
    """Write rows as CSV with the union of their columns, in first-seen order."""
    import csv

    path = Path(path)
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _fmt(row.get(key)) for key in columns})
    return path


def _fmt(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table of ``columns`` for the terminal."""
    widths = [max(len(c), *(len(_cell(r.get(c))) for r in rows)) for c in columns]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(_cell(row.get(c)).ljust(w) for c, w in zip(columns, widths)))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else str(value)
