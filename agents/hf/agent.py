"""``HFAgent``: any role of any environment played by a causal language model inside this process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from feedbackgym.agents.base import Agent
from feedbackgym.envs.core.checks import require_bool, require_float, require_int, require_text
from feedbackgym.agents.hf.context import TokenContext
from feedbackgym.agents.hf.generation import GenerationOutput, GenerationQueue, GenerationRequest, generate_batch
from feedbackgym.agents.hf.loading import LoadedModel, load_model, wrap_model
from feedbackgym.agents.hf.records import EpisodeTokens, TurnRecord
from feedbackgym.agents.llm.agent import LLMAgent, chat_view, turn_of
from feedbackgym.agents.llm.prompts import PromptTemplate, get_prompt, require_prompt


def check_reply_settings(**settings: Any) -> dict[str, Any]:
    """The settings that shape a reply (``max_new_tokens``, ``prompt``, ``system_prompt``,
    ``chat_template``, ``reply_prefix``; any subset), checked as :class:`HFAgent` checks them, so a
    training config can be checked before a model loads. Errors name the setting."""
    checked = dict(settings)
    if "max_new_tokens" in settings:
        checked["max_new_tokens"] = require_int("max_new_tokens", settings["max_new_tokens"], 1, 1_000_000)
    if "prompt" in settings:
        require_text("prompt", settings["prompt"], max_chars=4096, allow_none=True)
        require_prompt(settings["prompt"])
    for knob in ("system_prompt", "chat_template"):
        if knob in settings:
            require_text(knob, settings[knob], multiline=True, allow_empty=True, max_chars=1_000_000, allow_none=True)
    if "reply_prefix" in settings:
        checked["reply_prefix"] = require_text("reply_prefix", settings["reply_prefix"], multiline=True, allow_empty=True, max_chars=4096)
    return checked


class HFAgent(Agent):
    """Plays any role with a Hugging Face causal LM loaded by transformers in this process.

    It reads the environment's chat view (``info["messages"]``), applies a prompt template exactly
    as the ``llm`` agent does (``prompt``: a name from :mod:`feedbackgym.agents.llm.prompts`, or
    ``system_prompt``), renders it with the model's chat template (or ``chat_template``), generates,
    and returns the decoded reply. Its context is kept in tokens across the turns of an episode and
    extended by appending (:mod:`feedbackgym.agents.hf.context`); every generation is recorded at
    token level (:mod:`feedbackgym.agents.hf.records`), and the runner attaches the records to the
    episode's result (``EpisodeResult.tokens``).

    All ``hf`` agents naming the same model, device and dtype share one copy of it and one
    generation queue, so the turns of concurrent episodes are generated in one padded batch
    (:mod:`feedbackgym.agents.hf.generation` says what batching may change: only last-bit arithmetic).

    Arguments:
        model: ``smollm2-135m`` (after ``feedbackgym models prepare smollm2-135m``), a local folder,
            a ``.gguf`` file, a hub id (downloaded by transformers when named), or a model object
            (then ``tokenizer`` is required).
        tokenizer: a tokenizer object, for a model object.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:<i>``.
        dtype: ``auto`` (float32 on CPU, bfloat16 on a GPU), ``float32``, ``float16``, ``bfloat16``.
        gguf_file, revision: passed to ``from_pretrained``.
        temperature: 0 is greedy; otherwise sampling, optionally with ``top_k`` and ``top_p``.
        max_new_tokens: the longest reply, in tokens (a longer one is cut there).
        prompt, system_prompt: the ``llm`` agent's prompt templates.
        chat_template: a Jinja chat template instead of the tokenizer's.
        reply_prefix: text every reply starts with, written after the generation prompt for the
            model to continue (an assistant prefill, e.g. ``"Answer: ("``); its tokens are context,
            never trained on, and the reply sent is the prefix plus the completion. Empty: none.
        sample_seed: mixed into every episode's seed; episodes with the same seed and task (one group)
            but different ``sample_seed`` sample differently (GRPO-style groups).
        max_batch, batch_wait: the shared queue's batch size limit and collection window (seconds);
            the first agent to generate on a model sets them.
        record_tokens: keep token-level records (on by default; off saves memory in long evaluations).
        reuse_cache: keep the key-value cache of the context from one turn to the next, so a turn runs
            only its new tokens through the model (on by default; the context only grows within an
            episode, and a rebuilt context starts afresh). Off: every turn runs its whole context.
        home: where prepared catalogue models live (default ``$FEEDBACKGYM_HOME`` or ``~/.cache/feedbackgym``).
    """

    def __init__(
        self,
        model: Any = "smollm2-135m",
        tokenizer: Any = None,
        device: str = "auto",
        dtype: str = "auto",
        gguf_file: str | None = None,
        revision: str | None = None,
        temperature: float = 0.0,
        top_k: int | None = None,
        top_p: float | None = None,
        max_new_tokens: int = 256,
        prompt: str | None = None,
        system_prompt: str | None = None,
        chat_template: str | None = None,
        reply_prefix: str = "",
        sample_seed: int = 0,
        max_batch: int = 32,
        batch_wait: float = 0.005,
        record_tokens: bool = True,
        reuse_cache: bool = True,
        home: str | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        temperature = require_float("temperature", temperature, 0.0, 100.0)
        top_k = require_int("top_k", top_k, 1, 10_000_000, allow_none=True)
        top_p = require_float("top_p", top_p, 0.0, 1.0, open_low=True, allow_none=True)
        sample_seed = require_int("sample_seed", sample_seed, 0, 2**63 - 1)
        max_batch = require_int("max_batch", max_batch, 1, 100_000)
        batch_wait = require_float("batch_wait", batch_wait, 0.0, 60.0)
        record_tokens = require_bool("record_tokens", record_tokens)
        self.reuse_cache = require_bool("reuse_cache", reuse_cache)
        for knob, value in (("gguf_file", gguf_file), ("revision", revision), ("home", home)):
            require_text(knob, value, max_chars=4096, allow_none=True)
        replies = check_reply_settings(max_new_tokens=max_new_tokens, prompt=prompt, system_prompt=system_prompt,
                                       chat_template=chat_template, reply_prefix=reply_prefix)
        max_new_tokens, reply_prefix = replies["max_new_tokens"], replies["reply_prefix"]
        if isinstance(model, (str, Path)):
            require_text("model", str(model), max_chars=4096)
        if isinstance(model, (str, Path)):
            if tokenizer is not None:
                raise TypeError("tokenizer= goes with a model object; a named model brings its own tokenizer")
            self.loaded: LoadedModel = load_model(str(model), device=device, dtype=dtype, gguf_file=gguf_file, revision=revision, home=home)
        else:
            if tokenizer is None:
                raise TypeError("a model object needs its tokenizer: HFAgent(model=model, tokenizer=tokenizer)")
            self.loaded = wrap_model(model, tokenizer)
        if self.loaded.queue is None:
            self.loaded.queue = GenerationQueue(self.loaded.model, self.loaded.pad_id, max_batch=max_batch, wait_s=batch_wait)
        self.temperature = float(temperature)
        self.top_k = top_k
        self.top_p = top_p
        self.max_new_tokens = max_new_tokens
        # The llm agent's prompt templates, applied by its own build_messages (see _build_messages).
        self.template: PromptTemplate | None = get_prompt(prompt) if prompt else None
        self.system_prompt = system_prompt
        self.chat_template = chat_template
        if chat_template is None and not getattr(self.loaded.tokenizer, "chat_template", None):
            raise ValueError(f"model {self.loaded.name!r} has no chat template; pass chat_template= (a Jinja template)")
        self.sample_seed = int(sample_seed)
        self.record_tokens = bool(record_tokens)
        self.stop_ids = self.loaded.stop_ids()
        self.context = TokenContext(self.loaded.tokenizer, self._build_messages, self.template.suffix if self.template else None, chat_template, reply_prefix)
        self._reset_episode(seed)

    def __repr__(self) -> str:
        return f"HFAgent(model={self.loaded.name!r}, device={str(self.loaded.device)!r})"

    # ------------------------------------------------------------------------------- episodes
    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._reset_episode(seed)

    def _reset_episode(self, seed: int | None) -> None:
        self.episode_seed = seed
        entropy = [seed, self.sample_seed] if seed is not None else None
        generator_seed = int(np.random.SeedSequence(entropy).generate_state(1)[0])
        self.generator = torch.Generator(device="cpu")
        self.generator.manual_seed(generator_seed)
        self.context.reset()
        self.tokens = EpisodeTokens(seed=seed, model=self.loaded.name)
        self.waited = 0.0
        self._calls: list[tuple[int, int, bool, int]] = []  # (prompt tokens, completion tokens, rebuilt, reused tokens) per generation
        self._past: list[tuple[torch.Tensor, torch.Tensor]] | None = None  # keys and values of _past_ids (reuse_cache)
        self._past_ids: list[int] = []

    def _build_messages(self, messages: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
        # The llm agent's method reads only self.system_prompt and self.template: one implementation.
        return LLMAgent.build_messages(self, messages)  # type: ignore[arg-type]

    # ---------------------------------------------------------------------------------- acting
    def _request(self, info: Mapping[str, Any], observation: Mapping[str, Any]) -> tuple[GenerationRequest, str | None]:
        rebuilt = self.context.prompt(chat_view(observation, info))
        if not self.tokens.turns:
            task = info.get("task") if isinstance(info, Mapping) else None
            task_id = task.get("id", "") if isinstance(task, Mapping) else ""
            self.tokens.group_id = f"{task_id}|seed={self.episode_seed}"
        ids = self.context.ids
        # The last turn's cache serves this one when the context grew from it (never after a rebuild).
        reusable = (self._past is not None and rebuilt is None and len(self._past_ids) < len(ids)
                    and ids[: len(self._past_ids)] == self._past_ids)
        request = GenerationRequest(
            prompt_ids=list(ids),
            past=self._past if reusable else None,
            past_length=len(self._past_ids) if reusable else 0,
            keep_cache=self.reuse_cache,
            max_new_tokens=self.max_new_tokens,
            generator=self.generator,
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            stop_ids=self.stop_ids,
        )
        return request, rebuilt

    def _finish(self, request: GenerationRequest, output: GenerationOutput, rebuilt: str | None, info: Mapping[str, Any]) -> str:
        completion = list(output.token_ids)
        text = self.context.reply_prefix + self.loaded.tokenizer.decode(completion, skip_special_tokens=True)
        if self.record_tokens:
            self.tokens.turns.append(
                TurnRecord(
                    turn=len(self.tokens.turns),
                    env_turn=turn_of(info),
                    context_ids=list(request.prompt_ids),
                    context_mask=list(self.context.mask),
                    completion_ids=completion,
                    logprobs=[float(x) for x in output.logprobs],
                    group_id=self.tokens.group_id,
                    segment=self.context.segment,
                    rebuilt=rebuilt,
                    finished=bool(output.finished),
                    text=text,
                )
            )
        self._calls.append((len(request.prompt_ids), len(completion), rebuilt is not None, output.reused))
        if output.cache is not None:
            self._past = output.cache
            self._past_ids = list(request.prompt_ids) + completion[: output.cache_length - len(request.prompt_ids)]
        else:
            self._past, self._past_ids = None, []
        self.context.add_completion(completion, output.finished, completion[-1] if output.finished and completion else None)
        return text

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            request, rebuilt = self._request(info, observation)
            started = time.perf_counter()
            output = generate_batch(self.loaded.model, [request], self.loaded.pad_id)[0]
            self.waited += time.perf_counter() - started
            return self._finish(request, output, rebuilt, info)
        raise RuntimeError("HFAgent.act was called inside a running event loop; await agent.aact(...) instead")

    async def aact(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        request, rebuilt = self._request(info, observation)
        started = time.perf_counter()
        output = await self.loaded.queue.generate(request)
        self.waited += time.perf_counter() - started
        return self._finish(request, output, rebuilt, info)

    # ------------------------------------------------------------------------------- records
    def credit_reward(self, reward: float) -> None:
        """The runner hands over each reward the environment gives this agent; it lands on the latest turn."""
        if not reward:
            return
        if self.tokens.turns:
            self.tokens.turns[-1].reward += float(reward)
        else:
            self.tokens.reward_before_first_turn += float(reward)

    def episode_tokens(self) -> EpisodeTokens | None:
        """The token-level records of the current (or just finished) episode; None when it never generated."""
        return self.tokens if self.record_tokens and self.tokens.turns else None

    def stats(self) -> dict[str, Any]:
        """Per-episode accounting: generations, prompt and completion tokens, seconds waited, context rebuilds."""
        if not self._calls:
            return {}
        return {
            "model": self.loaded.name,
            "calls": len(self._calls),
            "prompt_tokens": sum(c[0] for c in self._calls),
            "completion_tokens": sum(c[1] for c in self._calls),
            "latency": round(self.waited, 6),
            "context_rebuilds": sum(1 for c in self._calls if c[2]),
            "reused_prompt_tokens": sum(c[3] for c in self._calls),
        }
