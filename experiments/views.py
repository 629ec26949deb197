"""Single-role views for other RL libraries: Gymnasium ids, default opponents, and evaluating a policy in the runner.

Every role of every registered environment is a Gymnasium id once ``feedbackgym.gym`` is imported
(or named as the module part of the id, which Gymnasium imports itself, also in vector-env workers):

| id | view |
|---|---|
| `feedbackgym/<env id>-<role>` | the role's text view (:class:`~feedbackgym.wrappers.single_agent.SingleAgent`) |
| `feedbackgym/<env id>-<role>-numeric` | its numeric view (flat ``Box``, ``Discrete``, slim info), for roles with an encoder |

>>> import gymnasium
>>> env = gymnasium.make("feedbackgym.gym:feedbackgym/SolverFeedback-v0-solver_0-numeric", task="knowledge_mcq")
>>> env.action_space
Discrete(4)

The other roles are played by :func:`default_others` (the registered scripted agent made for each
role); ``others=`` and any environment argument can be passed to ``gymnasium.make`` as keywords.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GYM_NAMESPACE = "feedbackgym"
NUMERIC_SUFFIX = "-numeric"


def default_others(env: Any, learner: str) -> dict[str, str]:
    """A registered agent per role other than ``learner``: the first (by name) whose ``plays`` names that role, else ``random``."""
    from feedbackgym.agents import agent_registry
    from feedbackgym.envs import make
    from feedbackgym.envs.core.roles import fits

    env = make(env) if isinstance(env, str) else env
    candidates: list[tuple[str, tuple[str, ...]]] = []
    for name in agent_registry.names():
        try:
            constructor = agent_registry.get(name)
        except Exception:  # noqa: BLE001 - an agent whose module cannot load (missing extra) plays nothing here
            continue
        plays = tuple(getattr(constructor, "plays", ()) or ())
        if plays:
            candidates.append((name, plays))
    others: dict[str, str] = {}
    for role in env.unwrapped.possible_agents:
        if role == learner:
            continue
        others[role] = next((name for name, plays in candidates if fits(plays, env, role)), "random")
    return others


def make_view(
    env: str,
    learner: str,
    *,
    others: Mapping[str, Any] | None = None,
    numeric: bool = False,
    encoder: Any = None,
    flatten: bool = True,
    slim_info: bool = True,
    render_mode: str | None = None,
    **env_kwargs: Any,
) -> Any:
    """One role of ``env`` as a Gymnasium env: the text view, or with ``numeric=True`` the numeric view
    (``flatten`` and ``slim_info`` as in :func:`~feedbackgym.wrappers.encoding.make_numeric`).
    ``others`` defaults to :func:`default_others`. This is the entry point of the Gymnasium ids."""
    from feedbackgym.envs import make
    from feedbackgym.wrappers.encoding import make_numeric
    from feedbackgym.wrappers.single_agent import SingleAgent

    if render_mode is not None:
        env_kwargs["render_mode"] = render_mode
    aec = make(env, **env_kwargs)
    players = dict(others) if others is not None else default_others(aec, learner)
    if numeric:
        return make_numeric(aec, learner, players, encoder=encoder, flatten=flatten, slim_info=slim_info)
    return SingleAgent(aec, learner, players)


def gym_id(env_id: str, role: str, numeric: bool = False) -> str:
    """``feedbackgym/SolverFeedback-v0-solver_0`` (``-numeric`` for the numeric view)."""
    return f"{GYM_NAMESPACE}/{env_id}-{role}{NUMERIC_SUFFIX if numeric else ''}"


def parse_gym_id(name: str) -> tuple[str, str, bool]:
    """(env id, role, numeric) of a feedbackgym Gymnasium id (the module prefix ``feedbackgym.gym:`` is allowed)."""
    from feedbackgym.envs import registry

    name = name.rsplit(":", 1)[-1]
    if not name.startswith(GYM_NAMESPACE + "/"):
        raise ValueError(f"{name!r} is not a feedbackgym Gymnasium id (feedbackgym/<env id>-<role>[-numeric])")
    rest = name[len(GYM_NAMESPACE) + 1:]
    numeric = rest.endswith(NUMERIC_SUFFIX)
    if numeric:
        rest = rest[: -len(NUMERIC_SUFFIX)]
    for env_id in sorted(registry, key=len, reverse=True):
        if rest.startswith(env_id + "-"):
            return env_id, rest[len(env_id) + 1:], numeric
    raise ValueError(f"{name!r} names no registered environment; ids look like {gym_id('SolverFeedback-v0', 'solver_0')}")


def register_gymnasium_envs() -> list[str]:
    """Register a text and (where the role has a built-in encoder) a numeric Gymnasium id per role of every
    registered environment; returns the ids. Idempotent."""
    import gymnasium

    from feedbackgym.envs import make, registry
    from feedbackgym.wrappers.encoding import encoder_kinds_for

    ids: list[str] = []
    for env_id in sorted(registry):
        base = make(env_id).unwrapped
        for role in base.possible_agents:
            for numeric in (False, True):
                if numeric and not encoder_kinds_for(base, role):
                    continue
                name = gym_id(env_id, role, numeric)
                ids.append(name)
                if name not in gymnasium.registry:
                    gymnasium.register(name, entry_point="feedbackgym.experiments.views:make_view",
                                       kwargs={"env": env_id, "learner": role, "numeric": numeric},
                                       disable_env_checker=not numeric)
    return ids


# --------------------------------------------------------------------------- evaluating a policy
@dataclass
class PolicyEvaluation:
    """What :func:`evaluate_policy` returns: the runner's table row and its episode records."""

    summary: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def metrics(self) -> list[dict[str, Any]]:
        """The episode metrics of each episode (``solved``, ``turns_to_success``, ...), in seed order."""
        return [record.get("metrics", {}) for record in self.records]


def evaluate_policy(
    policy: Any,
    view: Any,
    episodes: int = 100,
    seed: int = 0,
    *,
    learner: str | None = None,
    others: Mapping[str, Any] | None = None,
    encoder: Any = None,
    deterministic: bool = True,
    concurrency: int = 1,
    **env_kwargs: Any,
) -> PolicyEvaluation:
    """Play ``episodes`` episodes (seeds ``seed .. seed+episodes-1``) with ``policy`` in the learner's role, through the runner.

    ``view`` is a numeric view (:class:`~feedbackgym.wrappers.encoding.NumericView`, its encoder, others
    and environment are reused), a feedbackgym Gymnasium id (``"feedbackgym/SolverFeedback-v0-solver_0-numeric"``),
    or an environment id with ``learner=``. ``policy`` is anything :class:`~feedbackgym.agents.policy.PolicyAgent`
    takes (an SB3 model, a callable). Returns the runner's table row (``summary``: ``acc@k``, ``solved``,
    returns, ...) and the episode records; the same seeds give the same episodes as ``view.reset(seed=s)``.
    """
    from feedbackgym.agents.policy import PolicyAgent
    from feedbackgym.agents.registration import build_agents
    from feedbackgym.envs import make
    from feedbackgym.experiments.runner import EpisodeJob, aggregate, run_episodes
    from feedbackgym.wrappers.encoding import NumericView

    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be an integer >= 1, got {episodes!r}")
    inner = getattr(view, "unwrapped", None) if not isinstance(view, (str, NumericView)) else None
    if inner is not None and not isinstance(view, NumericView):
        # gymnasium.make's wrappers (order enforcing, checker) sit above the view: find it
        candidate = view
        while not isinstance(candidate, NumericView) and hasattr(candidate, "env"):
            candidate = candidate.env
        view = candidate if isinstance(candidate, NumericView) else view
    flatten = True
    if isinstance(view, NumericView):
        if env_kwargs:
            raise TypeError(f"environment arguments {sorted(env_kwargs)} need an id; this view is already built")
        single = view.env
        env_id = getattr(getattr(single.env, "spec", None), "id", None)
        learner = single.learner
        encoder = encoder if encoder is not None else view.encoder.config()
        flatten = view.flatten
        players: Mapping[str, Any] = single.others if others is None else build_agents(others)
        shared_env = single.env

        def make_env(condition: str) -> Any:
            return shared_env

        concurrency = 1  # one environment instance: episodes one after another
    elif isinstance(view, str):
        if view.rsplit(":", 1)[-1].startswith(GYM_NAMESPACE + "/"):
            env_id, learner, _ = parse_gym_id(view)
        elif learner is None:
            raise TypeError("evaluate_policy(policy, '<env id>', ...) needs learner=<agent id>")
        else:
            env_id = view

        def make_env(condition: str) -> Any:
            return make(env_id, **env_kwargs)

        players = others if others is not None else default_others(make_env("default"), learner)
    else:
        raise TypeError(f"view must be a NumericView, a feedbackgym Gymnasium id or an environment id, got {view!r}")

    def make_agents(condition: str) -> dict[str, Any]:
        agent = PolicyAgent(policy, encoder=encoder, flatten=flatten, deterministic=deterministic)
        mounted = build_agents({role: spec for role, spec in players.items()}) if not isinstance(view, NumericView) else dict(players)
        return {**mounted, learner: agent}

    jobs = [EpisodeJob(str(i), seed + i) for i in range(episodes)]
    records = asyncio.run(run_episodes(jobs, make_env, make_agents, concurrency=concurrency))
    rows = aggregate(records)
    summary = rows[0] if rows else {}
    summary.pop("condition", None)
    if env_id:
        summary = {"env_id": env_id, "learner": learner, **summary}
    return PolicyEvaluation(summary=summary, records=records)


__all__ = ["PolicyEvaluation", "default_others", "evaluate_policy", "gym_id", "make_view", "parse_gym_id", "register_gymnasium_envs"]
