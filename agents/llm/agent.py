"""``LLMAgent``: any role played by any model through litellm (a provider, or a local server)."""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import os
import random
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from feedbackgym.agents.base import Agent, AgentConfigurationError
from feedbackgym.agents.llm.cache import CACHE_MODES, CacheMiss, open_cache, request_key
from feedbackgym.agents.llm.limits import EndpointGate, endpoint_gate, shared_limiter
from feedbackgym.agents.llm.prompts import get_prompt
from feedbackgym.agents.llm.retry import RetriesExhausted, RetryPolicy, call_with_retries, is_configuration_error
from feedbackgym.agents.registration import register_agent
from feedbackgym.agents.secrets import redact, register_secret
from feedbackgym.envs.core.checks import (
    ArgumentError,
    fail,
    is_int,
    require_bool,
    require_choice,
    require_float,
    require_int,
    require_mapping,
    require_text,
)
from feedbackgym.envs.core.parsing import extract_answer

MAX_SECONDS = 86_400.0  # timeouts and back-off delays
MAX_TEMPERATURE = 10.0


class LLMCallError(RuntimeError):
    """A model call failed for good (retries exhausted, or an error not worth retrying); the cause is kept."""


class LLMConfigurationError(LLMCallError, AgentConfigurationError):
    """A call failed because the agent is misconfigured (key, model, endpoint): fatal to the run."""


_LITELLM: Any = None


def _litellm() -> Any:
    """litellm, imported and configured on first use (it takes ~4 s to import)."""
    global _LITELLM
    if _LITELLM is not None:
        return _LITELLM
    # The bundled price map, never a download: runs work offline and do not wait on the network.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm
    except ImportError as error:  # pragma: no cover - litellm is a requirement
        raise ImportError("LLMAgent needs litellm: pip install -c constraints.txt litellm") from error
    litellm.suppress_debug_info = True
    # litellm logs every call at INFO; under Hydra's logging that floods the console. Set once:
    # setLevel clears the logging module's level cache, which would slow every later log call.
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm"):
        logging.getLogger(name).setLevel(logging.WARNING)
    _LITELLM = litellm
    return litellm


def _key_from_env(name: str) -> str:
    """The API key in the environment variable ``name`` (``api_key_env``), or a ValueError naming it."""
    if name not in os.environ:
        raise ValueError(f"api_key_env names {name!r}, which is not set in the environment")
    return os.environ[name]


@register_agent("llm")
class LLMAgent(Agent):
    """Plays any role with a chat model called through litellm.

    It sends the environment's chat view (``info["messages"]``: the role's instructions, the task,
    then the recent conversation), optionally rewritten by a prompt template (``prompt``, a name
    from :mod:`feedbackgym.agents.llm.prompts`, or ``system_prompt``, literal text that may contain
    ``{env_system}``), and returns the reply text whole. The environment parses it; a reply it
    cannot read is an invalid move there, with the raw text kept.

    Arguments:
        model: a litellm model name, e.g. ``openai/gpt-4o-mini``, ``anthropic/claude-3-5-haiku-latest``,
            ``ollama_chat/llama3.1``, or ``openai/<name>`` with ``api_base`` for a vLLM/llama.cpp server.
        api_base: the server's base URL (``http://127.0.0.1:8000/v1``).
        api_key_env: the name of the environment variable holding the key (preferred: the key never
            enters a config). ``api_key`` works too and is redacted from every output.
        temperature, max_tokens, stop, completion_kwargs: passed to ``litellm.acompletion`` (completion_kwargs may
            not set what the agent sets itself: model, messages, n, stream, mock_response, timeout, retries, api_base).
        temperature_step, temperature_cap: Feedback Friction's schedule, temperature + step * turn, capped.
        reject_previous: sample this many replies and keep one whose answer was not tried before
            (Feedback Friction's rejection strategy; 0 or 1 turns it off). ``sample_with_n`` asks for
            them in one request (the ``n`` parameter); set it False for providers without ``n``.
        timeout: seconds per call; max_retries, backoff_initial, backoff_max: retries with exponential
            backoff and jitter on rate limits (honouring Retry-After), server errors, timeouts and
            dropped connections.
        cache, cache_path: ``off``, ``read_write`` or ``read_only`` response cache (SQLite); a rerun
            from a warm cache sends no request and reproduces each finished episode's transcript byte
            for byte and its record but for timing and cache accounting (see
            :func:`feedbackgym.agents.llm.cache.replay_comparable`). A damaged file fails here. A copy
            of the agent (pickled or deep-copied) uses the same file, opened again where it lands.
        requests_per_minute, tokens_per_minute: limits shared by all agents calling the same endpoint.
        max_in_flight: requests in flight at once to this endpoint (``api_base`` + ``model``), shared by
            all agents of the process; None: no fixed cap. 1 suits a single-slot local server
            (llama.cpp, Ollama on a laptop). With ``adaptive_concurrency`` (default) the limit halves
            when the endpoint times out or answers 429 and grows back by one after successes;
            ``timeout`` counts from when a request has its slot, not while it waits for one, and a
            request given up on holds its slot until it really ends (at most ``2 * timeout``).
        mock_response: litellm's offline stand-in reply, for tests.
    """

    def __init__(
        self,
        model: str = "openai/gpt-4o-mini",
        api_base: str | None = None,
        api_key: str | None = None,
        api_key_env: str | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = 1024,
        stop: Sequence[str] | str | None = None,
        completion_kwargs: Mapping[str, Any] | None = None,
        prompt: str | None = None,
        system_prompt: str | None = None,
        temperature_step: float = 0.0,
        temperature_cap: float = 1.5,
        reject_previous: int = 0,
        sample_with_n: bool = True,
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        cache: str = "off",
        cache_path: str = ".feedbackgym_cache/llm.sqlite",
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        max_in_flight: int | None = None,
        adaptive_concurrency: bool = True,
        mock_response: str | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        seed = int(seed) if is_int(seed) else seed  # random.Random takes Python ints only (the base class checked it)
        model = require_text("model", model, max_chars=500)
        cache = require_choice("cache", cache, CACHE_MODES)
        timeout = require_float("timeout", timeout, 0.0, MAX_SECONDS, open_low=True)
        temperature = require_float("temperature", temperature, 0.0, MAX_TEMPERATURE)
        temperature_cap = require_float("temperature_cap", temperature_cap, 0.0, MAX_TEMPERATURE)
        temperature_step = require_float("temperature_step", temperature_step, -MAX_TEMPERATURE, MAX_TEMPERATURE)
        reject_previous = require_int("reject_previous", reject_previous, 0, 100)
        sample_with_n = require_bool("sample_with_n", sample_with_n)
        max_tokens = require_int("max_tokens", max_tokens, 1, 10_000_000, allow_none=True)
        max_retries = require_int("max_retries", max_retries, 0, 100)
        backoff_initial = require_float("backoff_initial", backoff_initial, 0.0, MAX_SECONDS)
        backoff_max = require_float("backoff_max", backoff_max, 0.0, MAX_SECONDS)
        requests_per_minute = require_float("requests_per_minute", requests_per_minute, 0.0, 1e9, open_low=True, allow_none=True)
        tokens_per_minute = require_float("tokens_per_minute", tokens_per_minute, 0.0, 1e12, open_low=True, allow_none=True)
        api_base = require_text("api_base", api_base, max_chars=2000, allow_none=True)
        api_key_env = require_text("api_key_env", api_key_env, max_chars=200, allow_none=True)
        if api_key is not None and (not isinstance(api_key, str) or not api_key.strip() or "\x00" in api_key or not api_key.isprintable()):
            # never echo the value: it may be a real key
            raise ArgumentError(f"api_key must be a non-empty string or None, got a {type(api_key).__name__}")
        if stop is not None:
            stops = [stop] if isinstance(stop, str) else stop
            if not isinstance(stops, (list, tuple)):
                raise fail("stop", "a non-empty string, a list of them or None", stop)
            for item in stops:
                require_text("stop", item, multiline=True, max_chars=1000)
        require_mapping("completion_kwargs", completion_kwargs)
        _check_completion_kwargs(completion_kwargs or {})
        if require_text("prompt", prompt, max_chars=200, allow_none=True):
            from feedbackgym.agents.llm.prompts import require_prompt

            require_prompt(prompt)
        require_text("system_prompt", system_prompt, multiline=True, allow_empty=True, max_chars=1_000_000, allow_none=True)
        require_text("cache_path", cache_path, max_chars=4096)
        require_text("mock_response", mock_response, multiline=True, allow_empty=True, max_chars=1_000_000, allow_none=True)
        max_in_flight = require_int("max_in_flight", max_in_flight, 1, 100_000, allow_none=True)
        adaptive_concurrency = require_bool("adaptive_concurrency", adaptive_concurrency)
        key_from_env = _key_from_env(api_key_env) if api_key_env is not None else None
        self.model = model
        self.api_base = api_base
        self._api_key = api_key if api_key is not None else key_from_env
        self._api_key_env = api_key_env if api_key is None else None  # where a pickled copy reads the key again
        register_secret(self._api_key)
        self.temperature = float(temperature)
        self.max_tokens = max_tokens
        self.stop = [stop] if isinstance(stop, str) else (list(stop) if stop else None)
        self.completion_kwargs = dict(completion_kwargs or {})
        self.template = get_prompt(prompt) if prompt else None
        self.system_prompt = system_prompt
        self.temperature_step = float(temperature_step)
        self.temperature_cap = float(temperature_cap)
        self.reject_previous = int(reject_previous)
        self.sample_with_n = bool(sample_with_n)
        self.timeout = float(timeout)
        self.retry_policy = RetryPolicy(max_retries=max_retries, initial_delay=backoff_initial, max_delay=backoff_max)
        self.cache_mode = cache
        self.cache = open_cache(cache_path, cache) if cache != "off" else None
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self.max_in_flight = max_in_flight
        self.adaptive_concurrency = adaptive_concurrency
        self.mock_response = mock_response
        # Jitter must not consume the agent's generator, or retries would change later choices.
        self._jitter_rng = random.Random(seed)
        self.calls: list[dict[str, Any]] = []
        self._answered = False  # an unreachable endpoint before any answer is a configuration fault

    def __repr__(self) -> str:  # never shows the key
        return f"LLMAgent(model={self.model!r}, api_base={self.api_base!r})"

    # ------------------------------------------------------------------------------ copying
    # A pickle is bytes that may end up anywhere (a file, another machine), so it never holds the key: an
    # agent given api_key_env reads it again from that variable where it is unpickled, and one given the
    # key itself refuses to be pickled. A deep copy stays in this process and keeps the key.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if state.get("_api_key") is not None:
            if state.get("_api_key_env") is None:
                raise TypeError(
                    "an LLMAgent given api_key= cannot be pickled: the key would be written with it. Give "
                    "api_key_env= (the name of an environment variable holding the key) instead; the key is then "
                    "read from that variable where the agent is unpickled"
                )
            state["_api_key"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        name = state.get("_api_key_env")
        if name is not None:
            self._api_key = _key_from_env(name)
            register_secret(self._api_key)

    def __deepcopy__(self, memo: dict[int, Any]) -> LLMAgent:
        twin = object.__new__(type(self))
        memo[id(self)] = twin
        twin.__dict__.update(copy.deepcopy(self.__dict__, memo))  # the key included: the copy stays in this process
        return twin

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self.calls = []

    # ------------------------------------------------------------------------------- acting
    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.aact(observation, info))
        raise RuntimeError("LLMAgent.act was called inside a running event loop; await agent.aact(...) instead")

    async def aact(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        # An observation or info that is not what an environment sends (missing, None, odd fields) is
        # read leniently: the agent still sends one well-formed request instead of failing here.
        info = info if isinstance(info, Mapping) else {}
        messages = self.build_messages(chat_view(observation, info))
        turn = turn_of(info)
        temperature = self.temperature
        if self.temperature_step:
            temperature = min(max(self.temperature + self.temperature_step * turn, 0.0), self.temperature_cap)
        tried_answers = info.get("tried_answers")
        if not isinstance(tried_answers, (list, tuple)):
            tried_answers = []
        tried = {_answer_key(a) for a in tried_answers if isinstance(a, str)}
        if self.reject_previous > 1 and tried:
            if self.sample_with_n:
                replies = await self._complete(messages, temperature, 0, n=self.reject_previous)
            else:
                first_call = len(self.calls)
                groups = await asyncio.gather(*(self._complete(messages, temperature, i) for i in range(self.reject_previous)))
                replies = [reply for group in groups for reply in group]
                # The calls finish in any order; their records go in sample order, so reruns list them alike.
                self.calls[first_call:] = sorted(self.calls[first_call:], key=lambda call: call["sample"])
            novel = [r for r in replies if _answer_key(extract_answer(r)) not in tried]
            pool = novel or list(replies)
            return pool[int(self.np_random.integers(len(pool)))]
        return (await self._complete(messages, temperature, 0))[0]

    def build_messages(self, messages: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
        """The environment's chat view with the template applied, roles alternating, ending on the user."""
        built = [chat_message(m) for m in messages]
        env_system = built[0]["content"] if built and built[0]["role"] == "system" else ""
        system = self.system_prompt if self.system_prompt is not None else (self.template.system if self.template else None)
        if system is not None:
            text = system.replace("{env_system}", env_system)
            if built and built[0]["role"] == "system":
                built[0]["content"] = text
            else:
                built.insert(0, {"role": "system", "content": text})
        merged: list[dict[str, str]] = []
        for message in built:
            # Several providers reject two messages of the same role in a row.
            if merged and merged[-1]["role"] == message["role"] and message["role"] != "system":
                merged[-1]["content"] += "\n\n" + message["content"]
            else:
                merged.append(dict(message))
        if not merged or merged[-1]["role"] != "user":
            merged.append({"role": "user", "content": "Continue."})
        if self.template and self.template.suffix:
            merged[-1]["content"] += "\n" + self.template.suffix
        return merged

    # ------------------------------------------------------------------------------- calling
    async def _complete(self, messages: list[dict[str, str]], temperature: float, sample_index: int, n: int = 1) -> list[str]:
        """``n`` replies to ``messages`` (one request), from the cache when it has them."""
        params: dict[str, Any] = {"temperature": temperature, "max_tokens": self.max_tokens, "stop": self.stop, **self.completion_kwargs}
        if n > 1:
            params["n"] = n
        # The transcript keeps a reply's text exactly; what goes on the wire (and into the key) must be UTF-8.
        messages = wire_safe_messages(messages)
        started = time.perf_counter()
        key = ""
        if self.cache is not None:
            key = request_key({"model": self.model, "api_base": self.api_base, "messages": messages, "params": params, "sample": sample_index})
            stored = self.cache.get(key)
            if stored is not None:
                stored = {**stored, "choices": [redact(choice) for choice in stored["choices"]]}  # rows of older versions
                self._record(stored, started, sample_index, cached=True, tries=0)
                return list(stored["choices"])
            if self.cache_mode == "read_only":
                error = CacheMiss(f"no cached reply for this request (key {key[:12]}) in {self.cache.path}, and the cache is read_only")
                raise LLMCallError(str(error)) from error
        litellm = _litellm()
        limiter = shared_limiter(self.model, self.api_base, self.requests_per_minute, self.tokens_per_minute)
        kwargs: dict[str, Any] = {k: v for k, v in params.items() if v is not None}
        # The client's own timeout is the hard one: a request given up on at ``timeout`` keeps running
        # (and holding its endpoint slot) until it ends or this passes.
        kwargs.update(model=self.model, messages=messages, timeout=self.timeout * ABANDONED_GRACE, num_retries=0, max_retries=0)
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self._api_key:
            kwargs["api_key"] = self._api_key
        elif self.api_base and self.model.startswith("openai/"):
            # Local OpenAI-compatible servers (vLLM, llama.cpp, Ollama) accept any key; the client insists on one.
            kwargs["api_key"] = "sk-no-key-required"
        if self.mock_response is not None:
            kwargs["mock_response"] = self.mock_response

        gate = endpoint_gate(self.model, self.api_base, self.max_in_flight, self.adaptive_concurrency)

        async def one_call() -> Any:
            if limiter is not None:
                await limiter.acquire()
            return await self._call_in_slot(gate, litellm, kwargs)

        try:
            response, tries = await call_with_retries(one_call, self.retry_policy, rng=self._jitter_rng)
        except RetriesExhausted as error:
            self.calls.append({"model": self.model, "sample": sample_index, "error": redact(str(error)), "tries": len(error.attempts)})
            fatal = is_configuration_error(error.__cause__, first_call=not self._answered)
            raise (LLMConfigurationError if fatal else LLMCallError)(redact(f"{self.model}: {error}")) from None
        self._answered = True
        stored = self._to_stored(response, litellm)
        if limiter is not None:
            limiter.record_tokens(stored["usage"].get("total_tokens", 0))
        if self.cache is not None:
            self.cache.put(key, stored)
        self._record(stored, started, sample_index, cached=False, tries=tries)
        return list(stored["choices"])

    async def _call_in_slot(self, gate: EndpointGate, litellm: Any, kwargs: dict[str, Any]) -> Any:
        """One request, sent once it has a slot at its endpoint and timed from then."""
        started = await gate.acquire()
        request = asyncio.ensure_future(litellm.acompletion(**kwargs))
        try:
            done, _ = await asyncio.wait({request}, timeout=self.timeout)
        except asyncio.CancelledError:
            request.cancel()
            gate.release(started, "other")
            raise
        if not done:
            # Given up on, but the server may still be working on it: its slot is freed only when it
            # really ends (a reply, an error, or the client's hard timeout), so a retry waits for it
            # instead of queueing behind it on a single-slot server.
            gate.congested(started)
            request.add_done_callback(lambda task: (task.cancelled() or task.exception(), gate.release(started, "other")))
            raise EndpointTimeout(f"no reply from {self.api_base or self.model} within timeout={self.timeout:g}s (counted from when the request was sent)")
        try:
            response = request.result()
        except Exception as error:
            gate.release(started, "congested" if _is_congestion(error) else "other")
            raise
        gate.release(started, "ok")
        return response

    def _to_stored(self, response: Any, litellm: Any) -> dict[str, Any]:
        choices = [getattr(getattr(choice, "message", None), "content", None) or "" for choice in getattr(response, "choices", None) or []]
        usage = getattr(response, "usage", None)
        tokens = {
            "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
            "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
            "total_tokens": int(getattr(usage, "total_tokens", 0) or 0),
        }
        # litellm prices every response as it logs it (None: a model its price map does not know);
        # computing it again costs ~2 ms a call.
        hidden = getattr(response, "_hidden_params", None) or {}
        if "response_cost" in hidden:
            cost = hidden["response_cost"]
        else:
            try:
                cost = litellm.completion_cost(completion_response=response)
            except Exception:  # models missing from the bundled price map (a local server) cost nothing we know of
                cost = 0.0
        cost = float(cost or 0.0)
        # A reply that echoes a key (a server repeating the request's headers) would carry it into the
        # transcript, the cache and the next prompts, maybe another provider's: it is redacted here.
        return {"choices": [redact(choice) for choice in choices] or [""], "usage": tokens, "cost": cost}

    def _record(self, stored: Mapping[str, Any], started: float, sample_index: int, *, cached: bool, tries: int) -> None:
        self.calls.append(
            {
                "model": self.model,
                "sample": sample_index,
                "latency": round(time.perf_counter() - started, 6),
                "cached": cached,
                "tries": tries,
                **stored["usage"],
                "cost": stored.get("cost", 0.0) if not cached else 0.0,
            }
        )

    def stats(self) -> dict[str, Any]:
        """Per-episode accounting: calls, tokens, cost and latency (stored with each transcript)."""
        if not self.calls:
            return {}
        ok = [c for c in self.calls if "error" not in c]
        return {
            "model": self.model,
            "calls": len(self.calls),
            "cached_calls": sum(1 for c in ok if c["cached"]),
            "failed_calls": len(self.calls) - len(ok),
            "prompt_tokens": sum(c["prompt_tokens"] for c in ok),
            "completion_tokens": sum(c["completion_tokens"] for c in ok),
            "cost": round(sum(c["cost"] for c in ok), 8),
            "latency": round(sum(c["latency"] for c in ok), 6),
            "per_call": list(self.calls),
        }


# A request given up on at ``timeout`` may run (holding its slot) until ``timeout * ABANDONED_GRACE``.
ABANDONED_GRACE = 2.0


class EndpointTimeout(TimeoutError):
    """No reply within ``timeout`` seconds of sending (retried like any timeout)."""


def _is_congestion(error: BaseException) -> bool:
    """A 429 or a timeout: the endpoint has more than it can take."""
    names = {cls.__name__ for cls in type(error).__mro__}
    return bool(names & {"RateLimitError", "Timeout", "TimeoutError"}) or getattr(error, "status_code", None) == 429


_SURROGATE = re.compile("[\ud800-\udfff]")


def wire_safe(text: str) -> str:
    """``text`` as UTF-8 can carry it: a surrogate pair given as two code points becomes its character,
    a lone surrogate becomes U+FFFD. Text without surrogates is returned as is (no copy)."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def wire_safe_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The messages with every text made encodable (see :func:`wire_safe`); the originals are not changed."""
    return [{k: wire_safe(v) if isinstance(v, str) else v for k, v in m.items()} for m in messages]


# completion_kwargs the agent sets itself or cannot work with: each has its own argument (or none).
_OWN_COMPLETION_KWARGS = {
    "model": "give it as model=", "messages": "the agent sends the environment's chat view",
    "api_base": "give it as api_base=",
    "base_url": "give it as api_base=", "mock_response": "give it as mock_response=", "timeout": "give it as timeout=",
    "num_retries": "the agent retries itself: give max_retries=", "max_retries": "the agent retries itself: give max_retries=",
    "n": "give reject_previous= with sample_with_n=True", "stream": "the agent reads whole replies",
}


def _check_completion_kwargs(completion_kwargs: Mapping[str, Any]) -> None:
    """Refuse a completion kwarg the agent sets itself (it would be overridden, or break reading replies:
    ``stream``), and redact the keys it carries (``api_key``, auth headers) like ``api_key=``'s. No value is shown."""
    register_secret(completion_kwargs.get("api_key") if isinstance(completion_kwargs.get("api_key"), str) else None)
    for headers in (completion_kwargs.get("extra_headers"), completion_kwargs.get("headers")):
        if isinstance(headers, Mapping):
            for header, value in headers.items():
                if isinstance(value, str) and re.search(r"key|auth|token|secret", str(header), re.I):
                    register_secret(value.removeprefix("Bearer ").strip() or None)
    for name in completion_kwargs:
        if name in _OWN_COMPLETION_KWARGS:
            raise ArgumentError(
                f"completion_kwargs may not set {name!r} ({_OWN_COMPLETION_KWARGS[name]}); "
                f"it may set anything but {', '.join(sorted(_OWN_COMPLETION_KWARGS))}"
            )


CHAT_ROLES = ("system", "user", "assistant")
MAX_TURN = 1_000_000  # past any episode; keeps temperature_step * turn a float


def chat_message(message: Any) -> dict[str, str]:
    """One message as providers accept it: a role among :data:`CHAT_ROLES` (any other, or none, is the
    user's) and text content (None is empty; a list of content parts keeps its text parts; anything
    else is its ``str``)."""
    if not isinstance(message, Mapping):
        return {"role": "user", "content": _content_text(message)}
    role = message.get("role")
    role = role.strip().lower() if isinstance(role, str) else ""
    return {"role": role if role in CHAT_ROLES else "user", "content": _content_text(message.get("content"))}


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        parts = (part.get("text") if isinstance(part, Mapping) else part for part in content)
        return "\n".join(part for part in parts if isinstance(part, str))
    try:
        return str(content)
    except Exception:  # noqa: BLE001 - an object whose __str__ raises contributes nothing
        return ""


def chat_view(observation: Any, info: Any) -> Sequence[Any]:
    """The chat an agent replies to: ``info["messages"]``, else the observation's text as one user message. An
    observation or info that is not a mapping counts as empty. The messages are as given: their readers
    (:meth:`LLMAgent.build_messages`, the hf agent's ``TokenContext.prompt``) make each one with :func:`chat_message`."""
    observation = observation if isinstance(observation, Mapping) else {}
    chat = info.get("messages") if isinstance(info, Mapping) else None
    if not chat or isinstance(chat, (str, bytes, Mapping)) or not isinstance(chat, Sequence):
        chat = [{"role": "user", "content": observation.get("text")}]
    return chat


def turn_of(info: Any) -> int:
    """``info["turn"]`` as an integer in 0..MAX_TURN; 0 when it is missing or not a finite number."""
    value = info.get("turn") if isinstance(info, Mapping) else None
    if is_int(value) or (isinstance(value, float) and math.isfinite(value)):
        return min(max(int(value), 0), MAX_TURN)
    return 0


def _answer_key(answer: str | None) -> str | None:
    if answer is None:
        return None
    return "".join(answer.split()).casefold().strip("$.")
