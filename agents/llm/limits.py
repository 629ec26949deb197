"""Requests- and tokens-per-minute limits, shared by every agent that calls the same endpoint."""

from __future__ import annotations

import asyncio
import math
import time
import weakref
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


# Per event loop (its lock and sleeps belong to that loop), held weakly: a finished loop's limiters go
# with it, and a new loop never inherits them (keying by id() did, once a dead loop's id was reused).
_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str | None, float | None, float | None], RateLimiter]] = (
    weakref.WeakKeyDictionary()
)


def shared_limiter(model: str, api_base: str | None, rpm: float | None, tpm: float | None) -> RateLimiter | None:
    """The limiter of one endpoint in this event loop, shared across agents and episodes."""
    if rpm is None and tpm is None:
        return None
    limiters = _shared.setdefault(asyncio.get_running_loop(), {})
    key = (model, api_base, rpm, tpm)
    if key not in limiters:
        limiters[key] = RateLimiter(rpm, tpm)
    return limiters[key]


# ------------------------------------------------------------------------------ requests in flight
class EndpointGate:
    """How many requests one endpoint (``api_base`` + ``model``) has in flight, shared by every agent
    of the process that calls it, with a limit that adapts (AIMD, as TCP does).

    - ``max_in_flight`` caps the limit (None: no fixed cap). A single-slot local server (llama.cpp,
      a laptop's Ollama) wants 1 or 2; a provider, tens.
    - When the endpoint times out or answers 429 the limit halves (to half of what was in flight, at
      least 1), once per congestion: requests sent before the last cut do not cut again.
    - After ``limit`` successes in a row it grows by one, back up to ``max_in_flight``.
    - Waiters get slots in arrival order. A request is timed from when it has its slot, so the
      timeout measures the endpoint and not this queue; a request given up on keeps its slot until
      it really ends (see :meth:`release`), so retries do not pile onto a server still busy with it.
    """

    def __init__(self, max_in_flight: int | None = None, adaptive: bool = True) -> None:
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1 or None (no cap), got {max_in_flight!r}")
        self.ceiling = max_in_flight
        self.adaptive = adaptive
        self.limit: float = float(max_in_flight) if max_in_flight is not None else math.inf
        self.in_flight = 0
        self.peak_in_flight = 0
        self.cuts = 0
        self.lowest_limit = self.limit
        self._successes = 0
        self._last_cut = -math.inf
        self._waiters: deque[asyncio.Future[None]] = deque()

    def tighten(self, max_in_flight: int | None) -> None:
        """Another agent on the same endpoint asks for a lower cap: the lowest wins."""
        if max_in_flight is not None and (self.ceiling is None or max_in_flight < self.ceiling):
            self.ceiling = max_in_flight
            self.limit = min(self.limit, float(max_in_flight))

    async def acquire(self) -> float:
        """Wait for a slot; returns the time (``time.monotonic``) the slot was taken."""
        if not self._waiters and self.in_flight < self.limit:
            return self._take()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        try:
            while True:
                await waiter
                if self.in_flight < self.limit:
                    break
                waiter = loop.create_future()  # woken but beaten to the slot: keep its place at the front
                self._waiters.appendleft(waiter)
        except asyncio.CancelledError:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            else:
                self._wake()  # it was woken for a slot it will not take: pass the turn on
            raise
        return self._take()

    def _take(self) -> float:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        return time.monotonic()

    def release(self, started: float, outcome: str) -> None:
        """Give a slot back. ``outcome``: ``"ok"`` (a reply), ``"congested"`` (429 or a timeout: the
        limit is cut) or ``"other"`` (any other end: no signal about load)."""
        self.in_flight -= 1
        if outcome == "congested":
            self.congested(started)
        elif outcome == "ok" and self.adaptive:
            self._successes += 1
            ceiling = self.ceiling if self.ceiling is not None else math.inf
            if self.limit < ceiling and self._successes >= self.limit:
                self.limit += 1
                self._successes = 0
        self._wake()

    def congested(self, started: float) -> None:
        """The endpoint timed out or asked us to slow down, for a request sent at ``started``."""
        if not self.adaptive or started < self._last_cut:
            return
        self.limit = float(max(1, int(min(self.limit, self.in_flight + 1)) // 2))
        self.lowest_limit = min(self.lowest_limit, self.limit)
        self._last_cut = time.monotonic()
        self._successes = 0
        self.cuts += 1

    def _wake(self) -> None:
        free = self.limit - self.in_flight
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1


_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str | None, str], EndpointGate]] = weakref.WeakKeyDictionary()


def endpoint_gate(model: str, api_base: str | None, max_in_flight: int | None = None, adaptive: bool = True) -> EndpointGate:
    """The gate of ``api_base`` + ``model`` in the running event loop (one per endpoint, shared by all agents)."""
    gates = _gates.setdefault(asyncio.get_running_loop(), {})
    key = (api_base, model)
    if key not in gates:
        gates[key] = EndpointGate(max_in_flight, adaptive)
    else:
        gates[key].tighten(max_in_flight)
    return gates[key]
