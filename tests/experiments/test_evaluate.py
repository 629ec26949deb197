"""The Hydra app: every config composes, the main job runs, resumes, and bad configs say what is wrong."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from feedbackgym.experiments.evaluate import ConfigError, run_experiment

CONF = Path(__file__).resolve().parents[2] / "conf"
GROUP_ROOTS = (CONF / "common", CONF / "run")
GROUP_MOUNTS = {"agent": "agent@agents.solver_0", "env": "env", "task": "task", "wrapper": "wrapper", "experiment": "experiment"}


def config(*overrides: str):
    with initialize_config_module(config_module="feedbackgym.conf.run", version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def all_options() -> list[tuple[str, str]]:
    options = []
    for group_dir in sorted((p for root in GROUP_ROOTS for p in root.iterdir() if p.is_dir() and p.name in GROUP_MOUNTS), key=lambda p: p.name):
        options.extend((group_dir.name, f.stem) for f in sorted(group_dir.glob("*.yaml")))
    return options


def test_every_group_has_options() -> None:
    groups = {group for group, _ in all_options()}
    assert groups == set(GROUP_MOUNTS)


@pytest.mark.parametrize(("group", "option"), all_options())
def test_every_config_composes(group: str, option: str) -> None:
    cfg = config(f"{GROUP_MOUNTS[group]}={option}")
    assert cfg.env.id
    assert {"solver_0", "teacher_0"} <= set(cfg.agents)
    if group == "agent":
        assert cfg.agents.solver_0.name  # an agent option names a registered agent
    if group == "env":
        from feedbackgym.envs import registry

        assert cfg.env.id in registry  # an env option names a registered id


def test_experiment_overlay_wins_over_defaults() -> None:
    cfg = config()
    assert cfg.experiment.name == "feedback_ladder"
    assert set(cfg.experiment.conditions) == {
        "none", "unary", "binary", "critique", "critique_with_answer", "critique_with_solution"
    }


def small(*overrides: str):
    return config("run.episodes=4", "run.progress=false", "run.concurrency=3", *overrides)


def test_main_job_smoke(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="feedbackgym")
    rows = run_experiment(small(), tmp_path)
    assert [row["condition"] for row in rows] == [
        "none", "unary", "binary", "critique", "critique_with_answer", "critique_with_solution"
    ]
    assert all(row["episodes"] == 4 and row["errors"] == 0 for row in rows)
    with (tmp_path / "results.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == 6 and "acc@10" in table[0]
    lines = (tmp_path / "episodes.jsonl").read_text().splitlines()
    assert len(lines) == 24
    record = json.loads(lines[0])
    assert record["transcript"] and "cumulative_accuracy" in record["metrics"]
    assert (tmp_path / "feedback_ladder.png").stat().st_size > 1000
    assert "acc@1" in caplog.text  # the table goes to the log (console and <app>.log)


def test_resume_skips_finished_episodes(tmp_path: Path) -> None:
    cfg = small("experiment=single", "run.plot=false")
    run_experiment(cfg, tmp_path)
    path = tmp_path / "episodes.jsonl"
    lines = path.read_text().splitlines()
    # simulate a run killed mid-write: drop two episodes, leave a torn line behind
    path.write_text("\n".join(lines[:2]) + "\n" + lines[2][:50])
    run_experiment(cfg, tmp_path)
    records = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{") and line.endswith("}")]
    ids = [r["episode_id"] for r in records]
    assert sorted(ids) == sorted({f"default/{i}" for i in range(4)})  # each episode exactly once
    rerun = {r["episode_id"]: r for r in records}
    first = {json.loads(line)["episode_id"]: json.loads(line) for line in lines}
    assert all(rerun[i]["transcript"] == first[i]["transcript"] for i in first)  # same seeds, same episodes


def test_bad_config_values_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="feedback_level must be one of"):
        run_experiment(small("experiment=single", "env.kwargs.feedback_level=medium"), tmp_path)
    with pytest.raises(ConfigError, match="Did you mean `friction_solver`"):
        run_experiment(small("experiment=single", "agents.solver_0.name=friction_solvr"), tmp_path)
    with pytest.raises(ConfigError, match="unknown argument"):
        run_experiment(small("experiment=single", "+agents.solver_0.stickyness=0.2"), tmp_path)
    with pytest.raises(ConfigError, match="Did you mean `SolverFeedback-v0`"):
        run_experiment(small("experiment=single", "env.id=SolverFeedbak-v0"), tmp_path)
    with pytest.raises(ConfigError, match="run.episodes"):
        run_experiment(small("experiment=single", "run.episodes=0"), tmp_path)


def test_wrapper_group_changes_what_the_solver_reads(tmp_path: Path) -> None:
    cfg = small("experiment=single", "wrapper=unary", "env.kwargs.feedback_level=critique_with_answer", "run.plot=false")
    run_experiment(cfg, tmp_path)
    records = [json.loads(line) for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    shown = [m["text"] for r in records for m in r["transcript"] if m["kind"] == "feedback" and "solver_0" in m["visible_to"]]
    assert shown and set(shown) == {"Incorrect. Please think again."}
    assert OmegaConf.select(cfg, "wrapper.name") == "unary_feedback"


def test_env_variants_keep_their_own_task_unless_one_is_chosen() -> None:
    from feedbackgym.experiments.evaluate import env_factory

    ff = env_factory(config("experiment=single", "env=solver_feedback_ff"))("default")
    assert ff.unwrapped.task_source.name == "multiplication"  # the variant's task, not a default overlay
    chosen = env_factory(config("experiment=single", "env=solver_feedback_ff", "task=hex_multiplication"))("default")
    assert chosen.unwrapped.task_source.describe()["base"] == 16
