"""A response cache of our own (litellm's disk cache crashes on its first hit offline; DESIGN.md section 9).

Keys are a SHA-256 of the canonical JSON of everything that determines a reply: model, api_base,
messages, sampling parameters and the sample index. Values are the reply text and its usage. SQLite
keeps it safe for many agents and several processes (Hydra's joblib launcher) at once.
"""

from __future__ import annotations

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


class ResponseCache:
    """``get``/``put`` replies by request key; ``mode`` is ``off``, ``read_write`` or ``read_only``."""

    def __init__(self, path: str | Path, mode: str = "read_write") -> None:
        if mode not in CACHE_MODES:
            raise ValueError(f"cache mode must be one of {', '.join(CACHE_MODES)}, got {mode!r}")
        self.mode = mode
        self.path = Path(path)
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        if mode != "off":
            if mode == "read_only" and not self.path.exists():
                raise FileNotFoundError(f"cache mode read_only needs an existing cache file, but {self.path} does not exist")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)")
            self._connection.commit()

    def get(self, key: str) -> dict[str, Any] | None:
        if self._connection is None:
            return None
        with self._lock:
            row = self._connection.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(row[0])

    def put(self, key: str, value: dict[str, Any]) -> None:
        if self._connection is None or self.mode != "read_write":
            return
        row = json.dumps(storable(value), ensure_ascii=True)
        with self._lock:
            self._connection.execute("INSERT OR REPLACE INTO responses (key, value, created) VALUES (?, ?, ?)", (key, row, time.time()))
            self._connection.commit()

    def __len__(self) -> int:
        if self._connection is None:
            return 0
        with self._lock:
            return int(self._connection.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


_open: dict[tuple[str, str], ResponseCache] = {}


def open_cache(path: str | Path, mode: str) -> ResponseCache:
    """One shared cache object per file and mode in a process (agents are built per worker)."""
    key = (str(Path(path).resolve()), mode)
    if key not in _open:
        _open[key] = ResponseCache(path, mode)
    return _open[key]
