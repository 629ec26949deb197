"""The TRL adapter: TRL's GRPOTrainer trains the tiny random Llama on feedbackgym episodes for two steps
on the CPU, with environment tokens masked out (skipped when trl is not installed)."""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest

pytest.importorskip("transformers")
pytest.importorskip("trl")
import torch  # noqa: E402

from feedbackgym.agents.hf.trl_adapter import environment_reward, episode_dataset, episode_key, make_rollout_func, seed_of  # noqa: E402
from feedbackgym.envs import make  # noqa: E402

torch.set_num_threads(1)


def solver_env() -> Any:
    return make("SolverFeedback-v0", feedback_level="unary", max_turns=2, terminate_on_success=False)


def test_episode_keys_round_trip_and_refuse_other_prompts():
    assert seed_of(episode_key(17)) == 17
    with pytest.raises(ValueError, match="not a feedbackgym episode key"):
        seed_of("What is 2 + 2?")
    with pytest.raises(ValueError, match="learner 'judge_0' is not an agent"):
        make_rollout_func(solver_env, "judge_0", {})


def test_grpo_trainer_runs_two_steps_on_feedbackgym_episodes(tiny_lm, tmp_path, monkeypatch):
    from trl import GRPOConfig, GRPOTrainer

    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    model, tokenizer = copy.deepcopy(tiny_lm[0]), tiny_lm[1]
    starting = [p.detach().clone() for p in model.parameters()]
    inner = make_rollout_func(solver_env, "solver_0", {"teacher_0": "scripted_teacher"}, max_new_tokens=3)
    calls: list[tuple[list[Any], dict[str, list[Any]]]] = []

    def rollout(prompts: list[Any], trainer: Any) -> dict[str, list[Any]]:
        output = inner(prompts, trainer)
        calls.append((list(prompts), output))
        return output

    def length_reward(completions: list[Any], **_: Any) -> list[float]:  # varied rewards: nonzero advantages
        return [float(len(str(c))) / 10 for c in completions]

    config = GRPOConfig(output_dir=str(tmp_path), use_cpu=True, num_generations=2, per_device_train_batch_size=2, max_steps=2,
                        learning_rate=1e-2, max_completion_length=64, logging_steps=1, report_to=[], save_strategy="no", seed=0,
                        bf16=False)
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=[environment_reward, length_reward],
                          train_dataset=episode_dataset(range(8)), rollout_func=rollout, args=config)
    trainer.train()
    assert trainer.state.global_step == 2
    assert calls
    for prompts, output in calls:
        # TRL 1.16 repeats each key num_generations times; one rollout per prompt comes back
        assert len(output["prompt_ids"]) == len(prompts) and all(prompts.count(p) == 2 for p in prompts)
        for completion, mask, logprobs in zip(output["completion_ids"], output["env_mask"], output["logprobs"]):
            assert len(completion) == len(mask) == len(logprobs)
            assert 1 in mask and 0 in mask  # two turns: the teacher's feedback lies between the model's replies
            assert all(lp == 0.0 for lp, m in zip(logprobs, mask) if not m)
    assert any(not torch.equal(a, b) for a, b in zip(starting, model.parameters()))
    assert os.environ["TRL_EXPERIMENTAL_SILENCE"] == "1"
