"""Token-level policy-gradient training (GRPO with PPO-style clipping) of language models on any role.

One file, one loop, CleanRL style. Every update:

1. **Rollouts through the runner.** ``groups_per_update`` groups of ``group_size`` episodes: the
   episodes of a group share the environment seed (same task, same opening) and differ only in the
   learners' sampling (``HFAgent.sample_seed``). Learning roles are played by ``hf`` agents on the
   policy being trained; every other role by any registered agent (scripted, ``llm``, a frozen
   ``hf`` model). Each learner's turns come back as token records
   (:mod:`feedbackgym.agents.hf.records`): context ids, completion ids, sampling log-probabilities,
   and the reward the environment gave that role after each turn.
2. **Per-turn credit.** A turn's return is the discounted sum of the rewards the role receives from
   that turn on: ``G_t = r_t + gamma * r_{t+1} + ...`` (:func:`turn_returns`), so UFO's ``0.5^t``
   success reward and its end-of-episode repetition penalty land on the turns that earned them.
3. **Group-relative advantages** (:func:`group_advantages`), per learning role:
   - ``advantage="turn"`` (default): the baseline of turn ``t`` is the mean ``G_t`` over the
     group's episodes that reached turn ``t`` (then divided by their std when ``scale_rewards``).
     A turn position reached by a single episode of the group has no comparison and gets 0.
   - ``advantage="episode"``: GRPO's one scalar per episode: ``(R - mean R) / std R`` over the
     group's episode returns, on every turn of the episode.
4. **Clipped updates on the model's own tokens.** Each context segment of each learner episode is one
   sequence (context + completions, the environment's tokens in between). A forward pass gives new
   log-probabilities at the sampling temperature; the ratio to the recorded ones is clipped
   (``clip_eps``, ``clip_eps_high``); environment tokens are masked out of the loss. The loss is
   normalised per token over the whole minibatch (every model token weighs the same, however long its
   episode), with an optional KL penalty to the frozen starting model (the k3 estimator
   ``exp(ref - new) - (ref - new) - 1``), gradient accumulation over micro-batches, and gradient-norm
   clipping.

Two or more learning roles train in one run: with ``share_policy`` (default) they share one model
(each role has its own prompt, from the environment and from its ``hf`` agent arguments); without it,
each role trains its own copy (with ``lora``, each its own adapter on its own copy of the base).

float32 on CPU, bfloat16 on a GPU (``dtype="auto"``): with a half-precision dtype the trained weights and
the optimizer's state are float32 copies and every forward pass runs in the half dtype under autocast
(``master_weights``, on by default; a bfloat16 weight would round away updates of lr * gradient); optional LoRA through peft (``pip install
'feedbackgym[lora]'``). Runs are reproducible from ``seed`` (in one process, on one device; the
generation batching caveat of :mod:`feedbackgym.agents.hf.generation` applies to ``concurrency > 1``).

Python use::

    from feedbackgym.experiments.lm_train import Args, LMTrainer
    trainer = LMTrainer(Args(model="smollm2-135m", updates=20), make_env=lambda: make("SolverFeedback-v0"),
                        learners={"solver_0": {}}, others={"teacher_0": "scripted_teacher"})
    trainer.train(); trainer.save("checkpoints/solver")

``feedbackgym train training=lm_try_again`` runs it from Hydra configs (see :func:`run_lm_training`).
"""

from __future__ import annotations

import asyncio
import copy
import csv
import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("feedbackgym")
ADVANTAGES = ("turn", "episode")


# The hf agent arguments a learning role accepts (``learners.<role>``).
LEARNER_SETTINGS = ("chat_template", "max_new_tokens", "prompt", "reply_prefix", "system_prompt")


@dataclass
class Args:
    """Every knob of the trainer (``lm.<name>=...`` on the command line)."""

    # --- model
    model: str = "smollm2-135m"
    """catalogue name (after ``feedbackgym models prepare``), local folder or hub id"""
    device: str = "auto"
    """auto (CUDA when available) | cpu | cuda | cuda:<i>"""
    dtype: str = "auto"
    """auto (float32 on CPU, bfloat16 on a GPU) | float32 | bfloat16 | float16"""
    master_weights: bool = True
    """with a half-precision dtype: train float32 copies of the weights (and keep the optimizer's state
    in float32) and run every forward pass, generation included, in the half dtype under autocast
    (mixed precision; updates of lr * gradient are too small to change a bfloat16 weight). False:
    train the half-precision weights themselves. float16 gets no loss scaling: prefer bfloat16."""
    lora: bool = False
    """train LoRA adapters (peft) instead of every weight"""
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_targets: list[str] | None = None
    """module names to adapt; null: every linear layer"""
    share_policy: bool = True
    """several learning roles: one shared model (True) or one model/adapter per role (False)"""
    # --- budget and rollouts
    seed: int = 1
    updates: int = 10
    """policy updates; each plays groups_per_update * group_size episodes"""
    groups_per_update: int = 4
    """distinct environment seeds (tasks) per update"""
    group_size: int = 4
    """episodes per group (GRPO's G): same seed, different samples"""
    concurrency: int = 8
    """episodes in flight; their turns are generated in one batch"""
    temperature: float = 1.0
    """sampling temperature during training (the loss uses the same one)"""
    top_k: int | None = None
    top_p: float | None = None
    max_new_tokens: int = 64
    # --- objective
    learning_rate: float = 1e-5
    weight_decay: float = 0.0
    epochs: int = 1
    """optimisation passes over each update's sequences"""
    minibatches: int = 1
    """optimizer steps per epoch (the sequences are split into this many minibatches)"""
    micro_batch_size: int = 4
    """sequences per forward pass; the gradients of a minibatch's micro-batches accumulate"""
    clip_eps: float = 0.2
    clip_eps_high: float | None = None
    """upper clip (DAPO's clip-higher); null: clip_eps"""
    kl_coef: float = 0.0
    """weight of the k3 KL penalty to the frozen starting model (0: no reference is kept)"""
    gamma: float = 1.0
    """per-turn discount of the return"""
    advantage: str = "turn"
    """turn: baseline per group and turn position | episode: one GRPO advantage per episode"""
    scale_rewards: bool = True
    """divide advantages by the group's std"""
    max_grad_norm: float = 1.0
    # --- evaluation and logging
    success_metric: str = "solved"
    """the episode metric reported as success (absent: success is a positive return)"""
    eval_episodes: int = 32
    eval_seed: int = 10_000
    eval_temperature: float = 0.0
    """0: greedy evaluation"""
    log_every: int = 1


@dataclass
class TokenSequence:
    """One context segment of one learner's episode, ready for the loss."""

    role: str
    ids: list[int]
    old_logprobs: list[float]  # per position: the recorded log-prob of the token there (0 for env tokens)
    mask: list[int]  # per position: 1 where the model generated the token
    advantages: list[float]  # per position: the advantage of the turn that generated it


# ------------------------------------------------------------------------------ credit assignment
def turn_returns(rewards: Sequence[float], gamma: float = 1.0) -> list[float]:
    """``G_t = r_t + gamma * G_{t+1}``: each turn's discounted sum of the rewards from it to the end."""
    returns = [0.0] * len(rewards)
    running = 0.0
    for index in range(len(rewards) - 1, -1, -1):
        running = float(rewards[index]) + gamma * running
        returns[index] = running
    return returns


def group_advantages(returns_by_episode: Sequence[Sequence[float]], mode: str = "turn", scale: bool = True, eps: float = 1e-6) -> list[list[float]]:
    """The advantage of every turn of every episode of one group (see the module docstring)."""
    if mode not in ADVANTAGES:
        raise ValueError(f"advantage must be one of {', '.join(ADVANTAGES)}; got {mode!r}")
    if mode == "episode":
        totals = np.array([ret[0] if ret else 0.0 for ret in returns_by_episode], dtype=np.float64)
        centred = totals - totals.mean()
        if scale:
            centred = centred / (totals.std() + eps)
        return [[float(centred[i])] * len(ret) for i, ret in enumerate(returns_by_episode)]
    longest = max((len(ret) for ret in returns_by_episode), default=0)
    advantages = [[0.0] * len(ret) for ret in returns_by_episode]
    for position in range(longest):
        members = [i for i, ret in enumerate(returns_by_episode) if len(ret) > position]
        if len(members) < 2:
            continue
        values = np.array([returns_by_episode[i][position] for i in members], dtype=np.float64)
        centred = values - values.mean()
        if scale:
            centred = centred / (values.std() + eps)
        for i, value in zip(members, centred):
            advantages[i][position] = float(value)
    return advantages


def sequences_of(role: str, tokens: Any, turn_advantages: Sequence[float]) -> list[TokenSequence]:
    """The segments of one learner episode (``EpisodeTokens``) as sequences, each token tagged with its turn's advantage."""
    sequences = []
    index_of = {id(turn): i for i, turn in enumerate(tokens.turns)}
    for turns in tokens.segments():
        last = turns[-1]
        ids = list(last.context_ids) + list(last.completion_ids)
        old = [0.0] * len(ids)
        mask = [0] * len(ids)
        advantages = [0.0] * len(ids)
        for turn in turns:
            start = len(turn.context_ids)
            if ids[start : start + len(turn.completion_ids)] != list(turn.completion_ids):
                raise ValueError(f"turn {turn.turn} of {role} does not extend its segment; the token records are corrupt")
            for offset, logprob in enumerate(turn.logprobs):
                old[start + offset] = float(logprob)
                mask[start + offset] = 1
                advantages[start + offset] = float(turn_advantages[index_of[id(turn)]])
        sequences.append(TokenSequence(role, ids, old, mask, advantages))
    return sequences


# ------------------------------------------------------------------------------------ the model
def token_logprobs(model: Any, ids: Any, attention: Any, temperature: float, start: int = 1) -> tuple[Any, Any]:
    """(log-prob of each token from position ``start`` on given the ones before, entropy of that
    distribution), both ``[B, L-start]``. Logits are computed only from position ``start - 1`` on
    (``logits_to_keep``): a long prompt before the first model token costs no vocabulary-wide softmax."""
    import torch

    width = ids.shape[1]
    logits = model(input_ids=ids, attention_mask=attention, logits_to_keep=width - start + 1).logits[:, :-1].float()
    if temperature > 0:
        logits = logits / temperature
    logp_all = torch.log_softmax(logits, dim=-1)
    chosen = logp_all.gather(-1, ids[:, start:].unsqueeze(-1)).squeeze(-1)
    with torch.no_grad():
        entropy = -(logp_all.exp() * logp_all).sum(-1)
    return chosen, entropy


def clipped_policy_loss(new: Any, old: Any, advantages: Any, mask: Any, low: float, high: float) -> tuple[Any, Any, Any]:
    """PPO's clipped surrogate summed over the model's tokens (``mask`` 1), with the ratio and log-ratio.

    The mask multiplies the per-token loss, so an environment token contributes nothing to the loss or
    its gradient, whatever advantage or old log-probability sits at its position."""
    import torch

    log_ratio = new - old
    ratio = torch.exp(log_ratio)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1 - low, 1 + high) * advantages
    per_token = -torch.minimum(unclipped, clipped)
    return (per_token * mask).sum(), ratio, log_ratio


def _pad(sequences: Sequence[TokenSequence], pad_id: int, device: Any) -> dict[str, Any]:
    import torch

    width = max(len(s.ids) for s in sequences)
    # the first position any sequence of the batch has a model token at: logits before it are not needed
    start = max(1, min(s.mask.index(1) if 1 in s.mask else width for s in sequences))
    start = min(start, width - 1)

    def padded(values: Callable[[TokenSequence], list[Any]], fill: Any, dtype: Any) -> Any:
        return torch.tensor([values(s) + [fill] * (width - len(s.ids)) for s in sequences], dtype=dtype, device=device)

    return {
        "ids": padded(lambda s: s.ids, pad_id, torch.long),
        "attention": padded(lambda s: [1] * len(s.ids), 0, torch.long),
        "start": start,
        # targets are positions start..L-1
        "old": padded(lambda s: s.old_logprobs, 0.0, torch.float32)[:, start:],
        "mask": padded(lambda s: s.mask, 0, torch.float32)[:, start:],
        "advantages": padded(lambda s: s.advantages, 0.0, torch.float32)[:, start:],
    }


class LMTrainer:
    """The policies, their optimizers, and the loop (:meth:`train`); see the module docstring.

    Arguments:
        args: the knobs.
        make_env: a zero-argument function returning a fresh environment (AEC API).
        learners: learning role -> ``hf`` agent arguments for that role (``prompt``,
            ``system_prompt``, ``chat_template``, ``max_new_tokens``, ``reply_prefix``); ``{}`` for the defaults.
        others: every other role -> an agent spec (registered name, ``{"name": ..., **kwargs}``, or a
            zero-argument factory returning an agent).
        model, tokenizer: a model object and its tokenizer instead of ``args.model`` (tests, notebooks).
    """

    def __init__(self, args: Args, make_env: Callable[[], Any], learners: Mapping[str, Mapping[str, Any]],
                 others: Mapping[str, Any] | None = None, *, model: Any = None, tokenizer: Any = None) -> None:
        import torch

        check_args(args)
        self.args = args
        self.make_env = make_env
        self.learners = {role: dict(spec or {}) for role, spec in learners.items()}
        self.others = dict(others or {})
        if not self.learners:
            raise ValueError("learners is empty: name at least one role to train, e.g. {'solver_0': {}}")
        roles = list(make_env().unwrapped.possible_agents)
        unknown = [role for role in self.learners if role not in roles]
        if unknown:
            raise ValueError(f"learners {unknown} are not agents of the environment; its agents are {roles}")
        missing = [role for role in roles if role not in self.learners and role not in self.others]
        if missing:
            raise ValueError(f"no agent for {missing}: each role is a learner or gets an agent in others")
        self.roles = roles
        torch.manual_seed(args.seed)
        if model is None:
            from feedbackgym.agents.hf.loading import load_model

            loaded = load_model(args.model, device=args.device, dtype=args.dtype)
            # A private copy: the process-wide cached one stays the untouched starting model.
            model, tokenizer = copy.deepcopy(loaded.model), loaded.tokenizer
        elif tokenizer is None:
            raise TypeError("a model object needs its tokenizer")
        self.tokenizer = tokenizer
        self.device = next(model.parameters()).device
        self.pad_id = next((int(i) for i in (tokenizer.pad_token_id, tokenizer.eos_token_id) if i is not None), 0)
        # One policy (model, optimizer) per name: "shared", or one per learning role.
        names = ["shared"] if args.share_policy else list(self.learners)
        self.policy_of = {role: ("shared" if args.share_policy else role) for role in self.learners}
        self.reference = None
        if args.kl_coef > 0 and not args.lora:
            self.reference = copy.deepcopy(model).eval().requires_grad_(False)
        # Mixed precision: the trained weights in float32, the forward passes in the model's half dtype.
        loaded_dtype = next(model.parameters()).dtype
        autocast_dtype = loaded_dtype if args.master_weights and loaded_dtype in (torch.bfloat16, torch.float16) else None
        if autocast_dtype is not None:
            model = model.float()
        self.policies: dict[str, Any] = {}
        for index, name in enumerate(names):
            network = model if index == len(names) - 1 else copy.deepcopy(model)
            if args.lora:
                network = _with_lora(network, args)
            if autocast_dtype is not None:  # read by every forward pass (agents.hf.generation.forward_precision)
                network.feedbackgym_autocast = autocast_dtype
            network.eval()  # no dropout in generation; train() only around the loss when LoRA dropout is on
            self.policies[name] = network
        self.optimizers = {
            name: torch.optim.AdamW([p for p in network.parameters() if p.requires_grad], lr=args.learning_rate, weight_decay=args.weight_decay)
            for name, network in self.policies.items()
        }
        self.update = 0
        self.history: list[dict[str, float]] = []

    # ------------------------------------------------------------------------------- playing
    def _agents(self, sample_seed: int, temperature: float) -> dict[str, Any]:
        from feedbackgym.agents.hf.agent import HFAgent
        from feedbackgym.agents.registration import build_agents

        agents: dict[str, Any] = {}
        for role in self.roles:
            if role in self.learners:
                options = {"temperature": temperature, "top_k": self.args.top_k, "top_p": self.args.top_p,
                           "max_new_tokens": self.args.max_new_tokens, "max_batch": max(self.args.concurrency, 1), **self.learners[role]}
                agents[role] = HFAgent(model=self.policies[self.policy_of[role]], tokenizer=self.tokenizer, sample_seed=sample_seed, **options)
            else:
                spec = self.others[role]
                agents[role] = spec() if callable(spec) and not hasattr(spec, "act") else spec
        return build_agents(agents)

    def play(self, seeds: Sequence[int], group_size: int, *, temperature: float, sample_base: int, output: Path | None = None,
             make_env: Callable[[], Any] | None = None) -> list[dict[str, Any]]:
        """Episodes through the runner: ``group_size`` per seed, member k of a group sampling with its own ``sample_seed``."""
        from feedbackgym.experiments.runner import EpisodeJob, run_episodes

        jobs = [EpisodeJob(f"{seed}/{member}", seed, f"member{member}") for seed in seeds for member in range(group_size)]

        def agents_for(condition: str) -> dict[str, Any]:
            member = int(condition.removeprefix("member"))
            return self._agents(sample_base + member, temperature)

        build_env = make_env or self.make_env
        return asyncio.run(run_episodes(jobs, lambda _c: build_env(), agents_for, concurrency=self.args.concurrency,
                                        output=output, resume=False))

    def evaluate(self, episodes: int | None = None, output: Path | None = None, make_env: Callable[[], Any] | None = None) -> dict[str, float]:
        """Mean return per learner and success over ``eval_episodes`` episodes (seeds ``eval_seed + i``),
        greedy by default, on ``make_env`` (default: the training environment)."""
        count = self.args.eval_episodes if episodes is None else episodes
        seeds = [self.args.eval_seed + i for i in range(count)]
        records = self.play(seeds, 1, temperature=self.args.eval_temperature, sample_base=0, output=output, make_env=make_env)
        return summarise_records(records, list(self.learners), self.args.success_metric)

    # ------------------------------------------------------------------------------ learning
    def sequences(self, records: Sequence[Mapping[str, Any]]) -> list[TokenSequence]:
        """Credit and advantages per role and group, then every learner episode as sequences."""
        sequences: list[TokenSequence] = []
        for role in self.learners:
            groups: dict[int, list[Any]] = {}
            for record in records:
                tokens = (record.get("tokens") or {}).get(role)
                if record.get("error") is None and tokens is not None and tokens.turns:
                    groups.setdefault(int(record["seed"]), []).append(tokens)
            for members in groups.values():
                returns = [turn_returns([t.reward for t in tokens.turns], self.args.gamma) for tokens in members]
                advantages = group_advantages(returns, self.args.advantage, self.args.scale_rewards)
                for tokens, turn_adv in zip(members, advantages):
                    sequences.extend(sequences_of(role, tokens, turn_adv))
        return sequences

    def learn(self, sequences: Sequence[TokenSequence], rng: np.random.Generator) -> dict[str, float]:
        """``epochs`` passes of clipped, token-normalised updates over ``sequences``; returns the statistics."""
        import torch

        from feedbackgym.agents.hf.generation import forward_precision

        args = self.args
        low, high = args.clip_eps, args.clip_eps if args.clip_eps_high is None else args.clip_eps_high
        totals: dict[str, float] = {"loss": 0.0, "pg_loss": 0.0, "kl_ref": 0.0, "approx_kl": 0.0, "clip_frac": 0.0, "entropy": 0.0, "grad_norm": 0.0}
        counted_tokens, steps = 0.0, 0
        for name, network in self.policies.items():
            mine = [s for s in sequences if self.policy_of[s.role] == name and any(s.mask)]
            if not mine:
                continue
            optimizer = self.optimizers[name]
            if args.lora and args.lora_dropout > 0:
                network.train()
            for _epoch in range(args.epochs):
                order = rng.permutation(len(mine))
                for chunk in np.array_split(order, min(args.minibatches, len(mine))):
                    minibatch = [mine[i] for i in chunk]
                    tokens_in_minibatch = float(sum(sum(s.mask) for s in minibatch))
                    optimizer.zero_grad(set_to_none=True)
                    for start in range(0, len(minibatch), args.micro_batch_size):
                        batch = _pad(minibatch[start : start + args.micro_batch_size], self.pad_id, self.device)
                        with forward_precision(network):
                            new, entropy = token_logprobs(network, batch["ids"], batch["attention"], args.temperature, batch["start"])
                        mask = batch["mask"]
                        pg_sum, ratio, log_ratio = clipped_policy_loss(new, batch["old"], batch["advantages"], mask, low, high)
                        loss_sum = pg_sum
                        if args.kl_coef > 0:
                            reference = self._reference_logprobs(network, batch)
                            delta = reference - new
                            kl = torch.exp(delta) - delta - 1
                            kl_sum = (kl * mask).sum()
                            loss_sum = loss_sum + args.kl_coef * kl_sum
                            totals["kl_ref"] += float(kl_sum.detach())
                        # token-level normalisation: every model token of the minibatch weighs the same
                        (loss_sum / tokens_in_minibatch).backward()
                        with torch.no_grad():
                            totals["loss"] += float(loss_sum)
                            totals["pg_loss"] += float(pg_sum)
                            totals["approx_kl"] += float((((ratio - 1) - log_ratio) * mask).sum())
                            totals["clip_frac"] += float((((ratio < 1 - low) | (ratio > 1 + high)).float() * mask).sum())
                            totals["entropy"] += float((entropy * mask).sum())
                    counted_tokens += tokens_in_minibatch
                    parameters = [p for p in network.parameters() if p.requires_grad]
                    norm = torch.nn.utils.clip_grad_norm_(parameters, args.max_grad_norm)
                    totals["grad_norm"] += float(norm)
                    optimizer.step()
                    steps += 1
            network.eval()
        stats = {key: value / max(counted_tokens, 1.0) for key, value in totals.items() if key != "grad_norm"}
        stats["grad_norm"] = totals["grad_norm"] / max(steps, 1)
        stats["optimizer_steps"] = float(steps)
        if args.kl_coef <= 0:
            stats["kl_ref"] = math.nan
        return stats

    def _reference_logprobs(self, network: Any, batch: Mapping[str, Any]) -> Any:
        import torch

        from feedbackgym.agents.hf.generation import forward_precision

        with torch.no_grad(), forward_precision(network):
            if self.reference is not None:
                return token_logprobs(self.reference, batch["ids"], batch["attention"], self.args.temperature, batch["start"])[0]
            with network.disable_adapter():  # LoRA: the base model is the reference
                return token_logprobs(network, batch["ids"], batch["attention"], self.args.temperature, batch["start"])[0]

    def train(self, on_update: Callable[[dict[str, float]], None] | None = None) -> list[dict[str, float]]:
        """``args.updates`` rounds of rollouts and updates; returns one row of statistics per update."""
        args = self.args
        started = time.perf_counter()
        for _ in range(args.updates):
            update = self.update
            rng = np.random.default_rng([args.seed, update])
            tick = time.perf_counter()
            seeds = [args.seed * 1_000_003 + update * args.groups_per_update + g for g in range(args.groups_per_update)]
            records = self.play(seeds, args.group_size, temperature=args.temperature, sample_base=(args.seed * 7919 + update) * args.group_size)
            rolled = time.perf_counter()
            sequences = self.sequences(records)
            stats = self.learn(sequences, rng)
            learned = time.perf_counter()
            summary = summarise_records(records, list(self.learners), args.success_metric)
            model_tokens = sum(sum(s.mask) for s in sequences)
            all_tokens = sum(len(s.ids) for s in sequences)
            row = {
                "update": float(update + 1),
                "episodes": float(len(records)),
                **summary,
                **stats,
                "model_tokens": float(model_tokens),
                "tokens": float(all_tokens),
                "tokens_per_s": all_tokens / max(learned - tick, 1e-9),
                "episodes_per_s": len(records) / max(learned - tick, 1e-9),
                "rollout_seconds": rolled - tick,
                "update_seconds": learned - rolled,
                "seconds": learned - started,
            }
            self.history.append(row)
            self.update += 1
            if on_update is not None:
                on_update(row)
        return self.history

    # ------------------------------------------------------------------------------ saving
    def save(self, directory: str | Path) -> dict[str, Path]:
        """Each policy as a ``save_pretrained`` folder the ``hf`` agent loads (``model=<folder>``);
        LoRA adapters are merged into a copy of the base (the adapter alone goes to ``<folder>/adapter``)."""
        directory = Path(directory)
        saved: dict[str, Path] = {}
        for name, network in self.policies.items():
            target = directory if len(self.policies) == 1 else directory / name
            target.mkdir(parents=True, exist_ok=True)
            if self.args.lora:
                network.save_pretrained(str(target / "adapter"))
                merged = copy.deepcopy(network).merge_and_unload()
            else:
                merged = network
            merged.save_pretrained(str(target))
            self.tokenizer.save_pretrained(str(target))
            saved[name] = target
        return {role: saved[self.policy_of[role]] for role in self.learners}


def _with_lora(network: Any, args: Args) -> Any:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as error:
        raise ImportError("lora=true needs peft: pip install 'feedbackgym[lora]'") from error
    config = LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                        target_modules=args.lora_targets or "all-linear", task_type="CAUSAL_LM")
    return get_peft_model(network, config)


def summarise_records(records: Sequence[Mapping[str, Any]], learners: Sequence[str], success_metric: str) -> dict[str, float]:
    """``reward`` (mean learner return), ``reward/<role>``, ``success``, ``errors`` over episode records."""
    good = [r for r in records if r.get("error") is None]
    row: dict[str, float] = {"errors": float(len(records) - len(good))}
    if not good:
        return {**row, "reward": math.nan, "success": math.nan}
    per_role = {role: float(np.mean([r["returns"].get(role, 0.0) for r in good])) for role in learners}
    row.update({f"reward/{role}": value for role, value in per_role.items()})
    row["reward"] = float(np.mean(list(per_role.values())))
    successes = [r["metrics"][success_metric] for r in good if isinstance((r.get("metrics") or {}).get(success_metric), (int, float, bool))]
    if successes:
        row["success"] = float(np.mean([float(s) for s in successes]))
    else:
        row["success"] = float(np.mean([float(sum(r["returns"].get(role, 0.0) for role in learners) > 0) for r in good]))
    return row


def check_args(args: Args) -> None:
    """Every knob in range; errors name the field and what it accepts."""
    positive = ("updates", "groups_per_update", "group_size", "concurrency", "max_new_tokens", "epochs", "minibatches",
                "micro_batch_size", "lora_r", "eval_episodes", "log_every")
    for name in positive:
        value = getattr(args, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"lm.{name} must be a positive integer, got {value!r}")
    if args.advantage not in ADVANTAGES:
        raise ValueError(f"lm.advantage must be one of {', '.join(ADVANTAGES)}, got {args.advantage!r}")
    if not 0.0 <= args.gamma <= 1.0:
        raise ValueError(f"lm.gamma must be in [0, 1], got {args.gamma!r}")
    for name in ("learning_rate", "clip_eps", "kl_coef", "max_grad_norm", "weight_decay", "lora_dropout", "eval_temperature"):
        value = getattr(args, name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"lm.{name} must be a number >= 0, got {value!r}")
    if args.clip_eps_high is not None and args.clip_eps_high < 0:
        raise ValueError(f"lm.clip_eps_high must be >= 0 or null, got {args.clip_eps_high!r}")
    if not isinstance(args.temperature, (int, float)) or args.temperature <= 0:
        raise ValueError(f"lm.temperature must be > 0 for training (sampling), got {args.temperature!r}")
    for name in ("lora", "share_policy", "scale_rewards", "master_weights"):
        if not isinstance(getattr(args, name), bool):
            raise ValueError(f"lm.{name} must be true or false, got {getattr(args, name)!r}")


def args_from(values: Mapping[str, Any]) -> Args:
    """``Args`` from a mapping; an unknown key names the accepted ones."""
    accepted = {f.name for f in fields(Args)}
    unknown = sorted(set(values) - accepted)
    if unknown:
        raise ValueError(f"lm has unknown settings {unknown}; accepted: {sorted(accepted)}")
    args = Args(**dict(values))
    check_args(args)
    return args


# ------------------------------------------------------------------------------ logging
class UpdateLog:
    """One CSV row per update (and TensorBoard scalars when the tensorboard package is installed)."""

    def __init__(self, path: Path, tensorboard_dir: Path | None = None) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.columns: list[str] | None = None
        self.writer = None
        if tensorboard_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(tensorboard_dir))
            except ImportError:
                self.writer = None

    def write(self, row: Mapping[str, float]) -> None:
        if self.columns is None:
            self.columns = list(row)
            with self.path.open("w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerow(self.columns)
        with self.path.open("a", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerow([row.get(column, "") for column in self.columns])
        if self.writer is not None:
            for key, value in row.items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    self.writer.add_scalar(key, value, int(row.get("update", 0)))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def plot_history(history: Sequence[Mapping[str, float]], path: Path, title: str) -> Path | None:
    """reward and success per update."""
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    updates = [row["update"] for row in history]
    for axis, key in zip(axes, ("reward", "success")):
        axis.plot(updates, [row.get(key, math.nan) for row in history], marker="o")
        axis.set_xlabel("update")
        axis.set_ylabel(key)
        axis.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


# ------------------------------------------------------------------------- the Hydra entry
def run_lm_training(cfg: Mapping[str, Any], output_dir: Path | str) -> list[dict[str, Any]]:
    """``feedbackgym train`` with an ``lm`` block: every condition and seed, evaluated before and after.

    Config: ``env`` (id, kwargs), ``agents`` (the mounted agent per role), ``learners`` (role -> ``hf``
    agent arguments: ``prompt``, ``system_prompt``, ...), ``lm`` (:class:`Args`), ``train`` (``name``,
    ``seeds``, ``conditions``: name -> ``{train: env kwargs, eval: env kwargs, lm: Args overrides}``,
    ``tensorboard``). Writes per condition and seed: ``updates.csv``, ``learning_curve.png``,
    ``tb/``, ``checkpoint/`` (``agents.<role>.model=<that folder>`` plays it), ``eval_before.jsonl``,
    ``eval_after.jsonl``; ``results_by_seed.csv`` with the before/after evaluation of every run (one row
    per condition and seed), and ``results.csv`` with their means (and ``_std``) over seeds per condition.
    """
    from feedbackgym.envs import make
    from feedbackgym.experiments.runner import format_table, write_table
    from feedbackgym.experiments.train import means_over_seeds

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    plan = check_lm_config(cfg)
    train_cfg = dict(cfg.get("train") or {})
    env_id, wrappers, learners, mounted = plan["env_id"], plan["wrappers"], plan["learners"], plan["mounted"]
    tensorboard = bool(train_cfg.get("tensorboard", True))
    rows: list[dict[str, Any]] = []
    started = time.time()
    for condition, (train_kwargs, eval_kwargs, args_by_seed) in plan["runs"].items():
        for seed, args in args_by_seed.items():
            directory = output_dir / str(condition) / f"seed{seed}"
            directory.mkdir(parents=True, exist_ok=True)
            others = {role: spec for role, spec in mounted.items() if role not in learners}
            trainer = LMTrainer(args, lambda kw=train_kwargs: make(env_id, wrappers=wrappers, **kw), learners, others)
            before = trainer.evaluate(output=directory / "eval_before.jsonl", make_env=lambda kw=eval_kwargs: make(env_id, wrappers=wrappers, **kw))
            log.info(f"{condition} seed {seed}: before training {_brief(before)}")
            (directory / "args.json").write_text(json.dumps(asdict(args), indent=2), encoding="utf-8")
            logger = UpdateLog(directory / "updates.csv", directory / "tb" if tensorboard else None)

            def progress(row: dict[str, float], trainer: LMTrainer = trainer) -> None:
                logger.write(row)
                if int(row["update"]) % trainer.args.log_every == 0:
                    log.info(f"[{row['seconds']:7.1f} s] {condition} seed {seed} update {int(row['update'])}/{trainer.args.updates}: "
                             f"reward {row['reward']:.3f} success {row['success']:.3f} entropy {row['entropy']:.3f} "
                             f"kl {row['approx_kl']:.4f} {row['tokens_per_s']:.0f} tok/s")

            trainer.train(progress)
            logger.close()
            plot_history(trainer.history, directory / "learning_curve.png", f"{train_cfg.get('name', 'lm')}: {condition}, seed {seed}")
            checkpoints = trainer.save(directory / "checkpoint")
            # After training: the checkpoints played by hf agents loaded from disk (what `feedbackgym run` does).
            after = evaluate_checkpoints(env_id, wrappers, eval_kwargs, checkpoints, learners, others, args, directory / "eval_after.jsonl")
            log.info(f"{condition} seed {seed}: after training {_brief(after)}")
            before.update(episode_means(directory / "eval_before.jsonl"))
            after.update(episode_means(directory / "eval_after.jsonl"))
            row = {"condition": condition, "seed": seed, **{f"before/{k}": v for k, v in before.items()},
                   **{f"after/{k}": v for k, v in after.items()},
                   "train_seconds": round(trainer.history[-1]["seconds"], 1) if trainer.history else 0.0,
                   "checkpoint": str(directory / "checkpoint")}
            rows.append(row)
            write_table(rows, output_dir / "results_by_seed.csv")
    means = means_over_seeds(rows)
    write_table(means, output_dir / "results.csv")
    shown = ["condition", "seed", "before/reward", "after/reward", "before/success", "after/success",
             *[f"{when}/{column}" for column in train_cfg.get("summary") or [] for when in ("before", "after")], "train_seconds"]
    log.info(format_table(rows, shown))
    if any(row["seeds"] > 1 for row in means):
        log.info("\nmeans over seeds:\n" + format_table(means, ["condition", "seeds", *shown[2:]]))
    log.info(f"{len(rows)} runs in {time.time() - started:.0f} s; wrote {output_dir / 'results_by_seed.csv'}, {output_dir / 'results.csv'}")
    return rows


def check_lm_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Everything :func:`run_lm_training` needs, checked before any model loads; errors name the setting."""
    from omegaconf import OmegaConf

    from feedbackgym.agents.registration import agent_kwargs
    from feedbackgym.envs import make
    from feedbackgym.experiments.evaluate import wrappers_of

    train_cfg = dict(cfg.get("train") or {})
    env_id = str(cfg["env"]["id"])
    wrappers = wrappers_of(OmegaConf.create({"env": dict(cfg["env"]), "wrapper": dict(cfg.get("wrapper") or {})}))
    learners: dict[str, dict[str, Any]] = {}
    for role, spec in (cfg.get("learners") or {}).items():
        spec = dict(spec or {})
        spec.pop("kind", None)  # PPO's encoder key, meaningless here
        unknown = sorted(set(spec) - set(LEARNER_SETTINGS))
        if unknown:
            raise ValueError(f"learners.{role} has unknown settings {unknown}; accepted: {', '.join(LEARNER_SETTINGS)}")
        from feedbackgym.agents.hf.agent import check_reply_settings

        try:
            check_reply_settings(**spec)
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError(f"learners.{role}: {error}") from error
        learners[str(role)] = spec
    if not learners:
        raise ValueError("learners is empty: name at least one role to train, e.g. learners: {solver_0: {}}")
    mounted = {role: {"name": spec.get("name"), **agent_kwargs(spec)} for role, spec in (cfg.get("agents") or {}).items()}
    roles = list(make(env_id, wrappers=wrappers, **dict(cfg["env"].get("kwargs") or {})).unwrapped.possible_agents)
    bad = [role for role in learners if role not in roles]
    if bad:
        raise ValueError(f"learners {bad} are not agents of {env_id}; its agents are {roles}")
    missing = [role for role in roles if role not in learners and role not in mounted]
    if missing:
        raise ValueError(f"{env_id} has agents {roles}; no agent is mounted for {missing} and they are not learners")
    seeds = train_cfg.get("seeds") or [1]
    if not isinstance(seeds, (list, tuple)) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"train.seeds must be a non-empty list of integers, got {seeds!r}")
    evaluation = {key: train_cfg[key] for key in ("eval_episodes", "eval_seed") if train_cfg.get(key) is not None}
    runs: dict[str, Any] = {}
    base_kwargs = dict(cfg["env"].get("kwargs") or {})
    for condition, settings in (train_cfg.get("conditions") or {"default": {}}).items():
        settings = dict(settings or {})
        unknown = sorted(set(settings) - {"train", "eval", "lm"})
        if unknown:
            raise ValueError(f"train.conditions.{condition} has unknown keys {unknown}; allowed: eval, lm, train")
        train_kwargs = {**base_kwargs, **dict(settings.get("train") or {})}
        eval_kwargs = {**train_kwargs, **dict(settings.get("eval") or {})}
        args_by_seed = {int(seed): args_from({**dict(cfg.get("lm") or {}), **evaluation, **dict(settings.get("lm") or {}), "seed": int(seed)})
                        for seed in seeds}
        runs[str(condition)] = (train_kwargs, eval_kwargs, args_by_seed)
    return {"env_id": env_id, "wrappers": wrappers, "learners": learners, "mounted": mounted, "runs": runs}


def episode_means(path: Path) -> dict[str, float]:
    """The runner's aggregate of an evaluation file: every numeric episode metric's mean (``acc@k`` from
    ``cumulative_accuracy``, ``unique_answer_ratio``, ``repeated_one_answer``, ...)."""
    from feedbackgym.experiments.runner import aggregate, read_finished

    records = list(read_finished(path).values())
    for record in records:
        record["condition"] = "all"
    rows = aggregate(records)
    return {k: v for k, v in rows[0].items() if isinstance(v, float) and k not in ("errors",)} if rows else {}


def evaluate_checkpoints(env_id: str, wrappers: Sequence[Any], env_kwargs: Mapping[str, Any], checkpoints: Mapping[str, Path],
                         learners: Mapping[str, Mapping[str, Any]], others: Mapping[str, Any], args: Args, output: Path) -> dict[str, float]:
    """The saved checkpoints as ``hf`` agents (loaded from their folders) through the runner."""
    from feedbackgym.agents.registration import build_agents
    from feedbackgym.envs import make
    from feedbackgym.experiments.runner import EpisodeJob, run_episodes

    specs: dict[str, Any] = dict(others)
    for role, folder in checkpoints.items():
        specs[role] = {"name": "hf", "model": str(folder), "device": args.device, "dtype": args.dtype, "temperature": args.eval_temperature,
                       "max_new_tokens": args.max_new_tokens, "top_k": args.top_k, "top_p": args.top_p, **learners[role]}
    jobs = [EpisodeJob(str(i), args.eval_seed + i) for i in range(args.eval_episodes)]
    records = asyncio.run(run_episodes(jobs, lambda _c: make(env_id, wrappers=list(wrappers), **env_kwargs), lambda _c: build_agents(specs),
                                       concurrency=args.concurrency, output=output, resume=False))
    return summarise_records(records, list(learners), args.success_metric)


def _brief(summary: Mapping[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in summary.items() if isinstance(v, float))


__all__ = ["Args", "LMTrainer", "check_lm_config", "group_advantages", "run_lm_training", "sequences_of", "token_logprobs", "turn_returns"]
