"""The Hydra app behind ``feedbackgym run``: play the configured experiment, write table, transcripts, plot.

With no overrides it is the main job, the feedback ladder on ``SolverFeedback-v0`` with scripted
agents. Outputs go to Hydra's output folder: ``episodes.jsonl`` (one transcript per line, streamed),
``results.csv`` (one row per condition), ``<experiment>.png``, ``report.html`` (the HTML report of
:mod:`feedbackgym.experiments.report`; ``run.report=false`` leaves it out), ``fingerprint.json`` (what
the episodes were produced by) and ``evaluate.log``. A killed run resumes when started again with the
same ``hydra.run.dir``; a folder produced by another experiment (other environment, agents,
wrappers, task, conditions or seed) is refused, unless ``run.resume=false`` starts it afresh.

A configuration mistake is a :class:`ConfigError` naming the field; ``feedbackgym run`` prints it in
one or two lines and exits with status 2 (``HYDRA_FULL_ERROR=1`` shows the traceback).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from feedbackgym.agents import Agent
from feedbackgym.agents.base import AgentConfigurationError
from feedbackgym.envs import make
from feedbackgym.agents.registration import agent_kwargs, build_agents
from feedbackgym.experiments.configuration import (
    ConfigError,
    check_condition_overrides,
    check_known,
    check_overridden_roles,
    check_required,
    differing_keys,
    override_keys,
    require_bool,
    require_choice,
    require_file_name,
    require_int,
    require_mapping,
    require_names,
    require_number,
    require_plugin_modules,
    resolved,
)
from feedbackgym.experiments.runner import EpisodeJob, aggregate, format_table, run_episodes, write_table

log = logging.getLogger("feedbackgym")

RUN_OPTIONS = ("episodes", "seed", "concurrency", "resume", "progress", "plot", "report", "plugins", "backend", "ray")
BACKENDS = ("local", "ray")
# Agent knobs that change how calls are made, not what an episode is: free to change on resume.
OPERATIONAL_AGENT_KNOBS = frozenset({"api_key", "timeout", "max_retries", "backoff_initial", "backoff_max", "cache", "cache_path",
                                     "requests_per_minute", "tokens_per_minute"})


class RunFailed(RuntimeError):
    """Every episode of the run errored: there is no result to report."""


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


def hydra_context(cfg: DictConfig) -> tuple[list[str], dict[str, Any]]:
    """(the command-line overrides, the group choices) of the Hydra job that composed ``cfg``.

    From the ``hydra`` node of a config composed with ``return_hydra_config=True``, else from the
    running Hydra app; a config built by hand has neither: ``([], {})``.
    """
    node = cfg.get("hydra") if isinstance(cfg, DictConfig) and "hydra" in cfg else None
    if node is None and HydraConfig.initialized():
        node = HydraConfig.get()
    if node is None:
        return [], {}
    overrides = list(OmegaConf.select(node, "overrides.task", default=None) or [])
    choices = OmegaConf.to_container(node.runtime.choices) if OmegaConf.select(node, "runtime.choices", default=None) is not None else {}
    return overrides, dict(choices or {})


def env_option_defaults(choice: str | None) -> tuple[str | None, dict[str, Any]]:
    """(id, kwargs) as listed by the env group option ``conf/common/env/<choice>.yaml``."""
    if not choice:
        return None, {}
    from importlib.resources import files

    path = files("feedbackgym.conf.common") / "env" / f"{choice}.yaml"
    if not path.is_file():
        return None, {}
    listed = OmegaConf.create(path.read_text(encoding="utf-8"))
    return listed.get("id"), dict(_plain(listed.get("kwargs")) or {})


def env_kwargs(cfg: DictConfig) -> dict[str, Any]:
    """The environment's base kwargs (before a condition's overrides).

    When ``env.id`` names another id than the env option that listed ``env.kwargs``
    (``env=solver_feedback env.id=SolverFeedback-UFO-v0``), the option's listed values are the
    defaults of another environment: they are left out, so the chosen variant keeps its own
    registered kwargs; values set on the command line, by the task or by the experiment stay on top.
    """
    kwargs = dict(_plain(cfg.env.get("kwargs")) or {})
    overrides, choices = hydra_context(cfg)
    option_id, listed = env_option_defaults(choices.get("env"))
    if option_id is None or option_id == cfg.env.id:
        return kwargs
    explicit = {key.split(".")[2] for key in override_keys(overrides) if key.startswith("env.kwargs.")}
    return {key: value for key, value in kwargs.items() if key in explicit or key not in listed or listed[key] != value}


def env_factory(cfg: DictConfig):
    base_kwargs = env_kwargs(cfg)
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
        missing = [role for role in env.unwrapped.possible_agents if role not in (_plain(cfg.agents) or {})]
        if missing:
            # "+": the role is not in the defaults list yet, and Hydra adds a new entry only with a plus.
            mounts = " ".join(f"+agent@agents.{role}=random" for role in missing)
            raise ConfigError(
                f"agents: the environment {cfg.env.id} has agents {list(env.unwrapped.possible_agents)} but the config mounts none for "
                f"{missing}; mount one per role (feedbackgym list agents), e.g. add {mounts}"
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


# What ``experiment.plot`` may set (keyword arguments of plot_experiment that a config gives).
PLOT_OPTIONS = ("series", "xlabel", "ylabel", "ylim", "columns", "interval_label")
# The most episodes per condition: the run holds one job per episode and condition in memory.
MAX_EPISODES = 1_000_000


def check_wrapper_list(entries: Any, field: str) -> None:
    """A wrapper stack: a list of wrapper names or ``{name: ..., kwargs: {...}}`` entries."""
    if entries is None:
        return
    shape = "a list of wrapper names or {name: <wrapper>, kwargs: {...}} entries (feedbackgym list wrappers)"
    if not isinstance(entries, (list, tuple)):
        raise ConfigError(f"{field} must be {shape}, got {entries!r}")
    for index, entry in enumerate(entries):
        if isinstance(entry, str) and entry:
            continue
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise ConfigError(f"{field}[{index}] must be a wrapper name or {{name: <wrapper>, kwargs: {{...}}}}, got {entry!r}")
        check_known(entry, ("name", "kwargs"), f"{field}[{index}]")
        require_mapping(entry.get("kwargs"), f"{field}[{index}].kwargs")


def check_config_shape(cfg: DictConfig) -> None:
    """Every section the runner reads has the shape it reads (a mapping, a list of names, ...), so a wrong
    type (``agents.solver_0=3``, ``experiment.windows={acc: 3}``) stops the run before any episode with
    the field's name, instead of failing deep inside or, for the table and plot options, after every episode ran."""
    plain = resolved(cfg) if isinstance(cfg, DictConfig) else dict(cfg)
    run = require_mapping(plain.get("run"), "run")
    require_mapping(run.get("ray"), "run.ray")
    check_common_shape(plain)
    experiment = require_mapping(plain.get("experiment"), "experiment", optional=False)
    require_file_name(experiment.get("name"), "experiment.name")
    conditions = experiment.get("conditions") or {}
    if not isinstance(conditions, Mapping):  # (any keys: a condition may be named by a number, conditions: {1: ..., 3: ...})
        raise ConfigError(f"experiment.conditions must map condition names to env.kwargs overrides, got {conditions!r}")
    for name, condition in conditions.items():
        where = f"experiment.conditions.{name}"
        condition = require_mapping(condition, where)
        if condition and set(condition) <= {"env", "agents", "wrappers"}:  # the structured form (see conditions_of)
            require_mapping(condition.get("env"), f"{where}.env")
            for role, override in require_mapping(condition.get("agents"), f"{where}.agents").items():
                require_mapping(override, f"{where}.agents.{role}")
            check_wrapper_list(condition.get("wrappers"), f"{where}.wrappers")
    require_names(experiment.get("summary"), "experiment.summary")
    for metric, spans in require_mapping(experiment.get("windows"), "experiment.windows").items():
        field = f"experiment.windows.{metric}"
        if not isinstance(spans, list) or not all(isinstance(span, list) and len(span) == 2 for span in spans):
            raise ConfigError(f"{field} must be a list of [first, last] turn windows, e.g. [[1, 5], [26, 30]], got {spans!r}")
        for first, last in spans:
            require_int(last, field + " (last turn of a window)", minimum=require_int(first, field + " (first turn of a window)", minimum=1))
    check_plot_options(require_mapping(experiment.get("plot"), "experiment.plot"))


def check_common_shape(plain: Mapping[str, Any]) -> None:
    """The sections ``feedbackgym run`` and ``train`` share (``env``, ``wrapper``, ``agents``) have the shapes they are read in."""
    env = require_mapping(plain.get("env"), "env", optional=False)
    if "id" not in env:
        raise ConfigError("env.id is required: an environment id from `feedbackgym list envs`, e.g. env.id=SolverFeedback-v0")
    require_mapping(env.get("kwargs"), "env.kwargs")
    check_wrapper_list(env.get("wrappers"), "env.wrappers")
    wrapper = require_mapping(plain.get("wrapper"), "wrapper")
    if wrapper.get("name") is not None and (not isinstance(wrapper["name"], str)):
        raise ConfigError(f"wrapper.name must be a wrapper name (feedbackgym list wrappers) or null, got {wrapper['name']!r}")
    require_mapping(wrapper.get("kwargs"), "wrapper.kwargs")
    for role, spec in require_mapping(plain.get("agents"), "agents").items():
        require_mapping(spec, f"agents.{role}", optional=False)


def check_plot_options(plot: Mapping[str, Any], where: str = "experiment.plot") -> None:
    """Options of plot_experiment from a config (``experiment.plot``, ``train.plot_eval``): known names, each of its type."""
    check_known(plot, PLOT_OPTIONS, where)
    series = plot.get("series", "acc")
    series = require_names([series] if isinstance(series, str) else series, f"{where}.series")
    if not series:
        raise ConfigError(f"{where}.series must name at least one list metric (acc, ...), got []")
    require_names(plot.get("columns"), f"{where}.columns")
    for key in ("xlabel", "interval_label"):
        if plot.get(key) is not None and not isinstance(plot[key], str):
            raise ConfigError(f"{where}.{key} must be a text, got {plot[key]!r}")
    ylabel = plot.get("ylabel")
    if ylabel is not None and not isinstance(ylabel, str):
        labels = require_names(ylabel, f"{where}.ylabel")
        if not plot.get("columns") and len(labels) != len(series):
            raise ConfigError(f"{where}.ylabel must be one text, or one per series ({len(series)}: {series}), got {ylabel!r}")
    ylim = plot.get("ylim")
    if ylim is None:
        return
    pairs = [ylim] if _is_limits(ylim) else ylim if isinstance(ylim, list) and all(_is_limits(p) or p is None for p in ylim) else None
    if pairs is None or (len(pairs) != 1 and len(pairs) != len(series)) or (plot.get("columns") and len(pairs) != 1):
        raise ConfigError(f"{where}.ylim must be null, [low, high], or one [low, high] per series ({len(series)}: {series}), got {ylim!r}")


def _is_limits(value: Any) -> bool:
    """``[low, high]``: two finite numbers, low below high."""
    if not isinstance(value, list) or len(value) != 2:
        return False
    try:
        low, high = (require_number(v, "limit") for v in value)
    except ConfigError:
        return False
    return low < high


def check_run_options(cfg: DictConfig) -> dict[str, Any]:
    """``run.*`` with types and ranges checked: every error names the option and what it accepts."""
    run = dict(_plain(cfg.get("run")) or {})
    check_known(run, RUN_OPTIONS, "run")
    checked = {
        "episodes": require_int(run.get("episodes", 1), "run.episodes", minimum=1, maximum=MAX_EPISODES),
        # numpy's generators take only seeds >= 0; episode i has seed seed+i
        "seed": require_int(run.get("seed", 0), "run.seed", minimum=0),
        "concurrency": require_int(run.get("concurrency", 8), "run.concurrency", minimum=1),
    }
    for flag in ("resume", "progress", "plot", "report"):
        checked[flag] = require_bool(run.get(flag, True), f"run.{flag}")
    checked["plugins"] = require_plugin_modules(run.get("plugins"), "run.plugins")
    checked["backend"] = require_choice(run.get("backend", "local"), "run.backend", BACKENDS)
    # Checked whatever the backend: a typo under run.ray should not wait for the day the run goes to Ray.
    from feedbackgym.experiments.backends.ray_backend import check_ray_options

    checked["ray"] = dict(run.get("ray") or {})
    check_ray_options(checked["ray"])
    return checked


def fingerprint(cfg: DictConfig, roles: Iterable[str]) -> dict[str, Any]:
    """What a run folder's episodes depend on: environment, wrappers, task (in env.kwargs), agents of
    the environment's roles, conditions and the first seed. Not the episode count (a resumed run may
    add episodes: episode i always has seed seed+i), nor presentation (plot, progress, summary)."""
    agents = {}
    for role in roles:
        spec = dict(_plain(cfg.agents).get(role) or {})
        agents[role] = {key: value for key, value in spec.items() if key not in OPERATIONAL_AGENT_KNOBS}
        if isinstance(spec.get("kwargs"), Mapping):
            agents[role]["kwargs"] = {k: v for k, v in spec["kwargs"].items() if k not in OPERATIONAL_AGENT_KNOBS}
    conditions = {name: {"env": c["env"], "agents": c["agents"], "wrappers": [list(w) for w in c["wrappers"]]}
                  for name, c in conditions_of(cfg).items()}
    raw = {
        "env": {"id": str(cfg.env.id), "kwargs": env_kwargs(cfg), "wrappers": [list(w) for w in wrappers_of(cfg)]},
        "agents": agents,
        "conditions": conditions,
        "run": {"seed": int((_plain(cfg.get("run")) or {}).get("seed", 0))},
    }
    return json.loads(json.dumps(_without_secrets(raw), sort_keys=True, default=str))  # as it reads back from the file


def _without_secrets(value: Any) -> Any:
    """``value`` with every credential out: a field named like one (``api_key`` at any depth, an ``x-api-key`` or
    ``Authorization`` header) left out, like the other operational knobs, and any key still in a text redacted."""
    from feedbackgym.agents.secrets import redact
    from feedbackgym.experiments.redact_hydra import is_secret_field

    if isinstance(value, Mapping):
        return {key: _without_secrets(inner) for key, inner in value.items() if not is_secret_field(key)}
    if isinstance(value, (list, tuple)):
        return [_without_secrets(inner) for inner in value]
    return redact(value) if isinstance(value, str) else value


def check_run_folder(output_dir: Path, current: Mapping[str, Any], resume: bool) -> None:
    """Refuse to resume episodes that another experiment produced; record ``current`` for later runs."""
    record = output_dir / "fingerprint.json"
    episodes = output_dir / "episodes.jsonl"
    if resume and episodes.exists() and episodes.stat().st_size > 0:
        ways_out = "use a new folder (hydra.run.dir=<new folder>) or start this one afresh with run.resume=false"
        if not record.exists():
            raise ConfigError(f"{output_dir} holds episodes but no fingerprint.json, so it cannot tell what produced them; {ways_out}")
        try:
            recorded = json.loads(record.read_text(encoding="utf-8"))
        except ValueError:
            raise ConfigError(f"{record} is not readable JSON, so it cannot tell what produced the episodes; {ways_out}") from None
        changes = differing_keys(recorded, current)
        if changes:
            shown = "; ".join(f"{key}: {old!r} -> {new!r}" for key, old, new in changes[:6])
            more = f" (and {len(changes) - 6} more)" if len(changes) > 6 else ""
            raise ConfigError(f"{output_dir} holds episodes of another experiment; differing keys: {shown}{more}. To run this one, {ways_out}")
    record.write_text(json.dumps(current, indent=1, sort_keys=True), encoding="utf-8")


def run_experiment(cfg: DictConfig, output_dir: Path | str) -> list[dict[str, Any]]:
    """Run ``cfg`` and write its outputs to ``output_dir``; returns the table rows.

    ``cfg.experiment`` has ``name``, ``description``, ``conditions`` (condition name -> env.kwargs
    overrides; empty for one condition), and optionally ``summary`` (the columns printed), ``windows``
    (metric -> [[first, last], ...] turn windows averaged into ``metric@first-last`` columns) and
    ``plot`` (keyword arguments of :func:`~feedbackgym.experiments.plots.plot_experiment`: ``series``,
    ``xlabel``, ``ylabel``, ``ylim``). Raises :class:`ConfigError` for a config that cannot work,
    :class:`RunFailed` when every episode errored.
    """
    output_dir = Path(output_dir)
    check_config_shape(cfg)
    run = check_run_options(cfg)
    from feedbackgym.experiments.plugins import PluginError, load_plugins

    try:  # in this process: a launcher's worker process has not loaded them yet
        load_plugins(run["plugins"])
    except PluginError as error:
        raise ConfigError(str(error)) from error
    check_required(cfg, ("env", "agents", "wrapper", "experiment"))
    overrides, _ = hydra_context(cfg)
    check_condition_overrides(overrides, conditions_of(cfg), str(cfg.experiment.get("name", "")))
    roles = validate(cfg)
    check_overridden_roles(overrides, roles, str(cfg.env.id))
    output_dir.mkdir(parents=True, exist_ok=True)
    check_run_folder(output_dir, fingerprint(cfg, roles), run["resume"])
    conditions = conditions_of(cfg)
    name = str(cfg.experiment.name)
    log.info(f"{name}: {len(conditions)} condition(s) x {run['episodes']} episodes of {cfg.env.id}, seeds {run['seed']}..{run['seed'] + run['episodes'] - 1}; output {output_dir}")
    jobs = [EpisodeJob(f"{condition}/{i}", run["seed"] + i, condition) for condition in conditions for i in range(run["episodes"])]
    progress = job_progress(run["progress"])
    if run["backend"] == "ray":
        from feedbackgym.experiments.backends.ray_backend import run_episodes_on_ray

        records = run_episodes_on_ray(jobs, cfg, roles, concurrency=run["concurrency"], output=output_dir / "episodes.jsonl",
                                      resume=run["resume"], progress=progress, options=run["ray"])
    else:
        records = asyncio.run(
            run_episodes(
                jobs,
                env_factory(cfg),
                agents_factory(cfg, roles),
                concurrency=run["concurrency"],
                output=output_dir / "episodes.jsonl",
                resume=run["resume"],
                progress=progress,
            )
        )
    rows = aggregate(records)
    add_windows(rows, _plain(cfg.experiment.get("windows")) or {})
    write_table(rows, output_dir / "results.csv")
    errored = [r for r in records if r.get("error") is not None]
    if records and len(errored) == len(records):
        raise RunFailed(f"every episode errored ({len(records)}); the first: {errored[0]['error']} (transcripts in {output_dir / 'episodes.jsonl'})")
    plotted = run["plot"]
    if plotted:
        plot_run(cfg, name, rows, records, output_dir / f"{name}.png")
    columns = list(cfg.experiment.get("summary") or []) or summary_columns(rows)
    counts = ["condition", "episodes", *(["errors", "scored"] if errored else [])]
    log.info(f"\n{name}: {cfg.experiment.get('description', '')}")
    log.info(format_table(rows, [*counts, *(c for c in columns if c not in ("condition", "episodes", "errors", "scored"))]))
    if errored:
        log.warning(f"\n{len(errored)} of {len(records)} episodes errored (the first: {errored[0]['error']}); each metric is a mean "
                    f"over the scored (error-free) episodes of its condition only, not over all of them")
    written = [output_dir / "results.csv", output_dir / "episodes.jsonl", *([output_dir / f"{name}.png"] if plotted else [])]
    if run["report"]:
        from feedbackgym.experiments.report import write_report

        written.append(write_report(output_dir))
    log.info("\nwrote " + ", ".join(str(p) for p in written))
    return rows


# Command-line overrides that change how a run is shown or executed, not what it measures: left out of plot titles.
PRESENTATION_OVERRIDES = ("hydra.", "run.progress", "run.plot", "run.report", "run.concurrency", "run.resume", "run.backend", "run.ray", "experiment=")


def plot_context(cfg: DictConfig, episodes: int | None = None) -> dict[str, Any]:
    """What a plot's title names: environment, task, wrapper(s), episodes per condition, first seed, the command
    line's overrides (a sweep job's swept values among them)."""
    overrides, choices = hydra_context(cfg)
    kwargs = env_kwargs(cfg)
    task = choices.get("task") if choices.get("task") not in (None, "none") else kwargs.get("task")
    wrappers = [name for name, _ in wrappers_of(cfg)]
    run = _plain(cfg.get("run")) or {}
    return {
        "env": str(cfg.env.id),
        "task": task,
        "wrapper": ", ".join(wrappers) or "none",
        "episodes": episodes if episodes is not None else run.get("episodes"),
        "seed": run.get("seed"),
        "overrides": [o for o in overrides if not o.startswith(PRESENTATION_OVERRIDES) and not o.startswith(("run.episodes", "run.seed"))],
    }


def plot_run(cfg: DictConfig, name: str, rows: list[dict[str, Any]], records: list[dict[str, Any]], path: Path) -> Any:
    """The experiment's plot (``experiment.plot`` options), titled with the run and with 95% bootstrap intervals over episodes."""
    from feedbackgym.experiments.plots import plot_experiment
    from feedbackgym.experiments.report import condition_intervals

    plot_options = _plain(cfg.experiment.get("plot")) or {}
    if "ylim" in plot_options and plot_options["ylim"] is not None:
        plot_options["ylim"] = tuple(plot_options["ylim"])
    series = plot_options.get("series", "acc")
    series = [series] if isinstance(series, str) else list(series)
    plotted = list(plot_options.get("columns") or []) or [key for row in rows for key in row
                                                          if any(key.startswith(f"{s}@") and key.split("@")[1].isdigit() for s in series)]
    intervals = condition_intervals(records, dict.fromkeys(plotted))
    context = plot_context(cfg)
    if not context["task"]:  # the environment's default task: named by the episodes' task ids (<source>/...)
        task_ids = [str(r["metrics"]["task_id"]) for r in records if isinstance((r.get("metrics") or {}).get("task_id"), str)]
        context["task"] = task_ids[0].split("/")[0] if task_ids else None
    return plot_experiment(name, rows, path, context=context, intervals=intervals, **plot_options)


def job_progress(enabled: bool) -> bool | str:
    """A bar for a single run; in a sweep (``--multirun``), plain lines prefixed with the job number, which
    stay readable when a parallel launcher's jobs share the terminal."""
    if not enabled:
        return False
    if HydraConfig.initialized():
        from hydra.types import RunMode

        hydra_cfg = HydraConfig.get()
        if hydra_cfg.mode == RunMode.MULTIRUN:
            return f"job {hydra_cfg.job.num}"
    return True


def add_windows(rows: list[dict[str, Any]], windows: Mapping[str, Any]) -> None:
    """Add ``metric@a-b``: the mean of the per-turn columns ``metric@a`` .. ``metric@b`` (those present)."""
    for metric, spans in windows.items():
        for span in spans:
            first, last = int(span[0]), int(span[1])
            for row in rows:
                values = [row[f"{metric}@{k}"] for k in range(first, last + 1)
                          if isinstance(row.get(f"{metric}@{k}"), float) and not math.isnan(row[f"{metric}@{k}"])]
                if values:
                    row[f"{metric}@{first}-{last}"] = sum(values) / len(values)


def summary_columns(rows: list[dict[str, Any]]) -> list[str]:
    keys = [k for row in rows for k in row]
    accuracy = sorted({k for k in keys if re.fullmatch(r"acc@\d+", k)}, key=lambda k: int(k.split("@")[1]))
    shown = [k for k in accuracy if int(k.split("@")[1]) in (1, 2, 3, 5, 10)] or accuracy[:5]
    shown += [k for k in dict.fromkeys(keys) if re.fullmatch(r"[^@]+@\d+-\d+", k)]  # experiment.windows: acc@1-3, love@26-30
    extra = [k for k in ("unique_answer_ratio", "feedback_resistance", "invalid_moves", "errors") if k in keys]
    # LLM accounting, when agents made calls: mean calls, tokens and latency per episode, total cost.
    accounting = [k for k in dict.fromkeys(keys) if k.endswith(("/calls", "/completion_tokens", "/latency", "/cost_total"))]
    return ["condition", "episodes", *shown, *extra, *accounting]


def redact_saved_config(output_dir: Path) -> None:
    """Hydra saves the composed config and the overrides; an API key given in either is redacted there."""
    from feedbackgym.agents.secrets import redact, register_secrets_in_config

    for path in (output_dir / ".hydra").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        register_secrets_in_config(text.splitlines())  # config.yaml and overrides.yaml
        cleaned = redact(text)
        if cleaned != text:
            path.write_text(cleaned, encoding="utf-8")


def exit_with(error: BaseException, command: str = "feedbackgym run") -> None:
    """Say a configuration error or a failed run in one or two lines and exit non-zero; with
    ``HYDRA_FULL_ERROR=1`` the exception propagates with its traceback instead."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise error
    from feedbackgym.agents.secrets import redact

    kind = "run failed" if isinstance(error, RunFailed) else "configuration error"
    message = redact(f"{command}: {kind}: {error}")  # an error may quote a value that is a key (api_key_env=sk-...)
    to_log_file(message)
    print(message, file=sys.stderr)
    sys.exit(1 if isinstance(error, RunFailed) else 2)


def to_log_file(message: str) -> None:
    """Write ``message`` to the job's log file (Hydra's file handler) without echoing it to the console."""
    record = logging.LogRecord("feedbackgym", logging.ERROR, __file__, 0, message, None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


@hydra.main(config_path="pkg://feedbackgym.conf.run", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    redact_saved_config(output_dir)
    try:
        run_experiment(cfg, output_dir)
    except (ConfigError, AgentConfigurationError, RunFailed) as error:
        exit_with(error)


if __name__ == "__main__":
    main()
