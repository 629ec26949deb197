"""The judges-and-critics experiments compose, run with tiny budgets, and write a table and a plot."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import open_dict

from feedbackgym.experiments.evaluate import ConfigError, conditions_of, run_experiment

EXPERIMENTS = {
    "deceptive_judge": ("DeceptiveJudge-v0", {"solver_0": "susceptible_solver", "judge_0": "intent_judge"}, 18),
    "deceptive_judge_workflows": ("DeceptiveJudge-v0", {"peer_0": "honest_peer", "moderator_0": "scripted_moderator"}, 6),
    "critic_training_rewards": ("Critic-v0", {"critic_0": "scripted_critic", "actor_0": "scripted_actor"}, 8),
    "judge_protocol": ("JudgeProtocol-v0", {"generator_0": "scripted_generator", "judge_0": "distractible_judge"}, 10),
}


def config(*overrides: str):
    with initialize_config_module(config_module="feedbackgym.conf.run", version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def small(experiment: str, *overrides: str):
    return config(f"experiment={experiment}", "run.episodes=2", "run.progress=false", "run.concurrency=4", *overrides)


@pytest.mark.parametrize("experiment", sorted(EXPERIMENTS))
def test_overlay_composes(experiment: str) -> None:
    env_id, agents, n_conditions = EXPERIMENTS[experiment]
    cfg = config(f"experiment={experiment}")
    assert cfg.env.id == env_id and cfg.experiment.name == experiment
    assert all(cfg.agents[role].name == name for role, name in agents.items())
    assert len(cfg.experiment.conditions) == n_conditions


def test_command_line_overrides_win_over_the_overlay() -> None:
    cfg = config("experiment=deceptive_judge", "agent@agents.solver_0=susceptible_solver_reasoning", "agents.judge_0.p_detect=0.5", "task=arithmetic")
    assert cfg.agents.solver_0.preset == "reasoning" and cfg.agents.judge_0.p_detect == 0.5
    assert cfg.env.kwargs.task == "arithmetic"


def read_table(path: Path) -> dict[str, dict[str, str]]:
    with path.open() as handle:
        return {row["condition"]: row for row in csv.DictReader(handle)}


def test_deceptive_judge_smoke(tmp_path: Path) -> None:
    rows = run_experiment(small("deceptive_judge"), tmp_path)
    assert len(rows) == 18 and all(row["episodes"] == 2 and row["errors"] == 0 for row in rows)
    table = read_table(tmp_path / "results.csv")
    assert {"flip_ci@1", "flip_ci@5", "accuracy@5", "answer_changes"} <= set(next(iter(table.values())))
    assert float(table["non_reasoning/constructive/grounded"].get("flip_ci@5") or 0) == 0.0  # constructive judges never attack right answers
    assert float(table["reasoning/malicious/none"]["interventions_on_wrong"]) == 0.0
    assert (tmp_path / "deceptive_judge.png").stat().st_size > 1000


def test_deceptive_judge_workflows_smoke(tmp_path: Path) -> None:
    # conditions differ in their agents (peers, a moderator): every mounted role is built and used where it exists
    rows = run_experiment(small("deceptive_judge_workflows", "run.plot=false"), tmp_path)
    assert [row["condition"] for row in rows][:3] == ["non_reasoning/gen_eval", "non_reasoning/round_table", "non_reasoning/moderator"]
    assert all(row["errors"] == 0 for row in rows)


def test_critic_training_rewards_smoke(tmp_path: Path) -> None:
    rows = {row["condition"]: row for row in run_experiment(small("critic_training_rewards"), tmp_path)}
    assert rows["oracle"]["reward_stage1"] == 1.0 and rows["oracle"]["verdict_correct"] == 1.0
    assert rows["no_verdict"]["reward_stage1"] == -1.0 and rows["no_verdict"]["invalid_moves"] == 3.0
    assert {"reward_refine_only", "reward_stage2", "reward_refcritic", "true_positive", "delta"} <= set(rows["random"]) | set(rows["oracle"])
    assert (tmp_path / "critic_training_rewards.png").stat().st_size > 1000


def test_judge_protocol_smoke(tmp_path: Path) -> None:
    rows = {row["condition"]: row for row in run_experiment(small("judge_protocol"), tmp_path)}
    assert len(rows) == 10 and all(row["errors"] == 0 for row in rows.values())
    assert "flip" not in rows["pairwise/none"]  # nothing to flip without a distractor
    assert 0.0 <= rows["pairwise/assertive"]["flip"] <= 1.0 and rows["pointwise/verbose"]["judge_calls"] == 3.0
    assert (tmp_path / "judge_protocol.png").stat().st_size > 1000


def test_conditions_may_add_wrappers() -> None:
    cfg = config("experiment=judge_protocol")
    conditions = conditions_of(cfg)
    assert conditions["pairwise/none"]["wrappers"] == []
    assert conditions["pointwise/sycophantic"] == {"env": {"protocol": "pointwise"}, "agents": {}, "wrappers": [("distractor", {"kind": "sycophantic"})]}
    assert conditions_of(config("experiment=feedback_ladder"))["unary"] == {"env": {"feedback_level": "unary"}, "agents": {}, "wrappers": []}


def test_a_bad_condition_wrapper_names_the_condition(tmp_path: Path) -> None:
    cfg = small("judge_protocol")
    with open_dict(cfg):
        cfg.experiment.conditions["pairwise/none"]["wrappers"] = ["distracter"]
    with pytest.raises(ConfigError, match=r"condition 'pairwise/none'.*Did you mean `distractor`"):
        run_experiment(cfg, tmp_path)
