"""The negotiation_selfplay and user_reactions experiments compose, run with tiny budgets, and write a table and a plot."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from feedbackgym.experiments.evaluate import agent_specs, run_experiment


def config(*overrides: str):
    with initialize_config_module(config_module="feedbackgym.conf.run", version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def tiny(experiment: str, *overrides: str):
    return config(f"experiment={experiment}", "run.episodes=3", "run.progress=false", "run.concurrency=2", *overrides)


def test_negotiation_selfplay_composes_with_its_own_env_task_and_agents() -> None:
    cfg = tiny("negotiation_selfplay")
    assert cfg.env.id == "Negotiation-v0" and "task" not in cfg.env.kwargs
    specs = agent_specs(cfg, "critic", roles=["seller_0", "buyer_0", "critic_0"])
    assert specs["seller_0"]["name"] == specs["buyer_0"]["name"] == "concession_negotiator"
    assert specs["buyer_0"]["beta"] == 1.3 and specs["seller_0"]["beta"] == 1.0  # the experiment's rival setting wins
    assert specs["critic_0"]["name"] == "critic_coach"


def test_negotiation_selfplay_smoke(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="feedbackgym")
    rows = run_experiment(tiny("negotiation_selfplay"), tmp_path)
    assert [row["condition"] for row in rows] == ["critic", "human_pool", "constant", "none"]
    assert all(row["episodes"] == 3 and row["errors"] == 0 for row in rows)
    with (tmp_path / "results.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert {"deal_price@1", "deal_price@5", "deal@5", "price_change@2", "turns@1", "return/seller_0"} <= set(table[0])
    assert (tmp_path / "negotiation_selfplay.png").stat().st_size > 1000
    records = [json.loads(line) for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    assert len(records) == 12 and all(len(r["metrics"]["deal_price"]) == 5 for r in records)
    critic_moves = [m for r in records if r["condition"] == "critic" for m in r["transcript"] if m["sender"] == "critic_0" and m["kind"] == "move"]
    assert critic_moves and all(m["text"].startswith("1. ") for m in critic_moves)
    assert "deal_price@2" in caplog.text  # the table goes to the log (console and <app>.log)


def test_user_reactions_smoke(tmp_path: Path) -> None:
    rows = run_experiment(tiny("user_reactions", "env.kwargs.max_turns=6"), tmp_path)
    by_condition = {row["condition"]: row for row in rows}
    assert list(by_condition) == ["reaction_tuned", "utility_tuned", "mixed", "preference_tuned"]
    assert all(row["errors"] == 0 for row in rows)
    assert {"love@1", "love@6", "utility@6", "signal_utility_gap"} <= set(by_condition["reaction_tuned"])
    assert {"win@1", "pool_agreement", "utility@6"} <= set(by_condition["preference_tuned"])
    assert "love@1" not in by_condition["preference_tuned"]
    assert (tmp_path / "user_reactions.png").stat().st_size > 1000


def test_the_experiments_are_deterministic(tmp_path: Path) -> None:
    first = run_experiment(tiny("negotiation_selfplay", "run.plot=false"), tmp_path / "a")
    second = run_experiment(tiny("negotiation_selfplay", "run.plot=false"), tmp_path / "b")
    assert first == second
