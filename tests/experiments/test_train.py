"""`feedbackgym train`: every training config composes, each experiment runs with a tiny budget, and bad configs say what is wrong."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

pytest.importorskip("torch")

from feedbackgym.experiments.evaluate import ConfigError  # noqa: E402
from feedbackgym.experiments.train import Setup, conditions_of, run_training, steps_to_threshold  # noqa: E402

CONF = Path(__file__).resolve().parents[2] / "conf" / "train"
# PPO overlays; the language-model overlays (lm_*) are composed and checked in tests/agents/test_lm_train.py
TRAININGS = sorted(p.stem for p in (CONF / "training").glob("*.yaml") if not p.stem.startswith("lm_"))
TINY = ["ppo.total_timesteps=128", "ppo.num_envs=2", "ppo.num_steps=32", "train.eval_episodes=3", "train.workers=1", "train.seeds=[1]"]


def config(*overrides: str):
    with initialize_config_module(config_module="feedbackgym.conf.train", version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


def table(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_the_experiments_are_there() -> None:
    assert {"single", "try_again", "feedback_richness", "negotiation_rl", "selfplay_negotiation", "selfplay_judge"} <= set(TRAININGS)


@pytest.mark.parametrize("training", TRAININGS)
def test_every_training_config_composes_and_builds(training: str) -> None:
    cfg = config(f"training={training}")
    assert cfg.train.name == training and cfg.learners
    for condition in conditions_of(cfg):
        setup = Setup(cfg, condition)  # builds the env and checks that every role has a learner or an agent
        assert setup.roles


def test_train_command_smoke(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "feedbackgym.experiments.cli", "train", *TINY, f"hydra.run.dir={tmp_path}"],
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    run = tmp_path / "default" / "seed1"
    assert (run / "solver_0.pt").stat().st_size > 1000
    curve = table(run / "solver_0.csv")
    assert len(curve) == 2 and {"charts/episodic_return", "losses/value_loss", "losses/policy_loss", "losses/entropy", "charts/SPS"} <= set(curve[0])
    assert (tmp_path / "learning_curves.png").stat().st_size > 1000
    rows = table(tmp_path / "results.csv")
    assert rows[0]["condition"] == "default" and "acc@5" in rows[0]
    assert "single" in completed.stdout


def test_try_again_tiny(tmp_path: Path) -> None:
    rows = run_training(config("training=try_again", *TINY, "train.seeds=[1,2]"), tmp_path)
    assert [row["condition"] for row in rows] == ["multi_turn", "single_turn"]
    assert all(row["seeds"] == 2 and row["episodes"] == 3 for row in rows)
    assert {"acc@5", "acc@5_std", "unique_answer_ratio", "solver_0/train_steps"} <= set(rows[0])
    by_seed = table(tmp_path / "results_by_seed.csv")
    assert [(r["condition"], r["seed"]) for r in by_seed] == [("multi_turn", "1"), ("multi_turn", "2"), ("single_turn", "1"), ("single_turn", "2")]
    assert (tmp_path / "try_again.png").exists() and (tmp_path / "learning_curves.png").exists()
    page = (tmp_path / "report.html").read_text(encoding="utf-8")  # written at the end by default
    assert "multi_turn" in page and "single_turn" in page
    # the single-turn policy trained on one-attempt episodes and is evaluated with five
    single = table(tmp_path / "single_turn" / "seed1" / "solver_0.csv")
    assert float(single[-1]["charts/episodic_length"]) == 1.0


def test_feedback_richness_reports_steps_to_threshold(tmp_path: Path) -> None:
    rows = run_training(config("training=feedback_richness", *TINY, "train.threshold=0.0", "train.threshold_window=1"), tmp_path)
    assert [row["condition"] for row in rows] == ["unary", "binary", "text"]
    assert all(row["solver_0/steps_to_solved>=0.0"] == 64.0 and row["solver_0/seeds_reaching_solved>=0.0"] == 1 for row in rows)


def test_negotiation_rl_tiny_with_a_scripted_baseline(tmp_path: Path) -> None:
    rows = run_training(config("training=negotiation_rl", *TINY, "train.report=false"), tmp_path)
    assert not (tmp_path / "report.html").exists()
    by_condition = {row["condition"]: row for row in rows}
    assert set(by_condition) == {"ppo_seller", "scripted_seller"}
    assert (tmp_path / "ppo_seller" / "seed1" / "seller_0.pt").exists()
    assert not (tmp_path / "scripted_seller" / "seed1" / "seller_0.pt").exists()
    assert "return/seller_0" in by_condition["ppo_seller"] and "deal_rate" in by_condition["scripted_seller"]


@pytest.mark.parametrize(("training", "learners"), [("selfplay_negotiation", ("seller_0", "buyer_0")), ("selfplay_judge", ("solver_0", "judge_0"))])
def test_self_play_trains_every_learner(tmp_path: Path, training: str, learners: tuple[str, str]) -> None:
    rows = run_training(config(f"training={training}", *TINY, "train.phases=2"), tmp_path)
    assert [row["condition"] for row in rows] == ["selfplay", "scripted_pair"]
    run = tmp_path / "selfplay" / "seed1"
    for role in learners:
        assert (run / f"{role}.pt").exists()
        assert [row["global_step"] for row in table(run / f"{role}.csv")] == ["64", "128"]  # one update per phase, the count carried on
    episodes = (run / "episodes.jsonl").read_text().splitlines()
    assert len(episodes) == 3


def test_steps_to_threshold(tmp_path: Path) -> None:
    path = tmp_path / "curve.csv"
    path.write_text("global_step,metrics/solved\n100,0.1\n200,0.5\n300,0.6\n400,0.7\n500,0.2\n")
    assert steps_to_threshold(str(path), "metrics/solved", 0.5) == 400.0  # the mean of the last 3 updates
    assert steps_to_threshold(str(path), "metrics/solved", 0.9) is None


def test_bad_configs_say_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match="not agents of"):
        Setup(config("training=single", "+learners.judge_0={kind: judge}"), "default")
    with pytest.raises(ConfigError, match="train.mode=alternating"):
        Setup(config("training=selfplay_negotiation", "train.mode=fixed"), "selfplay")
    with pytest.raises(ConfigError, match="unknown keys"):
        conditions_of(config("training=single", "+train.conditions={a: {trian: {}}}"))
