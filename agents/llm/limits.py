"""Requests- and tokens-per-minute limits, shared by every agent that calls the same endpoint."""

from __future__ import annotations

import asyncio
import time
from collections import deque


class RateLimiter:
    """A sliding one-minute window over requests and tokens; ``acquire`` waits until both fit.

    Tokens are known only after a call, so a call is admitted on the tokens of the window so far and
    :meth:`record_tokens` adds its usage afterwards.
    """

    def __init__(self, requests_per_minute: float | None = None, tokens_per_minute: float | None = None, window: float = 60.0) -> None:
        for name, value in (("requests_per_minute", requests_per_minute), ("tokens_per_minute", tokens_per_minute)):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0 or None, got {value}")
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self.window = window
        self._requests: deque[float] = deque()
        self._tokens: deque[tuple[float, int]] = deque()
        self._lock = asyncio.Lock()

    def _expire(self, now: float) -> None:
        while self._requests and now - self._requests[0] >= self.window:
            self._requests.popleft()
        while self._tokens and now - self._tokens[0][0] >= self.window:
            self._tokens.popleft()

    def _wait_time(self, now: float) -> float:
        waits = [0.0]
        if self.requests_per_minute is not None and len(self._requests) >= self.requests_per_minute:
            waits.append(self.window - (now - self._requests[0]))
        if self.tokens_per_minute is not None and sum(t for _, t in self._tokens) >= self.tokens_per_minute:
            waits.append(self.window - (now - self._tokens[0][0]))
        return max(waits)

    async def acquire(self) -> None:
        if self.requests_per_minute is None and self.tokens_per_minute is None:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                self._expire(now)
                wait = self._wait_time(now)
                if wait <= 0:
                    self._requests.append(now)
                    return
                await asyncio.sleep(wait)

    def record_tokens(self, tokens: int) -> None:
        if self.tokens_per_minute is not None and tokens > 0:
            self._tokens.append((time.monotonic(), tokens))


_shared: dict[tuple[str, str | None, float | None, float | None, int], RateLimiter] = {}


def shared_limiter(model: str, api_base: str | None, rpm: float | None, tpm: float | None) -> RateLimiter | None:
    """The limiter of one endpoint in this event loop, shared across agents and episodes."""
    if rpm is None and tpm is None:
        return None
    key = (model, api_base, rpm, tpm, id(asyncio.get_running_loop()))
    if key not in _shared:
        _shared[key] = RateLimiter(rpm, tpm)
    return _shared[key]
