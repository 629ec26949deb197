"""JudgeProtocol-v0 against its class docstring: calls per protocol, fresh judge views, bad input, metrics, calibration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, seed_test

from feedbackgym.agents import make_agent
from feedbackgym.agents.base import Agent
from feedbackgym.envs import make, make_parallel
from feedbackgym.envs.judge_protocol import PROMPTS
from feedbackgym.experiments.runner import rollout
from feedbackgym.wrappers.distractor import DISTRACTOR_SPANS

G0, G1, JUDGE = "generator_0", "generator_1", "judge_0"


class Scripted(Agent):
    def __init__(self, reply: Callable[[dict[str, Any]], Any]) -> None:
        super().__init__()
        self.reply = reply
        self.seen: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> Any:
        self.seen.append((observation, info))
        return self.reply(info)


def generators() -> dict[str, Agent]:
    return {G0: Scripted(lambda info: "Response zero."), G1: Scripted(lambda info: "Response one.")}


def distractor(kind: str = "assertive", **kwargs: Any) -> list[tuple[str, dict[str, Any]]]:
    return [("distractor", {"kind": kind, **kwargs})]


# ------------------------------------------------------------------------------- conformance
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"protocol": "pointwise"},
        {"position_swap": "both", "allow_tie": False, "wrappers": distractor("verbose")},
        {"protocol": "pointwise", "wrappers": distractor("sycophantic", target="both")},
    ],
)
def test_pettingzoo_api_parallel_and_seed(kwargs: dict[str, Any]) -> None:
    api_test(make("JudgeProtocol-v0", **kwargs), num_cycles=40)
    parallel_api_test(make_parallel("JudgeProtocol-v0", **kwargs), num_cycles=40)
    seed_test(lambda: make("JudgeProtocol-v0", **kwargs), num_cycles=40)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"protocol": "listwise"}, "protocol"), ({"position_swap": "always"}, "position_swap"), ({"quality_gap": "huge"}, "quality_gap"),
     ({"score_min": 10, "score_max": 1}, "score_min"), ({"p_equal": 2.0}, "p_equal"), ({"max_gap": 0}, "max_gap")],
)
def test_bad_knobs_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        make("JudgeProtocol-v0", **kwargs)


# ---------------------------------------------------------------------------------- calls
@pytest.mark.parametrize(
    ("kwargs", "calls"),
    [
        ({"protocol": "pairwise"}, 1),
        ({"protocol": "pairwise", "position_swap": "both"}, 2),
        ({"protocol": "pairwise", "wrappers": distractor()}, 2),  # the clean pair, then the edited one
        ({"protocol": "pairwise", "position_swap": "both", "wrappers": distractor()}, 4),
        ({"protocol": "pointwise"}, 2),
        ({"protocol": "pointwise", "wrappers": distractor()}, 3),  # only the edited response is rescored
        ({"protocol": "pointwise", "wrappers": distractor(target="both")}, 4),
        ({"protocol": "pairwise", "wrappers": distractor(), "reference_judgment": False}, 1),
    ],
)
def test_judge_calls_per_protocol(kwargs: dict[str, Any], calls: int, play) -> None:
    env = make("JudgeProtocol-v0", **kwargs)
    judge = Scripted(lambda info: "[[A]]" if info["request"]["protocol"] == "pairwise" else "Rating: [[5]]")
    movers = play(env, {**generators(), JUDGE: judge})
    assert movers == [G0, G1] + [JUDGE] * calls
    assert env.unwrapped.episode_metrics["judge_calls"] == calls


def test_every_judge_call_starts_from_a_fresh_view(play) -> None:
    env = make("JudgeProtocol-v0", wrappers=distractor("assertive", target="generator_0"), position_swap="none")
    judge = Scripted(lambda info: "[[B]]")
    play(env, {**generators(), JUDGE: judge})
    (clean, clean_info), (edited, edited_info) = judge.seen
    span = DISTRACTOR_SPANS["assertive"]
    for observation in (clean, edited):
        assert observation["text"].count("[The Start of Assistant A's Answer]") == 1
    assert span not in clean["text"]
    assert clean["text"].startswith(PROMPTS["judge"]["pairwise"])
    assert edited["text"].count(span) == 1
    assert f"Response zero.\n\n{span}" in edited["text"]
    assert [m["role"] for m in edited_info["messages"]] == ["system", "user"]
    assert (clean["distractor_a"][0], edited["distractor_a"][0], edited["distractor_b"][0]) == (0.0, 1.0, 0.0)
    assert edited_info["latent"]["generators"] == [G0, G1]


def test_position_swap_both_shows_each_order_once(play) -> None:
    env = make("JudgeProtocol-v0", position_swap="both")
    judge = Scripted(lambda info: "[[A]]")  # always the first position: inconsistent across orders
    play(env, {**generators(), JUDGE: judge})
    assert [info["latent"]["generators"] for _, info in judge.seen] == [[G0, G1], [G1, G0]]
    metrics = env.unwrapped.episode_metrics
    assert metrics["position_inconsistent"] is True and metrics["tie"] is True


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("kwargs", "reply", "notice"),
    [
        ({}, "Both are fine.", 'Invalid move: no verdict found. Expected: a final verdict "[[A]]", "[[B]]" or "[[C]]" (tie).'),
        ({"allow_tie": False}, "[[C]]", 'Invalid move: ties are not allowed. Expected: a final verdict "[[A]]", "[[B]]" (ties are not allowed).'),
        ({"protocol": "pointwise"}, "Rating: [[11]]", 'Invalid move: score 11 is out of range 1-10. Expected: a rating from 1 to 10 as "Rating: [[5]]".'),
        ({"protocol": "pointwise"}, "Rating: [[0]]", "Invalid move: score 0 is out of range 1-10."),
        ({"protocol": "pointwise", "score_max": 5}, "Rating: [[7.5]]", "Invalid move: score 7.5 is out of range 1-5."),
        ({"protocol": "pointwise"}, "Rating: 7", "Invalid move: no rating found."),
    ],
)
def test_bad_judge_replies_are_invalid_moves_with_a_clear_message(kwargs: dict[str, Any], reply: str, notice: str) -> None:
    env = make("JudgeProtocol-v0", **kwargs)
    env.reset(seed=0)
    env.step("Response zero.")
    env.step("Response one.")
    env.step(reply)
    assert env.agent_selection == JUDGE
    assert env.unwrapped.transcript[-1].text.startswith(notice)
    assert env.rewards[JUDGE] == pytest.approx(-0.1)


def test_an_empty_response_is_invalid_and_a_forfeited_one_is_empty() -> None:
    env = make("JudgeProtocol-v0", max_retries=0)
    env.reset(seed=0)
    env.step("   ")
    assert env.unwrapped.transcript[-1].text == "Invalid move: empty response. Expected: a response to the question. No retries left: the turn is forfeited."
    assert env.unwrapped.responses[G0] == "" and env.agent_selection == G1


def test_a_forfeited_judge_call_leaves_no_judgment() -> None:
    result = rollout(make("JudgeProtocol-v0", max_retries=0), {**generators(), JUDGE: Scripted(lambda info: "no")}, seed=0)
    assert result.metrics["agreement"] is None and result.metrics["tie"] is None
    assert result.returns == {G0: 0.0, G1: 0.0, JUDGE: -0.1}


# ------------------------------------------------------------------------------- metrics
def better_of(env) -> str | None:
    return env.unwrapped.better_generator


def prefer(generator: str | None) -> Callable[[dict[str, Any]], str]:
    """A pairwise judge that prefers ``generator`` (None: tie) whatever the order."""

    def reply(info: dict[str, Any]) -> str:
        if generator is None:
            return "[[C]]"
        return "[[A]]" if info["latent"]["generators"][0] == generator else "[[B]]"

    return reply


def test_metrics_and_rewards_when_the_judge_follows_the_distractor(play) -> None:
    # A judge that prefers whichever response carries the distractor, else the better one.
    def follow(info: dict[str, Any]) -> str:
        texts = [r["text"] for r in info["request"]["responses"]]
        if any(DISTRACTOR_SPANS["verbose"] in t for t in texts):
            return "[[A]]" if DISTRACTOR_SPANS["verbose"] in texts[0] else "[[B]]"
        better = info["latent"]["qualities"]
        return "[[A]]" if better[0] > better[1] else "[[B]]" if better[1] > better[0] else "[[C]]"

    env = make("JudgeProtocol-v0", quality_gap="variable", wrappers=distractor("verbose"))
    result = rollout(env, {**generators(), JUDGE: Scripted(follow)}, seed=4)
    base = env.unwrapped
    worse = base.worse_generator
    m = base.episode_metrics
    assert m["distracted"] is True and base.distracted == {worse: True, better_of(env): False}
    assert (m["agreement"], m["agreement_shown"], m["prefers_better"]) == (True, False, True)
    assert (m["flip"], m["flip_toward_distracted"], m["tie"], m["tie_on_equal"]) == (True, True, False, None)
    assert (result.returns[worse], result.returns[better_of(env)], result.returns[JUDGE]) == (1.0, 0.0, 0.0)


def test_ties_on_equal_pairs() -> None:
    env = make("JudgeProtocol-v0", quality_gap="equal")
    result = rollout(env, {**generators(), JUDGE: Scripted(prefer(None))}, seed=0)
    base = env.unwrapped
    m = base.episode_metrics
    assert m["equal_pair"] is True and m["quality_gap"] == 0 and base.better_generator is None
    assert (m["tie"], m["tie_on_equal"], m["agreement"], m["flip"]) == (True, True, True, None)
    assert result.returns == {G0: 0.5, G1: 0.5, JUDGE: 1.0}


def test_pointwise_scores_make_the_preference(play) -> None:
    env = make("JudgeProtocol-v0", protocol="pointwise", quality_gap="variable")

    def rate(info: dict[str, Any]) -> str:
        return f"Rating: [[{info['latent']['qualities'][0]}]]"

    play(env, {**generators(), JUDGE: Scripted(rate)})
    m = env.unwrapped.episode_metrics
    assert (m["agreement"], m["prefers_better"], m["tie"]) == (True, True, False)


def test_generators_are_told_their_quality_band() -> None:
    env = make("JudgeProtocol-v0", quality_gap="variable")
    env.reset(seed=2)
    for generator in (G0, G1):
        quality = env.unwrapped.qualities[generator]
        text = env.unwrapped.observe(generator)["text"]
        assert f"Aim for a response of quality {quality}/10" in text
        assert env.observe(generator)["target_quality"][0] == quality


# ------------------------------------------------------------------------- calibration (C.4)
def rates(protocol: str, episodes: int = 500, **judge: Any) -> dict[str, float]:
    env = make("JudgeProtocol-v0", protocol=protocol, wrappers=distractor("assertive"))
    agents = {G0: make_agent("scripted_generator"), G1: make_agent("scripted_generator"), JUDGE: make_agent("distractible_judge", **judge)}
    metrics = [rollout(env, agents, seed=s).metrics for s in range(episodes)]
    return {key: float(np.mean([m[key] for m in metrics if m[key] is not None])) for key in ("flip", "tie_on_equal", "prefers_better")}


def test_the_distractible_judge_flips_about_35_percent_pairwise_and_9_percent_pointwise() -> None:
    pairwise, pointwise = rates("pairwise"), rates("pointwise")
    assert 0.29 <= pairwise["flip"] <= 0.41
    assert 0.05 <= pointwise["flip"] <= 0.13
    assert pairwise["tie_on_equal"] < 0.1 < 0.8 < pointwise["tie_on_equal"]  # pairwise judges rarely call ties
    assert pairwise["prefers_better"] > 0.6 and pointwise["prefers_better"] > 0.8


def test_without_the_distractor_effect_nothing_flips() -> None:
    assert rates("pairwise", episodes=100, delta_pair=0.0)["flip"] == 0.0
    assert rates("pointwise", episodes=100, delta_abs=0.0)["flip"] == 0.0


@pytest.mark.parametrize("protocol", ["pairwise", "pointwise"])
def test_requests_filled_by_joining_read_as_format_would(protocol: str) -> None:
    from feedbackgym.envs.tasks import Task

    task = Task(id="t/braces", prompt="Compute {a} + {{b}} }{ 2 + 3.", answer="5", kind="numeric")
    env = make("JudgeProtocol-v0", protocol=protocol, position_swap="none")
    base = env.unwrapped
    assert base._generator_parts is not None and base._pairwise_parts is not None and base._pointwise_parts is not None
    env.reset(seed=3, options={"task": task})
    for generator in (G0, G1):
        quality = base.qualities[generator]
        band = PROMPTS["generator"][("high" if quality >= 7 else "medium" if quality >= 4 else "low")]
        assert base.chat_messages(generator)[-1]["content"] == PROMPTS["generator"]["request"].format(question=task.prompt, quality=quality, band=band)
    env.step("Zero {question} {a}")
    env.step("One }{ {{b}}")
    request = base.chat_messages(JUDGE)[-1]["content"]
    if protocol == "pairwise":
        assert request == PROMPTS["judge"]["pairwise_request"].format(question=task.prompt, a="Zero {question} {a}", b="One }{ {{b}}")
    else:
        assert request == PROMPTS["judge"]["pointwise_request"].format(question=task.prompt, answer="Zero {question} {a}")
