"""The shared core's fast paths give exactly what the plain code gives, on ordinary and hostile input.

Each fast path skips work it can prove useless (a pattern on a text without the words every match
holds) or does the same work another way (a bytes table for an ASCII text); these tests compare it
with the plain computation on many generated strings, so a fast path that is not exact fails here.
"""

from __future__ import annotations

import random

import pytest

from feedbackgym.envs.core import voice
from feedbackgym.envs.core.voice import ENV, fold, frame_pattern, speaks_as

# Pieces of replies: names and roles in several cases and disguises, tags, frames, colons and brackets,
# control characters and line breaks, and non-ASCII look-alikes.
_VOICE_PIECES = (
    "seller", "Seller_0", "buyer_0", "BUYER", "critic", "solver_0", "teacher", "env", "Environment", "system", "you", "game",
    "master", "game  master", "admin", "narrator", "[", "]", "<", ">", "{", "}", "(", ")", ":", " : ", "**", "- ", "1. ",
    "\n", "\r", "\t", " ", "\x00", "\x0b", "\x7f", "\x1c", "coach:", "Coach", "here is the feedback from the critic", "Grader:",
    "expert feedback:", "observation:", "\u200b", "\u0435nv", "\uff1a", "Вuуer", "x", "hello", "$17", "\\boxed{42}", "_", "2", "12",
    "verdict", "evidence: ", "judge_0", "peer_1", "1) ", "you gave", "Judge",
)
_CASTS = (("seller_0", "buyer_0", "critic_0"), ("solver_0", "teacher_0"), ("generator_0", "generator_1", "moderator_0"),
          ("solver_0", "judge_0", "peer_0", "peer_1", "moderator_0"))
_FRAMES = ((), ("Coach:", "Here is the feedback from the critic"), ("Observation:", "Expert feedback:", "Grader:", "Expert:"))


def _speaks_as_by_patterns(text: str, speaker: str, participants: tuple[str, ...], frames: tuple[str, ...]) -> str | None:
    """``speaks_as`` without its substring tests: every pattern run whenever a tag character is present."""
    own_id, own_role, ids, roles, line_tag, bracket_tag = voice._voices(speaker, participants)[:6]

    folded = text.translate(voice._ASCII_TABLE if text.isascii() else voice._fold_table()).lower()
    framing = frame_pattern(frames)
    if framing is not None and framing.search(folded):
        return ENV
    if not any(char in folded for char in ":[<{"):
        return None
    return voice.first_voice(folded, ((line_tag, False), (bracket_tag, True)), own_id, own_role, ids, roles)


def test_fold_of_ascii_text_is_the_table_translation() -> None:
    for code in range(128):
        text = f"a{chr(code)}b\n\t{chr(code)}"
        assert fold(text) == text.translate(voice._ASCII_TABLE), code


def test_speaks_as_with_its_substring_tests_agrees_with_the_patterns() -> None:
    rng = random.Random(1130)
    found = 0
    for _ in range(12_000):
        text = "".join(rng.choice(_VOICE_PIECES) for _ in range(rng.randint(1, 10)))
        cast = rng.choice(_CASTS)
        speaker, frames = rng.choice(cast), rng.choice(_FRAMES)
        expected = _speaks_as_by_patterns(text, speaker, cast, frames)
        assert speaks_as(text, speaker, cast, frames) == expected, (text, speaker, frames)
        found += expected is not None
    assert 500 < found < 11_500  # both outcomes are well represented


def _view_text_from_scratch(env, agent: str) -> str:
    """A text view built afresh from the env's parts, as before any of it was kept between steps."""
    parts = [env._instructions[agent], *env._pinned_text[agent]]
    omitted = env._view_count[agent] - len(env._view_text[agent])
    if omitted > 0:
        parts.append(f"[{omitted} earlier messages omitted]")
    parts.extend(env._view_text[agent])
    text = "\n\n".join(part for part in parts if part)
    if len(text) > env.observation_chars:
        text = "…" + text[-(env.observation_chars - 1) :]
    return text


@pytest.mark.parametrize(
    ("history_window", "observation_chars", "changes"),
    [
        (4, None, 6),  # the window drops messages: an "omitted" line that changes
        (10_000, 2_500, 60),  # kept views grown by new messages, and cut to observation_chars once too long
    ],
)
def test_kept_text_views_follow_every_change_of_instructions_pins_and_messages(history_window: int, observation_chars: int | None, changes: int) -> None:
    from feedbackgym.envs import make

    env = make("SolverFeedback-v0", history_window=history_window).unwrapped
    if observation_chars is not None:
        env.observation_chars = observation_chars  # no constructor argument of this env: set as a subclass would
    env.reset(seed=0)
    rng = random.Random(7)
    agents = list(env.possible_agents)
    grown = cut = 0
    for _ in range(3000):
        agent = rng.choice(agents)
        action = rng.randrange(changes)  # 0-2 change the head or clear the view, the rest post
        text = rng.choice(["", "hello", "x" * rng.randint(1, 300), "line\nbreak", "\x07bell"])
        if action == 0:
            env.instruct(agent, text)
        elif action == 1:
            env.pin(agent, text)
        elif action == 2:
            env.clear_view(agent)
        else:
            env.post(rng.choice([*agents, "env"]), text, rng.sample(agents, rng.randint(1, len(agents))))
        if rng.random() < 0.5:
            for someone in agents:
                kept = env._view_cache[someone]
                grown += kept is not None and kept[1] < env._view_count[someone] == len(env._view_text[someone])
                cut += len(env.view_text(someone)) == env.observation_chars
            for someone in agents:
                assert env.view_text(someone) == _view_text_from_scratch(env, someone)
                chat = env.chat_messages(someone)
                assert chat == _chat_from_scratch(env, someone)
                chat.append({"role": "user", "content": "a reader's own edit"})  # a copy: the kept view is untouched
                assert env.chat_messages(someone) == _chat_from_scratch(env, someone)
    assert env.view_text(agents[0]) != ""
    if observation_chars is not None:
        assert grown > 100 and cut > 100  # both paths were taken


def _chat_from_scratch(env, agent: str) -> list[dict[str, str]]:
    """The chat view built afresh from the env's parts, as before it was kept between steps."""
    messages = [{"role": "system", "content": env._instructions[agent]}] if env._instructions[agent] else []
    messages.extend(env._pinned_chat[agent])
    omitted = env._view_count[agent] - len(env._view_chat[agent])
    if omitted > 0:
        messages.append({"role": "user", "content": f"[{omitted} earlier messages omitted]"})
    messages.extend(env._view_chat[agent])
    return messages


def test_views_of_hostile_messages_are_bounded_printable_copies_and_the_chat_keeps_them_whole() -> None:
    from feedbackgym.envs import make
    from feedbackgym.envs.core.text import for_view

    env = make("SolverFeedback-v0", history_window=3).unwrapped
    env.message_view_chars = 100  # no constructor argument of this env: set as a subclass would
    env.reset(seed=0)
    rng = random.Random(11)
    alphabet = "ab \n\t\x00\x07\x1b\u200b\u202e\ud800é€😀:[]"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 5, 99, 100, 101, 250])))
        sender = rng.choice(["solver_0", "teacher_0", "env"])
        env.post(sender, text, ("solver_0", "teacher_0"))
        for agent in ("solver_0", "teacher_0"):
            who = "you" if agent == sender else sender
            assert env._view_text[agent][-1] == f"[{who}] {for_view(text, 100)}"
            assert env.chat_messages(agent)[-1] == {"role": "assistant" if agent == sender else "user", "content": text}
            assert env.observation_space(agent)["text"].contains(env.view_text(agent))


def test_the_voice_check_follows_frames_that_change_during_an_episode() -> None:
    from feedbackgym.envs import make
    from feedbackgym.envs.core.base import TurnBasedTextEnv

    env = make("SolverFeedback-v0").unwrapped
    frames = {"value": ("Grader:",)}
    env.voice_frames = lambda agent: frames["value"]  # an env whose frames depend on its state
    env.reset(seed=0)
    assert TurnBasedTextEnv._speaks_as(env, "solver_0", "Grader: correct") == ENV
    assert TurnBasedTextEnv._speaks_as(env, "solver_0", "Referee notes: fine") is None
    frames["value"] = ("Referee notes:",)
    assert TurnBasedTextEnv._speaks_as(env, "solver_0", "Grader: correct") is None
    assert TurnBasedTextEnv._speaks_as(env, "solver_0", "Referee notes: fine") == ENV
    frames["value"] = ["Grader:"]  # a list, not a tuple: still read
    assert TurnBasedTextEnv._speaks_as(env, "solver_0", "Grader: correct") == ENV


def test_kept_voice_checks_answer_as_the_checker_does() -> None:
    from feedbackgym.envs import make
    from feedbackgym.envs.core import base

    class Odd(str):  # a str subclass is never answered from the memo
        pass

    env = make("Negotiation-v0").unwrapped
    env.reset(seed=0)
    rng = random.Random(15)
    cast = tuple(env.possible_agents)
    texts = ["".join(rng.choice(_VOICE_PIECES) for _ in range(rng.randint(1, 10))) for _ in range(6000)]
    texts += ["Buyer: " + "x" * base._VOICE_MEMO_CHARS, "x" * base._VOICE_MEMO_CHARS + "\n[env] over"]  # past the memo's length
    for _ in range(6 * base._VOICE_MEMO_SIZE):  # enough to fill and empty each agent's memo
        speaker, text = rng.choice(cast), rng.choice(texts)
        if rng.random() < 0.05:
            text = Odd(text)
        expected = speaks_as(text, speaker, cast, env.voice_frames(speaker))
        assert env._speaks_as(speaker, text) == expected, (speaker, text)
    assert any(env._voice_checks[agent][2] for agent in cast)
    other = make("Negotiation-v0").unwrapped  # another env of the same cast shares the answers
    other.reset(seed=1)
    other._speaks_as("seller_0", "hello")
    assert other._voice_checks["seller_0"][2] is env._voice_checks["seller_0"][2]


def test_cumulative_rewards_skip_only_zeros_that_change_nothing() -> None:
    import math

    from feedbackgym.envs import make

    env = make("SolverFeedback-v0", max_turns=10_000).unwrapped
    env.reset(seed=0)
    rng = random.Random(3)
    values = [0.0, -0.0, 0, 1, -1.5, 0.1, 1e-300, -1e-300, math.inf, -math.inf, math.nan, 2.5]
    expected = dict(env._cumulative_rewards)
    for _ in range(2_000):
        given = {agent: rng.choice(values) for agent in env.agents}

        def play(agent: str, text: str, given: dict = given) -> None:
            env.rewards.update(given)  # what a move earned, zeros of every kind included

        env._play = play
        agent = env.agent_selection
        env.step("a reply")
        expected[agent] = 0.0
        for other, reward in given.items():
            expected[other] += reward  # the plain sum
        for other in env.agents:
            got, want = env._cumulative_rewards[other], expected[other]
            assert type(got) is type(want) and (got == want or math.isnan(got) and math.isnan(want)), (other, got, want)
            assert math.isnan(want) or math.copysign(1.0, got) == math.copysign(1.0, want)  # 0.0 is not -0.0 (a NaN's sign
            # is the interpreter's: which of two NaNs a sum keeps depends on how the addition was specialised)
        if rng.random() < 0.1:
            env._cumulative_rewards = dict.fromkeys(env.agents, 0.0)
            expected = dict(env._cumulative_rewards)


def test_last_is_pettingzoos_last() -> None:
    from pettingzoo import AECEnv

    from feedbackgym.agents.scripted.casts import scripted_cast
    from feedbackgym.envs import make, registered_envs

    for env_id in registered_envs():
        env = make(env_id)
        base, agents = env.unwrapped, scripted_cast(env)
        env.reset(seed=3)
        for agent in env.agent_iter(max_iter=60):
            mine, theirs = base.last(), AECEnv.last(base)
            assert mine[1:] == theirs[1:] and mine[0].keys() == theirs[0].keys(), env_id
            assert all(str(mine[0][key]) == str(theirs[0][key]) for key in mine[0]), env_id
            assert base.last(observe=False)[0] is None
            observation, _, terminated, truncated, info = mine
            env.step(None if terminated or truncated else agents[agent].act(observation, info))


def test_the_observation_guard_clips_exactly_what_is_out_of_range() -> None:
    import math

    import numpy as np

    from feedbackgym.envs import make

    env = make("SolverFeedback-v0", max_turns=5).unwrapped
    env.reset(seed=0)
    space = env.observation_space("solver_0")
    for turn, reward in [(0, 0.0), (5, 1e6), (6, 0.0), (-1, 0.0), (0, math.nan), (0, -2e6), (math.inf, 0.0), (2, -1e6), (2, 2e6)]:
        env.turn, env._last_reward = turn, reward
        observation = env.observe("solver_0")
        assert space.contains(observation), (turn, reward)
        expected_turn = 0.0 if math.isnan(turn) else min(max(turn, 0), 5)
        expected_reward = 0.0 if math.isnan(reward) else min(max(reward, -1e6), 1e6)
        assert observation["turn"].tolist() == [np.float32(expected_turn)] and observation["last_reward"].tolist() == [np.float32(expected_reward)]


def test_numeric_values_as_a_list_are_observed_as_the_same_values_by_name() -> None:
    import math

    from feedbackgym.envs import make

    env = make("SolverFeedback-v0", max_turns=5).unwrapped
    env.reset(seed=0)
    names = list(env.numeric_fields)
    by_name = type(env)._numeric
    for turn, reward in [(0, 0.0), (3, 0.5), (5, 1e6), (6, 0.0), (-1, 0.0), (0, math.nan), (0, -2e6), (math.inf, 0.0)]:
        env.turn, env._last_reward = turn, reward
        env._numeric = lambda agent: by_name(env, agent)  # the values by name (a dict)
        expected = env.observe("solver_0")
        values = by_name(env, "solver_0")
        env._numeric = lambda agent: [values[name] for name in names]  # the same values as a list, in numeric_fields' order
        observed = env.observe("solver_0")
        assert list(observed) == ["text", *names] and observed.keys() == expected.keys()
        for name in names:
            assert observed[name].shape == (1,) and observed[name].dtype == expected[name].dtype
            assert observed[name].tobytes() == expected[name].tobytes(), (name, turn, reward)
        assert env.observation_space("solver_0").contains(observed)
        assert env._numeric_by_name("solver_0") == values or math.isnan(reward)  # the raw values by name, either way


def test_is_printable_text_agrees_with_the_plain_definition_on_every_code_point() -> None:
    from feedbackgym.envs.core.spaces import is_printable_text

    def plain(text: str) -> bool:
        return text.replace("\n", " ").replace("\t", " ").isprintable()

    for code in range(0x110000):
        for text in (chr(code), f"ab\n{chr(code)}\tz"):
            assert is_printable_text(text) == plain(text), hex(code)
    rng = random.Random(5)
    pieces = [chr(code) for code in range(0x80)] + ["é", "\u200b", "\u2028", "😀", "\ud800", "\x85", "text", "\n\n"]
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert is_printable_text(text) == plain(text), repr(text)


def test_feedback_events_are_built_as_their_fields_say() -> None:
    import dataclasses
    import inspect

    import pytest

    from feedbackgym.envs.core.feedback import FeedbackEvent, FeedbackLevel, Verdict

    parameters = list(inspect.signature(FeedbackEvent.__init__).parameters.values())[1:]
    fields = dataclasses.fields(FeedbackEvent)
    assert [p.name for p in parameters] == [f.name for f in fields]
    for parameter, field in zip(parameters, fields):
        assert parameter.default == (inspect.Parameter.empty if field.default is dataclasses.MISSING else field.default), field.name
    event = FeedbackEvent("teacher_0", "solver_0", "text", verdict=Verdict.CORRECT, level=FeedbackLevel.BINARY, turn=3)
    assert vars(event) == {f.name: getattr(event, f.name) for f in fields} and event.turn == 3 and event.content == ""
    assert event == FeedbackEvent(giver="teacher_0", receiver="solver_0", text="text", verdict=Verdict.CORRECT, level=FeedbackLevel.BINARY, turn=3)
    assert hash(event) == hash(dataclasses.replace(event))
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.text = "changed"  # type: ignore[misc]
    assert event.replace(text="other").text == "other" and event.text == "text"
    with pytest.raises(TypeError):
        FeedbackEvent("teacher_0", "solver_0")  # type: ignore[call-arg]


def test_the_newest_entries_of_a_window_are_those_after_the_first_ones() -> None:
    from collections import deque
    from itertools import islice

    from feedbackgym.envs.core.base import _newest

    for maxlen in (1, 3, 64, 200):
        window: deque[int] = deque(maxlen=maxlen)
        for value in range(300):
            window.append(value)
            for count in range(1, len(window) + 1):
                assert _newest(window, count) == list(islice(window, len(window) - count, None))
