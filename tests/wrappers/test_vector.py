"""Every single-role view of every environment works in Gymnasium's vector envs.

Gymnasium merges the infos of its sub-environments key by key into arrays whose type comes from the
first value it sees, so a key that is None in one sub-environment and a dict or a number in another
breaks ``SyncVectorEnv`` and ``AsyncVectorEnv``. Each view (``SingleAgent`` for every environment id
and role, ``NumericView`` where a default encoder exists) is played for a few episodes with a mix of
its role's scripted agent and random actions, and every key of every info must keep one type.
"""

from __future__ import annotations

import functools
import multiprocessing

import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AsyncVectorEnv, SyncVectorEnv

import feedbackgym
from feedbackgym.agents.scripted.casts import scripted_cast_names
from feedbackgym.envs import registered_envs
from feedbackgym.envs.core.spaces import PrintableText
from feedbackgym.wrappers.encoding import NumericView, encoder_kinds_for, resolve_encoder
from feedbackgym.wrappers.single_agent import SingleAgent

SCRIPTED = "<scripted>"  # the action a text view's test wrapper replaces by its role's scripted reply
FAST = {"Negotiation": {"n_games": 1, "n_round": 4}}  # a negotiation series is hundreds of moves


def _env_kwargs(env_id: str) -> dict:
    return dict(FAST.get(env_id.split("-")[0], {}))


def _cast(env_id: str) -> dict[str, str]:
    return scripted_cast_names(feedbackgym.make(env_id, **_env_kwargs(env_id)))


class ScriptedOrRandom(gymnasium.Wrapper):
    """A text view whose action ``SCRIPTED`` is replaced by the role's scripted agent's reply."""

    def __init__(self, env: SingleAgent, agent_name: str) -> None:
        super().__init__(env)
        from feedbackgym.agents import make_agent

        self.agent = make_agent(agent_name)
        self._last = ({}, {})

    def reset(self, **kwargs):
        observation, info = self.env.reset(**kwargs)
        self.agent.reset(seed=self.env.unwrapped.episode_seed)
        self._last = (observation, info)
        return observation, info

    def step(self, action):
        if action == SCRIPTED:
            action = self.agent.act(*self._last)
        observation, reward, terminated, truncated, info = self.env.step(action)
        self._last = (observation, info)
        return observation, reward, terminated, truncated, info


def _text_view(env_id: str, role: str) -> gymnasium.Env:
    cast = _cast(env_id)
    others = {agent: name for agent, name in cast.items() if agent != role}
    return ScriptedOrRandom(SingleAgent(env_id, role, others, **_env_kwargs(env_id)), cast[role])


def _numeric_view(env_id: str, role: str) -> gymnasium.Env:
    cast = _cast(env_id)
    others = {agent: name for agent, name in cast.items() if agent != role}
    return NumericView(SingleAgent(env_id, role, others, **_env_kwargs(env_id)))


def _has_encoder(env_id: str, role: str) -> bool:
    env = feedbackgym.make(env_id, **_env_kwargs(env_id))
    if not encoder_kinds_for(env, role):
        return False
    try:
        resolve_encoder(env, role, None)
    except ValueError:  # a numeric solver needs its answer range
        return False
    return True


TEXT_VIEWS = [(env_id, role) for env_id in registered_envs() for role in feedbackgym.make(env_id).possible_agents]
NUMERIC_VIEWS = [view for view in TEXT_VIEWS if _has_encoder(*view)]


def _actions(vector: gymnasium.vector.VectorEnv, rng: np.random.Generator, text: bool) -> list:
    if not text:
        return vector.action_space.sample()
    single = vector.single_action_space
    return tuple(SCRIPTED if rng.random() < 0.7 else single.sample() for _ in range(vector.num_envs))


def _types(info: dict, prefix: str = "") -> dict[str, type]:
    """The type of every leaf of an unbatched info, by dotted key."""
    found = {}
    for key, value in info.items():
        if isinstance(value, dict):
            found.update(_types(value, f"{prefix}{key}."))
        else:
            found[f"{prefix}{key}"] = type(value)
    return found


def _play(vector: gymnasium.vector.VectorEnv, text: bool, steps: int, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    vector.action_space.seed(seed)
    vector.single_action_space.seed(seed)
    vector.reset(seed=seed)
    ends = 0
    for _ in range(steps):
        _, _, terminated, truncated, _ = vector.step(_actions(vector, rng, text))
        ends += int(np.sum(terminated | truncated))
    return ends


@pytest.mark.parametrize(("env_id", "role"), TEXT_VIEWS)
def test_every_key_of_a_text_views_info_keeps_one_type(env_id: str, role: str) -> None:
    view = _text_view(env_id, role)
    rng = np.random.default_rng(1)
    view.action_space.seed(1)
    seen: dict[str, set[type]] = {}
    for episode in range(4):
        _, info = view.reset(seed=episode)
        infos = [info]
        for _ in range(200):
            action = SCRIPTED if rng.random() < 0.7 else view.action_space.sample()
            _, _, terminated, truncated, info = view.step(action)
            infos.append(info)
            if terminated or truncated:
                break
        for one in infos:
            for key, kind in _types(one).items():
                seen.setdefault(key, set()).add(kind)
    mixed = {key: sorted(kind.__name__ for kind in kinds) for key, kinds in seen.items() if len(kinds) > 1}
    assert not mixed, f"info keys of {env_id}/{role} change type: {mixed}"


@pytest.mark.parametrize(("env_id", "role"), TEXT_VIEWS)
def test_text_view_runs_in_sync_vector_env(env_id: str, role: str) -> None:
    vector = SyncVectorEnv([functools.partial(_text_view, env_id, role)] * 3)
    assert _play(vector, text=True, steps=40) > 0
    vector.close()


@pytest.mark.parametrize(("env_id", "role"), NUMERIC_VIEWS)
def test_numeric_view_runs_in_sync_vector_env(env_id: str, role: str) -> None:
    vector = SyncVectorEnv([functools.partial(_numeric_view, env_id, role)] * 3)
    assert _play(vector, text=False, steps=40) > 0
    vector.close()


ASYNC_VIEWS = [(*view, "text") for view in TEXT_VIEWS] + [(*view, "numeric") for view in NUMERIC_VIEWS]


@pytest.mark.parametrize("shared_memory", [True, False])
@pytest.mark.parametrize(("env_id", "role", "kind"), ASYNC_VIEWS)
def test_view_runs_in_async_vector_env(env_id: str, role: str, kind: str, shared_memory: bool) -> None:
    make_view = _text_view if kind == "text" else _numeric_view
    context = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    vector = AsyncVectorEnv([functools.partial(make_view, env_id, role)] * 2, shared_memory=shared_memory, context=context)
    try:
        _play(vector, text=kind == "text", steps=12)
    finally:
        vector.close()


def test_printable_text_observations_in_shared_memory_keep_any_character() -> None:
    from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

    space = PrintableText(max_length=64)
    memory = create_shared_memory(space, n=2, ctx=multiprocessing.get_context())
    text = "Schrödinger's \\boxed{42} ✓\nnew line"
    write_to_shared_memory(space, 1, text, memory)
    assert read_from_shared_memory(space, memory, n=2)[1] == text


def test_slim_info_is_flat_floats_and_batches_in_a_vector_env() -> None:
    def view() -> SingleAgent:
        return SingleAgent("Critic-v0", "actor_0", {k: v for k, v in _cast("Critic-v0").items() if k != "actor_0"}, info="slim")

    single = view()
    _, info = single.reset(seed=0)
    assert info and all(type(value) is float for value in info.values()) and "turn" in info
    vector = SyncVectorEnv([view] * 2)
    vector.reset(seed=0)
    ended = False
    for _ in range(20):
        _, _, terminated, truncated, infos = vector.step(("\\boxed{1}", "no answer"))
        ended |= bool(np.any(terminated | truncated))
        assert all(np.asarray(value).dtype.kind in "fb" for value in infos.values() if not isinstance(value, dict))
    assert ended


def test_rich_info_leaves_out_none_but_keeps_what_agents_read() -> None:
    single = SingleAgent("SolverFeedback-v0", "solver_0", {"teacher_0": "scripted_teacher"}, max_turns=3)
    _, info = single.reset(seed=0)
    assert "feedback" not in info and "last_move" not in info and info.get("feedback") is None
    assert info["latent"]["gold"] and info["messages"][0]["role"] == "system"
    _, _, terminated, _, info = single.step(f"\\boxed{{{info['latent']['gold']}}}")
    assert terminated and info["episode"]["solved"] is True and "turns_to_success" in info["episode"]
    assert "feedback_resistance" not in info["episode"]  # None in the AEC info: left out here
