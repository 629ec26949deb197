"""One role of a feedbackgym AEC environment as a ``gymnasium.Env``, the other roles played by agents."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
from gymnasium.utils import seeding
from pettingzoo import AECEnv

from feedbackgym.envs.core.checks import fail, require_bool, require_choice, require_seed
from feedbackgym.envs.core.roles import check_agents_fit
from feedbackgym.envs.core.seeding import agent_seed
from feedbackgym.envs.registration import make

INFO_FORMS = ("rich", "slim")

# Plays of the other roles allowed between two learner turns before we call the environment stuck.
MAX_OTHER_STEPS = 100_000


class SingleAgent(gymnasium.Env):
    """One role (the learner) of an AEC environment as a Gymnasium env; given agents play the others.

    ``reset`` resets the environment and the other agents, then plays the other roles until it is
    the learner's turn. ``step(action)`` plays the learner's reply, then the others, until the
    learner's turn comes again or the episode ends. The reward is the learner's reward since its
    previous action (PettingZoo's ``last()`` reward), so a learner's rewards add up to its return
    in the AEC loop; at the end the observation is the learner's final one.

    ## Arguments

    | argument | meaning |
    |---|---|
    | `env` | a registered environment id (built with `env_kwargs`) or an AEC environment instance |
    | `learner` | the agent id this view controls, e.g. `"solver_0"` |
    | `others` | one agent per other role: an object with `act(observation, info)` (and optionally `reset(seed)`), a registered agent name, or `{"name": ..., **kwargs}` (as Hydra's agent configs; a nested `"kwargs"` mapping works too) |
    | `seed` | seeds the generator that draws an episode seed when `reset()` gets none |
    | `render_mode` | `"ansi"` or None (with an id; an instance keeps its own) |

    ## Seeding

    ``reset(seed=s)`` resets the environment with ``s`` and the agent of the role at position
    ``i`` of ``possible_agents`` with ``SeedSequence([s, i])``, as ``experiments.runner.rollout``
    does, so the same agents and seed give the same episode through either. ``reset()`` without a
    seed draws the episode seed from this env's own generator (``self.episode_seed`` holds it).

    ## Episode End

    When the others end the episode before the learner's first turn (say the solver is right at
    once and the learner is the teacher), ``reset`` returns the learner's final observation and the
    next ``step`` ignores its action and returns ``terminated=True`` with the learner's reward.

    ## Spaces

    The learner's observation and action spaces. For feedbackgym environments the observation is
    a ``Dict`` with ``text`` and numeric fields, and the action is free text: a string the
    environment cannot parse is an invalid move, penalised and answered, never an error. ``step``
    after the end, or before any ``reset``, raises ``RuntimeError``.

    ## Info

    Every key of the info keeps one type for the whole episode, so Gymnasium's ``SyncVectorEnv`` and
    ``AsyncVectorEnv`` can merge the infos of their copies. ``info="rich"`` (the default) is the
    learner's AEC info (chat view, task, feedback event, episode metrics, ...), copied so that nothing
    returned shares an object with the env (the copy is bounded by the env's history window), with
    every entry whose value is None left out at every level: ``info.get("feedback")`` is None
    before the first feedback, as in the AEC info, but no key switches between None and a dict or a
    number. ``info="slim"`` is what numeric learners need and nothing else: a flat dict of floats,
    one per number or boolean of the rich info, keyed by its dotted path (``"turn"``,
    ``"episode.solved"``, ``"feedback.level_value"``); strings, lists and missing values are left out.
    Gymnasium's ``RecordEpisodeStatistics`` writes ``info["episode"]`` too, so on this view it needs
    another ``stats_key`` (``RecordEpisodeStatistics(env, stats_key="episode_statistics")``).

    >>> env = SingleAgent("SolverFeedback-v0", "solver_0", {"teacher_0": "scripted_teacher"}, max_turns=3)
    >>> observation, info = env.reset(seed=0)
    >>> sorted(observation)
    ['feedback_level', 'last_reward', 'last_verdict', 'text', 'turn', 'turns_left']
    >>> gold = info["latent"]["gold"]
    >>> observation, reward, terminated, truncated, info = env.step(f"The answer is \\\\boxed{{{gold}}}.")
    >>> reward, terminated, info["episode"]["solved"]
    (1.0, True, True)
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"]}

    def __init__(
        self,
        env: str | AECEnv,
        learner: str,
        others: Mapping[str, Any],
        *,
        seed: int | None = None,
        render_mode: str | None = None,
        copy_info: bool = True,
        info: str = "rich",
        **env_kwargs: Any,
    ) -> None:
        # The env reuses parts of its infos between steps; a copy per step keeps what callers hold
        # intact (check_env insists). Wrappers that only read the info may skip the copy.
        self.copy_info = require_bool("copy_info", copy_info)
        self.info_form = require_choice("info", info, INFO_FORMS)
        seed = require_seed("seed", seed)
        if not isinstance(learner, str):
            raise fail("learner", "an agent id (a string) of the environment", learner)
        if isinstance(env, str):
            if render_mode is not None:
                env_kwargs["render_mode"] = render_mode
            env = make(env, **env_kwargs)
        elif not isinstance(env, AECEnv):
            raise TypeError(f"env must be an environment id or a PettingZoo AECEnv, got {env!r}")
        elif env_kwargs or render_mode is not None:
            unexpected = sorted([*env_kwargs, *(["render_mode"] if render_mode is not None else [])])
            raise TypeError(f"environment arguments {unexpected} need an environment id; this env is already built")
        self.env = env
        possible = list(env.possible_agents)
        if learner not in possible:
            raise ValueError(f"learner {learner!r} is not an agent of this environment; agents: {possible}")
        if not isinstance(others, Mapping):
            raise TypeError(f"others must map agent ids to agents, got {others!r}")
        needed = [agent for agent in possible if agent != learner]
        missing = [agent for agent in needed if agent not in others]
        if missing:
            raise ValueError(f"others has no agent for {missing}; the other roles of this environment are {needed}")
        unknown = [agent for agent in others if agent not in needed]
        if unknown:
            what = "is the learner" if unknown == [learner] else "are not other roles of this environment"
            raise ValueError(f"others has {unknown}, which {what}; the other roles are {needed}")
        self.learner = learner
        self.others = _build_agents({agent: others[agent] for agent in needed}, env)
        self._seed_index = {agent: index for index, agent in enumerate(possible)}
        self.observation_space = env.observation_space(learner)
        self.action_space = env.action_space(learner)
        self.render_mode = getattr(env.unwrapped, "render_mode", None)
        if seed is not None:
            self._np_random, self._np_random_seed = seeding.np_random(seed)
        self.episode_seed: int | None = None
        self._pending_reward = 0.0  # reward the learner got before its first action of the episode
        self._ended_early = False  # the others ended the episode before the learner's first turn
        self._over = True  # no episode in progress: step needs a reset first

    # ---------------------------------------------------------------------------------- gymnasium
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        # As the environment takes it (a numpy integer is its int; a bool is an error), before Gymnasium's seeding sees it.
        seed = require_seed("seed", seed)
        super().reset(seed=seed)
        if seed is None:
            seed = int(self.np_random.integers(0, 2**63 - 1))
        self.env.reset(seed=seed, options=options)  # a refused reset (bad options) leaves the episode and its seed as they were
        self.episode_seed = seed
        for agent, player in self.others.items():
            reset = getattr(player, "reset", None)  # optional: an agent without reset keeps its state
            if callable(reset):
                reset(seed=agent_seed(seed, self._seed_index[agent]))
        self._play_others()
        observation, reward, terminated, truncated, info = self.env.last()
        self._pending_reward = float(reward)
        self._ended_early = bool(terminated or truncated)
        self._over = False
        return observation, self._info_out(info)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self._over:
            raise RuntimeError("the episode is over (or was never started): call reset() before step()")
        reward = self._pending_reward
        self._pending_reward = 0.0
        if self._ended_early:  # nothing to play: the reward seen at reset is all there is
            observation, _, terminated, truncated, info = self.env.last()
        else:
            self.env.step(action)
            self._play_others()
            observation, learner_reward, terminated, truncated, info = self.env.last()
            reward += float(learner_reward)
        self._over = bool(terminated or truncated)
        return observation, reward, bool(terminated), bool(truncated), self._info_out(info)

    def _info_out(self, info: dict[str, Any]) -> dict[str, Any]:
        if self.info_form == "slim":
            return slim_info(info)
        return stable_copy(info) if self.copy_info else info

    def render(self) -> str | None:
        if self.render_mode is None:
            gymnasium.logger.warn("render() was called without a render_mode; pass render_mode='ansi'.")
            return None
        base = self.env.unwrapped
        return base.render_transcript() if hasattr(base, "render_transcript") else self.env.render()

    def close(self) -> None:
        self.env.close()

    # ------------------------------------------------------------------------------------ helpers
    def _play_others(self) -> None:
        """Play the other roles until the learner is selected (alive, or dead at the episode's end)."""
        env = self.env
        for _ in range(MAX_OTHER_STEPS):
            if not env.agents:
                break
            agent = env.agent_selection
            if agent == self.learner:
                return
            _, _, terminated, truncated, _ = env.last(observe=False)
            if terminated or truncated:
                env.step(None)  # the dead-agent step PettingZoo's loop makes before reaching the learner
                continue
            observation, _, _, _, info = env.last()
            env.step(self.others[agent].act(observation, info))
        raise RuntimeError(f"the other roles played {MAX_OTHER_STEPS} moves without the learner {self.learner!r} getting a turn")

    def __repr__(self) -> str:
        return f"SingleAgent<{self.env}, learner={self.learner!r}, others={sorted(self.others)}>"


_IMMUTABLE = frozenset({str, int, float, bool, bytes, complex, type(None)})


def fresh_copy(value: Any) -> Any:
    """A copy sharing no mutable object with ``value``: the env reuses parts of its infos between steps.

    Plain dicts, lists and tuples are rebuilt directly (about 3x faster than ``copy.deepcopy`` on an
    info with a full chat window); anything else goes through ``copy.deepcopy``.
    """
    kind = type(value)
    if kind is dict:
        return {key: fresh_copy(item) for key, item in value.items()}
    if kind is list:
        return [fresh_copy(item) for item in value]
    if kind in _IMMUTABLE:
        return value
    if kind is tuple:
        return tuple(fresh_copy(item) for item in value)
    return copy.deepcopy(value)


def stable_copy(value: Any) -> Any:
    """:func:`fresh_copy`, leaving out every dict entry whose value is None (at any depth).

    A key then has one type whenever it is present, which is what vector envs need to batch infos.
    """
    kind = type(value)
    if kind is dict:
        return {key: stable_copy(item) for key, item in value.items() if item is not None}
    if kind is list:
        return [fresh_copy(item) for item in value]
    if kind in _IMMUTABLE:
        return value
    if isinstance(value, Mapping):  # a frozen mapping (a task's public view): a plain dict, like the rest
        return {key: stable_copy(item) for key, item in value.items() if item is not None}
    return fresh_copy(value)


def slim_info(info: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The numbers and booleans of ``info`` as floats, flat, by dotted key (None, text and lists left out)."""
    flat: dict[str, float] = {}
    for key, value in info.items():
        if isinstance(value, Mapping):
            flat.update(slim_info(value, f"{prefix}{key}."))
        elif isinstance(value, (bool, int, float, np.number, np.bool_)):
            flat[f"{prefix}{key}"] = float(value)
    return flat


def _build_agents(specs: Mapping[str, Any], env: AECEnv) -> dict[str, Any]:
    if all(callable(getattr(value, "act", None)) for value in specs.values()):
        check_agents_fit(env, specs)  # a role the env lacks, or an agent made for another role, is an error
        return dict(specs)
    # Lazy: wrappers sit below agents in the layering, so only names and specs pull the registry in.
    from feedbackgym.agents.registration import build_agents

    try:
        return build_agents(specs, env)
    except TypeError as error:  # name the argument as the caller wrote it
        raise TypeError(str(error).replace("agents[", "others[", 1)) from None


__all__ = ["SingleAgent", "agent_seed", "slim_info", "stable_copy"]
