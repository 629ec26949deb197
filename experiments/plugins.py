"""Your own agents, environments, wrappers and task sources on the command line: plugins.

A plugin is a Python module that registers things when imported (``@register_agent``, ``register``,
``register_wrapper``, ``register_task_source``). ``feedbackgym run``/``train``/``list`` import plugins from:

| where | how |
|---|---|
| installed packages | an entry point in the group `feedbackgym` (`mypkg = "mypkg.plugin"`); a module is imported, a callable (`"mypkg.plugin:register"`) is also called with no arguments |
| the command line | `run.plugins=[mypkg.envs,mypkg.agents]` (`feedbackgym run`), `train.plugins=[...]` (`feedbackgym train`): modules to import, in every worker process too |
| the environment | `FEEDBACKGYM_PLUGINS=mypkg.envs,mypkg.agents` |

A plugin may ship its own Hydra configs (``agent/<name>.yaml``, ``env/<name>.yaml``, ``experiment/...``)
in a package: name it with an entry point in the group `feedbackgym.conf` (`mypkg = "mypkg.conf"`), and
the command adds ``pkg://mypkg.conf`` to Hydra's search path, so ``agent@agents.solver_0=<name>`` finds
it. Without an entry point, pass the search path yourself: ``hydra.searchpath=[pkg://feedbackgym.conf.common,pkg://mypkg.conf]``.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterable, Sequence
from importlib import metadata
from typing import Any

PLUGIN_GROUP = "feedbackgym"
CONF_GROUP = "feedbackgym.conf"
PLUGINS_VARIABLE = "FEEDBACKGYM_PLUGINS"
COMMON_CONF = "pkg://feedbackgym.conf.common"

log = logging.getLogger("feedbackgym")
_loaded: set[str] = set()


class PluginError(ImportError):
    """A plugin that cannot be imported or registered, with where it was named."""


def _entry_points(group: str) -> list[Any]:
    found = metadata.entry_points()
    selected = found.select(group=group) if hasattr(found, "select") else found.get(group, [])  # type: ignore[attr-defined]
    return sorted(selected, key=lambda entry: (entry.name, entry.value))  # same order in every process


def modules_from_environment() -> list[str]:
    """The modules named in ``FEEDBACKGYM_PLUGINS`` (comma-separated)."""
    return [name.strip() for name in os.environ.get(PLUGINS_VARIABLE, "").split(",") if name.strip()]


def import_plugin(name: str, where: str) -> None:
    """Import module ``name`` (or call ``module:function``), once per process; errors say where it was named."""
    if name in _loaded:
        return
    module_name, _, attribute = name.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in filter(None, attribute.split(".")):
            target = getattr(target, part)
    except Exception as error:
        raise PluginError(f"plugin {name!r} ({where}) cannot be imported: {type(error).__name__}: {error}") from error
    if attribute:
        if not callable(target):
            raise PluginError(f"plugin {name!r} ({where}) names {target!r}, which is not callable")
        try:
            target()
        except Exception as error:  # a register function that fails (an id registered twice, ...): said like an import error
            raise PluginError(f"plugin {name!r} ({where}) failed when called: {type(error).__name__}: {error}") from error
    _loaded.add(name)


def load_plugins(
    modules: Iterable[str] = (), *, entry_points: bool = True, environment: bool = True, option: str = "run.plugins"
) -> list[str]:
    """Import the plugins: entry points of the ``feedbackgym`` group, ``FEEDBACKGYM_PLUGINS``, then ``modules``
    (the config option ``option`` names them, for the messages).

    Returns what was named, in load order; each is imported once per process.
    """
    named: list[tuple[str, str]] = []
    if entry_points:
        named += [(entry.value, f"entry point {entry.name!r} of the group {PLUGIN_GROUP!r}") for entry in _entry_points(PLUGIN_GROUP)]
    if environment:
        named += [(name, f"from {PLUGINS_VARIABLE}") for name in modules_from_environment()]
    if isinstance(modules, str):
        raise PluginError(f"{option} must be a list of module names, e.g. [mypkg.envs], got {modules!r}")
    named += [(str(name), f"from {option}") for name in modules]
    for name, where in named:
        import_plugin(name, where)
    return [name for name, _ in named]


def conf_search_path() -> list[str]:
    """``pkg://`` search-path entries of the configs plugins ship (entry points of the ``feedbackgym.conf`` group)."""
    entries = []
    for entry in _entry_points(CONF_GROUP):
        value = entry.value.split(":", 1)[0]
        entries.append(value if "://" in value else f"pkg://{value}")
    return entries


def with_plugin_search_path(overrides: Sequence[str]) -> list[str]:
    """The command's Hydra overrides, plus ``hydra.searchpath`` with the plugins' configs when any ship some
    (unless the command sets ``hydra.searchpath`` itself)."""
    extra = conf_search_path()
    if not extra or any(o.lstrip("+~").startswith("hydra.searchpath") for o in overrides):
        return list(overrides)
    return [*overrides, f"hydra.searchpath=[{','.join([COMMON_CONF, *extra])}]"]


__all__ = ["PluginError", "conf_search_path", "import_plugin", "load_plugins", "modules_from_environment", "with_plugin_search_path"]
