"""Registration and ``make``: ids, variants, wrappers by name, and errors that say what was expected."""

from __future__ import annotations

import doctest
import re

import pytest
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.wrappers import OrderEnforcingWrapper

import feedbackgym
import feedbackgym.envs.registration as registration_module
from feedbackgym.envs.registration import FastOrderEnforcing
from feedbackgym.envs import (
    EnvSpec,
    FeedbackLevel,
    apply_wrapper,
    make,
    make_parallel,
    register,
    registered_envs,
    registry,
    spec,
    wrapper_registry,
)
from feedbackgym.envs.core.registry import Registry, RegistryError
from feedbackgym.envs.solver_feedback import SolverFeedbackEnv
from feedbackgym.wrappers.feedback import BinaryFeedback, TextFeedback, UnaryFeedback

ENV_IDS = sorted(registry)


@pytest.fixture
def scratch_ids():
    """Ids registered by a test, removed afterwards so the global registry stays as shipped."""
    added: list[str] = []
    yield added
    for env_id in added:
        registry.pop(env_id, None)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_id_builds_with_its_spec(env_id: str) -> None:
    env = make(env_id)
    assert isinstance(env, OrderEnforcingWrapper)
    assert env.spec is registry[env_id] and env.spec.id == env_id
    assert isinstance(env.spec, EnvSpec)
    base = env.unwrapped
    for key, value in env.spec.kwargs.items():
        if key == "feedback_level":
            assert base.feedback_level is FeedbackLevel.parse(value)
        elif key != "task":
            assert getattr(base, key) == value, key


def test_registered_envs_lists_the_registry_sorted() -> None:
    assert registered_envs() == sorted(registry)


def test_variant_ids_carry_their_papers_settings() -> None:
    ufo = make("SolverFeedback-UFO-v0").unwrapped
    assert (ufo.max_turns, ufo.reward_scheme, ufo.show_reward) == (5, "ufo", True)
    assert registry["SolverFeedback-UFO-v0"].wrappers == (("unary_feedback", {}),)
    ff = make("SolverFeedback-FF-v0").unwrapped
    assert (ff.max_turns, ff.feedback_level, ff.template) == (10, FeedbackLevel.CRITIQUE_WITH_ANSWER, "ff")
    mint = make("SolverFeedback-MINT-v0").unwrapped
    assert (mint.max_turns, mint.count_down, mint.template) == (5, True, "mint")
    assert make("SolverFeedback-RLTF-v0").unwrapped.max_turns == 2


def test_call_kwargs_override_variant_kwargs_and_keep_its_wrappers() -> None:
    env = make("SolverFeedback-UFO-v0", max_turns=3)
    assert env.unwrapped.max_turns == 3 and env.unwrapped.reward_scheme == "ufo"
    assert any(isinstance(layer, UnaryFeedback) for layer in _layers(env))


def _layers(env):
    while True:
        yield env
        if not hasattr(env, "env"):
            return
        env = env.env


def test_spec_parses_name_and_version() -> None:
    env_spec = spec("SolverFeedback-UFO-v0")
    assert (env_spec.name, env_spec.version) == ("SolverFeedback-UFO", 0)


@pytest.mark.parametrize("typo", ["SolverFeedbak-v0", "SolverFeedback-v1", "solverfeedback-v0"])
def test_unknown_id_suggests_the_closest(typo: str) -> None:
    with pytest.raises(KeyError) as caught:
        make(typo)
    message = str(caught.value)
    assert f"No environment `{typo}`." in message
    assert "Did you mean `SolverFeedback-v0`" in message
    assert "Registered: " in message and "SolverFeedback-MINT-v0" in message
    with pytest.raises(RegistryError, match="Did you mean `SolverFeedback-v0`"):
        make_parallel(typo)


def test_unknown_id_without_a_close_match_lists_the_registry() -> None:
    with pytest.raises(RegistryError) as caught:
        spec("Chess-v3")
    assert "Did you mean" not in str(caught.value)
    assert all(env_id in str(caught.value) for env_id in ENV_IDS)


def test_malformed_id() -> None:
    with pytest.raises(ValueError, match=r"expected '\[namespace/\]Name\[-vN\]'"):
        make("not an id!")


def test_unknown_kwarg_names_the_accepted_ones() -> None:
    with pytest.raises(TypeError) as caught:
        make("SolverFeedback-v0", max_turn=3)
    message = str(caught.value)
    assert "'max_turn'" in message and "Did you mean `max_turns`?" in message
    accepted = message.split("Accepted: ")[1].split(", ")
    assert {"task", "max_turns", "feedback_level", "template", "reward_scheme", "render_mode"} <= set(accepted)
    assert "?." not in message


@pytest.mark.parametrize(
    ("kwargs", "field", "allowed"),
    [
        ({"max_turns": 0}, "max_turns", ["1..10000"]),
        ({"max_turns": 2.5}, "max_turns", ["1..10000"]),
        ({"max_turns": True}, "max_turns", ["1..10000"]),
        ({"reward_scheme": "foo"}, "reward_scheme", ["success", "ufo", "discount"]),
        (
            {"feedback_level": "medium"},
            "feedback_level",
            ["none", "unary", "binary", "critique", "critique_with_answer", "critique_with_solution"],
        ),
        ({"feedback_level": 6}, "feedback_level", ["none", "critique_with_solution"]),
        ({"template": "x"}, "template", ["ff", "mint", "rltf"]),
        ({"decay_gamma": 0.0}, "decay_gamma", ["(0, 1]"]),
        ({"turn_discount": 1.5}, "turn_discount", ["(0, 1]"]),
        ({"repetition_lambda": -1}, "repetition_lambda", ["[0, 1000000]"]),
        ({"history_window": 0}, "history_window", ["1..100000"]),
        ({"max_retries": -1}, "max_retries", ["0..1000"]),
        ({"render_mode": "human"}, "render_mode", ["ansi"]),
    ],
)
def test_bad_knobs_raise_value_error_naming_field_and_allowed_values(kwargs, field, allowed) -> None:
    for build in (lambda: make("SolverFeedback-v0", **kwargs), lambda: SolverFeedbackEnv(**kwargs)):
        with pytest.raises(ValueError) as caught:
            build()
        message = str(caught.value)
        assert field in message
        for value in allowed:
            assert value in message
        assert repr(next(iter(kwargs.values()))) in message  # says what came


def test_unknown_task_source_suggests() -> None:
    with pytest.raises(KeyError, match="Did you mean `arithmetic`"):
        make("SolverFeedback-v0", task="arithmetc")


def test_register_rejects_duplicates_unless_overridden(scratch_ids) -> None:
    with pytest.raises(RegistryError, match="already registered"):
        register("SolverFeedback-v0", "feedbackgym.envs.solver_feedback:SolverFeedbackEnv")
    scratch_ids.append("Scratch-v0")
    register("Scratch-v0", SolverFeedbackEnv, kwargs={"max_turns": 2})
    register("Scratch-v0", SolverFeedbackEnv, kwargs={"max_turns": 4}, wrappers=[("binary_feedback", {"style": "mint"})], override=True)
    env = make("Scratch-v0")
    assert env.unwrapped.max_turns == 4
    assert any(isinstance(layer, BinaryFeedback) and layer.style == "mint" for layer in _layers(env))
    with pytest.raises(ValueError, match="malformed"):
        register("bad id!", SolverFeedbackEnv)


def test_lazy_entry_point_errors_name_the_problem(scratch_ids) -> None:
    scratch_ids += ["Broken-v0", "NoColon-v0"]
    register("Broken-v0", "feedbackgym.envs.solver_feedback:NoSuchEnv")
    with pytest.raises(ImportError, match="has no attribute 'NoSuchEnv'"):
        make("Broken-v0")
    register("NoColon-v0", "feedbackgym.envs.solver_feedback")
    with pytest.raises(ValueError, match="package.module:Attribute"):
        make("NoColon-v0")


def test_wrappers_by_registry_name() -> None:
    assert {"unary_feedback", "binary_feedback", "text_feedback"} <= set(wrapper_registry.names())
    assert wrapper_registry.get("unary_feedback") is UnaryFeedback
    assert wrapper_registry.get("binary_feedback") is BinaryFeedback
    assert wrapper_registry.get("text_feedback") is TextFeedback
    env = make("SolverFeedback-v0", wrappers=["unary_feedback", ("text_feedback", {"template": "mint"})])
    kinds = [type(layer) for layer in _layers(env)]
    # Applied innermost first, then order enforcing outermost.
    assert kinds[:3] == [FastOrderEnforcing, TextFeedback, UnaryFeedback]
    assert issubclass(FastOrderEnforcing, OrderEnforcingWrapper)


def test_unknown_wrapper_and_wrapper_kwargs() -> None:
    with pytest.raises(KeyError, match="Did you mean `unary_feedback`"):
        make("SolverFeedback-v0", wrappers=["unary_feedbak"])
    with pytest.raises(TypeError, match=r"'styel'.*Did you mean `style`\?.*Accepted: style, receivers"):
        make("SolverFeedback-v0", wrappers=[("binary_feedback", {"styel": "mint"})])
    with pytest.raises(ValueError, match="style must be one of ff, mint, rltf"):
        apply_wrapper(make("SolverFeedback-v0", order_enforcing=False), "binary_feedback", style="paper")


def test_order_enforcing_can_be_turned_off() -> None:
    env = make("SolverFeedback-v0", order_enforcing=False)
    assert isinstance(env, SolverFeedbackEnv)
    with pytest.raises(Exception, match="reset"):
        make("SolverFeedback-v0").step("42")


def test_make_parallel_plays_one_turn_per_step() -> None:
    env = make_parallel("SolverFeedback-v0", max_turns=2, feedback_level="none")
    assert isinstance(env, ParallelEnv)
    observations, infos = env.reset(seed=0)
    assert set(observations) == {"solver_0", "teacher_0"}
    observations, rewards, terminations, truncations, infos = env.step({"solver_0": "\\boxed{-99999}", "teacher_0": "x"})
    assert env.aec_env.unwrapped.answers == ["-99999"]
    assert not any(terminations.values())


def test_facade_reexports_make() -> None:
    assert feedbackgym.make is make
    assert isinstance(feedbackgym.make("SolverFeedback-v0"), AECEnv)
    assert re.fullmatch(r"\d+\.\d+\.\d+", feedbackgym.__version__)


def test_registry_class_aliases_and_collisions() -> None:
    colours: Registry[tuple] = Registry("colour")
    colours.register("red", (255, 0, 0), aliases=("rouge",))
    assert colours.get("rouge") == (255, 0, 0) and "rouge" in colours and len(colours) == 1
    assert colours.canonical("rouge") == "red" and list(colours) == ["red"]
    with pytest.raises(RegistryError, match="already registered"):
        colours.register("rouge", (238, 0, 0))
    with pytest.raises(KeyError, match="Did you mean `red`"):
        colours.get("redd")
    lazy: Registry[type] = Registry("env class")
    lazy.register("solver", "feedbackgym.envs.solver_feedback:SolverFeedbackEnv")
    assert lazy.get("solver") is SolverFeedbackEnv


def test_registration_doctests() -> None:
    assert doctest.testmod(registration_module).failed == 0
