"""The ``ppo`` agent: a trained policy playing its role through the same numeric encoding it was trained on.

``make_agent("ppo", checkpoint="runs/try_again/solver.pt")`` plays in any rollout or evaluation
beside scripted and LLM agents: it encodes the observation and info the runner hands it, samples
(or takes the most likely) action, and replies with the text the encoder makes of it.

A checkpoint is one ``torch.save`` of plain data: the network's ``state_dict``, its sizes, and the
encoder's config (kind, numeric fields and bounds, answer set, history, knowledge), so that
``torch.load(..., weights_only=True)`` can read it without unpickling any code.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from feedbackgym.agents.base import Agent as BaseAgent
from feedbackgym.agents.torch.ppo import Agent
from feedbackgym.wrappers.encoding import Encoder, make_encoder

CHECKPOINT_FORMAT = "feedbackgym-ppo/1"


def save_checkpoint(path: str | Path, agent: Agent, encoder: Encoder, **extra: Any) -> Path:
    """Write the policy and its encoding to ``path``; ``extra`` (plain data: env id, args, ...) is stored beside them."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "model": agent.model_config(),
        "state_dict": agent.state_dict(),
        "encoder": encoder.config(),
        "extra": extra,
    }
    torch.save(payload, path)
    return path


def load_checkpoint(path: str | Path) -> tuple[Agent, Encoder, dict[str, Any]]:
    """The network (in eval mode), a fresh encoder and the extra data of a checkpoint written by :func:`save_checkpoint`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no PPO checkpoint at {path}; train one with `feedbackgym train` (it writes <run dir>/<role>.pt)")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, Mapping) or payload.get("format") != CHECKPOINT_FORMAT:
        found = payload.get("format") if isinstance(payload, Mapping) else type(payload).__name__
        raise ValueError(f"{path} is not a feedbackgym PPO checkpoint (format {found!r}, expected {CHECKPOINT_FORMAT!r})")
    network = Agent(**payload["model"])
    network.load_state_dict(payload["state_dict"])
    network.eval()
    return network, make_encoder(payload["encoder"]), dict(payload.get("extra") or {})


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
        if checkpoint is not None:
            if network is not None or encoder is not None:
                raise TypeError("give a checkpoint, or a network and an encoder, not both")
            network, encoder, self.extra = load_checkpoint(checkpoint)
        elif network is None or encoder is None:
            raise TypeError("PPOAgent needs checkpoint= (a file written by feedbackgym train) or network= and encoder=")
        else:
            encoder = make_encoder(encoder) if not isinstance(encoder, Encoder) else encoder
            self.extra = {}
        self.network = network
        self.encoder: Encoder = encoder
        self.deterministic = bool(deterministic)
        self.checkpoint = checkpoint
        self.encoder.reset(seed)

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
