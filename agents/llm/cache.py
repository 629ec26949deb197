"""A response cache of our own (litellm's disk cache crashes on its first hit offline).

Keys are a SHA-256 of the canonical JSON of everything that determines a reply: model, api_base,
messages, sampling parameters and the sample index. Values are the reply text and its usage. SQLite
keeps it safe for many agents and several processes (Hydra's joblib launcher) at once.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from feedbackgym.agents.secrets import redact

CACHE_MODES = ("off", "read_write", "read_only")


class CacheMiss(LookupError):
    """A ``read_only`` cache had no reply for a request."""


def request_key(request: dict[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    # surrogatepass: text with a lone surrogate still has one key (other text keeps the keys it always had).
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def storable(value: dict[str, Any]) -> dict[str, Any]:
    """What a cache row may hold: the reply texts (redacted: a server may echo the request's headers
    into a reply), token counts and cost. Nothing else, headers never."""
    usage = value.get("usage") or {}
    return {
        "choices": [redact(str(choice)) for choice in value.get("choices") or []],
        "usage": {name: int(usage.get(name, 0) or 0) for name in ("prompt_tokens", "completion_tokens", "total_tokens")},
        "cost": float(value.get("cost", 0.0) or 0.0),
    }


class CacheFileError(ValueError):
    """The cache file cannot be used (damaged, not a cache, a directory); the message names it and says how to recover."""


def _unusable(path: Path, detail: str) -> CacheFileError:
    return CacheFileError(
        f"the LLM response cache {path} cannot be used: {detail}. Delete it (rm {path}*) to start a new "
        f"cache, choose another cache_path, or run with cache=off"
    )


class ResponseCache:
    """``get``/``put`` replies by request key; ``mode`` is ``off``, ``read_write`` or ``read_only``.

    The file is opened and checked (``PRAGMA quick_check``) when the cache is made, so a damaged
    file stops a run before its first episode with a :class:`CacheFileError` naming it.
    ``read_only`` never writes: the file is opened read-only (immutable when no writer's ``-wal``
    file is beside it, so SQLite creates nothing either), and a missing or empty file is an empty
    cache (every request a miss), not a file to create.
    """

    def __init__(self, path: str | Path, mode: str = "read_write") -> None:
        if mode not in CACHE_MODES:
            raise ValueError(f"cache mode must be one of {', '.join(CACHE_MODES)}, got {mode!r}")
        self.mode = mode
        self.path = Path(path)
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        if mode == "off":
            return
        if self.path.is_dir():
            raise _unusable(self.path, "it is a directory, not a cache file")
        try:
            if mode == "read_only":
                self._connection = self._open_read_only()
            else:
                self._connection = self._open_read_write()
        except sqlite3.DatabaseError as error:  # "file is not a database", "database disk image is malformed", ...
            raise _unusable(self.path, f"{type(error).__name__}: {error}") from None

    def _open_read_only(self) -> sqlite3.Connection | None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return None  # an empty cache: every request is a miss
        wal = Path(f"{self.path}-wal")
        flags = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
        connection = sqlite3.connect(f"{self.path.resolve().as_uri()}?{flags}", uri=True, timeout=30, check_same_thread=False)
        self._check(connection)
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "responses" not in tables:
            connection.close()
            return None  # a database without replies: an empty cache
        return connection

    def _open_read_write(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._check(connection)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)")
        connection.commit()
        return connection

    def _check(self, connection: sqlite3.Connection) -> None:
        try:
            problems = [row[0] for row in connection.execute("PRAGMA quick_check").fetchall()]
        except sqlite3.DatabaseError:
            connection.close()
            raise
        if problems != ["ok"]:
            connection.close()
            raise _unusable(self.path, "SQLite's check found damage (" + "; ".join(map(str, problems[:3])) + ")")

    def _damaged(self, error: sqlite3.DatabaseError) -> CacheFileError:
        return _unusable(self.path, f"{type(error).__name__} while in use: {error}")

    def get(self, key: str) -> dict[str, Any] | None:
        if self._connection is None:
            self.misses += 1
            return None
        try:
            with self._lock:
                row = self._connection.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError as error:
            raise self._damaged(error) from None
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(row[0])

    def put(self, key: str, value: dict[str, Any]) -> None:
        if self._connection is None or self.mode != "read_write":
            return
        row = json.dumps(storable(value), ensure_ascii=True)
        try:
            with self._lock:
                self._connection.execute("INSERT OR REPLACE INTO responses (key, value, created) VALUES (?, ?, ?)", (key, row, time.time()))
                self._connection.commit()
        except sqlite3.DatabaseError as error:
            raise self._damaged(error) from None

    def __len__(self) -> int:
        if self._connection is None:
            return 0
        with self._lock:
            return int(self._connection.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    _was_closed = False

    @property
    def closed(self) -> bool:
        return self._was_closed

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        # A cache is a file shared by every agent of a process: a copy (pickled to a worker, or deep-copied)
        # is that process's cache object for the same file and mode, opened there (checked again) if need be.
        return open_cache, (str(self.path.resolve()), self.mode)

    def close(self) -> None:
        """Close the file (a writer's last close folds its ``-wal`` file back into the database)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._was_closed = True


_open: dict[tuple[str, str], ResponseCache] = {}


def open_cache(path: str | Path, mode: str) -> ResponseCache:
    """One shared cache object per file and mode in a process (agents are built per worker)."""
    key = (str(Path(path).resolve()), mode)
    if key not in _open or _open[key].closed:
        _open[key] = ResponseCache(path, mode)
    return _open[key]


def close_all() -> None:
    """Close every cache this process opened (at exit: leaves each file whole, without a ``-wal`` file)."""
    for cache in list(_open.values()):
        cache.close()
    _open.clear()


atexit.register(close_all)


# Fields of an episode record that a read_only replay does not reproduce: time, and what the calls
# cost this time (a replay pays nothing, tries nothing, and its calls are marked cached).
REPLAY_VARYING_FIELDS = ("seconds",)
REPLAY_VARYING_AGENT_FIELDS = ("latency", "cached_calls", "cost")
REPLAY_VARYING_CALL_FIELDS = ("latency", "cached", "tries", "cost")


def replay_comparable(record: dict[str, Any]) -> dict[str, Any]:
    """An episode record (a line of ``episodes.jsonl``) without the fields a ``read_only`` replay
    changes; for an episode that finished without error, the replay's record is equal to the first
    run's under this view."""
    view = {key: value for key, value in record.items() if key not in REPLAY_VARYING_FIELDS}
    agents = {}
    for agent_id, stats in (record.get("agents") or {}).items():
        stats = {k: v for k, v in stats.items() if k not in REPLAY_VARYING_AGENT_FIELDS}
        if "per_call" in stats:
            stats["per_call"] = [{k: v for k, v in call.items() if k not in REPLAY_VARYING_CALL_FIELDS} for call in stats["per_call"]]
        agents[agent_id] = stats
    view["agents"] = agents
    return view
