"""The Hydra app behind ``feedbackgym run``: play the configured experiment, write table, transcripts, plot.

With no overrides it is the main job, the feedback ladder on ``SolverFeedback-v0`` with scripted
agents. Outputs go to Hydra's output folder: ``episodes.jsonl`` (one transcript per line, streamed),
``results.csv`` (one row per condition) and ``<experiment>.png``. A killed run resumes when started
again with the same ``hydra.run.dir``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from feedbackgym.agents import Agent
from feedbackgym.envs import make
from feedbackgym.agents.registration import agent_kwargs, build_agents
from feedbackgym.experiments.runner import EpisodeJob, aggregate, format_table, run_episodes, write_table

log = logging.getLogger("feedbackgym")


class ConfigError(ValueError):
    """A config value that cannot work, with the config path of the field."""


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def conditions_of(cfg: DictConfig) -> dict[str, dict[str, Any]]:
    """Each condition as ``{"env": env.kwargs overrides, "agents": per-role agent overrides, "wrappers": [...]}``.

    In the config a condition is either a mapping of env kwargs (``{feedback_level: unary}``) or the
    structured form ``{env: {...}, agents: {assistant_0: {temperature: 0.7}}, wrappers: [...]}``; agent
    overrides are merged over the mounted agent's config; ``wrappers`` (names or ``{name, kwargs}``)
    go on top of the configured wrapper stack, for that condition only.
    """
    conditions = _plain(cfg.experiment.get("conditions")) or {}
    if not isinstance(conditions, Mapping):
        raise ConfigError(f"experiment.conditions must map condition names to env.kwargs overrides, got {conditions!r}")
    normalised: dict[str, dict[str, Any]] = {}
    for name, overrides in conditions.items():
        overrides = dict(overrides or {})
        if overrides and set(overrides) <= {"env", "agents", "wrappers"}:
            normalised[str(name)] = {
                "env": dict(overrides.get("env") or {}),
                "agents": dict(overrides.get("agents") or {}),
                "wrappers": _wrapper_stack(overrides.get("wrappers")),
            }
        else:
            normalised[str(name)] = {"env": overrides, "agents": {}, "wrappers": []}
    return normalised or {"default": {"env": {}, "agents": {}, "wrappers": []}}


def _wrapper_stack(entries: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(w, {}) if isinstance(w, str) else (w["name"], dict(w.get("kwargs") or {})) for w in entries or []]


def wrappers_of(cfg: DictConfig) -> list[tuple[str, dict[str, Any]]]:
    stack = _wrapper_stack(_plain(cfg.env.get("wrappers")))
    wrapper = _plain(cfg.get("wrapper")) or {}
    if wrapper.get("name"):
        stack.append((wrapper["name"], dict(wrapper.get("kwargs") or {})))
    return stack


def env_factory(cfg: DictConfig):
    base_kwargs = _plain(cfg.env.kwargs) or {}
    conditions = conditions_of(cfg)
    wrappers = wrappers_of(cfg)

    def make_env(condition: str):
        stack = [*wrappers, *conditions[condition]["wrappers"]]
        return make(cfg.env.id, wrappers=stack, **{**base_kwargs, **conditions[condition]["env"]})

    return make_env


def agent_specs(cfg: DictConfig, condition: str, roles: Iterable[str] | None = None) -> dict[str, Any]:
    """The agent spec per role for ``condition``: the mounted config with the condition's overrides merged in.

    With ``roles`` (the environment's agents), agents mounted for other roles are left out: the
    default config mounts a solver and a teacher, which an experiment on another env ignores.
    """
    specs = _plain(cfg.agents) or {}
    if roles is not None:
        specs = {role: spec for role, spec in specs.items() if role in set(roles)}
    overrides = conditions_of(cfg)[condition]["agents"]
    unknown = set(overrides) - set(specs)
    if unknown:
        raise ConfigError(f"experiment.conditions.{condition}.agents names roles {sorted(unknown)} that are not mounted; mounted: {sorted(specs)}")
    merged = {}
    for role, spec in specs.items():
        override = overrides.get(role) or {}
        merged[role] = {"name": override.get("name", spec.get("name")), **agent_kwargs(spec), **agent_kwargs(override)}
    return merged


def agents_factory(cfg: DictConfig, roles: Iterable[str] | None = None):
    def make_agents(condition: str) -> dict[str, Agent]:
        return build_agents(agent_specs(cfg, condition, roles))

    return make_agents


def validate(cfg: DictConfig) -> list[str]:
    """Build every condition's env and agents once, so a bad config fails before any episode runs.

    Returns the environment's agent ids (their union over the conditions, whose workflows may differ).
    """
    make_env = env_factory(cfg)
    roles: list[str] = []
    for condition in conditions_of(cfg):
        try:
            env = make_env(condition)
        except (ValueError, TypeError, KeyError) as error:
            raise ConfigError(f"env (id {cfg.env.id}, condition {condition!r}): {error}") from error
        roles += [role for role in env.unwrapped.possible_agents if role not in roles]
        missing = set(env.unwrapped.possible_agents) - set((_plain(cfg.agents) or {}).keys())
        if missing:
            raise ConfigError(
                f"agents: the environment {cfg.env.id} has agents {list(env.unwrapped.possible_agents)} but the config mounts none for "
                f"{sorted(missing)}; mount one per role, e.g. agent@agents.{sorted(missing)[0]}=random"
            )
    make_agents = agents_factory(cfg, roles)
    for condition in conditions_of(cfg):
        try:
            make_agents(condition)
        except ConfigError:
            raise
        except (ValueError, TypeError, KeyError) as error:
            raise ConfigError(f"agents (condition {condition!r}): {error}") from error
    return roles


def run_experiment(cfg: DictConfig, output_dir: Path | str) -> list[dict[str, Any]]:
    """Run ``cfg`` and write its outputs to ``output_dir``; returns the table rows.

    ``cfg.experiment`` has ``name``, ``description``, ``conditions`` (condition name -> env.kwargs
    overrides; empty for one condition), and optionally ``summary`` (the columns printed) and
    ``plot`` (keyword arguments of :func:`~feedbackgym.experiments.plots.plot_experiment`: ``series``,
    ``xlabel``, ``ylabel``, ``ylim``).
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    roles = validate(cfg)
    episodes, seed = int(cfg.run.episodes), int(cfg.run.seed)
    if episodes < 1:
        raise ConfigError(f"run.episodes must be at least 1, got {episodes}")
    conditions = conditions_of(cfg)
    jobs = [EpisodeJob(f"{name}/{i}", seed + i, name) for name in conditions for i in range(episodes)]
    records = asyncio.run(
        run_episodes(
            jobs,
            env_factory(cfg),
            agents_factory(cfg, roles),
            concurrency=int(cfg.run.concurrency),
            output=output_dir / "episodes.jsonl",
            resume=bool(cfg.run.resume),
            progress=bool(cfg.run.progress),
        )
    )
    rows = aggregate(records)
    write_table(rows, output_dir / "results.csv")
    name = str(cfg.experiment.name)
    if cfg.run.get("plot", True):
        from feedbackgym.experiments.plots import plot_experiment

        plot_options = _plain(cfg.experiment.get("plot")) or {}
        if "ylim" in plot_options and plot_options["ylim"] is not None:
            plot_options["ylim"] = tuple(plot_options["ylim"])
        plot_experiment(name, rows, output_dir / f"{name}.png", **plot_options)
    print(f"\n{name}: {cfg.experiment.get('description', '')}")
    columns = list(cfg.experiment.get("summary") or []) or summary_columns(rows)
    print(format_table(rows, ["condition", "episodes", *(c for c in columns if c not in ("condition", "episodes"))]))
    print(f"\nwrote {output_dir / 'results.csv'}, {output_dir / 'episodes.jsonl'}" + (f", {output_dir / (name + '.png')}" if cfg.run.get("plot", True) else ""))
    return rows


def summary_columns(rows: list[dict[str, Any]]) -> list[str]:
    keys = [k for row in rows for k in row]
    accuracy = sorted({k for k in keys if k.startswith("acc@")}, key=lambda k: int(k.split("@")[1]))
    shown = [k for k in accuracy if int(k.split("@")[1]) in (1, 2, 3, 5, 10)] or accuracy[:5]
    extra = [k for k in ("unique_answer_ratio", "feedback_resistance", "invalid_moves", "errors") if k in keys]
    # LLM accounting, when agents made calls: mean calls, tokens and latency per episode, total cost.
    accounting = [k for k in dict.fromkeys(keys) if k.endswith(("/calls", "/completion_tokens", "/latency", "/cost_total"))]
    return ["condition", "episodes", *shown, *extra, *accounting]


def redact_saved_config(output_dir: Path) -> None:
    """Hydra saves the composed config and the overrides; an API key given in either is redacted there."""
    from feedbackgym.agents.secrets import redact, register_secret

    for path in (output_dir / ".hydra").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        for line in text.splitlines():
            # "  api_key: sk-..." in config.yaml, "- agents.solver_0.kwargs.api_key=sk-..." in overrides.yaml
            if "api_key=" in line:
                register_secret(line.split("api_key=", 1)[1].strip().strip("'\""))
            elif line.strip().startswith("api_key:"):
                value = line.split(":", 1)[1].strip().strip("'\"")
                if value not in ("", "null"):
                    register_secret(value)
        cleaned = redact(text)
        if cleaned != text:
            path.write_text(cleaned, encoding="utf-8")


@hydra.main(config_path="pkg://feedbackgym.conf.run", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    redact_saved_config(output_dir)
    run_experiment(cfg, output_dir)


if __name__ == "__main__":
    main()
