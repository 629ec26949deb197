"""The README's commands work as printed: they compose, pass the configuration checks, state the
episode counts behind their figures, and the GSM8K command reads real GSM8K records."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from feedbackgym.experiments.configuration import check_condition_overrides, check_required
from feedbackgym.experiments.evaluate import check_run_options, conditions_of, run_experiment

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
# Figures the README prints beside each experiment, and the episode count that reproduces them.
FIGURE_EPISODES = {"negotiation_selfplay": 200, "user_reactions": 200, "deceptive_judge": 1000, "deceptive_judge_workflows": 2000,
                   "critic_training_rewards": 2000, "judge_protocol": 2000}


def hydra_config(*overrides: str):
    with initialize_config_module(config_module="feedbackgym.conf.run", version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=True)


def code_block_commands() -> list[list[str]]:
    """Every `feedbackgym run ...` line in the README's bash blocks, continuations joined, comments dropped."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("feedbackgym run"):
                words = shlex.split(line.split(" #")[0])[2:]
                commands.append(words)
    return commands


def as_overrides(words: list[str]) -> list[str]:
    """Overrides as compose takes them: no --multirun, the first value of a sweep."""
    return [re.sub(r"=([^,{\[]+),.*$", r"=\1", w) for w in words if not w.startswith("--")]


def test_every_experiment_command_states_the_episodes_behind_its_figures() -> None:
    stated = dict(re.findall(r"feedbackgym run experiment=(\w+) run\.episodes=(\d+)", README))
    for experiment, episodes in FIGURE_EPISODES.items():
        assert stated.get(experiment) == str(episodes), experiment
    for match in re.finditer(r"feedbackgym run experiment=(\w+)([^`\n]*)", README):
        if match.group(1) in FIGURE_EPISODES:
            assert "run.episodes=" in match.group(2), match.group(0)


def test_experiment_configs_say_the_same_counts() -> None:
    for experiment, episodes in FIGURE_EPISODES.items():
        text = (REPO / "conf" / "run" / "experiment" / f"{experiment}.yaml").read_text()
        assert f"feedbackgym run experiment={experiment} run.episodes={episodes}" in text


def test_user_reactions_prints_the_turn_windows_of_the_readme_table() -> None:
    cfg = hydra_config("experiment=user_reactions")
    summary = list(cfg.experiment.summary)
    assert {"love@1-5", "love@26-30", "utility@1-5", "utility@26-30", "win@1-5", "win@26-30"} <= set(summary)
    assert "love rate, turns 1-5 → 26-30" in README


@pytest.mark.parametrize("words", code_block_commands(), ids=lambda words: " ".join(words)[:60])
def test_each_readme_command_composes_and_passes_the_checks(words: list[str]) -> None:
    overrides = as_overrides(words)
    cfg = hydra_config(*overrides)
    check_run_options(cfg)
    check_condition_overrides(overrides, conditions_of(cfg), str(cfg.experiment.name))
    if "task=jsonl" not in overrides:
        check_required(cfg, ("env", "agents", "wrapper", "experiment"))


def test_the_gsm8k_command_reads_real_gsm8k_records(tmp_path: Path) -> None:
    records = [
        {"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
                     "How many clips did Natalia sell altogether in April and May?",
         "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72"},
        {"question": "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?",
         "answer": "Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\nWorking 50 minutes, she earned 0.2 x 50 = $<<0.2*50=10>>10.\n#### 10"},
    ]
    data = tmp_path / "gsm8k.jsonl"
    data.write_text("".join(json.dumps(record) + "\n" for record in records))
    (command,) = [words for words in code_block_commands() if "task=jsonl" in words]
    overrides = [w.replace("/data/gsm8k.jsonl", str(data)) for w in command]
    rows = run_experiment(hydra_config(*overrides, "run.episodes=2", "run.progress=false", "run.plot=false"), tmp_path / "run")
    assert rows and all(row["errors"] == 0 for row in rows)
    episode = json.loads((tmp_path / "run" / "episodes.jsonl").read_text().splitlines()[0])
    assert episode["transcript"][0]["text"] in {r["question"] for r in records}
    assert episode["metrics"]["solved"] in (True, False)


def test_the_figures_do_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    """Same seeds, same episodes in any process: a round table's majority vote once broke ties by set order."""
    import os
    import subprocess
    import sys

    transcripts = []
    for hash_seed in ("0", "1"):
        folder = tmp_path / hash_seed
        done = subprocess.run([sys.executable, "-m", "feedbackgym.experiments.cli", "run", "experiment=deceptive_judge_workflows",
                               "run.episodes=40", "run.progress=false", "run.plot=false", "run.concurrency=1", f"hydra.run.dir={folder}"],
                              capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONHASHSEED": hash_seed})
        assert done.returncode == 0, done.stderr
        records = [json.loads(line) for line in (folder / "episodes.jsonl").read_text().splitlines()]
        transcripts.append({r["episode_id"]: [m["text"] for m in r["transcript"]] for r in records})
    assert transcripts[0] == transcripts[1]
