"""A tiny language model for the hf agent's tests, built in memory: no download, no hub.

The tokenizer is a byte-level BPE trained on a few sentences (so it can spell any text an
environment shows) with ChatML's special tokens and chat template; the model is a randomly
initialised two-layer Llama over that vocabulary.
"""

from __future__ import annotations

from typing import Any

import pytest

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "The answer is \\boxed{42}. Answer: B",
    "Your answer is incorrect. Please try again; think step by step.",
    "<think> reasoning </think> <answer> 7 </answer> correct incorrect",
    "I offer 12 dollars for the balloon. Deal? Accept. Reject. Switch. Keep.",
    "Question: In what year was the cartographer born? Choices: (A) 1704 (B) 1695",
    "Critique: the second step is wrong. Verdict: correct. Score 0.7 recommendation user",
]


def build_tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    core.train_from_iterator(CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token="<|endoftext|>")
    tokenizer.chat_template = CHATML
    return tokenizer


def build_model(tokenizer: Any, seed: int = 0) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    model = LlamaForCausalLM(config)
    model.eval()
    return model


@pytest.fixture(scope="session")
def tiny_lm() -> tuple[Any, Any]:
    """(model, tokenizer): a random two-layer Llama and a byte-level BPE tokenizer with a ChatML template."""
    pytest.importorskip("transformers")
    import torch

    torch.set_num_threads(1)
    tokenizer = build_tokenizer()
    return build_model(tokenizer), tokenizer
