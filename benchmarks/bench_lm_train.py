"""Training throughput of feedbackgym's language-model trainer against TRL's GRPOTrainer, same run.

Both train the same model (a copy each) on the same episodes: ``SolverFeedback-v0`` with unary
feedback and ``--max-turns`` turns, the solver played by the model, the scripted teacher giving
feedback; ``--groups`` episode seeds per update, ``--group-size`` episodes per seed (GRPO's group),
``--max-new-tokens`` per reply, one optimizer step per update over all of the update's episodes.
TRL plays the episodes through :mod:`feedbackgym.agents.hf.trl_adapter` (its ``rollout_func``), so
generation is the same batched ``hf`` generation in both and the comparison is of the trainers.

Reported per trainer: seconds per update (median over updates after the first, which warms up),
episodes and tokens (context + completions, every sequence the loss sees) per second, and the peak
resident memory of the process after it (on a GPU: peak allocated CUDA memory). Ratios are
feedbackgym / TRL (throughput: > 1 means feedbackgym is faster). Goal: >= 1.

    python benchmarks/bench_lm_train.py                        # the tiny random Llama of the tests (no download)
    python benchmarks/bench_lm_train.py --model smollm2-135m --updates 3 --device cpu
    python benchmarks/bench_lm_train.py --device cuda --model smollm2-135m --groups 8 --group-size 8
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import resource
import statistics
import time
from typing import Any

import torch


def tiny_model() -> tuple[Any, Any]:
    """The tests' tiny random Llama (two layers, 32 wide) with a byte-level BPE and ChatML."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    corpus = ["The answer is \\boxed{42}. Answer: B", "Your answer is incorrect. Please try again.",
              "Question: In what year was the cartographer born? Choices: (A) 1704 (B) 1695"]
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    core.train_from_iterator(corpus * 4, trainer=trainers.BpeTrainer(vocab_size=400, special_tokens=special,
                                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = (
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, max_position_embeddings=8192, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id)
    return LlamaForCausalLM(config).eval(), tokenizer


def load(name: str, device: str) -> tuple[Any, Any]:
    if name == "tiny":
        model, tokenizer = tiny_model()
        return model.to(device), tokenizer
    from feedbackgym.agents.hf.loading import load_model

    loaded = load_model(name, device=device)
    return loaded.model, loaded.tokenizer


def peak_memory_mb(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_env(max_turns: int) -> Any:
    from feedbackgym.envs import make

    return make("SolverFeedback-v0", feedback_level="unary", max_turns=max_turns, terminate_on_success=False)


def bench_ours(model: Any, tokenizer: Any, options: argparse.Namespace) -> dict[str, float]:
    from feedbackgym.experiments.lm_train import Args, LMTrainer

    episodes = options.groups * options.group_size
    args = Args(updates=options.updates, groups_per_update=options.groups, group_size=options.group_size, concurrency=episodes,
                max_new_tokens=options.max_new_tokens, learning_rate=1e-5, micro_batch_size=options.micro_batch, minibatches=1,
                epochs=1, seed=1)
    trainer = LMTrainer(args, lambda: make_env(options.max_turns), {"solver_0": {}}, {"teacher_0": "scripted_teacher"},
                        model=model, tokenizer=tokenizer)
    history = trainer.train()
    seconds = [row["rollout_seconds"] + row["update_seconds"] for row in history]
    tokens = [row["tokens"] for row in history]
    return summary(seconds, tokens, episodes)


def bench_trl(model: Any, tokenizer: Any, options: argparse.Namespace) -> dict[str, float]:
    os.environ["TRL_EXPERIMENTAL_SILENCE"] = "1"
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from feedbackgym.agents.hf.trl_adapter import environment_reward, episode_dataset, make_rollout_func

    inner = make_rollout_func(lambda: make_env(options.max_turns), "solver_0", {"teacher_0": "scripted_teacher"},
                              max_new_tokens=options.max_new_tokens)
    tokens: list[float] = []

    def rollout(prompts: list[Any], trainer: Any) -> dict[str, list[Any]]:
        output = inner(prompts, trainer)
        tokens.append(float(sum(len(p) + len(c) for p, c in zip(output["prompt_ids"], output["completion_ids"]))))
        return output

    stamps: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, *_: Any, **__: Any) -> None:
            stamps.append(time.perf_counter())

        def on_train_end(self, *_: Any, **__: Any) -> None:
            stamps.append(time.perf_counter())

    episodes = options.groups * options.group_size
    config = GRPOConfig(output_dir=options.scratch, use_cpu=options.device == "cpu", num_generations=options.group_size,
                        per_device_train_batch_size=episodes, gradient_accumulation_steps=1, max_steps=options.updates,
                        learning_rate=1e-5, max_completion_length=options.max_new_tokens * options.max_turns * 8, logging_steps=1,
                        report_to=[], save_strategy="no", seed=1, bf16=options.device != "cpu", beta=0.0, num_iterations=1)
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=environment_reward,
                          train_dataset=episode_dataset(range(episodes * options.updates * 4)), rollout_func=rollout, args=config,
                          callbacks=[Clock()])
    trainer.train()
    seconds = [b - a for a, b in zip(stamps, stamps[1:])]
    return summary(seconds, tokens, episodes)


def summary(seconds: list[float], tokens: list[float], episodes: int) -> dict[str, float]:
    steady = seconds[1:] or seconds
    steady_tokens = tokens[1 : len(seconds)] or tokens
    per_update = statistics.median(steady)
    return {"seconds_per_update": per_update, "episodes_per_s": episodes / per_update,
            "tokens_per_s": statistics.mean(steady_tokens) / per_update, "updates": float(len(seconds))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="tiny (built here), a catalogue name, a folder or a hub id")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--updates", type=int, default=4)
    parser.add_argument("--groups", type=int, default=2)
    parser.add_argument("--group-size", type=int, default=4)
    parser.add_argument("--max-turns", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument("--micro-batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--scratch", default="/tmp/bench_lm_train")
    parser.add_argument("--out", default=None)
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    base, tokenizer = load(options.model, options.device)
    results: dict[str, dict[str, float]] = {}
    for name, bench in (("feedbackgym", bench_ours), ("trl", bench_trl)):
        if options.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        model = copy.deepcopy(base)
        results[name] = bench(model, tokenizer, options)
        results[name]["peak_memory_mb"] = peak_memory_mb(options.device)
        del model
    ours, theirs = results["feedbackgym"], results["trl"]
    ratios = {"episodes_per_s": ours["episodes_per_s"] / theirs["episodes_per_s"], "tokens_per_s": ours["tokens_per_s"] / theirs["tokens_per_s"],
              "seconds_per_update": ours["seconds_per_update"] / theirs["seconds_per_update"]}
    print(f"model {options.model} on {options.device} ({platform.processor() or platform.machine()}, {options.threads} thread(s)); "
          f"{options.groups} groups x {options.group_size} episodes of <= {options.max_turns} turns, {options.max_new_tokens} new tokens per reply")
    print(f"{'trainer':<12} {'s/update':>9} {'episodes/s':>11} {'tokens/s':>10} {'peak MB':>9}")
    for name, row in results.items():
        print(f"{name:<12} {row['seconds_per_update']:9.3f} {row['episodes_per_s']:11.2f} {row['tokens_per_s']:10.0f} {row['peak_memory_mb']:9.0f}")
    print(f"ratio feedbackgym/trl: episodes/s {ratios['episodes_per_s']:.2f}, tokens/s {ratios['tokens_per_s']:.2f}, "
          f"s/update {ratios['seconds_per_update']:.2f} (goal: throughput ratio >= 1)")
    print("peak memory on CPU is the process's maximum resident size so far: TRL's row includes everything before it")
    if options.out:
        with open(options.out, "w", encoding="utf-8") as handle:
            json.dump({"options": vars(options), "results": results, "ratios": ratios}, handle, indent=2)


if __name__ == "__main__":
    main()
