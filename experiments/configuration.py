"""Checks shared by ``feedbackgym run`` and ``feedbackgym train``: typed options, required values,
command-line overrides that an experiment's conditions would silently replace, and run fingerprints.

Every check raises :class:`ConfigError` with the config path of the field and what it accepts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from feedbackgym.envs.core import checks
from feedbackgym.envs.core.checks import ArgumentError


class ConfigError(ValueError):
    """A config value that cannot work, with the config path of the field."""


# ------------------------------------------------------------------------------- typed options
# The same checks as every environment, wrapper and agent knob (feedbackgym.envs.core.checks), with
# the config path of the field as its name, raised as ConfigError.
def _as_config_error(check: Callable[[], Any]) -> Any:
    try:
        return check()
    except ArgumentError as error:
        raise ConfigError(str(error)) from None


def require_int(value: Any, field: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int (an integral float such as ``2.0`` too); a bool, a fraction or text is an error naming ``field``."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    return _as_config_error(lambda: checks.require_int(field, value, minimum, maximum))


def require_bool(value: Any, field: str) -> bool:
    """``value`` as a bool: only true or false (Hydra parses ``true``/``false`` on the command line)."""
    return _as_config_error(lambda: checks.require_bool(field, value))


def require_number(value: Any, field: str, *, minimum: float | None = None, maximum: float | None = None) -> float:
    """``value`` as a finite float within the bounds."""
    return _as_config_error(lambda: checks.require_float(field, value, minimum, maximum))


def require_choice(value: Any, field: str, choices: Sequence[str]) -> str:
    return str(_as_config_error(lambda: checks.require_choice(field, value, choices)))


def require_mapping(value: Any, field: str, *, optional: bool = True) -> dict[str, Any]:
    """``value`` as a dict (``{}`` for null when ``optional``): a config section the runner reads keys from."""
    checked = _as_config_error(lambda: checks.require_mapping(field, value, allow_none=optional))
    return dict(checked or {})


def require_names(value: Any, field: str) -> list[str]:
    """``value`` as a list of non-empty strings (null: none); a bare string is an error, not a list of letters."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) and item for item in value):
        raise ConfigError(f"{field} must be a list of names, e.g. [a, b], got {value!r}")
    return list(value)


def require_plugin_modules(value: Any, field: str) -> list[str]:
    """``run.plugins`` / ``train.plugins``: a list of module names to import (null or empty: none)."""
    modules = value or []
    if not isinstance(modules, list) or not all(isinstance(name, str) and name for name in modules):
        raise ConfigError(f"{field} must be a list of module names to import, e.g. [mypkg.envs], got {modules!r}")
    return modules


# A name that becomes a file name in the output folder (``<experiment>.png``): no path separators, no "..".
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


def require_file_name(value: Any, field: str) -> str:
    """``value`` as a name that is safe as a file name: letters, digits, ``_``, ``-`` and ``.``, not starting with ``.``."""
    if not isinstance(value, str) or not _FILE_NAME.fullmatch(value):
        raise ConfigError(f"{field} must be a name of at most 100 letters, digits, '_', '-' or '.' (not starting with '.'), "
                          f"as it names files in the output folder, got {value!r}")
    return value


def check_known(options: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """An option that nothing reads (``+run.episode=5``, a typo) is an error listing the known ones."""
    allowed = list(allowed)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"{where} has unknown option(s) {', '.join(unknown)}; known: {', '.join(allowed)}")


def resolved(cfg: DictConfig) -> dict[str, Any]:
    """``cfg`` (without Hydra's own node) as plain, resolved containers; an interpolation that does not resolve
    (``${nope}``) is a ConfigError naming its key."""
    from omegaconf.errors import OmegaConfBaseException

    try:
        plain = OmegaConf.to_container(OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"]), resolve=True)
    except OmegaConfBaseException as error:
        raise ConfigError(f"{getattr(error, 'full_key', '') or 'config'}: {str(error).splitlines()[0]}") from None
    return plain  # type: ignore[return-value]


def check_required(cfg: DictConfig, sections: Iterable[str]) -> None:
    """A mandatory value left at ``???`` (``task=jsonl`` without a path) is an error naming its key."""
    for section in sections:
        node = cfg.get(section)
        if not isinstance(node, DictConfig):
            continue
        missing = sorted(OmegaConf.missing_keys(node))
        if missing:
            keys = [key if key.startswith(f"{section}.") else f"{section}.{key}" for key in missing]
            raise ConfigError(f"{keys[0]} is required and has no value: add {keys[0]}=<value> to the command"
                              + (f" (also missing: {', '.join(keys[1:])})" if len(keys) > 1 else ""))


# ---------------------------------------------------------------------- overrides vs conditions
def override_keys(overrides: Iterable[str]) -> dict[str, str]:
    """The config keys set by command-line overrides (``env.kwargs.max_turns=3``), with the override text.

    Group choices (``experiment=single``, ``agent@agents.solver_0=llm``) and deletions set no value.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    keys: dict[str, str] = {}
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.key_or_group
        if override.package is not None or "." not in key or override.is_delete():
            continue
        keys[_agent_key(key)] = override.input_line or key
    return keys


def _agent_key(key: str) -> str:
    """``agents.<role>.kwargs.<knob>`` and ``agents.<role>.<knob>`` name the same constructor argument."""
    parts = key.split(".")
    if len(parts) >= 4 and parts[0] == "agents" and parts[2] == "kwargs":
        return ".".join(parts[:2] + parts[3:])
    return key


def condition_keys(conditions: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Config key -> the conditions that set it (``env.kwargs.feedback_level`` -> [none, unary, ...])."""
    keys: dict[str, list[str]] = {}
    for name, condition in conditions.items():
        for knob in condition.get("env") or {}:
            keys.setdefault(f"env.kwargs.{knob}", []).append(name)
        for role, override in (condition.get("agents") or {}).items():
            for knob in override or {}:
                if knob == "kwargs":
                    for inner in override["kwargs"] or {}:
                        keys.setdefault(f"agents.{role}.{inner}", []).append(name)
                else:
                    keys.setdefault(f"agents.{role}.{knob}", []).append(name)
    return keys


def check_condition_overrides(overrides: Iterable[str], conditions: Mapping[str, Mapping[str, Any]], experiment: str) -> None:
    """An override that a condition replaces would be dropped without a word: an error naming the condition."""
    set_by = condition_keys(conditions)
    for key, text in override_keys(overrides).items():
        for condition_key, names in set_by.items():
            if key == condition_key or key.startswith(condition_key + ".") or condition_key.startswith(key + "."):
                which = ", ".join(names[:4]) + (f", ... ({len(names)} conditions)" if len(names) > 4 else "")
                raise ConfigError(
                    f"{text}: experiment {experiment} sets {condition_key} in its condition(s) {which}, which would replace "
                    f"this value; drop the override, or choose an experiment whose conditions leave it alone "
                    f"(experiment=single runs the config as given)"
                )


def check_overridden_roles(overrides: Iterable[str], roles: Sequence[str], env_id: str) -> None:
    """An override that mounts or sets an agent for a role the environment does not have (``+agents.solver0.name=random``,
    a typo of ``solver_0``) would be ignored without a word: an error naming the role and the environment's roles."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    for override in OverridesParser.create().parse_overrides(list(overrides)):
        if override.is_delete():
            continue
        target = override.package if override.key_or_group == "agent" and override.package else override.key_or_group
        parts = target.split(".")
        if len(parts) >= 2 and parts[0] == "agents" and parts[1] not in roles:
            raise ConfigError(f"{override.input_line}: {env_id} has no agent {parts[1]!r}, so this would be ignored; "
                              f"its agents: {', '.join(roles)}")


# ---------------------------------------------------------------------------------- fingerprints
def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as ``{"a.b.c": leaf}``; lists are leaves."""
    if isinstance(value, Mapping) and value:
        flat: dict[str, Any] = {}
        for key, inner in value.items():
            flat.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def differing_keys(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(key, recorded value, current value) for every key whose value differs; ``<absent>`` marks a missing one."""
    old, new = flatten(recorded), flatten(current)
    absent = "<absent>"
    return [(key, old.get(key, absent), new.get(key, absent)) for key in sorted(set(old) | set(new)) if old.get(key, absent) != new.get(key, absent)]
