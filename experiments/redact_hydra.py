"""A Hydra callback that keeps API keys out of everything Hydra writes and prints.

An ``api_key`` given on the command line (``agents.solver_0.api_key=sk-...``) or in a config file
would otherwise be saved in the sweep's ``multirun.yaml``, each job's ``.hydra/*.yaml``, and printed
by the launcher (``[HYDRA] #0 : ...``). Before any of that happens (``on_run_start`` /
``on_multirun_start``), each such value is moved into an environment variable of this process
(inherited by the launcher's workers) and replaced, in the config and in the overrides, by an
``${oc.env:...}`` interpolation that the job resolves when it builds its agents. The key is also
registered with :func:`feedbackgym.agents.secrets.register_secret`, so any text that still carries
it is redacted. Registered in ``conf/config.yaml`` under ``hydra.callbacks``.
"""

from __future__ import annotations

import os
import re
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write

from feedbackgym.agents.secrets import register_secret

# Config fields whose value is a credential (``api_key_env`` names a variable and is not one), HTTP header
# names among them (``extra_headers: {x-api-key: ..., Authorization: Bearer ...}``): see is_secret_field.
SECRET_FIELD = re.compile(r"(?:^|_)(api_key|token|secret|password|authorization)$", re.IGNORECASE)


def is_secret_field(name: object) -> bool:
    """Whether a config key names a credential: ``api_key``, ``hf_token``, ``x-api-key``, ``Authorization``, ..."""
    return SECRET_FIELD.search(str(name).replace("-", "_")) is not None


# A field that names the environment variable holding a credential (``api_key_env``).
SECRET_NAME_FIELD = re.compile(r"(?:^|_)(api_key|token|secret|password)_env$", re.IGNORECASE)
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def is_pasted_secret(field: object, value: Any) -> bool:
    """Whether ``value`` of a field such as ``api_key_env`` is more likely the key itself than a variable's name: no
    variable of that name is set and it is not written like one (``OPENAI_API_KEY``), e.g. ``sk-proj-...``.
    The run stops anyway (the variable is not set); the value must not reach a saved config or a log first."""
    return (SECRET_NAME_FIELD.search(str(field).replace("-", "_")) is not None and _is_literal(value)
            and str(value) not in os.environ and _ENV_NAME.fullmatch(str(value)) is None)
ENV_PREFIX = "FEEDBACKGYM_HIDDEN_"
_OVERRIDE = re.compile(r"^(?P<key>[+~]{0,2}[^=\s]+)=(?P<value>.*)$", re.DOTALL)


def _is_literal(value: Any) -> bool:
    return isinstance(value, str) and value not in ("", "null") and not value.startswith("${")


class SecretStash:
    """Puts each distinct secret in one environment variable and returns its interpolation."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def hide(self, value: str) -> str:
        register_secret(value)
        if value not in self.names:
            name = f"{ENV_PREFIX}{len(self.names)}_API_KEY"  # *_API_KEY: redacted as an environment secret too
            os.environ[name] = value
            self.names[value] = name
        return "${oc.env:" + self.names[value] + "}"


def hide_secrets(config: DictConfig) -> int:
    """Replace every literal credential in ``config`` (outside ``hydra``) and in ``hydra.overrides.task``
    by an environment interpolation; returns how many values were hidden."""
    stash = SecretStash()
    hidden = 0

    def walk(node: Any) -> None:
        nonlocal hidden
        if isinstance(node, DictConfig):
            for key in list(node.keys()):
                if node is config and key == "hydra":
                    continue
                raw = OmegaConf.to_container(node, resolve=False).get(key) if not OmegaConf.is_missing(node, key) else None
                if (is_secret_field(key) and _is_literal(raw)) or is_pasted_secret(key, raw):
                    with read_write(node), open_dict(node):
                        node[key] = stash.hide(str(raw))
                    hidden += 1
                else:
                    walk(node._get_node(key))
        elif isinstance(node, ListConfig):
            for item in node._iter_ex(resolve=False) if hasattr(node, "_iter_ex") else node:
                walk(item)

    walk(config)
    if "hydra" in config and "overrides" in config.hydra:
        task = config.hydra.overrides.task
        with read_write(task):
            # unresolved: an override's text may hold an interpolation (${...}) that does not resolve
            for index, line in enumerate(OmegaConf.to_container(task, resolve=False)):
                match = _OVERRIDE.match(str(line))
                if not match:
                    continue
                key, value = match.group("key"), match.group("value").strip().strip("'\"")
                if (is_secret_field(key.split(".")[-1]) and _is_literal(value)) or is_pasted_secret(key.split(".")[-1], value):
                    task[index] = f"{key}={stash.hide(value)}"
                    hidden += 1
    if "hydra" in config and stash.names:
        _scrub_strings(config.hydra, list(stash.names))  # e.g. hydra.job.override_dirname, built from the overrides
    return hidden


def _scrub_strings(node: Any, secrets: list[str]) -> None:
    """Every string under ``node`` that contains a secret gets ``[redacted]`` in its place."""
    from feedbackgym.agents.secrets import REDACTED

    keys = list(node.keys()) if isinstance(node, DictConfig) else range(len(node)) if isinstance(node, ListConfig) else []
    for key in keys:
        child = node._get_node(key)
        if isinstance(child, (DictConfig, ListConfig)):
            _scrub_strings(child, secrets)
            continue
        raw = child._value() if child is not None else None
        if isinstance(raw, str) and any(secret in raw for secret in secrets):
            for secret in secrets:
                raw = raw.replace(secret, REDACTED)
            with read_write(node):
                node[key] = raw


class RedactSecrets(Callback):
    """``hydra.callbacks`` entry: hides credentials before Hydra saves or prints the config."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        hide_secrets(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        hide_secrets(config)
