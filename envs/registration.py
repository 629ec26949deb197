"""Environment and wrapper registries: ``register``, ``make``, ``make_parallel``, ``spec``, ``registry``.

Ids follow Gymnasium's ``[namespace/]Name[-vN]``. Entry points are lazy ``"module:Class"`` strings so
that importing ``feedbackgym.envs`` stays cheap. A variant id is the same class with other keyword
arguments and its own stack of wrappers, named in the wrapper registry (so Hydra configs can name them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.conversions import turn_based_aec_to_parallel
from pettingzoo.utils.wrappers import OrderEnforcingWrapper
from pettingzoo.utils.wrappers.order_enforcing import AECOrderEnforcingIterable, AECOrderEnforcingIterator

from feedbackgym.envs.core.checks import fail, keyword_parameters
from feedbackgym.envs.core.registry import Registry, RegistryError, UnknownNameError, did_you_mean, load_entry_point

ENV_ID_RE = re.compile(r"^(?:(?P<namespace>[\w:.-]+)/)?(?P<name>[\w:.-]+?)(?:-v(?P<version>\d+))?$")

WrapperStack = tuple[tuple[str, Mapping[str, Any]], ...]


@dataclass(frozen=True)
class EnvSpec:
    """Everything ``make`` needs to build one environment id."""

    id: str
    entry_point: str | Callable[..., AECEnv]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    wrappers: WrapperStack = ()  # (wrapper name, kwargs), applied innermost first
    description: str = ""

    @property
    def name(self) -> str:
        return _parse_id(self.id)[1]

    @property
    def version(self) -> int | None:
        return _parse_id(self.id)[2]


registry: dict[str, EnvSpec] = {}
wrapper_registry: Registry[Callable[..., AECEnv]] = Registry("wrapper")


def _parse_id(env_id: str) -> tuple[str | None, str, int | None]:
    match = ENV_ID_RE.fullmatch(env_id)
    if not match:
        raise ValueError(f"malformed environment id {env_id!r}: expected '[namespace/]Name[-vN]', e.g. 'SolverFeedback-v0'")
    version = match.group("version")
    return match.group("namespace"), match.group("name"), int(version) if version is not None else None


def register(
    id: str,
    entry_point: str | Callable[..., AECEnv],
    *,
    kwargs: Mapping[str, Any] | None = None,
    wrappers: Sequence[tuple[str, Mapping[str, Any]] | str] = (),
    description: str = "",
    override: bool = False,
) -> EnvSpec:
    """Register an environment id. ``wrappers`` name entries of the wrapper registry."""
    _parse_id(id)
    if id in registry and not override:
        raise RegistryError(f"environment `{id}` is already registered; pass override=True to replace it")
    stack = tuple((w, {}) if isinstance(w, str) else (w[0], dict(w[1])) for w in wrappers)
    registered = EnvSpec(id, entry_point, dict(kwargs or {}), stack, description)
    registry[id] = registered
    return registered


def spec(env_id: str) -> EnvSpec:
    """The spec of ``env_id``; an unknown id names the closest registered ones."""
    if not isinstance(env_id, str):
        raise fail("environment id", "a string like 'SolverFeedback-v0'", env_id)
    if env_id in registry:
        return registry[env_id]
    _parse_id(env_id)
    raise UnknownNameError(did_you_mean(env_id, list(registry), "environment"))


def register_wrapper(name: str, entry_point: str | Callable[..., AECEnv], *, override: bool = False) -> None:
    """Register a wrapper under a name that env variants and Hydra configs can use."""
    wrapper_registry.register(name, entry_point, override=override)


def apply_wrapper(env: AECEnv, name: str, **kwargs: Any) -> AECEnv:
    """Wrap ``env`` with the wrapper registered as ``name``; bad arguments name the allowed ones."""
    wrapper = wrapper_registry.get(name)
    check_kwargs(wrapper, kwargs, f"wrapper `{name}`", skip=1)
    return wrapper(env, **kwargs)


def check_kwargs(target: Callable[..., Any], kwargs: Mapping[str, Any], what: str, *, skip: int = 0) -> None:
    """Raise a TypeError naming any keyword ``target`` does not accept, and what it does accept."""
    signature = keyword_parameters(target, skip=skip)
    if signature is None:
        return
    accepted, _ = signature
    unknown = [key for key in kwargs if key not in accepted]
    if unknown:
        hints = "; ".join(did_you_mean(key, accepted, "argument").split(" Registered:")[0] for key in unknown)
        raise TypeError(f"{what} got unknown argument(s) {', '.join(map(repr, unknown))}. {hints} Accepted: {', '.join(accepted)}")


def _after_reset(name: str) -> property:
    """The wrapped env's attribute ``name``, or PettingZoo's AttributeError before the first reset."""

    def read(self: OrderEnforcingWrapper) -> Any:
        if not self._has_reset:
            raise AttributeError(f"{name} cannot be accessed before reset")
        return getattr(self.env, name)

    return property(read, doc=f"The wrapped env's ``{name}`` (an AttributeError before reset).")


class FastOrderEnforcing(OrderEnforcingWrapper):
    """PettingZoo's order checks, with the calls and attributes of the AEC loop handed straight down.

    ``OrderEnforcingWrapper`` serves ``agents``, ``agent_selection`` and the other per-agent dicts from
    ``__getattr__`` (which builds a set on every read, then asks the wrapped env); ``AECEnv.last`` on a
    wrapper reads eight attributes that way. Here they are properties, ``last`` and ``step`` go
    straight to the wrapped env, and ``agent_iter`` reads it directly: the same checks and errors, at a
    fraction of the cost. Wrappers that change observations override ``last`` themselves.
    """

    agents = _after_reset("agents")
    rewards = _after_reset("rewards")
    terminations = _after_reset("terminations")
    truncations = _after_reset("truncations")
    infos = _after_reset("infos")

    @property
    def agent_selection(self) -> Any:
        if not self._has_reset:
            raise AttributeError("agent_selection cannot be accessed before reset")
        return self.env.agent_selection

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        had_reset = self._has_reset
        try:
            super().reset(seed=seed, options=options)
        except BaseException:
            # PettingZoo marks the env reset before it tries: a refused reset (a bad seed or option, which the env
            # refuses before touching its episode) must not let step and last reach an env that never started.
            self._has_reset = had_reset
            raise
        # From the first reset on, last() is the wrapped env's own (its order check passes for good): bound here,
        # so that the loop's every last() skips this wrapper's frame and its attribute reads (every read on a
        # class with __getattr__, as this one, goes through the slow hook).
        self.last = self.env.last  # type: ignore[method-assign]

    def last(self, observe: bool = True) -> tuple:
        if not self._has_reset:
            return super().last(observe)  # let PettingZoo raise its usual error
        return self.env.last(observe)

    def step(self, action: Any) -> None:
        if self._has_reset and (env := self.env).agents:
            self._has_updated = True
            env.step(action)
        else:
            super().step(action)  # PettingZoo's error before reset, its warning after the end

    def agent_iter(self, max_iter: int = 2**63) -> AECOrderEnforcingIterable:
        if not self._has_reset:
            return super().agent_iter(max_iter)  # let PettingZoo raise its usual error
        return _FastIterable(self, max_iter)


class _FastIterable(AECOrderEnforcingIterable):
    def __iter__(self) -> AECOrderEnforcingIterator:
        return _FastIterator(self.env, self.max_iter)


class _FastIterator(AECOrderEnforcingIterator):
    """``AECOrderEnforcingIterator`` reading the wrapped env's ``agents`` and ``agent_selection`` directly."""

    def __init__(self, env: FastOrderEnforcing, max_iter: int) -> None:
        super().__init__(env, max_iter)
        self._wrapped = env.env  # read once (the wrapper's attributes go through its __getattr__ hook)

    def __next__(self) -> Any:
        env = self._wrapped
        if not env.agents or self.iters_til_term <= 0:
            raise StopIteration
        self.iters_til_term -= 1
        agent = env.agent_selection
        wrapper = self.env
        assert wrapper._has_updated, "need to call step() or reset() in a loop over `agent_iter`"
        wrapper._has_updated = False
        return agent


def make(
    env_id: str,
    *,
    wrappers: Sequence[tuple[str, Mapping[str, Any]] | str] = (),
    order_enforcing: bool = True,
    **kwargs: Any,
) -> AECEnv:
    """Build a registered environment (AEC API) with its variant's wrappers, then ``wrappers``.

    >>> env = make("SolverFeedback-v0", max_turns=3)
    >>> env.reset(seed=0)
    >>> env.agent_selection
    'solver_0'
    """
    env_spec = spec(env_id)
    constructor = env_spec.entry_point
    if isinstance(constructor, str):
        constructor = load_entry_point(constructor)  # type: ignore[assignment]
    arguments = {**env_spec.kwargs, **kwargs}
    check_kwargs(constructor, arguments, f"environment `{env_id}`")  # type: ignore[arg-type]
    env: AECEnv = constructor(**arguments)  # type: ignore[operator]
    stack = [*env_spec.wrappers, *_wrapper_stack(wrappers)]
    for name, wrapper_kwargs in stack:
        env = apply_wrapper(env, name, **dict(wrapper_kwargs))
    if order_enforcing:
        env = FastOrderEnforcing(env)
    env.spec = env_spec  # type: ignore[attr-defined]
    return env


def _wrapper_stack(wrappers: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """``make``'s ``wrappers``: a list of names or ``(name, kwargs)`` pairs (a bare string is one name, not letters)."""
    allowed = "a list of wrapper names or (name, kwargs) pairs"
    if isinstance(wrappers, (str, bytes, Mapping)) or not isinstance(wrappers, Sequence):
        raise fail("wrappers", allowed, wrappers)
    stack = []
    for entry in wrappers:
        if isinstance(entry, str):
            stack.append((entry, {}))
        elif isinstance(entry, Sequence) and not isinstance(entry, str) and len(entry) == 2 and isinstance(entry[0], str) and isinstance(entry[1], Mapping):
            stack.append((entry[0], entry[1]))
        else:
            raise fail("wrappers", allowed, wrappers)
    return stack


def make_parallel(env_id: str, **kwargs: Any) -> ParallelEnv:
    """The Parallel API view of a registered turn-based environment (one parallel step per turn).

    Every live agent passes an action each step; only the action of the agent whose turn it is
    (``infos[agent]["active_agent"]``) is played, as in PettingZoo's ``turn_based_aec_to_parallel``.
    """
    return turn_based_aec_to_parallel(make(env_id, **kwargs))


def registered_envs() -> list[str]:
    return sorted(registry)
