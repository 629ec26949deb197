"""Runs you can trust: resume never reports stale results, configuration mistakes are errors said once,
failures are loud (issue 9)."""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_module

from feedbackgym.agents import Agent, register_agent
from feedbackgym.agents.base import AgentConfigurationError
from feedbackgym.experiments.evaluate import ConfigError, RunFailed, env_factory, run_experiment

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "feedbackgym.experiments.cli"]


def hydra_config(*overrides: str):
    """A config as `feedbackgym run` composes it, with the hydra node (overrides, group choices)."""
    with initialize_config_module(config_module="feedbackgym.conf.run", version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=True)


def small(*overrides: str):
    return hydra_config("run.episodes=3", "run.progress=false", "run.plot=false", "run.concurrency=2", *overrides)


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**os.environ, **(env or {})})


# ----------------------------------------------------------------------------------------- resume
def test_resuming_a_folder_of_another_experiment_is_refused(tmp_path: Path) -> None:
    first = run_experiment(small("experiment=single"), tmp_path)
    assert first[0]["episodes"] == 3
    with pytest.raises(ConfigError) as raised:
        run_experiment(small("experiment=single", "env.kwargs.max_turns=3"), tmp_path)
    message = str(raised.value)
    assert "env.kwargs.max_turns" in message and "10 -> 3" in message
    assert "hydra.run.dir" in message and "run.resume=false" in message  # the two ways out


def test_resume_false_starts_the_folder_afresh(tmp_path: Path) -> None:
    run_experiment(small("experiment=single"), tmp_path)
    rows = run_experiment(small("experiment=single", "env.kwargs.max_turns=3", "run.resume=false"), tmp_path)
    records = [json.loads(line) for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    assert len(records) == 3 and rows[0]["episodes"] == 3
    assert all(len(r["metrics"]["cumulative_accuracy"]) == 3 for r in records)  # the new 3-turn episodes only


def test_more_episodes_and_presentation_changes_still_resume(tmp_path: Path) -> None:
    run_experiment(small("experiment=single"), tmp_path)
    rows = run_experiment(small("experiment=single", "run.episodes=5", "run.concurrency=1", "run.plot=true"), tmp_path)
    assert rows[0]["episodes"] == 5
    assert len((tmp_path / "episodes.jsonl").read_text().splitlines()) == 5


def test_a_torn_last_line_is_repaired_on_resume(tmp_path: Path) -> None:
    cfg = small("experiment=single")
    run_experiment(cfg, tmp_path)
    path = tmp_path / "episodes.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:2]) + "\n" + lines[2][:50])  # killed mid-write
    run_experiment(cfg, tmp_path)
    records = [json.loads(line) for line in path.read_text().splitlines()]  # every line is whole JSON
    assert sorted(r["episode_id"] for r in records) == ["default/0", "default/1", "default/2"]


# ------------------------------------------------------------------------------ configuration
def test_an_override_that_a_condition_replaces_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"env.kwargs.feedback_level=critique: experiment feedback_ladder sets env.kwargs.feedback_level"):
        run_experiment(small("env.kwargs.feedback_level=critique"), tmp_path)
    with pytest.raises(ConfigError, match=r"judge_intent=evil: experiment deceptive_judge sets env.kwargs.judge_intent .*non_reasoning/constructive/none"):
        run_experiment(small("experiment=deceptive_judge", "env.kwargs.judge_intent=evil"), tmp_path)
    with pytest.raises(ConfigError, match=r"agents.solver_0.preset"):
        run_experiment(small("experiment=deceptive_judge", "agents.solver_0.preset=reasoning"), tmp_path)
    assert not (tmp_path / "episodes.jsonl").exists()
    # an override of a key no condition sets is fine
    run_experiment(small("env.kwargs.max_turns=2", "run.episodes=1"), tmp_path)


def test_env_id_of_a_registered_variant_gives_that_variant() -> None:
    ufo = env_factory(hydra_config("experiment=single", "env.id=SolverFeedback-UFO-v0"))("default").unwrapped
    assert (ufo.max_turns, ufo.reward_scheme, ufo.show_reward) == (5, "ufo", True)
    mine = env_factory(hydra_config("experiment=single", "env.id=SolverFeedback-UFO-v0", "env.kwargs.max_turns=7"))("default").unwrapped
    assert (mine.max_turns, mine.reward_scheme) == (7, "ufo")  # the user's explicit value on top of the variant's
    base = env_factory(hydra_config("experiment=single"))("default").unwrapped
    assert (base.max_turns, base.reward_scheme) == (10, "success")


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("run.episodes=2.5", "run.episodes must be an integer in 1..1000000, got 2.5"),
        ("run.episodes=abc", "run.episodes must be an integer in 1..1000000, got 'abc'"),
        ("run.episodes=0", "run.episodes must be an integer in 1..1000000"),
        ("run.seed=1.7", "run.seed must be an integer >= 0, got 1.7"),
        ("run.resume=perhaps", "run.resume must be true or false, got 'perhaps'"),
        ("run.plot=nope", "run.plot must be true or false, got 'nope'"),
        ("run.progress=2", "run.progress must be true or false"),
        ("run.concurrency=0", "run.concurrency must be an integer >= 1, got 0"),
        ("+run.episode=4", "run has unknown option(s) episode; known: episodes"),
    ],
)
def test_run_options_are_checked(tmp_path: Path, override: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        run_experiment(small("experiment=single", override), tmp_path)


def test_jsonl_without_a_path_names_the_required_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape("env.kwargs.task_kwargs.path is required")):
        run_experiment(small("experiment=single", "task=jsonl"), tmp_path)


def test_the_missing_agent_hint_runs_as_printed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        run_experiment(small("env=negotiation", "task=none", "experiment=single"), tmp_path)
    hint = re.findall(r"\+agent@agents\.\w+=\w+", str(raised.value))
    assert len(hint) == 3
    rows = run_experiment(small("env=negotiation", "task=none", "experiment=single", "run.episodes=1", *hint), tmp_path)
    assert rows[0]["errors"] == 0


def test_the_commands_in_env_config_comments_compose(tmp_path: Path) -> None:
    for path in sorted((REPO / "conf" / "common" / "env").glob("*.yaml")):
        text = path.read_text()
        command = re.sub(r"\\\n#\s*", " ", text)  # join continued comment lines
        for match in re.finditer(r"feedbackgym run ([^\n]+)", command):
            args = shlex.split(match.group(1))
            rows = run_experiment(small(*args, "run.episodes=1"), tmp_path / path.stem)
            assert rows and rows[0]["errors"] == 0, path.name


def test_a_configuration_error_is_one_or_two_lines_without_traceback(tmp_path: Path) -> None:
    done = cli("run", "experiment=deceptive_judge", "env.kwargs.judge_intent=evil", f"hydra.run.dir={tmp_path}")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and 1 <= len(done.stderr.strip().splitlines()) <= 2
    assert "configuration error" in done.stderr and "judge_intent" in done.stderr
    assert "judge_intent" in (tmp_path / "evaluate.log").read_text()  # and it is in the job's log
    full = cli("run", "run.episodes=abc", f"hydra.run.dir={tmp_path / 'full'}", env={"HYDRA_FULL_ERROR": "1"})
    assert full.returncode != 0 and "Traceback" in full.stderr and "run.episodes" in full.stderr


# ------------------------------------------------------------------------------------- failures
@register_agent("test_failing_solver")
class FailingSolver(Agent):
    """Raises on every episode (``every=1``) or on every other one (``every=2``); answers 7 otherwise."""

    def __init__(self, every: int = 1, seed: int | None = None) -> None:
        super().__init__(seed)
        self.every, self.episodes = every, 0

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self.episodes += 1

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        if self.episodes % self.every == 0:
            raise RuntimeError("the model went away")
        return "\\boxed{7}"


def test_a_run_in_which_every_episode_errored_fails(tmp_path: Path) -> None:
    with pytest.raises(RunFailed, match="every episode errored .*the model went away"):
        run_experiment(small("experiment=single", "~agents.solver_0", "+agents.solver_0.name=test_failing_solver"), tmp_path)


def test_partial_errors_show_over_how_many_episodes_metrics_are_taken(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="feedbackgym")
    cfg = small("experiment=single", "~agents.solver_0", "+agents.solver_0.name=test_failing_solver", "+agents.solver_0.every=2",
                "run.episodes=4", "run.concurrency=1")
    rows = run_experiment(cfg, tmp_path)
    assert (rows[0]["episodes"], rows[0]["errors"], rows[0]["scored"]) == (4, 2, 2)
    header = next(message for message in caplog.messages if message.startswith("condition"))
    assert header.split()[:4] == ["condition", "episodes", "errors", "scored"]
    assert "2 of 4 episodes errored" in caplog.text and "scored (error-free) episodes" in caplog.text


class ConfigFault(Agent):
    calls = 0

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        ConfigFault.calls += 1
        raise AgentConfigurationError("no API key")


async def test_an_agent_configuration_error_stops_the_run(tmp_path: Path) -> None:
    from feedbackgym.agents import make_agent
    from feedbackgym.envs import make
    from feedbackgym.experiments.runner import EpisodeJob, run_episodes

    ConfigFault.calls = 0
    jobs = [EpisodeJob(str(i), i) for i in range(20)]
    with pytest.raises(AgentConfigurationError, match="no API key"):
        await run_episodes(jobs, lambda c: make("SolverFeedback-v0"), lambda c: {"solver_0": ConfigFault(), "teacher_0": make_agent("scripted_teacher")},
                           concurrency=2, output=tmp_path / "episodes.jsonl")
    assert ConfigFault.calls <= 2  # stopped at once, not once per episode


def test_an_llm_agent_whose_endpoint_never_answers_stops_the_run(tmp_path: Path) -> None:
    cfg = small("experiment=single", "agent@agents.solver_0=llm", "agents.solver_0.model=openai/some-model",
                "agents.solver_0.api_base=http://127.0.0.1:9/v1", "agents.solver_0.max_retries=0", "agents.solver_0.timeout=5")
    with pytest.raises(AgentConfigurationError, match="some-model"):
        run_experiment(cfg, tmp_path)


def test_an_llm_agent_without_credentials_stops_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(AgentConfigurationError, match="Missing credentials"):
        run_experiment(small("experiment=single", "agent@agents.solver_0=llm", "run.episodes=5"), tmp_path)


def test_configuration_faults_are_told_from_failed_requests() -> None:
    from feedbackgym.agents.llm.retry import is_configuration_error

    class AuthenticationError(Exception):
        pass

    class NotFoundError(Exception):
        pass

    class RateLimitError(Exception):
        pass

    class APIConnectionError(Exception):
        pass

    assert is_configuration_error(AuthenticationError("bad key")) and is_configuration_error(NotFoundError("no such model"))
    assert not is_configuration_error(RateLimitError("slow down"), first_call=True)
    assert is_configuration_error(APIConnectionError("refused"), first_call=True)  # never reached: the endpoint is wrong
    assert not is_configuration_error(APIConnectionError("refused"))  # it answered before: a passing outage


def test_the_job_log_has_the_table_and_list_survives_a_closed_pipe(tmp_path: Path) -> None:
    done = cli("run", "experiment=single", "run.episodes=2", "run.progress=false", "run.plot=false", f"hydra.run.dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    log = (tmp_path / "evaluate.log").read_text()
    assert "acc@1" in log and "wrote" in log
    listing = subprocess.Popen([*CLI, "list", "envs"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    listing.stdout.close()  # the reader leaves before the first line (feedbackgym list envs | head -0)
    _, err = listing.communicate(timeout=120)
    assert listing.returncode == 0 and b"BrokenPipeError" not in err and b"Traceback" not in err


def test_each_app_lists_only_its_own_groups(capsys: pytest.CaptureFixture[str]) -> None:
    from feedbackgym.experiments.cli import main

    assert main(["run", "--help"]) == 0
    run_help = capsys.readouterr().out
    assert "  experiment:" in run_help and "  env:" in run_help
    assert "  training:" not in run_help and "  ppo:" not in run_help
    assert main(["train", "--help"]) == 0
    train_help = capsys.readouterr().out
    assert "  training:" in train_help and "  ppo:" in train_help and "  experiment:" not in train_help


# --------------------------------------------------------------------------------------- training
@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("ppo.total_timesteps=abc", "ppo.total_timesteps must be an integer >= 1, got 'abc'"),
        ("ppo.anneal_lr=maybe", "ppo.anneal_lr must be true or false, got 'maybe'"),
        ("ppo.gamma=2", "ppo.gamma must be a finite number in [0, 1], got 2"),
        ("ppo.target_kl=abc", "ppo.target_kl must be a finite number >= 0, got 'abc'"),
        ("train.workers=0", "train.workers must be an integer >= 1, got 0"),
        ("train.seeds=[1.5]", "train.seeds[0] must be an integer >= 0, got 1.5"),
        ("train.eval_episodes=2.5", "train.eval_episodes must be an integer >= 1, got 2.5"),
        ("train.mode=sideways", "train.mode must be one of fixed, alternating, got 'sideways'"),
        ("+train.seed=3", "train has unknown option(s) seed"),
        ("train.report=maybe", "train.report must be true or false, got 'maybe'"),
    ],
)
def test_train_options_are_checked(tmp_path: Path, override: str, expected: str) -> None:
    pytest.importorskip("torch")
    from feedbackgym.experiments.train import run_training

    with initialize_config_module(config_module="feedbackgym.conf.train", version_base="1.3"):
        cfg = compose(config_name="train", overrides=[override])
    with pytest.raises(ConfigError, match=re.escape(expected)):
        run_training(cfg, tmp_path)


def test_train_log_has_the_table(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    done = cli("train", "training=negotiation_rl", "ppo.total_timesteps=256", "ppo.num_envs=2", "ppo.num_steps=32", "train.seeds=[1]",
               "train.workers=1", "train.eval_episodes=2", "train.plot=false", "train.tensorboard=false", f"hydra.run.dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    log = (tmp_path / "train.log").read_text()
    assert "ppo_seller" in log and "scripted_seller" in log and "runs in" in log
