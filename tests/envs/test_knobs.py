"""Hostile values for every constructor knob of every environment, wrapper, agent, encoder and task source.

The cases are generated from the registries and the constructors' signatures, so a new environment,
wrapper, agent or knob is covered without editing this file. Each knob gets one hostile value of each
kind (a wrong type, a string where a bool belongs, NaN and infinities, huge and negative integers, a
NUL in a string, a list, None, ...). A value must either be refused with a ValueError or TypeError
whose message names the knob, raised by feedbackgym's own checks (not deep inside numpy), or be
accepted, after which a short seeded rollout must run cleanly with finite rewards.

``HOSTILE`` and ``knob_cases`` are plain data and functions so that others can run the same
machinery with other values (``pytest tests/envs/test_knobs.py``, or import ``check_value``).
"""

from __future__ import annotations

import inspect
import io
import itertools
import json
import math
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import feedbackgym.agents  # noqa: F401  (registers the agents)
from feedbackgym.agents.registration import agent_registry
from feedbackgym.envs import make, registry, wrapper_registry
from feedbackgym.envs.core.registry import load_entry_point
from feedbackgym.envs.core.roles import env_families, role_of
from feedbackgym.envs.tasks import TASK_SOURCES
from feedbackgym.experiments.runner import rollout

REPO = Path(__file__).resolve().parents[2]
ROLLOUT_STEPS = 24
ROLLOUT_TEXTS = ("\\boxed{1}", "Your answer is incorrect.", "How about $15?", "I accept.", "Verdict: agree", "Output (a)",
                 "Correctness of the final answer: Wrong", "[[A]]", "Rating: [[5]]", "hello")

# One hostile value per kind. Values equal to a knob's default are skipped for that knob.
HOSTILE: dict[str, Any] = {
    "text": "abc",
    "bool_text": "false",
    "empty_text": "",
    "nul_text": "a\x00b",
    "control_text": "bad\x1b[2Jname",
    "bool": True,
    "huge_int": 10**9,
    "giant_int": 10**30,
    "negative_int": -1,
    "zero": 0,
    "numpy_int": np.int64(3),
    "fraction": 2.5,
    "nan": float("nan"),
    "inf": float("inf"),
    "-inf": float("-inf"),
    "huge_float": 1e300,
    "none": None,
    "list": ["seller"],
    "dict": {"key": 1},
    "object": object(),
    "np_nan": np.float64("nan"),
    "tiny": 5e-324,
    "lone_surrogate": "\ud800",
    "long_text": "x" * 100_000,
    "bytes": b"abc",
    "np_scalar_array": np.array(3),
    "dict_int_keys": {0: 0.5, 1: 0.5},
}


@dataclass(frozen=True)
class Case:
    kind: str  # env | wrapper | agent | task | encoder
    target: str  # a registered name (or encoder kind)
    knob: str
    value_name: str
    default_kind: str = "other"  # bool | int | float | str | none | required | other
    optional: bool = False  # annotated "... | None": None is a documented value

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.target}:{self.knob}={self.value_name}"


# ------------------------------------------------------------------------------ what there is to test
def _signature_knobs(target: Callable[..., Any], skip: int = 0) -> dict[str, tuple[Any, bool]]:
    """Keyword knobs: their default (``inspect.Parameter.empty`` when required) and whether None is allowed."""
    parameters = list(inspect.signature(target).parameters.values())[skip:]
    return {
        p.name: (p.default, p.default is None or "None" in str(p.annotation))
        for p in parameters
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def host_env(family: str | None = None, role: str | None = None) -> str:
    """A registered id of ``family`` (any when None) that has a seat for ``role`` (any when None)."""
    for env_id, env_spec in registry.items():
        cls = load_entry_point(env_spec.entry_point) if isinstance(env_spec.entry_point, str) else env_spec.entry_point
        if family is not None and family not in env_families(cls):
            continue
        if role is None or any(role_of(agent) == role for agent in _possible_agents(env_id)):
            return env_id
    raise LookupError((family, role))


_POSSIBLE: dict[str, list[str]] = {}


def _possible_agents(env_id: str) -> list[str]:
    if env_id not in _POSSIBLE:
        _POSSIBLE[env_id] = list(make(env_id).possible_agents)
    return _POSSIBLE[env_id]


# Arguments without which a target cannot be built at all (required, or to keep tests offline).
def _alternating(*lines: str) -> Callable[[str], str]:
    stream = itertools.cycle(lines)
    return lambda prompt: next(stream)


def _base_kwargs(tmp: Path) -> dict[tuple[str, str], dict[str, Any]]:
    jsonl = tmp / "tasks.jsonl"
    jsonl.write_text("\n".join(json.dumps({"prompt": f"q{i}", "answer": f"a{i}"}) for i in range(3)) + "\n")
    base = {
        # every other line ends a multi-line reply, so multiline=True terminates too
        ("agent", "human"): {"input_fn": _alternating("\\boxed{1}", "."), "output": io.StringIO()},
        ("agent", "llm"): {"mock_response": "\\boxed{1}", "max_retries": 0},
        ("task", "jsonl"): {"path": str(jsonl)},
        ("encoder", "solver"): {"n_choices": 4},
        ("agent", "policy"): {"policy": "numpy:ndim"},  # obs -> 1, a valid action index
        ("gym", "SingleAgent"): {"env": "SolverFeedback-v0", "learner": "solver_0", "others": {"teacher_0": "scripted_teacher"}},
    }
    try:
        import torch  # noqa: F401

        from feedbackgym.agents.torch import Agent
        from feedbackgym.wrappers.encoding import default_encoder

        encoder = default_encoder(make("SolverFeedback-v0", task="knowledge_mcq"), "solver_0")
        network = Agent(int(encoder.flat_space().shape[0]), encoder.n_actions)
        base[("agent", "ppo")] = {"network": network, "encoder": encoder.config()}
    except ImportError:
        pass
    return base


def _targets() -> list[tuple[str, str, Callable[..., Any], int]]:
    targets: list[tuple[str, str, Callable[..., Any], int]] = []
    for env_id, env_spec in registry.items():  # every id: variants pass their own kwargs beside the knob
        cls = load_entry_point(env_spec.entry_point) if isinstance(env_spec.entry_point, str) else env_spec.entry_point
        targets.append(("env", env_id, cls, 0))
    for name in wrapper_registry.names():
        targets.append(("wrapper", name, wrapper_registry.get(name), 1))
    for name in agent_registry.names():
        if name == "ppo":
            try:
                import torch  # noqa: F401
            except ImportError:
                continue
        if name == "hf":  # a language model per case is too slow here: tests/agents/test_hf.py checks its knobs
            continue
        agent_cls = agent_registry.get(name)
        if getattr(agent_cls, "__module__", "").startswith("feedbackgym."):  # not agents that test modules register
            targets.append(("agent", name, agent_cls, 0))
    for name in TASK_SOURCES.names():
        targets.append(("task", name, TASK_SOURCES.get(name), 0))
    from feedbackgym.wrappers.encoding import ENCODERS, NumericView
    from feedbackgym.wrappers.single_agent import SingleAgent

    for kind, cls in ENCODERS.items():
        targets.append(("encoder", kind, cls, 0))
    # the Gymnasium views (not in the wrapper registry: they wrap an id, or a SingleAgent)
    targets.append(("gym", "SingleAgent", SingleAgent, 0))
    targets.append(("gym", "NumericView", NumericView, 1))
    return targets


def knob_cases() -> Iterator[Case]:
    for kind, name, target, skip in _targets():
        for knob, (default, optional) in _signature_knobs(target, skip).items():
            for value_name, value in HOSTILE.items():
                if default is not inspect.Parameter.empty and _same(value, default):
                    continue
                yield Case(kind, name, knob, value_name, _kind_of(default), optional)


def _kind_of(default: Any) -> str:
    if default is inspect.Parameter.empty:
        return "required"
    if default is None:
        return "none"
    for kind, types in (("bool", (bool, np.bool_)), ("int", (int, np.integer)), ("float", (float, np.floating)), ("str", (str,))):
        if isinstance(default, types):
            return kind
    return "other"


# Which hostile values must be refused (not merely survived), by the kind of the knob's default.
_NOT_A_NUMBER = {"text", "bool_text", "empty_text", "nul_text", "control_text", "lone_surrogate", "long_text", "bytes",
                 "list", "dict", "dict_int_keys", "np_scalar_array", "object", "none"}
_NEVER = {"nan", "np_nan", "inf", "-inf", "nul_text", "lone_surrogate", "object"}
MUST_REFUSE: dict[str, set[str]] = {
    "bool": set(HOSTILE) - {"bool"},  # "false", 0, 1, None: a bool knob takes real bools only
    "int": _NEVER | _NOT_A_NUMBER | {"bool", "fraction", "tiny", "huge_float", "giant_int"},
    "float": _NEVER | _NOT_A_NUMBER | {"bool", "huge_float", "giant_int"},
    "str": _NEVER | {"control_text", "bytes", "bool", "huge_int", "list", "dict", "np_scalar_array", "none"},
    "none": _NEVER,
    "required": _NEVER,
    "other": _NEVER,
}


def must_refuse(case: Case) -> bool:
    refused = MUST_REFUSE[case.default_kind]
    if "seed" in case.knob and case.value_name == "giant_int":
        return False  # any non-negative integer is a seed
    if case.optional and case.value_name == "none":
        return False
    return case.value_name in refused


def _same(value: Any, default: Any) -> bool:
    try:
        return type(value) is type(default) and bool(value == default)
    except Exception:
        return False


# ------------------------------------------------------------------------------ building and playing
def _agents_for(env: Any, chosen: dict[str, Any] | None = None) -> dict[str, Any]:
    agents = {agent_id: "random" for agent_id in env.unwrapped.possible_agents}
    agents.update(chosen or {})
    return agents


def _play(env: Any, agents: dict[str, Any] | None = None) -> None:
    """A short seeded rollout: no exception, finite rewards, and the episode's own error is None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = rollout(env, _agents_for(env, agents), seed=0)
    assert result.error is None, result.error
    assert all(math.isfinite(r) for r in result.returns.values()), result.returns


def _play_texts(env: Any) -> None:
    """A rollout by hand that gives encoded roles Discrete actions and the others text."""
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for step, agent_id in enumerate(env.agent_iter(ROLLOUT_STEPS)):
        _, reward, terminated, truncated, _ = env.last()
        assert math.isfinite(float(reward)), reward
        if terminated or truncated:
            env.step(None)
            continue
        space = env.action_space(agent_id)
        action = int(rng.integers(space.n)) if hasattr(space, "n") else ROLLOUT_TEXTS[step % len(ROLLOUT_TEXTS)]
        env.step(action)


def build_and_play(case: Case, value: Any, base: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Build ``case.target`` with ``case.knob=value`` (plus its base arguments); if that works, play it."""
    kwargs = {**base.get((case.kind, case.target), {}), case.knob: value}
    if case.kind == "env":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            env = make(case.target, **kwargs)
        _play(env)
    elif case.kind == "wrapper":
        host = {"distractor": "JudgeProtocol-v0", "numeric_view": "DeceptiveJudge-v0"}.get(case.target, "SolverFeedback-v0")
        host_kwargs = {"terminate_on_success": False} if case.target == "deceptive_feedback" else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            env = make(host, wrappers=[(case.target, kwargs)], **host_kwargs)
        _play_texts(env)
    elif case.kind == "agent":
        from feedbackgym.agents import make_agent

        agent = make_agent(case.target, **kwargs)
        if case.target == "llm":
            return  # built is all we can check offline: whether a model or endpoint exists shows on the first call
        plays = tuple(getattr(agent, "plays", ()) or ())
        family, _, role = plays[0].partition("/") if plays else ("SolverFeedback", "", "solver")
        env_id = host_env(family, role)
        task = {"task": "knowledge_mcq"} if case.target == "ppo" else {}
        env = make(env_id, **task)
        seat = next(a for a in env.unwrapped.possible_agents if role_of(a) == role)
        _play(env, {seat: agent})
    elif case.kind == "task":
        from feedbackgym.envs.tasks import make_task_source

        source = make_task_source(case.target, **kwargs)
        rng = np.random.default_rng(0)
        for _ in range(3):
            task = source.sample(rng)
            assert task.check(task.answer)
    elif case.kind == "gym":
        from feedbackgym.wrappers import SingleAgent
        from feedbackgym.wrappers.encoding import NumericView

        if case.target == "SingleAgent":
            view = SingleAgent(**kwargs)
        else:
            single = SingleAgent("SolverFeedback-v0", "solver_0", {"teacher_0": "scripted_teacher"}, task="knowledge_mcq")
            view = NumericView(single, **kwargs)
        view.reset(seed=0)
        rng = np.random.default_rng(0)
        for step in range(ROLLOUT_STEPS):
            space = view.action_space
            action = int(rng.integers(space.n)) if hasattr(space, "n") else ROLLOUT_TEXTS[step % len(ROLLOUT_TEXTS)]
            _, reward, terminated, truncated, _ = view.step(action)
            assert math.isfinite(float(reward)), reward
            if terminated or truncated:
                break
    else:  # encoder: built, then bound to a role it encodes and played through NumericAEC
        from feedbackgym.wrappers.encoding import _DEFAULT_KINDS, ENCODERS, NumericAEC

        encoder = ENCODERS[case.target](**kwargs)
        env_class, role = next(key for key, kind in _DEFAULT_KINDS.items() if kind == case.target)
        env_id = host_env(env_class.removesuffix("Env"), role)
        env = make(env_id, **({"task": "knowledge_mcq"} if env_id.startswith("SolverFeedback") else {}))
        seat = next(a for a in env.unwrapped.possible_agents if role_of(a) == role)
        _play_texts(NumericAEC(env, {seat: encoder}))


def check_value(case: Case, value: Any, base: dict[tuple[str, str], dict[str, Any]]) -> None:
    """The contract: refused with a ValueError/TypeError naming the knob, from our code, or it works."""
    try:
        build_and_play(case, value, base)
        assert not must_refuse(case), f"{case.id}: accepted {value!r}, which a {case.default_kind} knob must refuse"
    except (ValueError, TypeError) as error:
        message = str(error)
        assert case.knob in message, f"{case.id}: the error does not name {case.knob!r}: {type(error).__name__}: {message}"
        frames = traceback.extract_tb(error.__traceback__)
        origin = frames[-1].filename
        assert "site-packages" not in origin and str(REPO) in origin, (
            f"{case.id}: raised outside feedbackgym's checks ({origin}): {type(error).__name__}: {message}"
        )
    except AssertionError:
        raise
    except Exception as error:  # MemoryError, KeyError, OverflowError, ZeroDivisionError, ...
        pytest.fail(f"{case.id}: {type(error).__name__}: {error}\n{traceback.format_exc(limit=-4)}")


# ------------------------------------------------------------------------------ the tests
CASES = list(knob_cases())


def test_the_generator_covers_every_registered_target() -> None:
    kinds = {(case.kind, case.target) for case in CASES}
    assert {target for kind, target in kinds if kind == "env"} == set(registry)
    assert {target for kind, target in kinds if kind == "wrapper"} == set(wrapper_registry.names())
    assert {target for kind, target in kinds if kind == "task"} == set(TASK_SOURCES.names())
    agents = {target for kind, target in kinds if kind == "agent"}
    # agents that tests register for themselves (test_trustworthy_runs' failing solver) are not the library's
    library_agents = {name for name in set(agent_registry.names()) - {"ppo", "hf"}
                      if getattr(agent_registry.get(name), "__module__", "").startswith("feedbackgym.")}
    assert agents >= library_agents
    knobs = {(case.target, case.knob) for case in CASES}
    for knob in ("terminate_on_success", "invalid_move_penalty", "max_turns", "price_tolerance", "item", "decay_gamma", "who_first"):
        assert any(k == knob for _, k in knobs), knob


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, Any]]:
    return _base_kwargs(tmp_path_factory.mktemp("knobs"))


@pytest.mark.parametrize("target", sorted({(c.kind, c.target) for c in CASES}), ids=lambda t: f"{t[0]}:{t[1]}")
def test_hostile_values(target: tuple[str, str], base: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Every knob of one target against every hostile value (one test per target keeps the count readable)."""
    for case in CASES:
        if (case.kind, case.target) == target:
            check_value(case, HOSTILE[case.value_name], base)


# ------------------------------------------------------------------------------ the examples
@pytest.mark.parametrize(
    ("env_id", "kwargs", "knob", "allowed"),
    [
        ("SolverFeedback-v0", {"terminate_on_success": "false"}, "terminate_on_success", "true or false"),
        ("SolverFeedback-v0", {"show_reward": "maybe"}, "show_reward", "true or false"),
        ("SimulatedUser-v0", {"with_gt": 1}, "with_gt", "true or false"),
        ("Negotiation-v0", {"fixed_openings": "no"}, "fixed_openings", "true or false"),
        ("SolverFeedback-v0", {"invalid_move_penalty": float("nan")}, "invalid_move_penalty", "a finite number"),
        ("Negotiation-v0", {"price_tolerance": float("inf")}, "price_tolerance", "a finite number in [0, 10]"),
        ("Negotiation-v0", {"price_tolerance": 50.0}, "price_tolerance", "a finite number in [0, 10]"),
        ("SolverFeedback-v0", {"max_turns": 10**9}, "max_turns", "an integer in 1..10000"),
        ("Negotiation-v0", {"n_games": 10**9}, "n_games", "an integer in 1..10000"),
        ("Negotiation-v0", {"item": "bal\x00loon"}, "item", "without control characters"),
        ("SolverFeedback-v0", {"decay_gamma": "abc"}, "decay_gamma", "a finite number in (0, 1]"),
        ("Negotiation-v0", {"who_first": ["seller"]}, "who_first", "one of seller, buyer"),
        ("SolverFeedback-v0", {"task": "arithmetc"}, "task", "Did you mean `arithmetic`"),
        ("SolverFeedback-v0", {"task_kwargs": {"digits": 3}}, "task_kwargs", "unknown argument"),
    ],
)
def test_the_reported_values_are_refused_by_name(env_id: str, kwargs: dict, knob: str, allowed: str) -> None:
    with pytest.raises((ValueError, TypeError)) as caught:
        make(env_id, **kwargs)
    message = str(caught.value)
    assert message.startswith(knob) or f" {knob}" in message or knob in message.split(":")[0], message
    assert allowed in message, message
    assert repr(next(iter(kwargs.values()))) in message or knob == "task_kwargs" or knob == "task"


def test_numpy_integers_are_integers_and_bools_are_not() -> None:
    env = make("SolverFeedback-v0", max_turns=np.int64(3), terminate_on_success=np.bool_(False))
    assert env.unwrapped.max_turns == 3 and type(env.unwrapped.max_turns) is int
    assert env.unwrapped.terminate_on_success is False
    with pytest.raises(ValueError, match="max_turns must be an integer"):
        make("SolverFeedback-v0", max_turns=True)
    with pytest.raises(ValueError, match="max_turns must be an integer"):
        make("SolverFeedback-v0", max_turns=3.0)


def test_keyword_overrides_are_checked_too() -> None:
    """``susceptible_solver`` takes its preset's parameters as ``**overrides``, which introspection cannot see."""
    from feedbackgym.agents import make_agent
    from feedbackgym.agents.scripted.judged_solver import PRESETS

    for preset, params in PRESETS.items():
        for knob in params:
            for value_name in ("nan", "inf", "text", "bool", "giant_int"):
                with pytest.raises(ValueError, match=knob):
                    make_agent("susceptible_solver", preset=preset, **{knob: HOSTILE[value_name]})
    with pytest.raises(ValueError, match=r"persuasion keys must be evidence strengths 0, 1 or 2, got 'abc'"):
        make_agent("susceptible_solver", persuasion={"abc": 0.5})
    assert make_agent("susceptible_solver", persuasion={"2": 0.9}).persuasion[2] == 0.9


def test_feedback_levels_accept_numpy_integers_only_as_numbers() -> None:
    assert make("SolverFeedback-v0", feedback_level=np.int64(3)).unwrapped.feedback_level == 3
    for bad in (True, 2.0, "critique\x00"):
        with pytest.raises(ValueError, match="feedback_level must be one of"):
            make("SolverFeedback-v0", feedback_level=bad)


def test_make_wrappers_argument_is_a_list() -> None:
    """A bare string is one wrapper name, never a sequence of one-letter names."""
    for bad in ("unary_feedback", [("unary_feedback", 3)], 5, {"unary_feedback": {}}):
        with pytest.raises(ValueError, match="wrappers must be a list of wrapper names"):
            make("SolverFeedback-v0", wrappers=bad)
    assert type(make("SolverFeedback-v0", wrappers=[("unary_feedback", {})]).env).__name__ == "UnaryFeedback"
