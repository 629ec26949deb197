"""The ``feedbackgym`` command: ``list`` what is registered, ``run`` an experiment, ``train`` PPO agents (Hydra apps),
``models`` to prepare a language model that runs offline."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

LISTS = ("envs", "agents", "tasks", "wrappers")


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
    from feedbackgym.envs import wrapper_registry

    return wrapper_registry.names()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "run":
        from feedbackgym.experiments.evaluate import main as run_main

        # Hydra reads sys.argv: hand it everything after "run" (overrides, --multirun, --cfg job, ...).
        sys.argv = ["feedbackgym run", *argv[1:]]
        run_main()
        return 0
    if argv and argv[0] == "models":
        from feedbackgym.experiments.models import main as models_main

        return models_main(argv[1:])
    if argv and argv[0] == "train":
        from feedbackgym.experiments.train import main as train_main

        # As for run: Hydra reads sys.argv, so it gets everything after "train".
        sys.argv = ["feedbackgym train", *argv[1:]]
        train_main()
        return 0
    parser = argparse.ArgumentParser(prog="feedbackgym", description="Feedback environments for language agents.")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="list registered envs, agents, tasks and wrappers")
    listing.add_argument("kind", nargs="?", choices=LISTS, help="only this registry")
    commands.add_parser("run", help="run an experiment: feedbackgym run [hydra overrides] [--multirun]")
    commands.add_parser("train", help="train PPO agents on numeric views: feedbackgym train [training=try_again] [hydra overrides]")
    commands.add_parser("models", help="language models inside the process: feedbackgym models prepare smollm2-135m | list")
    args = parser.parse_args(argv)
    for kind in [args.kind] if args.kind else LISTS:
        print(f"{kind}:")
        for line in registered(kind):
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
