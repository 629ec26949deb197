"""The shared base of feedbackgym's turn-based text games on PettingZoo's AEC API.

A subclass says who speaks when, what a move means and what it earns; this base keeps the
transcript, each agent's bounded view of it, the observation and info dicts, invalid-move handling,
rewards bookkeeping, the episode's random generator and the ``ansi`` rendering.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import gymnasium
import numpy as np
from gymnasium.utils import seeding
from pettingzoo import AECEnv

from feedbackgym.envs.core.checks import ResetOption, fail, require_choice, require_float, require_int, require_seed
from feedbackgym.envs.core.feedback import FeedbackEvent
from feedbackgym.envs.core.seeding import generator
from feedbackgym.envs.core.spaces import PrintableText, is_printable_text, observation_space
from feedbackgym.envs.core.text import for_view
from feedbackgym.envs.core.voice import ENV, voice_checker

OWN_VOICE = "your own words only: no line that starts with another participant's name and a colon, no [name] tags"

# Caps on the shared knobs: far above any use, low enough that a typo cannot exhaust memory.
MAX_HISTORY_WINDOW = 100_000
MAX_VIEW_CHARS = 1_000_000
MAX_OBSERVATION_CHARS = 10_000_000
MAX_RETRIES = 1_000
MAX_PENALTY = 1e6
MAX_TURNS = 10_000  # the cap on every environment's turn, round and game counts

FeedbackTransform = Callable[[FeedbackEvent], FeedbackEvent]

# Voice checks of recent short replies, per checker (an agent's cast and frames, shared by every env of that
# cast): a scripted agent (or an LLM at temperature 0) says the same lines again and again, and a check reads
# the whole text (about 1 us). The answer is a pure function of the text and the checker, so one kept is as
# good as new. A coached scripted negotiator says some 2,000 different lines over a few thousand episodes.
_VOICE_MEMO_CHARS = 500  # longer replies are rarely repeated: checked every time
_VOICE_MEMO_SIZE = 4_096  # answers kept per checker (at most a few MB); the memo is emptied when full
_voice_memos: dict[Callable[[str], str | None], dict[str, str | None]] = {}
_UNCHECKED = object()
_FLOAT32 = np.dtype(np.float32)  # a dtype object: np.array converts the np.float32 type into one at every call


@dataclass(slots=True)
class Message:
    """One entry of the transcript, kept whole; observations show a bounded, printable copy."""

    index: int
    turn: int
    sender: str
    text: str
    visible_to: tuple[str, ...]
    kind: str = "move"  # move | invalid | feedback | prompt | notice | reward
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "turn": self.turn,
            "sender": self.sender,
            "visible_to": list(self.visible_to),
            "kind": self.kind,
            "text": self.text,
            "data": self.data,
        }


class TurnBasedTextEnv(AECEnv):
    """Base class for turn-based text games where every action is free text.

    Subclasses set ``possible_agents`` and ``numeric_fields`` (name -> (low, high)) before calling
    ``super().__init__``, and implement:

    - ``_start_episode()``: build the episode from ``self.np_random``, post the opening messages
      with :meth:`post`/:meth:`pin`, and set ``self.agent_selection``;
    - ``_play(agent, text)``: apply one move; call :meth:`invalid_move` when it cannot be parsed;
    - ``_forfeit(agent, text)``: what happens when an agent spends its whole retry budget;
    - ``_numeric(agent)``: the values of the numeric observation fields, by name (a dict), or as a list in
      the order of ``numeric_fields`` (every field; cheaper for an env whose fields are all there at every step);
      an env whose list values always lie within ``numeric_fields`` (never NaN) by construction may set
      ``numeric_within_bounds = True``: ``observe`` then skips its last guard that clips them into the space.
      The promise is not inherited: a subclass gets the guard back unless it sets the flag itself;
    - ``_episode_metrics()``: a flat dict of metrics, stored when the episode ends.

    ``step`` never raises on agent input: anything that is not a string is turned into one (None is
    the empty reply; an object whose text cannot be had becomes a short description of it), and a
    reply that cannot be parsed is an invalid move (recorded, penalised, answered with a message
    saying what was expected, and retried up to ``max_retries`` times in a row).

    Every constructor argument is checked for type and range (``feedbackgym.envs.core.checks``): a
    bad value raises an ``ArgumentError`` (a ValueError and a TypeError) naming the argument, what
    it allows and what came. Booleans must be real booleans (``"false"`` is an error, not True),
    numbers finite, and counts bounded: ``history_window`` 1-100000, ``message_view_chars``
    100-1000000, ``observation_chars`` up to 10000000, ``max_retries`` 0-1000,
    ``invalid_move_penalty`` within +-1e6, and every environment's turn, round and game counts at
    most 10000. ``render_mode`` is None or ``"ansi"`` (``render()`` then returns the whole transcript
    as text).

    ``infos[agent]`` is built when the episode starts, whenever ``agent`` is to move, and when the
    episode ends (for every agent): an agent that has just moved keeps the info it moved on until its
    next turn (``last()`` always gives the mover's fresh one).

    ``reset(seed, options)`` checks its arguments the same way: ``seed`` is None or an integer >= 0
    (a numpy integer plays the episode of the same int; a bool, a float or a string is an error), and
    ``options`` is None or a dict whose keys are those the environment lists in ``reset_options``
    (``{"task": Task}`` where the episode's task can be given); an unknown key is unused, with a warning.
    Environments are turn-based, so their metadata says ``is_parallelizable: False`` and PettingZoo's
    ``aec_to_parallel`` refuses them at once; ``feedbackgym.make_parallel`` gives the Parallel API.

    An environment can be pickled or deep-copied at any point of an episode; the copy plays on as the
    original would (caches that cannot be pickled are left out and rebuilt on first use).

    Before a reply is parsed, the whole of it is checked for another participant's voice (see
    :func:`~feedbackgym.envs.core.voice.speaks_as`): a line "buyer_0: ..." or "System: ..." from
    someone else, or a tag "[env]" anywhere, makes it an invalid move, so no text can decide a move
    for another participant or reach another agent as if someone else had said it. So does a line
    that starts with one of the phrases the environment uses to introduce others' text
    (:meth:`voice_frames`). A subclass whose replies must quote other participants can set
    ``voice_check = False`` and take over that duty.
    """

    metadata: dict[str, Any] = {"name": "turn_based_text", "render_modes": ["ansi"], "is_parallelizable": False}
    numeric_fields: Mapping[str, tuple[float, float]] = {}
    numeric_within_bounds: bool = False  # _numeric's list values are in numeric_fields by construction (see above)
    # The keys reset(options=...) accepts: what each value means, and its check (run before the episode is touched).
    reset_options: Mapping[str, ResetOption] = {}
    # Whether the environment shows feedback events (deliver_feedback): feedback wrappers refuse one that never does.
    emits_feedback: bool = True
    voice_check: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A promise about how a class makes its numbers holds for that class only: a subclass may
        # make them another way, so it keeps the clipping guard unless it makes the promise itself.
        if "numeric_within_bounds" not in cls.__dict__:
            cls.numeric_within_bounds = False

    def __init__(
        self,
        *,
        history_window: int = 32,
        message_view_chars: int = 4000,
        observation_chars: int = 16000,
        max_retries: int = 2,
        invalid_move_penalty: float = -0.1,
        render_mode: str | None = None,
    ) -> None:
        super().__init__()
        history_window = require_int("history_window", history_window, 1, MAX_HISTORY_WINDOW)
        message_view_chars = require_int("message_view_chars", message_view_chars, 100, MAX_VIEW_CHARS)
        observation_chars = require_int("observation_chars", observation_chars, message_view_chars, MAX_OBSERVATION_CHARS)
        max_retries = require_int("max_retries", max_retries, 0, MAX_RETRIES)
        invalid_move_penalty = require_float("invalid_move_penalty", invalid_move_penalty, -MAX_PENALTY, MAX_PENALTY)
        if render_mode is not None:
            require_choice("render_mode", render_mode, self.metadata["render_modes"])
        self.history_window = history_window
        self.message_view_chars = message_view_chars
        self.observation_chars = observation_chars
        self.max_retries = max_retries
        self.invalid_move_penalty = invalid_move_penalty
        self.render_mode = render_mode
        self.agents = list(self.possible_agents)
        space = observation_space(observation_chars, self.numeric_fields)
        self._numeric_names = tuple(self.numeric_fields)  # the names of the values when _numeric gives a list
        self._numeric_limits: tuple[tuple[float, ...], tuple[float, ...]] | None = None  # their bounds (see _limits)
        self._limits_of: dict[tuple[str, ...], tuple[tuple[float, ...], tuple[float, ...]]] = {}  # numeric field names -> (lows, highs)
        self.observation_spaces = {agent: space for agent in self.possible_agents}
        # Any string is a legal action; the declared bound only limits what random samples look like.
        self.action_spaces = {agent: PrintableText(max_length=1 << 20) for agent in self.possible_agents}
        # Wrappers register here to rewrite feedback before its receiver sees it (see wrappers/feedback.py).
        self.feedback_transforms: list[FeedbackTransform] = []
        self.np_random, self.np_random_seed = seeding.np_random(None)
        self._own_random: np.random.Generator | None = None
        self._initialised = False
        # agent -> (its frames, the checker for them, the checker's answers by text: see _voice_memos)
        self._voice_checks: dict[str, tuple[tuple[str, ...], Callable[[str], str | None], dict[str, str | None]]] = {}

    # ------------------------------------------------------------------------------ copying
    def __getstate__(self) -> dict[str, Any]:
        # The per-agent voice checks are closures (unpicklable) and only a cache: rebuilt on first use.
        state = self.__dict__.copy()
        state["_voice_checks"] = {}
        return state

    # ----------------------------------------------------------------------------------- spaces
    def observation_space(self, agent: str) -> gymnasium.spaces.Space:
        try:
            return self.observation_spaces[agent]
        except (KeyError, TypeError):  # TypeError: an unhashable agent id
            raise self._no_agent(agent) from None

    def action_space(self, agent: str) -> gymnasium.spaces.Space:
        try:
            return self.action_spaces[agent]
        except (KeyError, TypeError):
            raise self._no_agent(agent) from None

    def _no_agent(self, agent: Any) -> KeyError:
        # Every possible agent has its spaces, whether or not it is in the current episode: only a wrong id lands here.
        return KeyError(f"{agent!r} is not an agent of {type(self).__name__}; its agents are {', '.join(self.possible_agents)}")

    # ------------------------------------------------------------------------------------ reset
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        if type(seed) is not int or seed < 0:
            # A numpy integer is its int (the same episode); a bool, a negative number, a float or a string is an
            # error naming the seed (Gymnasium's seeding took True as a seed of its own and refused numpy integers).
            seed = require_seed("seed", seed)
        given = self._checked_options(options) if options is not None else {}
        if seed is not None:
            # default_rng(seed)'s stream; a generator this env made is reseeded in place (see core.seeding).
            reuse = self._own_random if self.np_random is self._own_random else None
            self.np_random = self._own_random = generator(seed, reuse, episode_seed=True)
            self.np_random_seed = seed
        elif not self._initialised:
            self.np_random, self.np_random_seed = seeding.np_random(None)
        self._initialised = True
        agents = self.agents = list(self.possible_agents)
        # dict.fromkeys for the immutable starting values: a third of a comprehension's cost, at every reset.
        self.rewards = dict.fromkeys(agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(agents, 0.0)
        self.terminations = dict.fromkeys(agents, False)
        self.truncations = dict.fromkeys(agents, False)
        self.infos: dict[str, dict[str, Any]] = {agent: {} for agent in agents}
        self.transcript: list[Message] = []
        self.turn = 0
        self.end_reason: str | None = None
        self.episode_metrics: dict[str, Any] = {}
        self.invalid_moves = dict.fromkeys(agents, 0)
        self.impersonation_attempts = dict.fromkeys(agents, 0)
        self._retries = dict.fromkeys(agents, 0)
        self._instructions: dict[str, str] = dict.fromkeys(agents, "")
        self._pinned_text: dict[str, list[str]] = {agent: [] for agent in agents}
        self._pinned_chat: dict[str, list[dict[str, str]]] = {agent: [] for agent in agents}
        # Each agent's view is a bounded window, so a step costs the same at turn 1000 as at turn 10.
        window = self.history_window
        self._view_text: dict[str, deque[str]] = {agent: deque(maxlen=window) for agent in agents}
        self._view_chat: dict[str, deque[dict[str, str]]] = {agent: deque(maxlen=window) for agent in agents}
        self._view_count = dict.fromkeys(agents, 0)
        # The text view of an agent changes only when a message reaches it: kept, with the count of messages
        # it holds (_view_count when it was built), and grown by the messages that reached the agent since.
        # Its head (instructions and pinned messages) changes more rarely still, and is kept on its own.
        self._view_cache: dict[str, tuple[str, int] | None] = dict.fromkeys(agents)
        self._view_head: dict[str, str | None] = dict.fromkeys(agents)
        # The chat view likewise, as the list it was last built as (handed out as a copy), and its count.
        self._chat_cache: dict[str, tuple[list[dict[str, str]], int] | None] = dict.fromkeys(agents)
        self._last_feedback: dict[str, dict[str, Any] | None] = dict.fromkeys(agents)
        self._last_move: dict[str, dict[str, Any] | None] = dict.fromkeys(agents)
        self._start_episode(given)
        for agent in self.agents:
            self._refresh_info(agent)

    def _checked_options(self, options: Any) -> dict[str, Any]:
        """``reset``'s ``options``: a mapping; keys outside ``reset_options`` are left unused, with a warning naming them
        (PettingZoo's api_test resets with an unknown key, so they cannot be errors; a typo must still be heard)."""
        accepted = self.reset_options
        allowed = ", ".join(f"{key!r} ({option.meaning})" for key, option in accepted.items())
        if not isinstance(options, Mapping):
            raise fail("options", f"a dict (keys used: {allowed}) or None" if accepted else "a dict or None", options)
        unknown = [key for key in options if key not in accepted]
        if unknown:
            takes = f"uses only {allowed}" if accepted else "uses no reset options"
            gymnasium.logger.warn(f"reset options {', '.join(map(repr, unknown))} are unused: {type(self).__name__} {takes}")
        given = dict(options)
        # Checked before the episode is touched: a refused reset leaves the last one playable.
        for key, value in given.items():
            option = accepted.get(key)
            if option is not None and value is not None:
                option.check(value)
        self._check_reset_options(given)
        return given

    def _check_reset_options(self, options: dict[str, Any]) -> None:
        """Checks of ``options`` beyond each listed key's own (``reset_options``): raise an ``ArgumentError`` naming one."""

    # ------------------------------------------------------------------------------------- step
    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        text = action if type(action) is str else _as_text(action)
        voice = self._speaks_as(agent, text) if self.voice_check else None
        if voice is None:
            self._turn(agent, self._play, text)
        else:
            self.impersonation_attempts[agent] += 1
            shown = "the environment" if voice == ENV else voice
            self._turn(agent, self.invalid_move, text, f"the reply speaks as {shown}", OWN_VOICE)

    def step_invalid(self, text: str, reason: str, expected: str) -> None:
        """Play the selected agent's turn as an invalid move (``text`` its record, ``reason`` and ``expected`` as in
        :meth:`invalid_move`): for wrappers that decode actions and get one that is no move at all (an index outside
        a role's choices), whatever the environment would make of an empty reply (a negotiator may say nothing)."""
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(None)
            return
        self._turn(agent, self.invalid_move, text, reason, expected)

    def _turn(self, agent: str, move: Callable[..., None], *args: Any) -> None:
        """One turn of ``agent``: ``move(agent, *args)`` between PettingZoo's reward bookkeeping and the next mover's info."""
        self._cumulative_rewards[agent] = 0.0
        rewards = self.rewards
        for other in self.agents:
            rewards[other] = 0.0
        move(agent, *args)
        cumulative = self._cumulative_rewards
        for other, reward in rewards.items():
            if reward:  # adding a zero (0.0 or -0.0) to a sum that starts at 0.0 changes nothing
                cumulative[other] += reward
        if self.agents:
            selected = self.agent_selection
            if not (self.terminations[selected] or self.truncations[selected]):
                self._refresh_info(selected)

    def last(self, observe: bool = True) -> tuple[dict[str, Any] | None, float, bool, bool, dict[str, Any]]:
        """PettingZoo's ``last``: the observation, cumulative reward, flags and info of the agent to move."""
        agent = self.agent_selection
        assert agent is not None
        return (
            self.observe(agent) if observe else None,
            self._cumulative_rewards[agent],
            self.terminations[agent],
            self.truncations[agent],
            self.infos[agent],
        )

    def _speaks_as(self, agent: str, text: str) -> str | None:
        """:func:`~feedbackgym.envs.core.voice.speaks_as` for ``agent``'s reply, its checker kept per agent and
        frames, and the answers for short replies it checked before (see ``_VOICE_MEMO_CHARS``)."""
        frames = self.voice_frames(agent)
        kept = self._voice_checks.get(agent)
        if kept is None or (kept[0] is not frames and kept[0] != frames):
            checker = voice_checker(agent, tuple(self.possible_agents), tuple(frames))  # made once a process (cached)
            kept = self._voice_checks[agent] = (frames, checker, _voice_memos.setdefault(checker, {}))
        if type(text) is not str or len(text) > _VOICE_MEMO_CHARS:  # a str subclass may redefine hashing and equality
            return kept[1](text)
        memo = kept[2]
        voice = memo.get(text, _UNCHECKED)
        if voice is _UNCHECKED:
            if len(memo) >= _VOICE_MEMO_SIZE:
                memo.clear()
            voice = memo[text] = kept[1](text)
        return voice  # type: ignore[return-value]

    def voice_frames(self, agent: str) -> tuple[str, ...]:
        """Phrases with which this environment introduces others' text or its own verdicts in what
        ``agent``'s replies are shown next to ("Feedback from the judge:"); a reply of ``agent`` with a
        line that starts with one speaks as the environment. None by default."""
        return ()

    # ------------------------------------------------------------------- messages and the views
    def instruct(self, agent: str, text: str) -> None:
        """Set ``agent``'s standing instructions (the system message of its chat view)."""
        self._instructions[agent] = text
        self._view_cache[agent] = self._view_head[agent] = self._chat_cache[agent] = None

    def pin(self, agent: str, text: str, *, sender: str = ENV, kind: str = "prompt") -> Message:
        """Post a message that stays at the top of ``agent``'s view however long the episode runs."""
        message = self._record(sender, text, (agent,), kind, {})
        self._pinned_text[agent].append(for_view(text, self.message_view_chars))
        self._pinned_chat[agent].append({"role": "user", "content": text})
        self._view_cache[agent] = self._view_head[agent] = self._chat_cache[agent] = None
        return message

    def post(
        self,
        sender: str,
        text: str,
        visible_to: Iterable[str],
        *,
        kind: str = "move",
        data: dict[str, Any] | None = None,
    ) -> Message:
        """Append a message to the transcript and to the views of the agents that see it."""
        visible = visible_to if type(visible_to) is tuple else tuple(visible_to)
        message = self._record(sender, text, visible, kind, data or {})
        # for_view's common case inline: short enough and printable (a newline or tab is fine).
        if len(text) <= self.message_view_chars and (text.isprintable() or is_printable_text(text)):
            shown = text
        else:
            shown = for_view(text, self.message_view_chars)
        tagged = f"[{sender}] {shown}"
        view_text, view_chat, view_count = self._view_text, self._view_chat, self._view_count
        for agent in visible:
            if agent == sender:
                view_text[agent].append(f"[you] {shown}")
                view_chat[agent].append({"role": "assistant", "content": text})
            else:
                view_text[agent].append(tagged)
                view_chat[agent].append({"role": "user", "content": text})
            view_count[agent] += 1  # the kept views see the new count (view_text, chat_messages)
        return message

    def _record(self, sender: str, text: str, visible: tuple[str, ...], kind: str, data: dict[str, Any]) -> Message:
        message = Message(len(self.transcript), self.turn, sender, text, visible, kind, data)
        self.transcript.append(message)
        return message

    def deliver_feedback(self, event: FeedbackEvent, *, extra_visible: Iterable[str] = ()) -> FeedbackEvent:
        """Show a feedback event to its receiver after every registered wrapper has rewritten it.

        Returns the event as shown. The original and the shown event both go into the transcript.
        """
        shown = event
        for transform in self.feedback_transforms:
            shown = transform(shown)
        data = {"event": shown.to_dict()}
        if shown is not event:
            data["original"] = event.to_dict()
        visible = (shown.receiver, *extra_visible)
        if shown.text:
            self.post(shown.giver, shown.text, visible, kind="feedback", data=data)
        else:
            self._record(shown.giver, "", visible, "feedback", data)
        self._last_feedback[shown.receiver] = data["event"]
        return shown

    def clear_view(self, agent: str) -> None:
        """Empty ``agent``'s window of messages (not its instructions or pinned messages, not the transcript).

        For protocols where a role starts afresh: a rival reset between negotiation games, a judge
        whose calls must be independent.
        """
        self._view_text[agent].clear()
        self._view_chat[agent].clear()
        self._view_count[agent] = 0
        self._view_cache[agent] = self._chat_cache[agent] = None

    def view_text(self, agent: str) -> str:
        """The text observation of ``agent``: instructions, pinned messages, then the recent window."""
        cached = self._view_cache[agent]
        count = self._view_count[agent]
        if cached is not None:
            text, held = cached
            if held == count:
                return text
            window = self._view_text[agent]
            # Only messages added since (the window never dropped one, so there is no "omitted" line to
            # change): the text is the same join, grown. A text cut to its last observation_chars - 1
            # characters still holds every character that the grown text's cut keeps.
            if count == len(window) and text:
                text = "\n\n".join([text, *_newest(window, count - held)])  # the entries after the first `held`
                if len(text) > self.observation_chars:
                    text = "…" + text[-(self.observation_chars - 1) :]
                self._view_cache[agent] = (text, count)
                return text
        head = self._view_head[agent]
        if head is None:
            head = self._view_head[agent] = "\n\n".join(part for part in (self._instructions[agent], *self._pinned_text[agent]) if part)
        window = self._view_text[agent]
        # The empty parts are left out; the window's entries ("[sender] text") never are empty.
        parts = [head] if head else []
        omitted = self._view_count[agent] - len(window)
        if omitted > 0:
            parts.append(f"[{omitted} earlier messages omitted]")
        parts.extend(window)
        text = "\n\n".join(parts)
        if len(text) > self.observation_chars:
            text = "…" + text[-(self.observation_chars - 1) :]
        self._view_cache[agent] = (text, count)
        return text

    def chat_messages(self, agent: str) -> list[dict[str, str]]:
        """``agent``'s view as chat messages for an LLM: system, pinned, then the recent window.

        A new list each call (the messages in it are shared with the view: read them, don't change them).
        """
        kept = self._chat_cache[agent]
        count = self._view_count[agent]
        window = self._view_chat[agent]
        if kept is not None and kept[1] != count and count == len(window):
            # Only messages added since, and none dropped (no "omitted" line to change): appended in place.
            messages = kept[0]
            messages.extend(_newest(window, count - kept[1]))  # the entries after those it holds
            kept = self._chat_cache[agent] = (messages, count)
        elif kept is None or kept[1] != count:
            messages = []
            if self._instructions[agent]:
                messages.append({"role": "system", "content": self._instructions[agent]})
            messages.extend(self._pinned_chat[agent])
            omitted = count - len(window)
            if omitted > 0:
                messages.append({"role": "user", "content": f"[{omitted} earlier messages omitted]"})
            messages.extend(window)
            kept = self._chat_cache[agent] = (messages, count)
        return kept[0].copy()

    # ------------------------------------------------------------------------ observations, info
    def observe(self, agent: str) -> dict[str, Any]:
        observation: dict[str, Any] = {"text": self.view_text(agent)}
        numeric = self._numeric(agent)
        if numeric:
            if type(numeric) is list:
                given, names = numeric, self._numeric_names
                # An env whose values are in range by construction skips the guard below (a tenth of a step's cost).
                limits = None if self.numeric_within_bounds else self._numeric_limits or self._limits(names)
            else:
                given, names = list(numeric.values()), tuple(numeric)
                limits = self._limits_of.get(names) or self._limits(names)
            # One float32 array, handed out as (1,)-shaped rows: a fifth of the allocations.
            rows = np.array(given, _FLOAT32)[:, None]  # indexing: cheaper than reshape
            if limits is not None:
                # A last guard (each env keeps its values in range): the observation stays in its space. Checked
                # in Python (a NaN fails low <= value <= high too): on a handful of values numpy's comparisons cost
                # more, and a loop of chained comparisons less than two all(map(operator.le, ...)).
                for low, value, high in zip(limits[0], given, limits[1]):
                    if not low <= value <= high:
                        low_array, high_array = self._bounds(names)
                        rows = np.clip(np.nan_to_num(rows[:, 0], nan=0.0), low_array, high_array).reshape(-1, 1)
                        break
            observation.update(zip(names, rows))
        return observation

    def _numeric_by_name(self, agent: str) -> dict[str, float]:
        """``agent``'s raw numeric values (before the observation's range guard) by name, whichever form ``_numeric`` gives."""
        numeric = self._numeric(agent)
        return dict(zip(self._numeric_names, numeric)) if type(numeric) is list else dict(numeric)

    def _limits(self, names: tuple[str, ...]) -> tuple[tuple[float, ...], tuple[float, ...]]:
        # float32 bounds, as the Box holds them: a value inside the float64 bound may round outside it.
        pairs = [(float(np.float32(low)), float(np.float32(high))) for low, high in
                 (self.numeric_fields.get(name, (-np.inf, np.inf)) for name in names)]
        limits = self._limits_of[names] = (tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))
        if names == self._numeric_names:
            self._numeric_limits = limits  # those of a list from _numeric: no tuple of names to hash at every step
        return limits

    def _bounds(self, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        lows, highs = self._limits_of.get(names) or self._limits(names)
        return np.array(lows, dtype=np.float32), np.array(highs, dtype=np.float32)

    def _refresh_info(self, agent: str) -> None:
        info = {
            "turn": self.turn,
            "messages": self.chat_messages(agent),
            "feedback": self._last_feedback[agent],
            "last_move": self._last_move[agent],
            "invalid_moves": self.invalid_moves[agent],
        }
        info.update(self._extra_info(agent))
        if self.episode_metrics:
            info["episode"] = self.episode_metrics
            info["end_reason"] = self.end_reason
        self.infos[agent] = info

    def _extra_info(self, agent: str) -> dict[str, Any]:
        """Environment-specific info for ``agent`` (structured truth, latent state for behaviour models)."""
        return {}

    # ----------------------------------------------------------------------------- invalid moves
    def invalid_move(self, agent: str, text: str, reason: str, expected: str) -> None:
        """Record a move that could not be parsed, penalise it, and ask again or forfeit the turn."""
        self.invalid_moves[agent] += 1
        self._retries[agent] += 1
        self.rewards[agent] += self.invalid_move_penalty
        self._last_move[agent] = {"valid": False, "error": reason, "expected": expected, "chars": len(text)}
        self.post(agent, text, (agent,), kind="invalid", data={"error": reason})
        # The first invalid move of a turn is not a retry: after the k-th in a row, max_retries - k + 1 remain.
        retries_left = self.max_retries - self._retries[agent] + 1
        if retries_left > 0:
            notice = f"Invalid move: {reason}. Expected: {expected}. Retries left this turn: {retries_left}."
            self.post(ENV, notice, (agent,), kind="notice")
        else:
            self._retries[agent] = 0
            self.post(ENV, f"Invalid move: {reason}. Expected: {expected}. No retries left: the turn is forfeited.", (agent,), kind="notice")
            self._forfeit(agent, text)

    def valid_move(self, agent: str, **parsed: Any) -> None:
        """Mark ``agent``'s move as parsed; resets its retry budget."""
        self._retries[agent] = 0
        self._last_move[agent] = {"valid": True, **parsed}

    # ------------------------------------------------------------------------------ episode end
    def end_episode(self, reason: str, *, truncated: bool = False) -> None:
        """End the episode for every agent, compute the metrics and expose them in every info."""
        self.end_reason = reason
        flags = self.truncations if truncated else self.terminations
        for agent in self.agents:
            flags[agent] = True
        self.episode_metrics = {"end_reason": reason, **self._episode_metrics()}
        for agent in self.agents:
            self._refresh_info(agent)

    # --------------------------------------------------------------------------------- render
    def render(self) -> str | None:
        if self.render_mode is None:
            gymnasium.logger.warn("render() was called without a render_mode; pass render_mode='ansi' to make().")
            return None
        return self.render_transcript()

    def render_transcript(self) -> str:
        """The whole transcript as readable text (messages are shown whole, control characters escaped)."""
        lines = []
        for message in getattr(self, "transcript", []):
            audience = ",".join(message.visible_to)
            tag = "" if message.kind == "move" else f" ({message.kind})"
            body = for_view(message.text, max(len(message.text), 1)).replace("\n", "\n    ")
            lines.append(f"[turn {message.turn}] {message.sender} -> {audience}{tag}:\n    {body}")
        return "\n".join(lines)

    def close(self) -> None:
        pass

    # --------------------------------------------------------------------------- for subclasses
    def _start_episode(self, options: dict[str, Any]) -> None:
        raise NotImplementedError

    def _play(self, agent: str, text: str) -> None:
        raise NotImplementedError

    def _forfeit(self, agent: str, text: str) -> None:
        raise NotImplementedError

    def _numeric(self, agent: str) -> dict[str, float] | list[float]:
        return {}

    def _episode_metrics(self) -> dict[str, Any]:
        return {}


def _newest(window: deque[Any], count: int) -> list[Any]:
    """The last ``count`` entries of ``window`` (1 <= count <= its length), oldest first, read from its right
    end: ``islice(window, len(window) - count, None)`` walks the whole window first, at every step."""
    if count == 1:
        return [window[-1]]
    if count == 2:
        return [window[-2], window[-1]]
    skipped = len(window) - count
    if skipped < 32:  # a short walk from the left costs less than reading backwards and reversing
        return list(islice(window, skipped, None))
    return [*islice(reversed(window), count)][::-1]


def _as_text(action: Any) -> str:
    """Any action as the text of a reply, without ever raising (step must not raise on agent input).

    None is the empty reply; bytes are decoded as UTF-8 (bad bytes replaced); a ``str`` subclass
    becomes a plain ``str`` (its overridden methods are not trusted); anything else is ``str(action)``,
    and when that fails (an integer past Python's digit limit, a ``__str__`` that raises or returns
    something else, a structure nested past the recursion limit) a short description of the object.
    """
    if action is None:
        return ""
    if isinstance(action, str):
        return str.__str__(action)
    if isinstance(action, (bytes, bytearray, memoryview)):
        return bytes(action).decode("utf-8", errors="replace")
    try:
        if isinstance(action, np.ndarray) and action.shape == ():
            action = action.item()
        return str.__str__(str(action))  # str() raises TypeError when __str__ returns a non-string
    except Exception as error:  # noqa: BLE001 - an agent's object may fail in any way; the move is then unreadable
        if isinstance(action, int):
            return f"<an integer of {action.bit_length()} bits>"
        return f"<{type(action).__name__} that cannot be shown as text: {type(error).__name__}>"

