"""The ``ppo`` agent: a trained policy playing its role through the same numeric encoding it was trained on.

``make_agent("ppo", checkpoint="runs/try_again/solver.pt")`` plays in any rollout or evaluation
beside scripted and LLM agents: it encodes the observation and info the runner hands it, samples
(or takes the most likely) action, and replies with the text the encoder makes of it.

A checkpoint is one ``torch.save`` of plain data: the network's ``state_dict``, its sizes, the
encoder's config (kind, numeric fields and bounds, answer set, history, knowledge) and what it was
trained for (``trained_for``: environment id and family, role, task source), so that
``torch.load(..., weights_only=True)`` can read it without unpickling any code.

Mounted on a role (``build_agents(..., env)``, ``rollout``, the runner, ``SingleAgent``), a ``ppo``
agent refuses an environment family, role or task source other than the one it was trained for,
and an encoder that does not fit the role or the task (a multiple-choice solver on a numeric task).
A checkpoint written before ``trained_for`` was recorded loads with a warning and is checked on
its encoder alone.
"""

from __future__ import annotations

import errno
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from feedbackgym.agents.base import Agent as BaseAgent
from feedbackgym.agents.torch.ppo import Agent
from feedbackgym.envs.core.checks import ArgumentError, MissingFileError, fail, require_bool, require_text
from feedbackgym.envs.core.roles import env_families, env_name, role_of
from feedbackgym.wrappers.encoding import Encoder, SolverEncoder, check_encoder_fits, make_encoder

CHECKPOINT_FORMAT = "feedbackgym-ppo/1"


def trained_for(env: Any = None, role: str | None = None, *, env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a policy was trained for, as plain data: env id, family, role and task source (``describe()``).

    From a built ``env``, or else from ``env_id`` and ``env_kwargs`` (the environment is built once to
    read its task source). Without ``env_kwargs`` the task is unknown (None) and not checked later.
    """
    if env is None and env_id is not None and env_kwargs is not None:
        from feedbackgym.envs import make

        env = make(env_id, **dict(env_kwargs))
    record: dict[str, Any] = {"env_id": env_id, "family": None, "role": role, "task": None}
    if env is not None:
        record["env_id"] = env_id or getattr(getattr(env, "spec", None), "id", None)
        record["family"] = env_families(env)[0]
        source = getattr(env.unwrapped, "task_source", None)
        record["task"] = _task_record(source)
    elif env_id is not None:
        from feedbackgym.envs import spec
        from feedbackgym.envs.core.registry import load_entry_point

        entry = spec(env_id).entry_point
        cls = load_entry_point(entry) if isinstance(entry, str) else entry
        record["family"] = env_families(cls)[0] if isinstance(cls, type) else None
    return record


def _task_record(source: Any) -> dict[str, Any] | None:
    if source is None:
        return None
    describe = getattr(source, "describe", None)
    described = describe() if callable(describe) else {"name": getattr(source, "name", type(source).__name__)}
    return {str(key): _plain(value) for key, value in described.items()}


def _plain(value: Any) -> Any:
    """Plain Python data (``weights_only`` loading refuses numpy scalars): numbers, strings, lists of them."""
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (list, tuple, dict)):
        try:
            value = value.item()
        except (TypeError, ValueError):
            return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return type(value)(value) if value is not None else None
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return str(value)


def save_checkpoint(
    path: str | Path, agent: Agent, encoder: Encoder, *, env: Any = None, role: str | None = None, **extra: Any
) -> Path:
    """Write the policy and its encoding to ``path``; ``extra`` (plain data: env id, args, ...) is stored beside them.

    What it was trained for (:func:`trained_for`) is read from ``env`` when given, else from
    ``extra["env_id"]`` and ``extra["env_kwargs"]``; ``role`` is the agent id it played.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "model": agent.model_config(),
        "state_dict": agent.state_dict(),
        "encoder": encoder.config(),
        "trained_for": trained_for(env, role, env_id=extra.get("env_id"), env_kwargs=extra.get("env_kwargs")),
        "extra": extra,
    }
    torch.save(payload, path)
    return path


def load_checkpoint(path: str | Path) -> tuple[Agent, Encoder, dict[str, Any]]:
    """The network (in eval mode), a fresh encoder and the extra data of a checkpoint written by :func:`save_checkpoint`."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(
            errno.ENOENT, "checkpoint: no PPO checkpoint here; train one with `feedbackgym train` (it writes <run dir>/<role>.pt)", str(path)
        )
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, Mapping) or payload.get("format") != CHECKPOINT_FORMAT:
        found = payload.get("format") if isinstance(payload, Mapping) else type(payload).__name__
        raise ValueError(f"{path} is not a feedbackgym PPO checkpoint (format {found!r}, expected {CHECKPOINT_FORMAT!r})")
    network = Agent(**payload["model"])
    network.load_state_dict(payload["state_dict"])
    network.eval()
    extra = dict(payload.get("extra") or {})
    if payload.get("trained_for") is not None:
        extra["trained_for"] = dict(payload["trained_for"])
    return network, make_encoder(payload["encoder"]), extra


class PPOAgent(BaseAgent):
    """Plays one role with a PPO policy: from a ``checkpoint`` file, or from a live ``network`` and ``encoder``.

    ``deterministic`` takes the most likely action instead of sampling (sampling is the default: it
    is how the policy was trained and evaluated). Sampling uses the agent's own generator, seeded by
    ``reset(seed)``, so a rollout is reproducible and never touches torch's global generator (which a
    trainer may be using at the same time, when this agent is a frozen self-play opponent).
    """

    def __init__(
        self,
        checkpoint: str | None = None,
        deterministic: bool = False,
        seed: int | None = None,
        network: Agent | None = None,
        encoder: Encoder | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(seed)
        self.deterministic = require_bool("deterministic", deterministic)
        if checkpoint is not None:
            if not isinstance(checkpoint, (str, Path)):
                raise fail("checkpoint", "the path of a checkpoint file (or None)", checkpoint)
            require_text("checkpoint", str(checkpoint), max_chars=4096)
            if network is not None or encoder is not None:
                raise TypeError("give a checkpoint, or a network and an encoder, not both")
            network, encoder, self.extra = load_checkpoint(checkpoint)
            self.trained_for: dict[str, Any] | None = self.extra.get("trained_for")
            if self.trained_for is None:
                warnings.warn(
                    f"checkpoint {checkpoint} records no environment, role or task (written by an older feedbackgym); "
                    "only its encoder can be checked against the role it plays. Retrain to record them.",
                    stacklevel=2,
                )
        elif network is None or encoder is None:
            raise TypeError("PPOAgent needs checkpoint= (a file written by feedbackgym train) or network= and encoder=")
        else:
            if not isinstance(network, Agent):
                raise fail("network", "a feedbackgym.agents.torch.ppo.Agent", network)
            if not isinstance(encoder, (Encoder, Mapping)):
                raise fail("encoder", "an Encoder or an encoder config mapping", encoder)
            encoder = make_encoder(encoder) if not isinstance(encoder, Encoder) else encoder
            self.extra = {}
            self.trained_for = None
        self.network = network
        self.encoder: Encoder = encoder
        self.checkpoint = checkpoint
        record = self.trained_for or {}
        # The roles it plays, for the generic fit check; unknown (an old or live policy): any role.
        self.plays = (f"{record['family']}/{role_of(record['role'])}",) if record.get("family") and record.get("role") else ()
        self.encoder.reset(seed)

    def check_fit(self, env: Any, agent_id: str) -> None:
        """Refuse another environment family, role or task source than the policy was trained for,
        and an encoder that does not fit the role or the task; the message names both sides."""
        record = self.trained_for or {}
        base = env.unwrapped
        source = _task_record(getattr(base, "task_source", None))
        here = f"{agent_id!r} of {env_name(env)}" + (f" with task {source['name']!r}" if source else "")
        trained = self._trained_text()
        if record.get("family") and record["family"] not in env_families(env):
            raise ArgumentError(f"{trained} cannot play {here}: another environment family")
        if record.get("role") and role_of(record["role"]) != role_of(agent_id):
            raise ArgumentError(f"{trained} cannot play {here}: another role")
        task = record.get("task")
        if task and source and task.get("name") != source.get("name"):
            raise ArgumentError(f"{trained} cannot play {here}: another task source")
        try:
            check_encoder_fits(self.encoder, env, agent_id)
        except ArgumentError as error:
            raise ArgumentError(f"{trained} cannot play {here}: {error}") from None
        if isinstance(self.encoder, SolverEncoder) and source is not None:
            choices = getattr(base.task_source, "n_choices", None)
            if self.encoder.n_choices is not None and choices != self.encoder.n_choices:
                what = f"{choices}-option questions" if choices else "numeric answers"
                raise ArgumentError(
                    f"{trained} cannot play {here}: its encoder answers one of {self.encoder.n_choices} options, "
                    f"but the task has {what}"
                )
            if self.encoder.answers is not None and choices is not None:
                raise ArgumentError(
                    f"{trained} cannot play {here}: its encoder answers integers {self.encoder.answers[0]}..{self.encoder.answers[1]}, "
                    f"but the task has {choices}-option questions"
                )

    def _trained_text(self) -> str:
        record = self.trained_for or {}
        source = self.checkpoint or "this live policy"
        if not record:
            return f"the PPO policy {source} (encoder {self.encoder.kind!r})"
        task = (record.get("task") or {}).get("name")
        parts = [record.get("env_id") or record.get("family"), record.get("role"), f"task {task!r}" if task else None]
        return f"the PPO policy {source}, trained on {', '.join(str(p) for p in parts if p)} (encoder {self.encoder.kind!r}),"

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self.encoder.reset(seed)

    def action(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> int:
        """The action index for this observation (the encoder's features through the actor)."""
        features = self.encoder.flatten(self.encoder.encode(observation, info))
        with torch.no_grad():
            logits = self.network.actor(torch.as_tensor(features, dtype=torch.float32).unsqueeze(0))[0]
        if self.deterministic:
            return int(torch.argmax(logits).item())
        probabilities = torch.softmax(logits.double(), dim=0).numpy()
        return int(self.np_random.choice(len(probabilities), p=probabilities / probabilities.sum()))

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        return self.encoder.decode(self.action(observation, info), info)

    def __repr__(self) -> str:
        source = self.checkpoint or "live network"
        return f"PPOAgent({source}, encoder={self.encoder!r}, deterministic={self.deterministic})"


def frozen_copy(network: Agent) -> Agent:
    """A copy of ``network`` that later updates of the original do not change (a self-play opponent)."""
    copy = Agent(**network.model_config())
    copy.load_state_dict({key: value.detach().clone() for key, value in network.state_dict().items()})
    copy.eval()
    return copy


__all__ = ["CHECKPOINT_FORMAT", "PPOAgent", "frozen_copy", "load_checkpoint", "save_checkpoint"]
