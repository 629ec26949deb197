"""Train on feedbackgym environments with TRL's ``GRPOTrainer``: a ``rollout_func`` that plays episodes.

``pip install 'feedbackgym[trl]'``. The trainer's dataset holds *episode keys*, not prompts: the
environment writes the learner's prompt (its system message, task, feedback) and the ``hf`` agent
renders it with the model's chat template. :func:`episode_dataset` makes the keys,
:func:`make_rollout_func` plays them, and :func:`environment_reward` hands the environment's reward to
TRL::

    import os; os.environ["TRL_EXPERIMENTAL_SILENCE"] = "1"
    from trl import GRPOConfig, GRPOTrainer
    from feedbackgym.agents.hf.trl_adapter import episode_dataset, environment_reward, make_rollout_func
    from feedbackgym.envs import make

    rollout = make_rollout_func(lambda: make("SolverFeedback-v0", feedback_level="unary", max_turns=3),
                                learner="solver_0", others={"teacher_0": "scripted_teacher"}, max_new_tokens=32)
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=environment_reward,
                          train_dataset=episode_dataset(range(256)), rollout_func=rollout,
                          args=GRPOConfig(num_generations=4, per_device_train_batch_size=4, ...))

What comes back for each prompt is the learner's episode as one sequence (``EpisodeTokens.rollout``):
``prompt_ids`` (its first context), ``completion_ids`` (every later token: the model's replies and
the environment's messages in between), ``logprobs`` (0 for environment tokens) and ``env_mask``
(1 on the model's own tokens), which TRL uses to keep environment tokens out of the loss; plus
``reward`` (the episode return of the learner), forwarded to reward functions. When an episode's
context had to be rebuilt (an observation window that drops messages), only its first segment is
returned; the trainer in :mod:`feedbackgym.experiments.lm_train` uses every segment and credits each
turn separately, which TRL's one-advantage-per-rollout cannot.

Note on TRL 1.16: ``rollout_func`` receives the prompts already repeated ``num_generations`` times
and must return one rollout per prompt; the k-th copy of a key samples with ``sample_seed`` k, so
the copies (one GRPO group) play the same episode seed with different samples. Episodes run
concurrently, their turns batched on the model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from feedbackgym.agents.hf.agent import HFAgent
from feedbackgym.agents.registration import build_agents
from feedbackgym.envs.core.seeding import agent_seed

KEY_PREFIX = "feedbackgym-episode:"


def episode_key(seed: int) -> str:
    return f"{KEY_PREFIX}{int(seed)}"


def seed_of(key: Any) -> int:
    """The episode seed of a dataset key (a string made by :func:`episode_key`)."""
    text = key if isinstance(key, str) else str(key)
    if not text.startswith(KEY_PREFIX):
        raise ValueError(f"prompt {text[:60]!r} is not a feedbackgym episode key; build the dataset with episode_dataset(seeds)")
    return int(text[len(KEY_PREFIX) :])


def episode_dataset(seeds: Iterable[int]) -> Any:
    """A ``datasets.Dataset`` with one ``prompt`` (an episode key) per seed."""
    from datasets import Dataset

    return Dataset.from_dict({"prompt": [episode_key(seed) for seed in seeds]})


def environment_reward(prompts: list[Any], completions: list[Any], reward: list[float], **_: Any) -> list[float]:
    """A TRL reward function: the learner's episode return that the rollout function recorded."""
    return [float(r) for r in reward]


async def _play(env: Any, agents: Mapping[str, Any], seed: int, max_steps: int) -> None:
    # The runner's loop (feedbackgym.experiments.runner.play_episode), kept here so that agents do not
    # import experiments; every reward is handed to agents that keep per-turn records.
    env.reset(seed=seed)
    for index, agent_id in enumerate(env.unwrapped.possible_agents):
        agents[agent_id].reset(seed=agent_seed(seed, index))
    for agent_id in env.agent_iter(max_steps):
        observation, reward, terminated, truncated, info = env.last()
        credit = getattr(agents[agent_id], "credit_reward", None)
        if credit is not None:
            credit(float(reward))
        action = None if terminated or truncated else await agents[agent_id].aact(observation, info)
        env.step(action)


def make_rollout_func(
    make_env: Callable[[], Any],
    learner: str,
    others: Mapping[str, Any],
    *,
    max_new_tokens: int = 64,
    temperature: float | None = None,
    max_steps: int = 10_000,
    **agent_kwargs: Any,
) -> Callable[[list[Any], Any], dict[str, list[Any]]]:
    """A TRL ``rollout_func(prompts, trainer)`` playing ``learner`` with the trainer's model.

    ``others`` maps every other role to an agent spec (a registered name, ``{"name": ..., **kwargs}``
    or a zero-argument factory). ``temperature`` defaults to the trainer's (``GRPOConfig.temperature``),
    so the recorded log-probabilities are those TRL recomputes. ``agent_kwargs`` go to the learner's
    ``hf`` agent (``prompt``, ``system_prompt``, ``chat_template``).
    """
    roles = list(make_env().unwrapped.possible_agents)
    if learner not in roles:
        raise ValueError(f"learner {learner!r} is not an agent of the environment; its agents are {roles}")
    missing = [role for role in roles if role != learner and role not in others]
    if missing:
        raise ValueError(f"no agent in others for {missing}")

    def rollout_func(prompts: list[Any], trainer: Any) -> dict[str, list[Any]]:
        model = trainer.accelerator.unwrap_model(trainer.model) if hasattr(trainer, "accelerator") else trainer.model
        tokenizer = trainer.processing_class
        sampling = float(getattr(trainer, "temperature", 1.0) if temperature is None else temperature)
        step = int(getattr(getattr(trainer, "state", None), "global_step", 0) or 0)
        seen: dict[int, int] = {}
        episodes = []
        for prompt in prompts:
            seed = seed_of(prompt)
            member = seen.get(seed, 0)  # the k-th copy of a key in this call: member k of its group
            seen[seed] = member + 1
            agents: dict[str, Any] = {}
            for role in roles:
                if role == learner:
                    agents[role] = HFAgent(model=model, tokenizer=tokenizer, temperature=sampling, max_new_tokens=max_new_tokens,
                                           sample_seed=step * 1009 + member, max_batch=max(len(prompts), 1), **agent_kwargs)
                else:
                    spec = others[role]
                    agents[role] = spec() if callable(spec) and not hasattr(spec, "act") else spec
            episodes.append((make_env(), build_agents(agents), seed))

        async def play_all() -> None:
            await asyncio.gather(*(_play(env, agents, seed, max_steps) for env, agents, seed in episodes))

        was_training = bool(getattr(model, "training", False))
        model.eval()
        try:
            asyncio.run(play_all())
        finally:
            model.train(was_training)
        output: dict[str, list[Any]] = {"prompt_ids": [], "completion_ids": [], "logprobs": [], "env_mask": [], "reward": [], "turns": []}
        for _env, agents, _seed in episodes:
            tokens = agents[learner].episode_tokens()
            if tokens is None:
                raise RuntimeError(f"{learner} never moved in an episode; a rollout needs at least one generation")
            first = tokens.rollouts()[0]
            for key in ("prompt_ids", "completion_ids", "logprobs", "env_mask"):
                output[key].append(first[key])
            output["reward"].append(tokens.total_reward)
            output["turns"].append(first["turns"])
        return output

    return rollout_func


__all__ = ["environment_reward", "episode_dataset", "episode_key", "make_rollout_func", "seed_of"]
