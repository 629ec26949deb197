"""Generation with per-sequence seeded sampling, and the queue that batches concurrent turns.

:func:`generate_batch` runs one left-padded batch through the model with a KV cache and picks every
row's next token itself, with that row's own parameters and its own ``torch.Generator`` (the
episode's), so that what a seeded episode generates does not depend on which other episodes share
its batch:

- greedy rows (temperature 0) take the argmax;
- sampling rows draw one uniform number per token from their generator on the CPU (also when the
  model runs on a GPU) and invert the cumulative distribution of logits / temperature (after top-k
  and top-p); a row that has finished draws nothing more.

What batching can still change is the arithmetic: a padded batch multiplies matrices of other shapes
than a single sequence does, so logits differ in the last bits (about 1e-6 in float32, more in
half precision). A greedy choice flips only at a near-tie of the two best tokens and a sampled one
only when the uniform draw falls within that distance of a boundary of the cumulative distribution;
both are rare but possible, and once a token differs the rest of the episode may too.

:class:`GenerationQueue` gathers the turns that the episodes in flight (the runner's asyncio tasks)
ask for: the first request starts a collection window that ends when ``max_batch`` requests wait,
when no new request arrived for a few event-loop ticks, or after ``wait_s`` seconds; the batch then
runs in a worker thread (the event loop stays free for other agents' I/O) and every request's future
gets its own result.

**Key-value cache reuse across turns.** An agent's context only grows within an episode, so the keys
and values computed for it on one turn serve the next: a request may carry ``past`` (one
``(keys, values)`` pair per layer, ``[1, heads, n, head_dim]``, for its first ``n`` prompt tokens) and
then only its newer tokens run through the model. In a batch, every row's past is right-aligned in a
shared cache (shorter ones padded on the left, masked), its new tokens follow, and each token's
position is its true position in the row's context, so a row computes what it would alone (up to the
last-bit arithmetic above). With ``keep_cache`` the output carries the row's cache for the next turn:
its prompt and every generated token fed back (all but the last, which no forward pass has seen).
Models whose cache is not one plain growing tensor per layer (sliding-window layers) never reuse.

A model with a ``feedbackgym_autocast`` attribute (a torch dtype; the language-model trainer sets it
when it keeps float32 master weights of a half-precision model) runs its forward passes under
``torch.autocast`` in that dtype.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class GenerationRequest:
    prompt_ids: list[int]
    max_new_tokens: int
    generator: torch.Generator | None  # CPU generator; None only for greedy requests
    temperature: float = 0.0
    top_k: int | None = None
    top_p: float | None = None
    stop_ids: frozenset[int] = frozenset()
    past: list[tuple[torch.Tensor, torch.Tensor]] | None = None  # keys and values of prompt_ids[:past_length], per layer
    past_length: int = 0
    keep_cache: bool = False  # return the row's cache in the output, for the next turn


@dataclass
class GenerationOutput:
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    finished: bool = False  # ended with a stop token (False: cut at max_new_tokens)
    cache: list[tuple[torch.Tensor, torch.Tensor]] | None = None  # keep_cache: per layer, for prompt_ids + token_ids[:-1]
    cache_length: int = 0  # how many tokens ``cache`` covers
    reused: int = 0  # prompt tokens whose keys and values came from ``past`` (not run through the model)


def _choose(logits: torch.Tensor, request: GenerationRequest) -> tuple[int, float]:
    """The next token of one row and its log-probability under logits / temperature."""
    if request.temperature <= 0:
        logp = torch.log_softmax(logits, dim=-1)
        token = int(torch.argmax(logits))
        return token, float(logp[token])
    scaled = logits / request.temperature
    logp = torch.log_softmax(scaled, dim=-1)
    probs = logp.exp()
    order: torch.Tensor | None = None
    if request.top_k or (request.top_p is not None and request.top_p < 1.0):
        probs, order = torch.sort(probs, descending=True)
        if request.top_k:
            probs[request.top_k :] = 0.0
        if request.top_p is not None and request.top_p < 1.0:
            before = torch.cumsum(probs, dim=-1) - probs
            probs[before >= request.top_p] = 0.0  # keeps the smallest prefix whose mass reaches top_p
    cdf = torch.cumsum(probs.double(), dim=-1)
    draw = float(torch.rand((), generator=request.generator, dtype=torch.float64))
    index = int(torch.searchsorted(cdf, torch.tensor([draw * float(cdf[-1])], dtype=cdf.dtype, device=cdf.device), right=True)[0])
    index = min(index, cdf.shape[0] - 1)
    while probs[index] <= 0 and index > 0:  # never a token that truncation removed
        index -= 1
    token = int(order[index]) if order is not None else index
    return token, float(logp[token])


def forward_precision(model: Any) -> contextlib.AbstractContextManager[Any]:
    """``torch.autocast`` in the model's ``feedbackgym_autocast`` dtype (the trainer's float32 master
    weights of a half-precision model), for one forward pass; nothing for any other model."""
    dtype = getattr(model, "feedbackgym_autocast", None)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=next(model.parameters()).device.type, dtype=dtype)


def _reusable(cache: Any) -> bool:
    """Whether every layer of ``cache`` is one plain growing key/value tensor (rows can be cut out and joined)."""
    layers = getattr(cache, "layers", None)
    return bool(layers) and all(not getattr(layer, "is_sliding", True) and hasattr(layer, "keys") for layer in layers)


@torch.inference_mode()
def generate_batch(model: Any, requests: list[GenerationRequest], pad_id: int) -> list[GenerationOutput]:
    """Generate every request's completion in one left-padded batch (reusing each row's ``past``, if any)."""
    if not requests:
        return []
    from transformers import DynamicCache

    device = next(model.parameters()).device
    rows = len(requests)
    for request in requests:
        if not request.prompt_ids:
            raise ValueError("a generation request needs at least one prompt token")
    # A row's reused prefix: at most all but its last prompt token, which must run to give the first logits.
    reused = [min(r.past_length, len(r.prompt_ids) - 1) if r.past is not None else 0 for r in requests]
    new_ids = [r.prompt_ids[n:] for r, n in zip(requests, reused)]
    past_width = max(reused)
    width = max(len(ids) for ids in new_ids)
    input_ids = torch.full((rows, width), pad_id, dtype=torch.long)
    attention = torch.zeros((rows, past_width + width), dtype=torch.long)
    positions = torch.zeros((rows, width), dtype=torch.long)
    for row, ids in enumerate(new_ids):
        input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
        attention[row, past_width - reused[row] : past_width] = 1
        attention[row, past_width + width - len(ids) :] = 1
        positions[row, width - len(ids) :] = torch.arange(reused[row], reused[row] + len(ids))
    input_ids, attention, positions = input_ids.to(device), attention.to(device), positions.to(device)
    cache = DynamicCache(config=model.config)
    if past_width:
        cache = _joined_cache(model, requests, reused, past_width, device)
    parameters = inspect.signature(model.forward).parameters
    extra = {"logits_to_keep": 1} if "logits_to_keep" in parameters else {}  # only the last position's logits are needed
    # transformers 5.x names the key-value cache `cache` (`past_key_values` is deprecated there).
    cache_argument = "cache" if "cache" in parameters else "past_key_values"
    outputs = [GenerationOutput(reused=n) for n in reused]
    done = [request.max_new_tokens <= 0 for request in requests]
    longest = max(r.max_new_tokens for r in requests)
    step_input, step_positions = input_ids, positions
    for _ in range(longest):
        if all(done):
            break
        with forward_precision(model):
            result = model(input_ids=step_input, attention_mask=attention, position_ids=step_positions, use_cache=True, **{cache_argument: cache}, **extra)
        logits = result.logits[:, -1, :].float().cpu()
        next_tokens = torch.full((rows, 1), pad_id, dtype=torch.long)
        for row, request in enumerate(requests):
            if done[row]:
                continue
            token, logprob = _choose(logits[row], request)
            out = outputs[row]
            out.token_ids.append(token)
            out.logprobs.append(logprob)
            next_tokens[row, 0] = token
            if token in request.stop_ids:
                out.finished, done[row] = True, True
            elif len(out.token_ids) >= request.max_new_tokens:
                done[row] = True
        step_input = next_tokens.to(device)
        step_positions = step_positions[:, -1:] + 1
        attention = torch.cat([attention, torch.ones((rows, 1), dtype=attention.dtype, device=device)], dim=1)
    if any(r.keep_cache for r in requests) and _reusable(cache):
        _split_cache(cache, requests, outputs, reused, past_width, width, new_ids)
    return outputs


def _joined_cache(model: Any, requests: list[GenerationRequest], reused: list[int], past_width: int, device: Any) -> Any:
    """One cache for the batch: each row's reused keys and values right-aligned at ``past_width`` (zeros, masked, before)."""
    from transformers import DynamicCache

    template = next(r.past for r, n in zip(requests, reused) if n)
    layers = []
    for layer, (keys, values) in enumerate(template):
        shape = (len(requests), keys.shape[1], past_width, keys.shape[3])
        joined_keys = torch.zeros(shape, dtype=keys.dtype, device=device)
        joined_values = torch.zeros(shape, dtype=values.dtype, device=device)
        for row, (request, n) in enumerate(zip(requests, reused)):
            if n:
                past_keys, past_values = request.past[layer]
                joined_keys[row, :, past_width - n :] = past_keys[0, :, :n]
                joined_values[row, :, past_width - n :] = past_values[0, :, :n]
        layers.append((joined_keys, joined_values))
    return DynamicCache(ddp_cache_data=layers, config=model.config)


def _split_cache(cache: Any, requests: list[GenerationRequest], outputs: list[GenerationOutput], reused: list[int],
                 past_width: int, width: int, new_ids: list[list[int]]) -> None:
    """Cut each ``keep_cache`` row's own positions out of the batch's cache: its reused past, its new prompt
    tokens, and the generated tokens that were fed back (the padding and the steps after it finished left out)."""
    for row, request in enumerate(requests):
        if not request.keep_cache:
            continue
        fed_back = max(len(outputs[row].token_ids) - 1, 0)
        index = torch.cat([
            torch.arange(past_width - reused[row], past_width),
            torch.arange(past_width + width - len(new_ids[row]), past_width + width + fed_back),
        ]).to(cache.layers[0].keys.device)
        outputs[row].cache = [(layer.keys[row : row + 1].index_select(2, index), layer.values[row : row + 1].index_select(2, index))
                              for layer in cache.layers]
        outputs[row].cache_length = int(index.numel())


class GenerationQueue:
    """Batches the generation requests of all agents sharing one model (see the module docstring).

    One queue per loaded model; the first agent to generate sets ``max_batch`` and ``wait_s``.
    ``batches`` counts the batches run and ``batched_requests`` the requests they held, so the mean
    batch size is their ratio.
    """

    def __init__(self, model: Any, pad_id: int, *, max_batch: int = 32, wait_s: float = 0.005, settle_ticks: int = 3) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.model = model
        self.pad_id = pad_id
        self.max_batch = int(max_batch)
        self.wait_s = float(wait_s)
        self.settle_ticks = int(settle_ticks)
        self._pending: list[tuple[GenerationRequest, asyncio.Future[GenerationOutput]]] = []
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feedbackgym-generate")
        self.batches = 0
        self.batched_requests = 0
        self.seconds = 0.0

    async def generate(self, request: GenerationRequest) -> GenerationOutput:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new asyncio.run: nothing of the old loop can be awaited here
            self._loop, self._pending, self._task = loop, [], None
        future: asyncio.Future[GenerationOutput] = loop.create_future()
        self._pending.append((request, future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            started, seen, quiet = time.perf_counter(), len(self._pending), 0
            while len(self._pending) < self.max_batch and quiet < self.settle_ticks and time.perf_counter() - started < self.wait_s:
                await asyncio.sleep(0)
                quiet = quiet + 1 if len(self._pending) == seen else 0
                seen = len(self._pending)
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            batch = [(request, future) for request, future in batch if not future.done()]  # a cancelled episode
            if not batch:
                continue
            began = time.perf_counter()
            try:
                results = await loop.run_in_executor(self._executor, generate_batch, self.model, [r for r, _ in batch], self.pad_id)
            except Exception as error:  # every waiting turn learns of it; the episodes record it as their error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            finally:
                self.seconds += time.perf_counter() - began
            self.batches += 1
            self.batched_requests += len(batch)
            for (_, future), result in zip(batch, results):
                if not future.done():
                    future.set_result(result)
