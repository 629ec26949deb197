"""Your own code on the command line: a plugin package (entry points, run.plugins, FEEDBACKGYM_PLUGINS, its own conf/)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from feedbackgym.experiments.plugins import PluginError, conf_search_path, load_plugins, with_plugin_search_path

PLUGIN = {
    "fbg_demo_plugin/__init__.py": "",
    "fbg_demo_plugin/plugin.py": '''
        from feedbackgym.agents import register_agent
        from feedbackgym.envs import register


        @register_agent("demo_solver")
        class DemoSolver:
            """The whole agent protocol: act (no reset, aact, stats, base class)."""

            def act(self, observation, info):
                return "The answer is \\\\boxed{A}."


        register("DemoSolver-v0", "feedbackgym.envs.solver_feedback:SolverFeedbackEnv",
                 kwargs={"task": "knowledge_mcq", "max_turns": 2}, description="a plugin's variant")
    ''',
    "fbg_demo_plugin/extra.py": '''
        from feedbackgym.agents import register_agent


        @register_agent("extra_solver")
        class ExtraSolver:
            def act(self, observation, info):
                return "The answer is \\\\boxed{B}."
    ''',
    "fbg_demo_plugin/conf/__init__.py": "",
    "fbg_demo_plugin/conf/agent/demo_solver.yaml": "name: demo_solver\n",
    "fbg_demo_plugin/conf/env/demo.yaml": "id: DemoSolver-v0\nkwargs: {}\n",
    # an installed distribution, as pip leaves it: its entry points are what the CLI finds
    "fbg_demo_plugin-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: fbg-demo-plugin\nVersion: 0.1\n",
    "fbg_demo_plugin-0.1.dist-info/entry_points.txt": "[feedbackgym]\ndemo = fbg_demo_plugin.plugin\n\n[feedbackgym.conf]\ndemo = fbg_demo_plugin.conf\n",
}


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    for name, text in PLUGIN.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def cli(args: list[str], site: Path, **env: str) -> subprocess.CompletedProcess[str]:
    variables = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]), **env}
    return subprocess.run([sys.executable, "-m", "feedbackgym.experiments.cli", *args], capture_output=True, text=True,
                          timeout=240, env=variables)


def test_an_installed_plugin_runs_from_the_cli_with_its_own_configs(plugin_path: Path, tmp_path: Path) -> None:
    listed = cli(["list", "agents"], plugin_path)
    assert listed.returncode == 0 and "demo_solver" in listed.stdout
    out = tmp_path / "out"
    done = cli(["run", "env=demo", "agent@agents.solver_0=demo_solver", "experiment=single", "run.episodes=2", "run.plot=false",
                "run.progress=false", f"hydra.run.dir={out}"], plugin_path)
    assert done.returncode == 0, done.stderr[-2000:]
    records = [json.loads(line) for line in (out / "episodes.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["env_id"] for r in records] == ["DemoSolver-v0"] * 2
    assert all(m["text"] == "The answer is \\boxed{A}." for r in records for m in r["transcript"] if m["sender"] == "solver_0")
    # run.plugins imports a module no entry point names; its agent is then mountable by name
    out2 = tmp_path / "out2"
    extra = cli(["run", "env=demo", "agent@agents.solver_0=demo_solver", "agents.solver_0.name=extra_solver",
                 "run.plugins=[fbg_demo_plugin.extra]", "experiment=single", "run.episodes=1", "run.plot=false",
                 "run.progress=false", f"hydra.run.dir={out2}"], plugin_path)
    assert extra.returncode == 0, extra.stderr[-2000:]
    assert "\\boxed{B}" in (out2 / "episodes.jsonl").read_text(encoding="utf-8")


def test_a_plugin_that_cannot_be_imported_is_a_clear_error(plugin_path: Path, tmp_path: Path) -> None:
    bad = cli(["run", "run.plugins=[no_such_plugin_mod]", "experiment=single", "run.episodes=1", f"hydra.run.dir={tmp_path / 'o'}"], plugin_path)
    assert bad.returncode == 2 and "plugin 'no_such_plugin_mod' (from run.plugins) cannot be imported" in bad.stderr
    from_env = cli(["list", "agents"], plugin_path, FEEDBACKGYM_PLUGINS="fbg_demo_plugin.extra,nope_mod")
    assert from_env.returncode == 2 and "nope_mod" in from_env.stderr and "FEEDBACKGYM_PLUGINS" in from_env.stderr


def test_plugins_in_process(plugin_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from feedbackgym.agents import agent_registry
    from feedbackgym.envs import registry
    from feedbackgym.experiments import plugins

    # what the plugin registers here is removed afterwards: later tests enumerate the registries
    monkeypatch.setattr(agent_registry, "_entries", dict(agent_registry._entries))
    monkeypatch.setattr(plugins, "_loaded", set())
    monkeypatch.setitem(registry, "DemoSolver-v0", None)
    monkeypatch.delitem(registry, "DemoSolver-v0")
    monkeypatch.syspath_prepend(str(plugin_path))
    import importlib

    importlib.invalidate_caches()
    monkeypatch.setenv("FEEDBACKGYM_PLUGINS", "fbg_demo_plugin.extra")
    loaded = load_plugins(["fbg_demo_plugin.extra"])
    assert loaded[0] == "fbg_demo_plugin.plugin" and loaded.count("fbg_demo_plugin.extra") == 2  # imported once all the same
    assert conf_search_path() == ["pkg://fbg_demo_plugin.conf"]
    assert with_plugin_search_path(["x=1"])[-1] == "hydra.searchpath=[pkg://feedbackgym.conf.common,pkg://fbg_demo_plugin.conf]"
    assert with_plugin_search_path(["hydra.searchpath=[a]"]) == ["hydra.searchpath=[a]"]
    with pytest.raises(PluginError, match="list of module names"):
        load_plugins("fbg_demo_plugin.extra")


def test_a_custom_env_without_metrics_or_transcript_is_told_not_silent(caplog: pytest.LogCaptureFixture) -> None:
    from gymnasium import spaces
    from pettingzoo import AECEnv

    from feedbackgym.experiments.runner import play_episode

    class Bare(AECEnv):
        metadata = {"name": "bare"}
        possible_agents = ["player_0"]

        def observation_space(self, agent):
            return spaces.Discrete(1)

        def action_space(self, agent):
            return spaces.Text(10)

        def reset(self, seed=None, options=None):
            self.agents = ["player_0"]
            self.agent_selection = "player_0"
            self.rewards = {"player_0": 0.0}
            self._cumulative_rewards = {"player_0": 0.0}
            self.terminations = {"player_0": False}
            self.truncations = {"player_0": False}
            self.infos = {"player_0": {}}

        def observe(self, agent):
            return 0

        def step(self, action):
            if self.terminations["player_0"]:
                self.agents = []
                return
            self.rewards["player_0"] = 1.0
            self._cumulative_rewards["player_0"] = 1.0
            self.terminations["player_0"] = True

    class Says:
        def act(self, observation, info):
            return "hi"

    with caplog.at_level("WARNING", logger="feedbackgym"):
        result = asyncio.run(play_episode(Bare(), {"player_0": Says()}, seed=0))
    assert result.error is None and result.returns == {"player_0": 1.0}
    text = caplog.text
    assert "Bare has no `episode_metrics`" in text and "Bare has no `transcript`" in text


@pytest.mark.parametrize("plugins", ["fbg_demo_plugin", [""], [3], {"a": 1}])
def test_train_plugins_must_be_a_list_of_module_names(plugins) -> None:
    from feedbackgym.experiments.configuration import ConfigError
    from feedbackgym.experiments.train import load_training_plugins

    with pytest.raises(ConfigError, match="train.plugins must be a list of module names"):
        load_training_plugins({"train": {"plugins": plugins}})


def test_a_train_plugin_that_cannot_be_imported_is_named_with_its_option() -> None:
    from feedbackgym.experiments.configuration import ConfigError
    from feedbackgym.experiments.train import load_training_plugins

    with pytest.raises(ConfigError, match=r"plugin 'fbg_no_such_module' \(from train.plugins\) cannot be imported"):
        load_training_plugins({"train": {"plugins": ["fbg_no_such_module"]}})
    assert load_training_plugins({"train": None}) == load_training_plugins({})  # no section: only the installed plugins
