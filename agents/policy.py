"""Any policy over a numeric view as a feedbackgym agent: SB3, RLlib, Tianshou or a plain function.

An RL library's policy maps the numbers of a numeric view to an action index. :class:`PolicyAgent`
puts the same :class:`~feedbackgym.wrappers.encoding.Encoder` in front of it, so the policy plays its
role in the runner (``feedbackgym run``, :func:`~feedbackgym.experiments.runner.rollout`) next to
scripted or LLM agents, and sees exactly the features it saw in training: the encoder is seeded
like :class:`~feedbackgym.wrappers.encoding.NumericView` seeds it.

What counts as a policy (``policy=``):

| policy | called as |
|---|---|
| an object with `predict` (Stable-Baselines3: `model.predict`) | `policy.predict(obs, deterministic=...)[0]` |
| an object with `compute_single_action` (RLlib's old API) | `policy.compute_single_action(obs)[0]` |
| any callable (a Tianshou or RLlib module wrapped in a lambda, a function) | `policy(obs)` |
| a string `"package.module:attribute"` (for Hydra configs) | the attribute is imported; a class or function without arguments is called once to build the policy |

``obs`` is the flat float32 vector of the view (``flatten=True``, the default) or its dict of
arrays (``flatten=False``). The result may be an int, a numpy scalar or a one-element array.

>>> from feedbackgym.experiments.runner import rollout
>>> always_a = PolicyAgent(lambda obs: 0, encoder={"kind": "solver", "n_choices": 4})
>>> result = rollout("SolverFeedback-v0", {"solver_0": always_a, "teacher_0": "scripted_teacher"},
...                  seed=0, task="knowledge_mcq", max_turns=2)
>>> [m["text"] for m in result.transcript if m["sender"] == "solver_0"][0]
'The answer is \\\\boxed{A}.'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from feedbackgym.agents.base import Agent
from feedbackgym.envs.core.checks import ArgumentError, fail, require_bool, shown
from feedbackgym.wrappers.encoding import Encoder, check_encoder_fits, make_encoder, resolve_encoder
from feedbackgym.wrappers.encoding import action_index as discrete_action_index  # None for what is no action


def load_policy(spec: Any) -> Any:
    """``policy=`` as given, or imported from ``"package.module:attribute"`` (a class or factory is called once)."""
    if not isinstance(spec, str):
        return spec
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise fail("policy", "a callable, an object with predict, or 'package.module:attribute'", spec)
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as error:
        raise ArgumentError(f"policy {spec!r} cannot be imported: {error}") from None
    if isinstance(target, type) or (callable(target) and getattr(target, "__feedbackgym_factory__", False)):
        target = target()
    return target


def policy_caller(policy: Any, deterministic: bool = True) -> Callable[[Any], Any]:
    """A function ``obs -> action`` for any kind of policy in the module's table."""
    if callable(getattr(policy, "predict", None)):
        return lambda obs: policy.predict(obs, deterministic=deterministic)[0]
    if callable(getattr(policy, "compute_single_action", None)):
        return lambda obs: policy.compute_single_action(obs, explore=not deterministic)[0]
    if callable(policy):
        return policy
    raise fail("policy", "a callable obs -> action, an object with predict (SB3) or compute_single_action (RLlib)", policy)


def action_index(action: Any) -> int:
    """The int a policy returned: an int, a numpy integer, a one-element array or tensor (a float only with an
    integral value). Several values, a fraction, NaN or anything else is an error: truncating 1.5, or
    reading the first of several values, would play a move the policy never chose."""
    index = discrete_action_index(action.detach().cpu().numpy() if hasattr(action, "detach") else action)
    if index is None:
        raise ValueError(f"the policy returned {shown(action)}; a PolicyAgent needs one integer action index")
    return index


class PolicyAgent(Agent):
    """Plays one role with any policy over its numeric view: the encoder turns the observation into numbers,
    the policy picks an action index, the encoder turns it into the reply text.

    ## Arguments

    | argument | meaning |
    |---|---|
    | `policy` | see the module table (a callable, an SB3 model, an RLlib policy, `"module:attribute"`) |
    | `encoder` | an `Encoder`, an encoder kind, a config mapping (`{"kind": "solver", "n_choices": 4}`), or None: the role's default encoder, bound when the agent is mounted |
    | `flatten` | the policy takes the flat vector (True, as `NumericView(flatten=True)`) or the dict of arrays |
    | `deterministic` | passed to `predict` (SB3) / `compute_single_action` (RLlib) |
    | `seed` | the encoder's generator (the runner reseeds it every episode) |

    ``plays`` is empty (any role): whether the encoder fits the role is checked when the agent is mounted.
    """

    def __init__(
        self,
        policy: Any,
        encoder: Encoder | str | Mapping[str, Any] | None = None,
        *,
        flatten: bool = True,
        deterministic: bool = True,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        self.policy = load_policy(policy)
        self.deterministic = require_bool("deterministic", deterministic)
        self.flatten = require_bool("flatten", flatten)
        self._call = policy_caller(self.policy, self.deterministic)
        if encoder is not None and not isinstance(encoder, (Encoder, str, Mapping)):
            raise fail("encoder", "an Encoder, an encoder kind, a config mapping or None", encoder)
        self._encoder_spec = encoder
        # A full spec (an Encoder or a kind) is built now; a partial one (None, a mapping without kind)
        # needs the environment: it is resolved when the runner mounts the agent (check_fit).
        self.encoder: Encoder | None = None
        if isinstance(encoder, Encoder) or isinstance(encoder, str) or (isinstance(encoder, Mapping) and encoder.get("kind")):
            self.encoder = make_encoder(encoder)
        self._seed = seed

    def check_fit(self, env: Any, agent_id: str) -> None:
        """Bind the encoder to the role's observation space (building the default one if none was given)."""
        if self.encoder is None or self.encoder.fields is None:
            spec = self.encoder if self.encoder is not None else self._encoder_spec
            self.encoder = resolve_encoder(env, agent_id, spec)
            self.encoder.reset(self._seed)
        else:
            check_encoder_fits(self.encoder, env, agent_id)

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._seed = seed
        if self.encoder is not None:
            self.encoder.reset(seed)

    def action(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> int:
        """The policy's action index for this observation."""
        encoder = self._require_encoder()
        features = encoder.encode(observation, info)
        return action_index(self._call(encoder.flatten(features) if self.flatten else features))

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        encoder = self._require_encoder()
        return encoder.decode(self.action(observation, info), info)

    def _require_encoder(self) -> Encoder:
        if self.encoder is None or self.encoder.fields is None:
            raise RuntimeError("PolicyAgent has no bound encoder yet: mount it through the runner (rollout, feedbackgym run) "
                               "or call agent.check_fit(env, agent_id) first")
        return self.encoder

    def __repr__(self) -> str:
        return f"PolicyAgent({self.policy!r}, encoder={self.encoder or self._encoder_spec!r})"


__all__ = ["PolicyAgent", "action_index", "load_policy", "policy_caller"]
