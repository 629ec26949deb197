"""The Hydra app behind ``feedbackgym train``: PPO on numeric views, against fixed roles or in self-play.

``feedbackgym train`` trains a PPO solver on ``SolverFeedback-v0`` (multiple choice, unary
feedback, 5 turns) against the scripted teacher and evaluates it; ``feedbackgym train
training=try_again`` (or ``feedback_richness``, ``negotiation_rl``, ``selfplay_negotiation``,
``selfplay_judge``) runs one of the experiments: every condition times every seed, then tables and
plots. ``training=lm_*`` overlays (a config with an ``lm`` block) train language models instead:
:func:`feedbackgym.experiments.lm_train.run_lm_training`. Outputs go to Hydra's output folder:

| file | what |
|---|---|
| `<condition>/seed<k>/<role>.csv` | one row per PPO update (CleanRL's tags: `charts/episodic_return`, `losses/value_loss`, ..., `charts/SPS`, `metrics/<episode metric>`) |
| `<condition>/seed<k>/<role>.pt` | the trained policy and its encoding (`make_agent("ppo", checkpoint=...)`) |
| `<condition>/seed<k>/tb/` | TensorBoard events, when the `tensorboard` package is installed |
| `<condition>/seed<k>/episodes.jsonl` | the evaluation episodes (the runner's transcripts) |
| `results_by_seed.csv`, `results.csv` | evaluation metrics per condition and seed; per condition (mean, and `_std` over seeds) |
| `learning_curves.png`, `<name>.png` | training curves (mean over seeds, min-max band); the evaluation plot |

Training against fixed roles wraps the learner's role in ``NumericView(SingleAgent(...))`` with the
mounted agents playing the others, and trains on ``SyncVectorEnv``. Self-play (``train.mode:
alternating``) trains several learners in turns: in each phase each learner trains for its share
of the budget against the others' current policies, frozen for that phase (a learner that has not
trained yet is played by its mounted agent, when the config mounts one: a warm start).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import fields
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from feedbackgym.experiments.configuration import (
    ConfigError,
    check_known,
    check_required,
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
from feedbackgym.experiments.evaluate import check_common_shape, check_plot_options, env_kwargs, exit_with, wrappers_of
from feedbackgym.experiments.runner import EpisodeJob, aggregate, format_table, run_episodes, write_table

log = logging.getLogger("feedbackgym")
MODES = ("fixed", "alternating")
CONDITION_KEYS = {"train", "eval", "learners", "ppo", "agents", "baseline"}


# ----------------------------------------------------------------------------------- the config
def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def conditions_of(cfg: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each condition as ``{"train": env kwargs, "eval": env kwargs, "learners": encoder overrides,
    "ppo": Args overrides, "agents": agent overrides, "baseline": bool}``.

    ``train`` applies to training, ``eval`` to evaluation (on top of ``train``, so a condition that
    trains single-turn and evaluates with 5 turns writes ``{train: {max_turns: 1}, eval: {max_turns: 5}}``).
    A ``baseline`` condition trains nothing: the mounted agents play every role in evaluation.
    """
    normalised: dict[str, dict[str, Any]] = {}
    for name, settings in condition_settings(cfg).items():
        for key in ("train", "eval", "learners", "ppo", "agents"):
            require_mapping(settings.get(key), f"train.conditions.{name}.{key}")
        unknown = set(settings) - CONDITION_KEYS
        if unknown:
            raise ConfigError(f"train.conditions.{name} has unknown keys {sorted(unknown)}; allowed: {sorted(CONDITION_KEYS)}")
        normalised[str(name)] = {
            "train": dict(settings.get("train") or {}),
            "eval": dict(settings.get("eval") or {}),
            "learners": dict(settings.get("learners") or {}),
            "ppo": dict(settings.get("ppo") or {}),
            "agents": dict(settings.get("agents") or {}),
            "baseline": bool(settings.get("baseline", False)),
        }
    return normalised or {"default": {"train": {}, "eval": {}, "learners": {}, "ppo": {}, "agents": {}, "baseline": False}}


def condition_settings(cfg: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``train.conditions`` as name -> settings mapping, each name fit to name a folder (``<output>/<name>/seed<n>``)."""
    conditions = (cfg.get("train") or {}).get("conditions") or {}
    if not isinstance(conditions, Mapping):
        raise ConfigError(f"train.conditions must map condition names to settings, got {conditions!r}")
    settings: dict[str, dict[str, Any]] = {}
    for name, given in conditions.items():
        require_file_name(str(name), "a name in train.conditions")
        settings[name] = require_mapping(given, f"train.conditions.{name}")
    return settings


def learners_of(cfg: Mapping[str, Any], condition: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Learner role -> encoder config (``kind`` and its arguments; no ``kind``: the env's default encoder)."""
    learners = {role: require_mapping(spec, f"learners.{role}") for role, spec in require_mapping(cfg.get("learners"), "learners").items()}
    for role, override in condition["learners"].items():
        if role not in learners:
            raise ConfigError(f"a condition overrides the encoder of {role!r}, which is not a learner; learners: {sorted(learners)}")
        learners[role].update(require_mapping(override, f"a condition's learners.{role}"))
    if not learners:
        raise ConfigError("learners is empty: name at least one role to train, e.g. learners: {solver_0: {kind: solver}}")
    return learners


def agent_specs(cfg: Mapping[str, Any], condition: Mapping[str, Any], roles: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The mounted agent per role of the environment (``{"name": ..., **kwargs}``), with the condition's overrides."""
    from feedbackgym.agents.registration import agent_kwargs

    mounted = cfg.get("agents") or {}
    specs: dict[str, dict[str, Any]] = {}
    for role in roles:
        if role not in mounted:
            continue
        override = condition["agents"].get(role) or {}
        spec = mounted[role]
        specs[role] = {"name": override.get("name", spec.get("name")), **agent_kwargs(spec), **agent_kwargs(override)}
    return specs


# PPO settings whose range is narrower than "a positive integer" or "a number >= 0"
PPO_RANGES = {"gamma": (0.0, 1.0), "gae_lambda": (0.0, 1.0), "learning_rate": (0.0, None)}


def ppo_args(cfg: Mapping[str, Any], condition: Mapping[str, Any]) -> Any:
    """PPO's ``Args`` from ``ppo`` and the condition's overrides, every value checked against its field's type."""
    import typing

    from feedbackgym.agents.torch.ppo import Args

    values = {**(cfg.get("ppo") or {}), **condition["ppo"]}
    accepted = [f.name for f in fields(Args) if f.init]
    unknown = sorted(set(values) - set(accepted))
    if unknown:
        raise ConfigError(f"ppo has unknown settings {unknown}; accepted: {sorted(accepted)}")
    hints = typing.get_type_hints(Args)
    checked: dict[str, Any] = {}
    for key, value in values.items():
        field, kind = f"ppo.{key}", hints.get(key)
        if kind is bool:
            checked[key] = require_bool(value, field)
        elif kind is int:
            checked[key] = require_int(value, field, minimum=None if key == "seed" else 1)
        elif value is None and kind != float:  # an optional setting (target_kl)
            checked[key] = None
        elif kind in (float, float | None):
            low, high = PPO_RANGES.get(key, (0.0, None))
            checked[key] = require_number(value, field, minimum=low, maximum=high)
        else:
            checked[key] = value
    return Args(**checked)


TRAIN_OPTIONS = ("name", "description", "mode", "phases", "seeds", "workers", "conditions", "eval_episodes", "eval_seed",
                 "eval_deterministic", "success_metric", "threshold", "threshold_window", "curve", "summary", "plot",
                 "plot_eval", "tensorboard", "report", "plugins")


def check_train_options(train_cfg: Mapping[str, Any]) -> None:
    """``train.*`` with types and ranges checked; every error names the option and what it accepts."""
    check_known(train_cfg, TRAIN_OPTIONS, "train")
    require_choice(train_cfg.get("mode", "fixed"), "train.mode", MODES)
    for key in ("phases", "workers", "eval_episodes", "threshold_window"):
        if key in train_cfg:
            require_int(train_cfg[key], f"train.{key}", minimum=1)
    # numpy's generators take only seeds >= 0 (evaluation episode i has seed eval_seed + i)
    if "eval_seed" in train_cfg:
        require_int(train_cfg["eval_seed"], "train.eval_seed", minimum=0)
    seeds = train_cfg.get("seeds", [1])
    if not isinstance(seeds, (list, tuple)) or not seeds:
        raise ConfigError(f"train.seeds must be a non-empty list of integers, e.g. [1,2,3], got {seeds!r}")
    for index, seed in enumerate(seeds):
        require_int(seed, f"train.seeds[{index}]", minimum=0)
    # train.name names <name>.png in the output folder; summary and plot_eval are read after every run has trained
    require_file_name(train_cfg.get("name", "training"), "train.name")
    require_names(train_cfg.get("summary"), "train.summary")
    check_plot_options(require_mapping(train_cfg.get("plot_eval"), "train.plot_eval"), "train.plot_eval")
    for key in ("eval_deterministic", "plot", "tensorboard", "report"):
        if key in train_cfg:
            require_bool(train_cfg[key], f"train.{key}")
    if train_cfg.get("threshold") is not None:
        require_number(train_cfg["threshold"], "train.threshold")


class Setup:
    """Everything one (condition, seed) job needs, computed from the plain config."""

    def __init__(self, cfg: Mapping[str, Any], condition_name: str) -> None:
        from feedbackgym.envs import make

        self.cfg = cfg
        self.name = condition_name
        self.condition = conditions_of(cfg)[condition_name]
        self.env_id = str(cfg["env"]["id"])
        self.wrappers = wrappers_of(OmegaConf.create({"env": cfg["env"], "wrapper": cfg.get("wrapper") or {}}))
        base_kwargs = dict(cfg["env"].get("kwargs") or {})
        self.train_kwargs = {**base_kwargs, **self.condition["train"]}
        self.eval_kwargs = {**self.train_kwargs, **self.condition["eval"]}
        probe = make(self.env_id, wrappers=self.wrappers, **self.train_kwargs)
        self.roles = list(probe.unwrapped.possible_agents)
        self.learners = {} if self.condition["baseline"] else learners_of(cfg, self.condition)
        unknown = [role for role in self.learners if role not in self.roles]
        if unknown:
            raise ConfigError(f"learners {unknown} are not agents of {self.env_id}; its agents are {self.roles}")
        self.mounted = agent_specs(cfg, self.condition, self.roles)
        self.fixed = {role: spec for role, spec in self.mounted.items() if role not in self.learners}
        missing = [role for role in self.roles if role not in self.learners and role not in self.fixed]
        if missing:
            raise ConfigError(
                f"{self.env_id} has agents {self.roles}; no agent is mounted for {missing} and they are not learners: "
                "mount one per role, e.g. add " + " ".join(f"+agent@agents.{role}=random" for role in missing)
            )
        train_cfg = cfg.get("train") or {}
        self.mode = str(train_cfg.get("mode", "fixed"))
        if self.mode not in MODES:
            raise ConfigError(f"train.mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.mode == "fixed" and len(self.learners) > 1:
            raise ConfigError(f"train.mode=fixed trains one learner; got {sorted(self.learners)}: use train.mode=alternating for self-play")

    def make_env(self, kwargs: Mapping[str, Any]) -> Any:
        from feedbackgym.envs import make

        return make(self.env_id, wrappers=self.wrappers, **kwargs)


# ------------------------------------------------------------------ the views a config trains on
def compose_training_config(training: str = "single", overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The plain config ``feedbackgym train training=<training> <overrides>`` runs with (composed by Hydra, as the CLI does)."""
    from hydra import compose, initialize_config_module

    with initialize_config_module(config_module="feedbackgym.conf.train", version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"training={training}", *overrides], return_hydra_config=True)
    check_required(cfg, ("env", "agents", "wrapper", "learners", "train"))
    kwargs = env_kwargs(cfg)  # reads the env option chosen (the hydra node), as `feedbackgym train` does
    plain: dict[str, Any] = _plain(OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"]))
    plain["env"]["kwargs"] = kwargs
    return plain


def make_view_from_config(
    training: str | Mapping[str, Any] = "single",
    condition: str | None = None,
    learner: str | None = None,
    *,
    overrides: Sequence[str] = (),
    split: str = "train",
    flatten: bool = True,
    slim_info: bool = True,
) -> Any:
    """The numeric view (a Gymnasium env) that ``feedbackgym train training=<training>`` trains ``learner`` on.

    ``training`` is a training option (``"try_again"``, conf/train/training/) or an already composed plain
    config; ``condition`` one of its ``train.conditions`` (default: the first); ``learner`` one of its
    learners (default: the only one; self-play configs need it); ``overrides`` are Hydra overrides
    (``["env.kwargs.max_turns=3"]``). ``split="eval"`` gives the evaluation environment (the condition's
    ``eval`` kwargs on top). The other roles are played by the mounted agents, and the learner's encoder
    is the config's, bound to the evaluation spaces, as in training.

    >>> view = make_view_from_config("try_again", "single_turn")
    >>> view.action_space, view.env.env.unwrapped.max_turns
    (Discrete(4), 1)
    """
    from feedbackgym.agents.registration import build_agents
    from feedbackgym.wrappers.encoding import make_numeric, resolve_encoder

    plain = dict(training) if isinstance(training, Mapping) else compose_training_config(training, overrides)
    names = list(conditions_of(plain))
    name = names[0] if condition is None else condition
    if name not in names:
        raise ConfigError(f"condition {name!r} is not one of this config's conditions: {', '.join(names)}")
    require_choice(split, "split", ("train", "eval"))
    setup = Setup(plain, name)
    if not setup.learners:
        raise ConfigError(f"condition {name!r} is a baseline: it trains no learner, so it has no view")
    if learner is None:
        if len(setup.learners) != 1:
            raise ConfigError(f"this config trains {sorted(setup.learners)}: pass learner=<one of them>")
        learner = next(iter(setup.learners))
    if learner not in setup.learners:
        raise ConfigError(f"learner {learner!r} is not trained by this config; learners: {sorted(setup.learners)}")
    others = {role: spec for role, spec in setup.mounted.items() if role != learner}
    missing = [role for role in setup.roles if role != learner and role not in others]
    if missing:
        raise ConfigError(f"no agent is mounted for {missing}, which the view of {learner!r} needs to play the other roles")
    encoder = resolve_encoder(setup.make_env(setup.eval_kwargs), learner, setup.learners[learner]).config()
    kwargs = setup.train_kwargs if split == "train" else setup.eval_kwargs
    return make_numeric(setup.make_env(kwargs), learner, build_agents(others), encoder=encoder, flatten=flatten, slim_info=slim_info)


# ------------------------------------------------------------------------------------ training
def env_thunks(setup: Setup, learner: str, encoder: Mapping[str, Any], others: Mapping[str, Any], n: int) -> list[Any]:
    """``n`` thunks of the learner's numeric view; ``others`` maps roles to agent specs or zero-argument factories."""
    from feedbackgym.agents.registration import build_agents
    from feedbackgym.wrappers.encoding import make_numeric

    def thunk() -> Any:
        players = {role: (spec() if callable(spec) else spec) for role, spec in others.items()}
        return make_numeric(setup.make_env(setup.train_kwargs), learner, build_agents(players),
                            encoder=encoder, flatten=True, slim_info=True)

    return [thunk for _ in range(n)]


def train_job(cfg: Mapping[str, Any], condition_name: str, seed: int, job_dir: str) -> dict[str, Any]:
    """Train the condition's learners with one seed, save their checkpoints, and evaluate them."""
    from feedbackgym.agents.torch.logger import MetricLogger
    from feedbackgym.agents.torch.ppo import Agent, train
    from feedbackgym.agents.torch.ppo_agent import PPOAgent, frozen_copy, save_checkpoint
    from feedbackgym.wrappers.encoding import resolve_encoder

    started = time.time()
    setup = Setup(cfg, condition_name)
    directory = Path(job_dir)
    directory.mkdir(parents=True, exist_ok=True)
    tensorboard = bool((cfg.get("train") or {}).get("tensorboard", True))
    checkpoints: dict[str, str] = {}
    curves: dict[str, str] = {}
    if setup.learners:
        args_template = ppo_args(cfg, setup.condition)
        phases = 1 if setup.mode == "fixed" else int((cfg.get("train") or {}).get("phases", 2))
        networks: dict[str, Agent] = {}
        # Bound to the evaluation env's spaces, so conditions that train differently (one turn, five turns)
        # still encode alike: same features, same scaling, the same network shape.
        encoders = {role: resolve_encoder(setup.make_env(setup.eval_kwargs), role, spec) for role, spec in setup.learners.items()}
        optimizers: dict[str, Any] = {}
        steps = dict.fromkeys(setup.learners, 0)
        loggers = {role: MetricLogger(directory / f"{role}.csv", tensorboard_dir=(directory / "tb" / role) if tensorboard else None)
                   for role in setup.learners}
        for phase in range(phases):
            for index, role in enumerate(setup.learners):
                others: dict[str, Any] = dict(setup.fixed)
                for other in setup.learners:
                    if other == role:
                        continue
                    if other in networks:
                        frozen, encoder_config = frozen_copy(networks[other]), encoders[other].config()
                        others[other] = lambda f=frozen, e=encoder_config: PPOAgent(network=f, encoder=e)
                    elif other in setup.mounted:
                        others[other] = setup.mounted[other]  # warm start: the mounted agent until this learner trains
                    else:
                        raise ConfigError(f"self-play needs a mounted agent for {other!r} to face before it has trained")
                args = ppo_args(cfg, setup.condition)
                args.seed = seed * 1000 + phase * 10 + index
                args.total_timesteps = max(args_template.total_timesteps // phases, args.num_envs * args.num_steps)
                result = train(args, env_thunks(setup, role, encoders[role].config(), others, args.num_envs), agent=networks.get(role),
                               optimizer=optimizers.get(role), global_step=steps[role], log=loggers[role])
                networks[role], optimizers[role], steps[role] = result.agent, result.optimizer, result.global_step
        for role, network in networks.items():
            checkpoints[role] = str(save_checkpoint(directory / f"{role}.pt", network, encoders[role], role=role, env_id=setup.env_id,
                                                    env_kwargs=_jsonable(setup.train_kwargs), condition=condition_name, seed=seed,
                                                    total_timesteps=steps[role]))
            curves[role] = str(directory / f"{role}.csv")
        for logger in loggers.values():
            logger.close()
    trained = time.time()
    records = evaluate_job(setup, checkpoints, directory / "episodes.jsonl", seed=seed)
    return {"condition": condition_name, "seed": seed, "checkpoints": checkpoints, "curves": curves, "records": records,
            "train_seconds": trained - started, "eval_seconds": time.time() - trained}


def evaluate_job(setup: Setup, checkpoints: Mapping[str, str], output: Path, *, seed: int) -> list[dict[str, Any]]:
    """Evaluation episodes through the runner: trained roles played by ``ppo`` agents, the others by the mounted agents."""
    from feedbackgym.agents.registration import build_agents

    train_cfg = setup.cfg.get("train") or {}
    episodes = int(train_cfg.get("eval_episodes", 100))
    first_seed = int(train_cfg.get("eval_seed", 10_000))
    deterministic = bool(train_cfg.get("eval_deterministic", False))
    specs: dict[str, Any] = {**setup.mounted}
    for role, path in checkpoints.items():
        specs[role] = {"name": "ppo", "checkpoint": path, "deterministic": deterministic}
    specs = {role: specs[role] for role in setup.roles}
    # The same evaluation episodes for every condition and training seed (common random numbers).
    jobs = [EpisodeJob(f"{setup.name}/seed{seed}/{i}", first_seed + i, setup.name) for i in range(episodes)]
    return asyncio.run(run_episodes(jobs, lambda _: setup.make_env(setup.eval_kwargs), lambda _: build_agents(specs),
                                    concurrency=1, output=output, resume=False))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def _job_entry(payload: tuple[dict[str, Any], str, int, str]) -> dict[str, Any]:
    # A worker process (spawned) starts with the built-in registries only: the plugins that registered the
    # environment, agents or encoders of the config are imported here again (once per process).
    load_training_plugins(payload[0])
    return train_job(*payload)


def load_training_plugins(cfg: Mapping[str, Any]) -> list[str]:
    """Import the plugins (entry points, ``FEEDBACKGYM_PLUGINS``, ``train.plugins``); a failure is a ConfigError."""
    from feedbackgym.experiments.plugins import PluginError, load_plugins

    train_cfg = cfg.get("train")
    modules = require_plugin_modules(train_cfg.get("plugins") if isinstance(train_cfg, Mapping) else None, "train.plugins")
    try:
        return load_plugins(modules, option="train.plugins")
    except PluginError as error:
        raise ConfigError(str(error)) from error


# ------------------------------------------------------------------------------------- reports
def steps_to_threshold(curve_csv: str, column: str, threshold: float, window: int = 3) -> float | None:
    """The first ``global_step`` at which the mean of the last ``window`` updates' ``column`` reaches ``threshold``."""
    from feedbackgym.agents.torch.logger import read_curve

    steps, values = read_curve(curve_csv, column)
    for i in range(len(values)):
        recent = values[max(0, i - window + 1) : i + 1]
        if len(recent) == min(window, len(values)) and float(np.mean(recent)) >= threshold:
            return steps[i]
    return None


def summarise(cfg: Mapping[str, Any], results: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows per condition and seed, rows per condition with means and ``_std`` over seeds)."""
    train_cfg = cfg.get("train") or {}
    metric = str(train_cfg.get("success_metric") or "")
    threshold = train_cfg.get("threshold")
    by_seed: list[dict[str, Any]] = []
    for result in results:
        row = aggregate(result["records"])[0] if result["records"] else {"condition": result["condition"]}
        row = {"condition": result["condition"], "seed": result["seed"], **{k: v for k, v in row.items() if k != "condition"}}
        row["train_seconds"] = round(result["train_seconds"], 2)
        for role, curve in result["curves"].items():
            from feedbackgym.agents.torch.logger import read_curve

            steps, _ = read_curve(curve, "losses/entropy")
            row[f"{role}/train_steps"] = steps[-1] if steps else 0.0
            if metric and threshold is not None:
                window = int(train_cfg.get("threshold_window", 3))
                reached = steps_to_threshold(curve, f"metrics/{metric}", float(threshold), window=window)
                row[f"{role}/steps_to_{metric}>={threshold}"] = math.nan if reached is None else reached
        by_seed.append(row)
    return by_seed, means_over_seeds(by_seed, threshold)


def means_over_seeds(by_seed: Sequence[Mapping[str, Any]], threshold: Any = None) -> list[dict[str, Any]]:
    """One row per condition: ``seeds``, and every numeric column's mean and ``_std`` over the seeds'
    rows (non-finite values left out; with a ``threshold``, ``seeds_reaching_...`` counts the seeds whose
    ``steps_to_...>=threshold`` is finite)."""
    rows: list[dict[str, Any]] = []
    for condition in dict.fromkeys(r["condition"] for r in by_seed):
        group = [r for r in by_seed if r["condition"] == condition]
        row: dict[str, Any] = {"condition": condition, "seeds": len(group)}
        keys = [k for k in dict.fromkeys(k for r in group for k in r) if k not in ("condition", "seed")]
        for key in keys:
            values = [float(r[key]) for r in group if isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)]
            finite = [v for v in values if math.isfinite(v)]
            if key.endswith(f">={threshold}") and threshold is not None:
                row[key.replace("steps_to", "seeds_reaching")] = len(finite)
            if finite:
                row[key] = float(np.mean(finite))
                row[f"{key}_std"] = float(np.std(finite))
            elif values:
                row[key] = math.nan
        rows.append(row)
    return rows


def train_context(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """What a training plot's title names: environment, task, wrapper, training seeds, evaluation episodes."""
    train_cfg = cfg.get("train") or {}
    env = cfg.get("env") or {}
    kwargs = env.get("kwargs") or {}
    wrapper = (cfg.get("wrapper") or {}).get("name")
    return {"env": env.get("id"), "task": kwargs.get("task"), "wrapper": wrapper or "none", "seeds": list(train_cfg.get("seeds") or [1])}


def plot_curves(cfg: Mapping[str, Any], results: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """Training curves of ``train.curve`` (default: the success metric, else the episodic return) per condition and learner."""
    from feedbackgym.experiments.plots import plot_learning_curves

    train_cfg = cfg.get("train") or {}
    metric = train_cfg.get("success_metric")
    column = str(train_cfg.get("curve") or (f"metrics/{metric}" if metric else "charts/episodic_return"))
    curves = curves_of(results, column)
    if not curves:
        return None
    threshold = train_cfg.get("threshold") if metric else None
    plot_learning_curves(curves, path, title=str(train_cfg.get("name", "training")), ylabel=column,
                         threshold=None if threshold is None else float(threshold), context=train_context(cfg),
                         panels=training_panels(cfg, results))
    return path


def curves_of(results: Sequence[Mapping[str, Any]], column: str) -> dict[str, list[tuple[list[float], list[float]]]]:
    """Label (the condition, and the role when a condition trains several) -> (steps, values) of ``column``, one per seed."""
    from feedbackgym.agents.torch.logger import read_curve

    curves: dict[str, list[tuple[list[float], list[float]]]] = {}
    for result in results:
        for role, curve in result["curves"].items():
            label = result["condition"] if len(result["curves"]) == 1 else f"{result['condition']} {role}"
            try:
                steps, values = read_curve(curve, column)
            except (OSError, ValueError):
                continue
            if steps:
                curves.setdefault(label, []).append((steps, values))
    return curves


def training_panels(cfg: Mapping[str, Any], results: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Curve label -> panel, when conditions train with different ``max_turns``: success within one turn and
    within five are different quantities, so they get separate axes (try_again trains single- and multi-turn)."""
    base = dict(((cfg.get("env") or {}).get("kwargs") or {}))
    conditions = conditions_of(cfg)
    turns: dict[str, Any] = {}
    for result in results:
        for role in result["curves"]:
            label = result["condition"] if len(result["curves"]) == 1 else f"{result['condition']} {role}"
            turns[label] = {**base, **conditions[result["condition"]]["train"]}.get("max_turns")
    if len(set(map(str, turns.values()))) < 2:
        return {}
    return {label: f"trained on episodes of {value} turn{'s' if value != 1 else ''}" if value is not None else "default turns"
            for label, value in turns.items()}


def plot_evaluation(cfg: Mapping[str, Any], by_seed: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """``train.plot_eval``: the evaluation table, means over training seeds with 95% bootstrap intervals over seeds."""
    from feedbackgym.experiments.plots import plot_experiment
    from feedbackgym.experiments.report import bootstrap_interval

    train_cfg = cfg.get("train") or {}
    plot_options = dict(train_cfg.get("plot_eval") or {})
    if plot_options.get("ylim") is not None and not isinstance(plot_options["ylim"][0], (list, tuple)):
        plot_options["ylim"] = tuple(plot_options["ylim"])
    means = [{key: value for key, value in row.items() if not key.endswith("_std")} for row in rows]
    intervals: dict[str, dict[str, tuple[float, float]]] = {}
    for row in means:
        group = [r for r in by_seed if r["condition"] == row["condition"]]
        for key in row:
            values = [float(r[key]) for r in group if isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)]
            interval = bootstrap_interval(values)
            if interval is not None:
                intervals.setdefault(key, {})[str(row["condition"])] = interval
    context = {**train_context(cfg), "episodes": train_cfg.get("eval_episodes", 100), "seed": train_cfg.get("eval_seed", 10_000)}
    name = str(train_cfg.get("name", "training"))
    plot_experiment(f"{name}: evaluation of the trained policies", means, path, context=context, intervals=intervals,
                    interval_label="95% bootstrap interval over training seeds", **plot_options)
    return path


def run_training(cfg: DictConfig | Mapping[str, Any], output_dir: Path | str) -> list[dict[str, Any]]:
    """Run every condition with every seed, write the tables and plots to ``output_dir``; returns the per-condition rows."""
    if isinstance(cfg, DictConfig):
        resolved(cfg)  # an interpolation that does not resolve: an error naming its key, before anything reads it
        check_required(cfg, ("env", "agents", "wrapper", "learners", "ppo", "train"))
    plain: dict[str, Any] = _plain(cfg) if isinstance(cfg, DictConfig) else dict(cfg)
    if isinstance(cfg, DictConfig):  # env.id=<registered variant> keeps that variant's own kwargs
        plain["env"]["kwargs"] = env_kwargs(cfg)
    check_common_shape(plain)
    load_training_plugins(plain)  # before anything reads the env id, the agents or the encoder kinds
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if plain.get("lm") is not None:  # a training=lm_* overlay: language-model policies (experiments/lm_train.py)
        from feedbackgym.experiments.lm_train import check_lm_config, run_lm_training

        require_mapping(plain.get("train"), "train")
        for name, settings in condition_settings(plain).items():
            for key, value in settings.items():
                require_mapping(value, f"train.conditions.{name}.{key}")
        try:
            check_lm_config(plain)
        except (ValueError, TypeError) as error:
            raise ConfigError(str(error)) from error
        if "report" in (plain.get("train") or {}):
            require_bool(plain["train"]["report"], "train.report")
        lm_rows = run_lm_training(plain, output_dir)
        _write_report(plain, output_dir)
        return lm_rows
    train_cfg = require_mapping(plain.get("train"), "train")
    check_train_options(train_cfg)
    seeds = [int(s) for s in (train_cfg.get("seeds") or [1])]
    conditions = conditions_of(plain)
    for name in conditions:  # fail on a bad config before any training starts
        try:
            setup = Setup(plain, name)
            ppo_args(plain, setup.condition)
            _check_encoders(setup)
        except ConfigError:
            raise
        except (ValueError, TypeError, KeyError) as error:
            raise ConfigError(f"condition {name!r}: {error}") from error
    payloads = [(plain, name, seed, str(output_dir / name / f"seed{seed}")) for name in conditions for seed in seeds
                if not (conditions[name]["baseline"] and seed != seeds[0])]  # a baseline does not depend on the seed
    workers = max(1, int(train_cfg.get("workers", 1)))
    started = time.time()
    results: list[dict[str, Any]] = []
    if workers == 1 or len(payloads) == 1:
        for payload in payloads:
            results.append(_job_entry(payload))
            _report(results[-1], started)
    else:
        import multiprocessing

        # spawn, not fork: a forked child of a process that has used torch's thread pool can hang.
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for result in pool.map(_job_entry, payloads):
                results.append(result)
                _report(result, started)
    by_seed, rows = summarise(plain, results)
    write_table(by_seed, output_dir / "results_by_seed.csv")
    write_table(rows, output_dir / "results.csv")
    name = str(train_cfg.get("name", "training"))
    written = [output_dir / "results.csv", output_dir / "results_by_seed.csv"]
    if train_cfg.get("plot", True):
        curve_png = plot_curves(plain, results, output_dir / "learning_curves.png")
        if curve_png is not None:
            written.append(curve_png)
        if train_cfg.get("plot_eval"):
            written.append(plot_evaluation(plain, by_seed, rows, output_dir / f"{name}.png"))
    log.info(f"\n{name}: {train_cfg.get('description', '')}")
    columns = list(train_cfg.get("summary") or [])
    shown = ["condition", "seeds", *[c for c in columns if any(c in r for r in rows)]]
    log.info(format_table(rows, shown))
    log.info(f"\n{len(payloads)} runs in {time.time() - started:.0f} s; wrote " + ", ".join(str(p) for p in written))
    _write_report(plain, output_dir)
    return rows


def _check_encoders(setup: Setup) -> None:
    """Build each learner's encoder once, as train_job does, so a bad ``learners.<role>`` setting (an unknown
    ``kind``, ``n_choices=-1``) stops the command before training, not inside the first training job."""
    from feedbackgym.wrappers.encoding import resolve_encoder

    for role, spec in setup.learners.items():
        try:
            resolve_encoder(setup.make_env(setup.eval_kwargs), role, spec)
        except (ValueError, TypeError, KeyError) as error:
            raise ConfigError(f"learners.{role}: {error.args[0] if isinstance(error, KeyError) and error.args else error}") from error


def _write_report(cfg: Mapping[str, Any], output_dir: Path) -> None:
    """``report.html`` for the training folder unless ``train.report=false`` (``feedbackgym report`` writes it later too).

    The results are on disk before this runs; a report that fails says so and why, and loses nothing."""
    if not (cfg.get("train") or {}).get("report", True):
        return
    from feedbackgym.experiments.report import write_report

    try:
        log.info(f"wrote {write_report(output_dir)}")
    except Exception as error:  # noqa: BLE001 - the training's results are already written; say why the page is missing
        log.error(f"report.html was not written ({type(error).__name__}: {error}); the results are in {output_dir}; "
                  f"retry with: feedbackgym report {output_dir}")


def _report(result: Mapping[str, Any], started: float) -> None:
    solved = [r["metrics"].get("solved") for r in result["records"] if r.get("metrics")]
    note = f", eval solved {np.mean([float(s) for s in solved if s is not None]):.3f}" if any(s is not None for s in solved) else ""
    log.info(f"[{time.time() - started:6.0f} s] {result['condition']} seed {result['seed']}: trained in "
             f"{result['train_seconds']:.0f} s, evaluated {len(result['records'])} episodes{note}")


@hydra.main(config_path="pkg://feedbackgym.conf.train", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    try:
        run_training(cfg, Path(HydraConfig.get().runtime.output_dir))
    except ConfigError as error:
        exit_with(error, "feedbackgym train")


if __name__ == "__main__":
    main()


__all__ = ["compose_training_config", "conditions_of", "make_view_from_config", "run_training", "steps_to_threshold", "summarise", "train_job"]
