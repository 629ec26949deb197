"""Hostile input to the experiments layer: wrongly shaped config sections, damaged run folders and sweep
tables, each a clear error naming the field (or a repair), never a crash deep inside or a silent mix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from feedbackgym.experiments.evaluate import ConfigError, run_experiment


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
