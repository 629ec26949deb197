"""Retries with exponential backoff and jitter, honouring Retry-After, for model calls."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from feedbackgym.agents.secrets import redact

T = TypeVar("T")

# litellm exception class names that are worth another try: rate limits, timeouts, dropped
# connections and server-side errors. Anything else (bad key, bad request, context too long) is not.
RETRYABLE_NAMES = frozenset(
    {
        "RateLimitError",
        "Timeout",
        "APIConnectionError",
        "InternalServerError",
        "ServiceUnavailableError",
        "BadGatewayError",
        "APIResponseValidationError",
        "TimeoutError",
        "ConnectionError",
        "JSONDecodeError",
    }
)
NOT_RETRYABLE_NAMES = frozenset(
    {
        "AuthenticationError",
        "PermissionDeniedError",
        "BadRequestError",
        "NotFoundError",
        "ContextWindowExceededError",
        "ContentPolicyViolationError",
        "UnsupportedParamsError",
        "UnprocessableEntityError",
        "BudgetExceededError",
        "CacheMiss",
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` further tries after the first, waiting ``initial_delay * multiplier**k`` (capped at
    ``max_delay``) times a random factor in ``[1 - jitter, 1 + jitter]``, or the server's Retry-After."""

    max_retries: int = 5
    initial_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 60.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.initial_delay < 0 or self.max_delay < 0:
            raise ValueError("retry delays must be >= 0")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be in [0, 1], got {self.jitter}")

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        backoff = min(self.max_delay, self.initial_delay * self.multiplier**retry)
        backoff *= 1.0 + self.jitter * (2.0 * rng.random() - 1.0)
        if retry_after is not None:
            return max(retry_after, 0.0)  # the server said when; waiting less only earns another 429
        return max(backoff, 0.0)


def status_code(error: BaseException) -> int | None:
    code = getattr(error, "status_code", None)
    return code if isinstance(code, int) else None


def retry_after_seconds(error: BaseException) -> float | None:
    """The Retry-After of the response behind ``error``, in seconds, if the server sent one."""
    headers: Any = None
    for attribute in ("litellm_response_headers", "headers"):
        headers = getattr(error, attribute, None)
        if headers:
            break
    if not headers:
        response = getattr(error, "response", None)
        headers = getattr(response, "headers", None)
    if not headers:
        return None
    try:
        value = headers.get("retry-after") or headers.get("Retry-After")
    except AttributeError:
        return None
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(str(value))
        return max(parsed.timestamp() - time.time(), 0.0) if parsed else None


# Messages that mean a configuration error even when litellm labels them as server errors (HTTP 500).
NOT_RETRYABLE_MESSAGES = ("Missing credentials", "api_key client option must be set", "Incorrect API key")


def is_retryable(error: BaseException) -> bool:
    names = {cls.__name__ for cls in type(error).__mro__}
    if names & NOT_RETRYABLE_NAMES:
        return False
    if any(message in str(error) for message in NOT_RETRYABLE_MESSAGES):
        return False
    if names & RETRYABLE_NAMES:
        return True
    code = status_code(error)
    return code is not None and (code == 429 or code >= 500)


ERROR_TEXT_LIMIT = 300

# Errors that say the agent's configuration is wrong (key, model, permissions), not that one request failed.
CONFIGURATION_NAMES = frozenset({"AuthenticationError", "PermissionDeniedError", "NotFoundError", "UnsupportedParamsError", "BudgetExceededError"})
CONFIGURATION_MESSAGES = (*NOT_RETRYABLE_MESSAGES, "LLM Provider NOT provided")
CONNECTION_NAMES = frozenset({"APIConnectionError", "ConnectionError", "TimeoutError", "Timeout"})
CONNECTION_MESSAGES = ("Connection error", "Connection refused")  # litellm may label these HTTP 500


def is_configuration_error(error: BaseException | None, *, first_call: bool = False) -> bool:
    """Whether ``error`` means every later call will fail too: a configuration fault, or, on an
    agent's first call, an endpoint that cannot be reached."""
    if error is None:
        return False
    names = {cls.__name__ for cls in type(error).__mro__}
    if names & CONFIGURATION_NAMES or any(message in str(error) for message in CONFIGURATION_MESSAGES):
        return True
    return first_call and (bool(names & CONNECTION_NAMES) or any(message in str(error) for message in CONNECTION_MESSAGES))


def describe(error: BaseException) -> str:
    """The error's type, HTTP status and first line, redacted and then cut (a cut must never split a key
    that redaction would then miss)."""
    code = status_code(error)
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = redact(text)[:ERROR_TEXT_LIMIT]
    return f"{type(error).__name__}" + (f" (HTTP {code})" if code else "") + (f": {text}" if text else "")


class RetriesExhausted(RuntimeError):
    """Every try failed; ``attempts`` lists what each try raised."""

    def __init__(self, message: str, attempts: list[str]) -> None:
        super().__init__(message)
        self.attempts = attempts


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> tuple[T, int]:
    """Await ``call()`` until it succeeds; returns (result, tries). Raises :class:`RetriesExhausted`."""
    rng = rng or random.Random()
    failures: list[str] = []
    for attempt in range(policy.max_retries + 1):
        try:
            return await call(), attempt + 1
        except asyncio.CancelledError:
            raise
        except Exception as error:  # classified below; the ones we cannot retry end at once
            failures.append(describe(error))
            if not is_retryable(error):
                raise RetriesExhausted(f"{describe(error)} (not retryable)", failures) from error
            if attempt == policy.max_retries:
                raise RetriesExhausted(
                    f"gave up after {attempt + 1} tries; last error: {describe(error)}", failures
                ) from error
            wait = policy.delay(attempt, retry_after_seconds(error), rng)
            if on_retry is not None:
                on_retry(attempt + 1, error, wait)
            await sleep(wait)
    raise AssertionError("unreachable")
