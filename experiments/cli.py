"""The ``feedbackgym`` command: ``list`` what is registered, ``run`` an experiment, ``train`` PPO agents (Hydra apps),
``report`` a run folder as one HTML file, ``show`` one episode in the terminal, ``collect`` a sweep's results
into one table. Plugins (``feedbackgym.experiments.plugins``) load first. ``models`` prepares a language model that runs offline."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

LISTS = ("envs", "agents", "tasks", "wrappers", "encoders")
# Each Hydra app composes its own root (conf/run, conf/train) and the shared groups (conf/common).
APPS = {"run": ("feedbackgym.conf.run", "config"), "train": ("feedbackgym.conf.train", "train")}
HELP_FLAGS = ("--help", "-h")


def registered(kind: str) -> list[str]:
    if kind == "envs":
        from feedbackgym.envs import registry

        return [f"{env_id:28s} {spec.description}" for env_id, spec in sorted(registry.items())]
    if kind == "agents":
        from feedbackgym.agents import registered_agents

        return registered_agents()
    if kind == "tasks":
        from feedbackgym.envs.tasks import task_sources

        return list(task_sources())
    if kind == "encoders":  # numeric views' encoder kinds (learners: {role: {kind: ...}}), with the roles they are the default of
        from feedbackgym.wrappers.encoding import _DEFAULT_KINDS, ENCODERS

        def default_of(kind: str) -> str:
            roles = [f"{env} {role}" for (env, role), of in _DEFAULT_KINDS.items() if of == kind]
            return f"default for {', '.join(roles)}" if roles else ""

        return [f"{kind:16s} {default_of(kind)}".rstrip() for kind in sorted(ENCODERS)]
    from feedbackgym.envs import wrapper_registry

    return wrapper_registry.names()


def config_groups(app: str) -> dict[str, list[str]]:
    """Group -> options of the Hydra app ``app`` (``run`` or ``train``): its own root and the shared one."""
    from importlib.resources import files

    groups: dict[str, list[str]] = {}
    for package in (APPS[app][0], "feedbackgym.conf.common"):
        for folder in files(package).iterdir():
            if folder.is_dir() and not folder.name.startswith("_"):
                options = sorted(f.name[: -len(".yaml")] for f in folder.iterdir() if f.name.endswith(".yaml"))
                if options:
                    groups[folder.name] = options
    return dict(sorted(groups.items()))


def app_help(app: str, overrides: Sequence[str]) -> str:
    """``feedbackgym run --help``: the app's groups (and only its own) and the composed config."""
    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    module, config_name = APPS[app]
    lines = [f"usage: feedbackgym {app} [group=option ...] [key=value ...] [--multirun] [--cfg job] [--hydra-help]", "",
             "Configuration groups (group=option; an agent is mounted per role: agent@agents.<role>=<option>, "
             "+agent@agents.<role>=<option> for a role the config does not mount yet):"]
    lines += [f"  {group}: {', '.join(options)}" for group, options in config_groups(app).items()]
    try:
        with initialize_config_module(config_module=module, version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=[o for o in overrides if o not in HELP_FLAGS])
        lines += ["", "Config (override any value with key=value; add a new key with +key=value):", "", OmegaConf.to_yaml(cfg)]
    except Exception as error:  # the overrides do not compose: say why instead of the config
        lines += ["", f"(the config does not compose with these overrides: {error})"]
    return "\n".join(lines)


def _hand_to_hydra(app: str, rest: list[str]) -> int:
    from feedbackgym.experiments.plugins import with_plugin_search_path

    rest = with_plugin_search_path(rest)  # configs that installed plugins ship
    if any(flag in rest for flag in HELP_FLAGS):
        write(app_help(app, rest).splitlines())
        return 0
    # Hydra reads sys.argv: hand it everything after the command (overrides, --multirun, --cfg job, ...).
    sys.argv = [f"feedbackgym {app}", *rest]
    if app == "run":
        from feedbackgym.experiments.evaluate import main as run_main

        run_main()
    else:
        from feedbackgym.experiments.train import main as train_main

        train_main()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "collect":
        from feedbackgym.experiments.collect import main as collect_main

        return collect_main(argv[1:])
    from feedbackgym.experiments.plugins import PluginError, load_plugins

    try:  # installed plugins (entry points) and FEEDBACKGYM_PLUGINS register their agents, envs, tasks
        load_plugins()
    except PluginError as error:
        print(f"feedbackgym: {error}", file=sys.stderr)
        return 2
    if argv and argv[0] in APPS:
        return _hand_to_hydra(argv[0], argv[1:])
    if argv and argv[0] == "models":
        from feedbackgym.experiments.models import main as models_main

        return models_main(argv[1:])
    parser = argparse.ArgumentParser(prog="feedbackgym", description="Feedback environments for language agents.")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="list registered envs, agents, tasks, wrappers and encoders")
    listing.add_argument("kind", nargs="?", choices=LISTS, help="only this registry")
    commands.add_parser("run", help="run an experiment: feedbackgym run [hydra overrides] [--multirun]")
    commands.add_parser("train", help="train PPO agents on numeric views: feedbackgym train [training=try_again] [hydra overrides]")
    report = commands.add_parser("report", help="write report.html for a run, training or sweep folder (opens from disk)")
    report.add_argument("folder", help="a folder written by feedbackgym run or train, or a --multirun sweep folder")
    report.add_argument("-o", "--output", help="where to write the HTML file (default: <folder>/report.html)")
    show = commands.add_parser("show", help="print one episode of a run folder in the terminal")
    show.add_argument("folder", help="a folder written by feedbackgym run or train, or a sweep folder")
    show.add_argument("episode", help="the episode id, e.g. none/0 (in a sweep folder: <job>:<id>, e.g. 0:none/0)")
    commands.add_parser("collect", help="one table and plot for a sweep: feedbackgym collect <multirun folder>")
    commands.add_parser("models", help="language models inside the process: feedbackgym models prepare smollm2-135m | list")
    args = parser.parse_args(argv)
    if args.command in ("report", "show"):
        return _report_or_show(args)
    lines: list[str] = []
    for kind in [args.kind] if args.kind else LISTS:
        lines += [f"{kind}:", *(f"  {line}" for line in registered(kind))]
    write(lines)
    return 0


def _report_or_show(args: argparse.Namespace) -> int:
    from feedbackgym.experiments.report import show_episode, write_report

    try:
        if args.command == "report":
            write([f"wrote {write_report(args.folder, args.output)}"])
        else:
            write(show_episode(args.folder, args.episode).splitlines())
    except KeyError as error:
        print(f"feedbackgym {args.command}: {error.args[0] if error.args else error}", file=sys.stderr)
        return 2
    except OSError as error:  # a folder that is not there, an output path in a missing folder or that is a folder, no permission
        said = f"{error.strerror}: {error.filename}" if error.filename is not None and error.strerror else str(error)
        print(f"feedbackgym {args.command}: {said}", file=sys.stderr)
        return 2
    return 0


def write(lines: Sequence[str]) -> None:
    """Print ``lines``; a reader that leaves early (``feedbackgym list | head -3``) is not an error."""
    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:
        # Point stdout at devnull so that Python's flush at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
