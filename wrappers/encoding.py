"""Numeric views: a role's observation as numbers, its reply as a discrete choice (for torch policies and RL libraries).

No RL library trains on free text, so a policy network sees a role through an
:class:`Encoder`: the observation's numeric fields (scaled), plus history features a memoryless
network needs to remember earlier attempts, and a ``Discrete`` action that the encoder turns into
the reply string the environment parses. One encoder serves three users, so a trained policy
behaves the same everywhere:

- :class:`NumericView`, a Gymnasium wrapper over :class:`~feedbackgym.wrappers.single_agent.SingleAgent`
  (passes ``check_env``, works in ``SyncVectorEnv``; ``flatten=True`` gives one ``Box`` for libraries
  that need it);
- :class:`NumericAEC`, a PettingZoo wrapper that keeps the game multi-agent and gives chosen roles
  numeric spaces (passes ``api_test``);
- the ``ppo`` agent (``feedbackgym.agents.torch``), which encodes what the runner hands it.

Encoders per role:

| encoder | environment / role | actions |
|---|---|---|
| `solver` | `SolverFeedback-v0` `solver_0` | answer choice `k` -> `\\boxed{<letter>}`, or vocabulary entry `k` -> `\\boxed{low + k}` |
| `negotiator` | `Negotiation-v0` `seller_0` / `buyer_0` | `n_price_bins` offers over the price range, accept, walk away |
| `critic` | `Critic-v0` `critic_0` | verdict Correct / Wrong |
| `judge` | `DeceptiveJudge-v0` `judge_0` | agree, disagree, disagree proposing option `k` (citing a passage that backs it, when shown any) |
| `judged_solver` | `DeceptiveJudge-v0` `solver_0` | keep or switch (to the judge's proposal, else to its own next-best option) |

An encoder is made for the roles in this table: a built-in encoder given for another environment
or role (a negotiator's for a solver) is refused with an error naming what it is made for and what
that role takes (:func:`check_encoder_fits`); encoders of your own subclasses are trusted.

Everything an encoder adds is read from what that role is shown (the observation and its
``info``), except the optional ``knowledge`` prior of the solvers, a stand-in for what a language
model knows about a question: a noisy score per option in which the gold option gets ``+knowledge``
(drawn from the episode's seed; 0, the default for ``solver``, turns it off). Without it a numeric
policy cannot tell the options of a question apart at all.

>>> view = make_numeric("SolverFeedback-v0", "solver_0", {"teacher_0": "scripted_teacher"},
...                     task="knowledge_mcq", max_turns=3, flatten=True)
>>> view.action_space, view.observation_space.shape
(Discrete(4), (30,))
>>> observation, info = view.reset(seed=0)
>>> view.encoder.decode(2, info)
'The answer is \\\\boxed{C}.'
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv
from pettingzoo.utils.wrappers import BaseWrapper

from feedbackgym.envs.core.checks import (
    ArgumentError,
    fail,
    is_int,
    require_bool,
    require_float,
    require_int,
    require_mapping,
    require_seed,
    shown,
)
from feedbackgym.envs.core.registry import UnknownNameError, did_you_mean
from feedbackgym.envs.core.seeding import agent_seed
from feedbackgym.envs.registration import check_kwargs
from feedbackgym.wrappers.feedback import require_aec
from feedbackgym.wrappers.single_agent import SingleAgent

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SCALED_SPAN = 1000.0  # fields whose declared range is at most this wide are scaled to [-1, 1]
UNSCALED_CLIP = 100.0  # wider fields (rewards declared as +-1e6) are clipped to +-this instead
PRIOR_CLIP = 10.0
MAX_ACTIONS = 10_000  # an encoder's Discrete action count (integer answers, price bins)
MAX_HISTORY = 1_000
MAX_KNOWLEDGE = 1_000.0

_TOO_LARGE = re.compile(r"\btoo (?:large|big|high)\b", re.IGNORECASE)
_TOO_SMALL = re.compile(r"\btoo (?:small|low)\b", re.IGNORECASE)
_ELIMINATE = re.compile(r"option \(?([A-Z])\)?[^.\n]*\beliminate", re.IGNORECASE)


def _bounds(name: str, bounds: Any) -> tuple[float, float]:
    """A field's declared (low, high); infinite bounds are allowed (unbounded fields are clipped)."""
    if isinstance(bounds, (str, bytes)) or not isinstance(bounds, Sequence) or len(bounds) != 2:
        raise fail(name, "a pair (low, high) of numbers", bounds)
    low, high = bounds
    ok = all(isinstance(v, Real) and not isinstance(v, (bool, np.bool_)) and not math.isnan(v) for v in (low, high))
    if not ok or float(low) > float(high):
        raise fail(name, "a pair (low, high) of numbers with low <= high", bounds)
    return float(low), float(high)


def _answer_range(answers: Any) -> tuple[int, int]:
    allowed = f"a pair (low, high) of integers with low <= high and at most {MAX_ACTIONS} answers"
    if isinstance(answers, (str, bytes)) or not isinstance(answers, Sequence) or len(answers) != 2:
        raise fail("answers", allowed, answers)
    if not all(is_int(v) for v in answers) or not 0 <= int(answers[1]) - int(answers[0]) < MAX_ACTIONS:
        raise fail("answers", allowed, answers)
    return int(answers[0]), int(answers[1])


def _box(shape: tuple[int, ...], low: float = -1.0, high: float = 1.0) -> spaces.Box:
    return spaces.Box(low=np.float32(low), high=np.float32(high), shape=shape, dtype=np.float32)


def _one_hot(index: int | None, size: int) -> np.ndarray:
    vector = np.zeros(size, dtype=np.float32)
    if index is not None and 0 <= index < size:
        vector[index] = 1.0
    return vector


def _letter_index(answer: Any, size: int) -> int | None:
    if isinstance(answer, str) and len(answer) == 1 and answer.upper() in LETTERS[:size]:
        return LETTERS.index(answer.upper())
    return None


# ------------------------------------------------------------------------------------ encoders
class Encoder:
    """Turns one role's (observation, info) into numeric features and a discrete action into its reply.

    ``fields`` maps the observation's numeric fields to their declared (low, high); left out, they
    are read from the environment's space by :meth:`bind`. A field whose range is at most 1000 wide
    is scaled to [-1, 1]; a wider one (rewards) is clipped to +-100. Subclasses add their own
    features (``_extra_spaces`` / ``_extra``) and define the actions (``n_actions`` / ``decode``).

    An encoder is stateful within an episode (what feedback ruled out, the prior): call
    :meth:`reset` at every episode start. :meth:`encode` may be called any number of times per turn.
    """

    kind: ClassVar[str] = ""

    def __init__(self, fields: Mapping[str, Sequence[float]] | None = None) -> None:
        self.fields: dict[str, tuple[float, float]] | None = None
        if require_mapping("fields", fields) is not None:
            self.fields = {name: _bounds(f"fields[{name!r}]", bounds) for name, bounds in fields.items()}
        self.np_random = np.random.default_rng()
        self._space: spaces.Dict | None = None

    # --------------------------------------------------------------------------- spaces
    @property
    def n_actions(self) -> int:
        raise NotImplementedError

    @property
    def action_space(self) -> spaces.Discrete:
        return spaces.Discrete(self.n_actions)

    @property
    def observation_space(self) -> spaces.Dict:
        if self._space is None:
            self._space = self._build_space()
        return self._space

    def _build_space(self) -> spaces.Dict:
        if self.fields is None:
            raise RuntimeError(f"{type(self).__name__} has no numeric fields yet: pass fields= or call bind(observation_space)")
        boxes: dict[str, spaces.Space[Any]] = {}
        for name, (low, high) in self.fields.items():
            boxes[name] = _box((1,)) if self._scaled(low, high) else _box((1,), -UNSCALED_CLIP, UNSCALED_CLIP)
        boxes.update(self._extra_spaces())
        return spaces.Dict(boxes)

    def flat_space(self) -> spaces.Box:
        space = self.observation_space
        lows = np.concatenate([box.low.ravel() for box in space.values()])  # type: ignore[attr-defined]
        highs = np.concatenate([box.high.ravel() for box in space.values()])  # type: ignore[attr-defined]
        return spaces.Box(low=lows, high=highs, dtype=np.float32)

    def flatten(self, features: Mapping[str, np.ndarray]) -> np.ndarray:
        """One float32 vector, in the order of ``observation_space`` (Gymnasium's Dict sorts its keys)."""
        return np.concatenate([np.asarray(features[key], dtype=np.float32).ravel() for key in self.observation_space])

    def bind(self, observation_space: spaces.Space[Any]) -> Encoder:
        """Take the numeric fields and their bounds from an environment's observation space (unless given)."""
        if self.fields is None:
            if not isinstance(observation_space, spaces.Dict):
                raise TypeError(f"{type(self).__name__} needs a Dict observation space with numeric fields, got {observation_space!r}")
            self.fields = {
                name: (float(box.low.ravel()[0]), float(box.high.ravel()[0]))
                for name, box in observation_space.items()
                if isinstance(box, spaces.Box) and box.shape == (1,)
            }
            self._space = None
        return self

    # --------------------------------------------------------------------------- episode
    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.np_random = np.random.default_rng(seed)

    def encode(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> dict[str, np.ndarray]:
        assert self.fields is not None, "bind() the encoder to an observation space first"
        features: dict[str, np.ndarray] = {}
        for name, (low, high) in self.fields.items():
            value = float(np.asarray(observation.get(name, low)).ravel()[0]) if name in observation else low
            if self._scaled(low, high):
                scaled = 2.0 * (value - low) / (high - low) - 1.0 if high > low else 0.0
                features[name] = np.array([min(max(scaled, -1.0), 1.0)], dtype=np.float32)
            else:
                features[name] = np.array([min(max(value, -UNSCALED_CLIP), UNSCALED_CLIP)], dtype=np.float32)
        features.update(self._extra(observation, info))
        return features

    def decode(self, action: Any, info: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this encoder (:func:`make_encoder`), as plain data for checkpoints."""
        fields = None if self.fields is None else {name: [low, high] for name, (low, high) in self.fields.items()}
        return {"kind": self.kind, "fields": fields, **self._params()}

    # --------------------------------------------------------------------------- for subclasses
    def _params(self) -> dict[str, Any]:
        return {}

    def _extra_spaces(self) -> dict[str, spaces.Box]:
        return {}

    def _extra(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> dict[str, np.ndarray]:
        return {}

    @staticmethod
    def _scaled(low: float, high: float) -> bool:
        return math.isfinite(low) and math.isfinite(high) and high - low <= SCALED_SPAN

    @staticmethod
    def _action(action: Any, n: int) -> int:
        index = action_index(action)
        if index is None or not 0 <= index < n:
            raise ArgumentError(f"action must be one integer in 0..{n - 1} (the Discrete action space), got {shown(action)}")
        return index

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in self._params().items())
        return f"{type(self).__name__}({params})"


class KnowledgePrior:
    """A noisy score per option in which the gold option gets ``+strength``: what a model "knows" about a question.

    Drawn once per episode from the encoder's generator (seeded by the episode's seed), from the
    gold answer in ``info["latent"]`` (which environments expose for behaviour models). With
    strength s and n options, the top-scored option is the gold one with probability that grows
    from 1/n (s = 0) toward 1 (about 0.5 for s = 1 and n = 4).
    """

    def __init__(self, strength: float, size: int) -> None:
        self.strength = float(strength)
        self.size = size
        self.scores: np.ndarray | None = None

    def clear(self) -> None:
        self.scores = None

    def get(self, info: Mapping[str, Any], rng: np.random.Generator) -> np.ndarray:
        if self.scores is None:
            gold = _letter_index((info.get("latent") or {}).get("gold"), self.size)
            noise = rng.standard_normal(self.size).astype(np.float32)
            if gold is None:  # no latent gold (expose_latent=False): the prior carries no knowledge
                self.scores = noise
            else:
                self.scores = noise + self.strength * _one_hot(gold, self.size)
            self.scores = np.clip(self.scores, -PRIOR_CLIP, PRIOR_CLIP)
        return self.scores


class SolverEncoder(Encoder):
    """The solver of ``SolverFeedback-v0``: choose an answer, remember what was tried and what feedback ruled out.

    Give ``n_choices`` (multiple-choice tasks such as ``knowledge_mcq``: action k answers letter k) or
    ``answers=(low, high)`` (numeric tasks: action k answers the integer ``low + k``).

    Features besides the scaled numeric fields (``turn``, ``turns_left``, ``feedback_level``,
    ``last_verdict``, ``last_reward``), all over the answer set:

    | key | shape | meaning |
    |---|---|---|
    | `last_answers` | (history, n) | one-hot of the last `history` answers, most recent first |
    | `tried` | (n,) | 1 for every answer given this episode |
    | `eliminated` | (n,) | 1 for every answer the feedback ruled out (see below) |
    | `hint` | (1,) | the last directed hint: +1 "too large", -1 "too small", 0 none |
    | `prior` | (n,) | with `knowledge > 0` (choice tasks): the :class:`KnowledgePrior` |

    What feedback rules out is what its text says: a shown verdict "incorrect" (unary, binary or a
    critique) rules out the answer it judged; the scripted teacher's directed hints at
    ``critique_with_answer`` rule out more: "too large" every answer at or above it, "too small" every
    answer at or below it, "eliminate option (X)" that option. So richer feedback is richer here too.
    """

    kind = "solver"

    def __init__(
        self,
        n_choices: int | None = None,
        answers: Sequence[int] | None = None,
        history: int = 4,
        knowledge: float = 0.0,
        fields: Mapping[str, Sequence[float]] | None = None,
    ) -> None:
        super().__init__(fields)
        if (n_choices is None) == (answers is None):
            raise ArgumentError("give exactly one of n_choices (choice tasks) or answers=(low, high) (integer answers)")
        self.n_choices = require_int("n_choices", n_choices, 2, len(LETTERS), allow_none=True)
        self.answers = None if answers is None else _answer_range(answers)
        self.history = require_int("history", history, 1, MAX_HISTORY)
        self.knowledge = require_float("knowledge", knowledge, 0.0, MAX_KNOWLEDGE)
        if self.answers is not None and self.knowledge:
            raise ArgumentError("knowledge applies to choice tasks only (n_choices)")
        self.prior = KnowledgePrior(self.knowledge, self.n_actions)
        self._clear()

    @property
    def n_actions(self) -> int:
        if self.n_choices is not None:
            return self.n_choices
        assert self.answers is not None
        return self.answers[1] - self.answers[0] + 1

    def _params(self) -> dict[str, Any]:
        return {"n_choices": self.n_choices, "answers": None if self.answers is None else list(self.answers),
                "history": self.history, "knowledge": self.knowledge}

    def _clear(self) -> None:
        self._eliminated = np.zeros(self.n_actions, dtype=np.float32)
        self._hint = 0.0
        self._feedback_seen: tuple[Any, ...] | None = None
        self.prior.clear()

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._clear()

    def index_of(self, answer: Any) -> int | None:
        """The action index of a (normalised) answer, or None when it is outside the answer set."""
        if self.n_choices is not None:
            return _letter_index(answer, self.n_choices)
        assert self.answers is not None
        try:
            value = int(str(answer))
        except (TypeError, ValueError):
            return None
        index = value - self.answers[0]
        return index if 0 <= index < self.n_actions else None

    def answer_of(self, index: int) -> str:
        if self.n_choices is not None:
            return LETTERS[index]
        assert self.answers is not None
        return str(self.answers[0] + index)

    def decode(self, action: Any, info: Mapping[str, Any]) -> str:
        return f"The answer is \\boxed{{{self.answer_of(self._action(action, self.n_actions))}}}."

    def _extra_spaces(self) -> dict[str, spaces.Box]:
        n = self.n_actions
        extra = {
            "last_answers": _box((self.history, n), 0.0, 1.0),
            "tried": _box((n,), 0.0, 1.0),
            "eliminated": _box((n,), 0.0, 1.0),
            "hint": _box((1,)),
        }
        if self.knowledge > 0:
            extra["prior"] = _box((n,), -PRIOR_CLIP, PRIOR_CLIP)
        return extra

    def _extra(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> dict[str, np.ndarray]:
        n = self.n_actions
        indices = [self.index_of(answer) for answer in info.get("tried_answers") or ()]
        last = np.zeros((self.history, n), dtype=np.float32)
        for row, index in enumerate(reversed(indices[-self.history :])):
            if index is not None:
                last[row, index] = 1.0
        tried = np.zeros(n, dtype=np.float32)
        for index in indices:
            if index is not None:
                tried[index] = 1.0
        self._read_feedback(info)
        extra = {"last_answers": last, "tried": tried, "eliminated": self._eliminated.copy(),
                 "hint": np.array([self._hint], dtype=np.float32)}
        if self.knowledge > 0:
            extra["prior"] = self.prior.get(info, self.np_random).copy()
        return extra

    def _read_feedback(self, info: Mapping[str, Any]) -> None:
        """Apply a feedback event the first time it is seen: what it rules out stays ruled out."""
        event = info.get("feedback")
        if not event or not event.get("text"):
            return
        key = (event.get("turn"), event.get("text"))
        if key == self._feedback_seen:
            return
        self._feedback_seen = key
        move = info.get("last_move") or {}
        index = self.index_of(move.get("answer")) if move.get("valid") else None
        text = str(event.get("text"))
        self._hint = 0.0
        if index is not None and event.get("verdict") == "incorrect":
            self._eliminated[index] = 1.0
        if index is not None and self.answers is not None:
            if _TOO_LARGE.search(text):
                self._eliminated[index:] = 1.0
                self._hint = 1.0
            elif _TOO_SMALL.search(text):
                self._eliminated[: index + 1] = 1.0
                self._hint = -1.0
        if self.n_choices is not None:
            for match in _ELIMINATE.finditer(text):
                ruled_out = _letter_index(match.group(1), self.n_choices)
                if ruled_out is not None:
                    self._eliminated[ruled_out] = 1.0


class NegotiatorEncoder(Encoder):
    """A buyer or seller of ``Negotiation-v0``: offer one of ``n_price_bins`` prices, accept, or walk away.

    Action k < n_price_bins offers the k-th of evenly spaced prices over the game's price range
    (read from ``info["negotiation"]``: $10..$20 by default, so 11 bins are whole dollars); action
    ``n_price_bins`` accepts the other side's standing offer; ``n_price_bins + 1`` walks away.

    Features besides the scaled numeric fields (games played, moves left, own and rival offer,
    previous price, reservation, last reward): `rival_history`, the other side's last `history`
    distinct offers in this game, most recent first, scaled to [-1, 1] over the price range (-1: none).
    """

    kind = "negotiator"

    def __init__(self, n_price_bins: int = 11, history: int = 3, fields: Mapping[str, Sequence[float]] | None = None) -> None:
        super().__init__(fields)
        self.n_price_bins = require_int("n_price_bins", n_price_bins, 2, MAX_ACTIONS)
        self.history = require_int("history", history, 1, MAX_HISTORY)
        self._clear()

    @property
    def n_actions(self) -> int:
        return self.n_price_bins + 2

    def _params(self) -> dict[str, Any]:
        return {"n_price_bins": self.n_price_bins, "history": self.history}

    def _clear(self) -> None:
        self._game: int | None = None
        self._rival_offers: list[float] = []

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._clear()

    @staticmethod
    def _range(info: Mapping[str, Any]) -> tuple[float, float]:
        state = info.get("negotiation") or {}
        low, high = state.get("price_range") or (10.0, 20.0)
        return float(low), float(high)

    def price_of(self, index: int, info: Mapping[str, Any]) -> float:
        low, high = self._range(info)
        return round(low + (high - low) * index / (self.n_price_bins - 1), 2)

    def decode(self, action: Any, info: Mapping[str, Any]) -> str:
        index = self._action(action, self.n_actions)
        if index == self.n_price_bins:
            return "I accept your offer."
        if index == self.n_price_bins + 1:
            return "I walk away."
        price = self.price_of(index, info)
        return f"How about ${price:.0f}?" if float(price).is_integer() else f"How about ${price:.2f}?"

    def _extra_spaces(self) -> dict[str, spaces.Box]:
        return {"rival_history": _box((self.history,))}

    def _extra(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> dict[str, np.ndarray]:
        state = info.get("negotiation") or {}
        if state.get("game") != self._game:
            self._game = state.get("game")
            self._rival_offers = []
        rival = state.get("rival_offer")
        if rival is not None and (not self._rival_offers or self._rival_offers[-1] != rival):
            self._rival_offers.append(float(rival))
        low, high = self._range(info)
        history = np.full(self.history, -1.0, dtype=np.float32)
        for slot, offer in enumerate(reversed(self._rival_offers[-self.history :])):
            history[slot] = min(max(2.0 * (offer - low) / (high - low) - 1.0, -1.0), 1.0)
        return {"rival_history": history}


class CriticEncoder(Encoder):
    """The critic of ``Critic-v0``: verdict Correct (action 0) or Wrong (action 1) on the actor's attempt.

    Its features are the environment's numeric fields: the attempt's number of steps and the noisy
    ``correctness_signal`` (the env's feature for non-text critics).
    """

    kind = "critic"
    VERDICTS = ("Correct", "Wrong")

    @property
    def n_actions(self) -> int:
        return 2

    def decode(self, action: Any, info: Mapping[str, Any]) -> str:
        verdict = self.VERDICTS[self._action(action, 2)]
        return f"Correctness of the final answer: {verdict}\nExplanation: my assessment of the solution's final answer."


class JudgeEncoder(Encoder):
    """The judge of ``DeceptiveJudge-v0``: agree (0), disagree (1), or disagree proposing option k (2 + k).

    A proposal cites the evidence passages in ``info["request"]`` that back the proposed option (a
    grounded judge is shown some), which is what makes a critique persuasive. Features besides the
    numeric fields: one-hots of the solver's current `answer`, the `gold` answer and the malicious
    `alternative` (all from the judge's request: the judge is told the correct answer).
    """

    kind = "judge"

    def __init__(self, n_choices: int = 4, fields: Mapping[str, Sequence[float]] | None = None) -> None:
        super().__init__(fields)
        self.n_choices = require_int("n_choices", n_choices, 2, len(LETTERS))

    @property
    def n_actions(self) -> int:
        return 2 + self.n_choices

    def _params(self) -> dict[str, Any]:
        return {"n_choices": self.n_choices}

    def decode(self, action: Any, info: Mapping[str, Any]) -> str:
        index = self._action(action, self.n_actions)
        if index == 0:
            return "Verdict: agree\nCritique: The answer is well supported."
        if index == 1:
            return "Verdict: disagree\nCritique: The answer does not hold up; reconsider the question."
        letter = LETTERS[index - 2]
        evidence = (info.get("request") or {}).get("evidence") or []
        cited = [item["id"] for item in evidence if item.get("supports") == letter]
        lines = ["Verdict: disagree", f"Proposed answer: ({letter})"]
        if cited:
            lines.append("Evidence: " + " ".join(f"[{i}]" for i in cited))
        lines.append(f"Critique: The facts point to ({letter}), not to the answer given.")
        return "\n".join(lines)

    def _extra_spaces(self) -> dict[str, spaces.Box]:
        n = self.n_choices
        return {"answer": _box((n,), 0.0, 1.0), "gold": _box((n,), 0.0, 1.0), "alternative": _box((n,), 0.0, 1.0)}

    def _extra(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> dict[str, np.ndarray]:
        request = info.get("request") or {}
        n = self.n_choices
        return {key: _one_hot(_letter_index(request.get(key), n), n) for key in ("answer", "gold", "alternative")}


class JudgedSolverEncoder(Encoder):
    """The solver of ``DeceptiveJudge-v0``: keep its answer (0) or switch (1), after each round of feedback.

    Its first answer (round 0) is not a decision of the policy: it is the solver's own best guess,
    the top option of its :class:`KnowledgePrior` (``knowledge``, default 1). A switch goes to the
    judge's proposed answer when the judge proposed one, otherwise to the best-scored option other
    than the current one. Features besides the numeric fields: the `prior`, and one-hots of the
    `current` answer and of the judge's `proposal`.
    """

    kind = "judged_solver"

    def __init__(self, n_choices: int = 4, knowledge: float = 1.0, fields: Mapping[str, Sequence[float]] | None = None) -> None:
        super().__init__(fields)
        self.n_choices = require_int("n_choices", n_choices, 2, len(LETTERS))
        self.knowledge = require_float("knowledge", knowledge, 0.0, MAX_KNOWLEDGE)
        self.prior = KnowledgePrior(self.knowledge, self.n_choices)

    @property
    def n_actions(self) -> int:
        return 2

    def _params(self) -> dict[str, Any]:
        return {"n_choices": self.n_choices, "knowledge": self.knowledge}

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self.prior.clear()

    def decode(self, action: Any, info: Mapping[str, Any]) -> str:
        index = self._action(action, 2)
        scores = self.prior.get(info, self.np_random)
        current = _letter_index(info.get("current_answer"), self.n_choices)
        if current is None:
            return f"My answer is \\boxed{{{LETTERS[int(np.argmax(scores))]}}}."
        if index == 0:
            return f"I keep my answer: \\boxed{{{LETTERS[current]}}}."
        proposal = _letter_index(((info.get("round_state") or {}).get("judge") or {}).get("proposed_answer"), self.n_choices)
        if proposal is None or proposal == current:
            ranked = [int(i) for i in np.argsort(-scores) if int(i) != current]
            proposal = ranked[0]
        return f"I switch to \\boxed{{{LETTERS[proposal]}}}."

    def _extra_spaces(self) -> dict[str, spaces.Box]:
        n = self.n_choices
        return {"prior": _box((n,), -PRIOR_CLIP, PRIOR_CLIP), "current": _box((n,), 0.0, 1.0), "proposal": _box((n,), 0.0, 1.0)}

    def _extra(self, observation: Mapping[str, Any], info: Mapping[str, Any]) -> dict[str, np.ndarray]:
        n = self.n_choices
        judge = (info.get("round_state") or {}).get("judge") or {}
        return {
            "prior": self.prior.get(info, self.np_random).copy(),
            "current": _one_hot(_letter_index(info.get("current_answer"), n), n),
            "proposal": _one_hot(_letter_index(judge.get("proposed_answer"), n), n),
        }


ENCODERS: dict[str, type[Encoder]] = {
    cls.kind: cls for cls in (SolverEncoder, NegotiatorEncoder, CriticEncoder, JudgeEncoder, JudgedSolverEncoder)
}
# (environment class, role prefix) -> encoder kind, for default_encoder
_DEFAULT_KINDS = {
    ("SolverFeedbackEnv", "solver"): "solver",
    ("NegotiationEnv", "seller"): "negotiator",
    ("NegotiationEnv", "buyer"): "negotiator",
    ("CriticEnv", "critic"): "critic",
    ("DeceptiveJudgeEnv", "judge"): "judge",
    ("DeceptiveJudgeEnv", "solver"): "judged_solver",
}


def register_encoder(
    cls: type[Encoder] | None = None, *, default_for: Sequence[tuple[str, str]] = (), override: bool = False
) -> Any:
    """Make an :class:`Encoder` subclass buildable by its ``kind`` (configs, ``learners: {role: {kind: ...}}``
    of ``feedbackgym train``, PPO checkpoints); a class decorator, bare or with arguments.

    ``default_for``: (environment class name, role) pairs it is the default encoder of, such as
    ``[("HigherLowerEnv", "guesser")]``; it is then also refused for other environments and roles. The
    class must rebuild from its :meth:`Encoder.config`: its constructor takes ``fields`` and the
    arguments :meth:`Encoder._params` returns.
    """

    def add(encoder_class: type[Encoder]) -> type[Encoder]:
        if not (isinstance(encoder_class, type) and issubclass(encoder_class, Encoder)):
            raise TypeError(f"register_encoder takes a subclass of Encoder, got {encoder_class!r}")
        kind = encoder_class.kind
        if not isinstance(kind, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", kind):
            raise ValueError(f"{encoder_class.__name__}.kind must be a name (letters, digits, _), got {kind!r}")
        known = ENCODERS.get(kind)
        if known is not None and known is not encoder_class and not override:
            raise ValueError(f"encoder kind {kind!r} is already {known.__name__}; pass override=True to replace it")
        if "fields" not in inspect.signature(encoder_class).parameters:
            raise TypeError(f"{encoder_class.__name__}.__init__ must take fields=None (passed on to Encoder), to rebuild from its config")
        pairs = [(str(env_name), str(role)) for env_name, role in default_for]
        ENCODERS[kind] = encoder_class
        for pair in pairs:
            _DEFAULT_KINDS[pair] = kind
        return encoder_class

    return add if cls is None else add(cls)


def make_encoder(spec: Encoder | str | Mapping[str, Any], **kwargs: Any) -> Encoder:
    """An encoder from an instance, a kind (``"solver"``) with ``kwargs``, or a config (``{"kind": ..., ...}``)."""
    if isinstance(spec, Encoder):
        if kwargs:
            raise TypeError("keyword arguments need an encoder kind or config, not a built encoder")
        return spec
    if isinstance(spec, Mapping):
        # A config keeps None for arguments left at their defaults (answers of a choice solver, fields unbound).
        kwargs = {**{key: value for key, value in spec.items() if key != "kind" and value is not None}, **kwargs}
        spec = str(spec.get("kind", ""))
    if spec not in ENCODERS:
        raise UnknownNameError(did_you_mean(str(spec), list(ENCODERS), "encoder"))
    check_kwargs(ENCODERS[spec], kwargs, f"encoder `{spec}`")
    return ENCODERS[spec](**kwargs)


def default_encoder(env: AECEnv, agent: str, **kwargs: Any) -> Encoder:
    """The encoder for ``agent`` of ``env`` (see the module table), with its sizes read from the env.

    The solver of a choice task gets ``n_choices`` from the task source; for numeric tasks pass
    ``answers=(low, high)``: an integer vocabulary that contains the gold answers.
    """
    base = env.unwrapped
    role = agent.rsplit("_", 1)[0]
    kind = kwargs.pop("kind", None) or next(iter(encoder_kinds_for(base, agent)), None)
    if kind is None:
        known = ", ".join(f"{e} {r}" for e, r in _DEFAULT_KINDS)
        raise ValueError(f"no numeric encoder for {agent!r} of {type(base).__name__}; encoders exist for: {known}")
    source = getattr(base, "task_source", None)
    n_choices = getattr(source, "n_choices", None)
    if kind == "solver" and "answers" not in kwargs and "n_choices" not in kwargs:
        if n_choices is not None:
            kwargs["n_choices"] = n_choices
        else:
            answers = default_answers(source)
            if answers is None:
                what = f"task {getattr(source, 'name', type(source).__name__)!r}" if source is not None else "this task"
                # The same advice in the words of each entry point (the Gymnasium ids and make_numeric take one encoder).
                raise ArgumentError(
                    f"the solver of {what} has no default answer range within {MAX_ACTIONS} integers: pass "
                    "answers=(low, high), the integer answers it can give: encoder={'answers': [0, 200]} for a "
                    f"single-role view (make_numeric, a Gymnasium id), encoders={{{agent!r}: {{'answers': [0, 200]}}}} for numeric_view"
                )
            kwargs["answers"] = answers
    if kind in ("judge", "judged_solver") and "n_choices" not in kwargs and n_choices is not None:
        kwargs["n_choices"] = n_choices
    encoder = make_encoder(kind, **kwargs)
    check_encoder_fits(encoder, base, agent)
    return encoder.bind(base.observation_space(agent))


def default_answers(source: Any) -> tuple[int, int] | None:
    """The integer answers a numeric task source can have, when they fit in ``MAX_ACTIONS`` actions; else None.

    A source may say so itself with ``answer_range() -> (low, high)``. For ``arithmetic`` the range
    is worked out from its level and operations (difficulty 1: 0..180, difficulty 2: 0..7200 with
    every operation); wider sources (difficulty 3 and up, long multiplication) need ``answers=``.
    """
    answer_range = getattr(source, "answer_range", None)
    if callable(answer_range):
        low, high = answer_range()
    elif type(source).__name__ == "ArithmeticTasks":
        from feedbackgym.envs.tasks.arithmetic import _LEVELS  # the generator's own limits

        low, high = _arithmetic_bounds(_LEVELS[source.difficulty], source.operations, source.allow_negative)
    else:
        return None
    return (int(low), int(high)) if 0 <= high - low < MAX_ACTIONS else None


def _arithmetic_bounds(level: tuple[int, int, int], operations: str, allow_negative: bool) -> tuple[int, int]:
    """Interval bounds of every value ``ArithmeticTasks`` can produce (start 1..add_max, then each operation)."""
    n_operations, add_max, factor_max = level
    low, high = 1, add_max
    for _ in range(n_operations):
        lows, highs = [], []
        if "+" in operations:
            lows.append(low + 1), highs.append(high + add_max)
        if "*" in operations:
            lows.append(min(low * 2, low * factor_max)), highs.append(max(high * factor_max, high * 2))
        if "-" in operations:
            if allow_negative:
                lows.append(min(low - add_max, 1 - high)), highs.append(max(high - 1, add_max - low))
            else:
                lows.append(0), highs.append(max(high, add_max))
        if "/" in operations:
            lows.append(min(low, 0)), highs.append(max(high, 0))
        low, high = min(lows), max(highs)
    return (low if allow_negative else max(low, 0)), high


def resolve_encoder(env: AECEnv, agent: str, spec: Encoder | str | Mapping[str, Any] | None) -> Encoder:
    """The encoder ``spec`` describes for ``agent`` of ``env``, bound to its observation space.

    None is the :func:`default_encoder`; a mapping without ``kind`` is the default encoder with those
    arguments (``{"answers": [0, 40]}``); anything else goes through :func:`make_encoder`.
    """
    if spec is None:
        return default_encoder(env, agent)
    if isinstance(spec, Mapping):
        require_mapping(f"encoders[{agent!r}]", spec)
    if isinstance(spec, Mapping) and not spec.get("kind"):
        return default_encoder(env, agent, **{key: value for key, value in spec.items() if key != "kind" and value is not None})
    if not isinstance(spec, (Encoder, str, Mapping)):
        raise fail(f"encoders[{agent!r}]", "an Encoder, an encoder kind, a config mapping or None", spec)
    encoder = make_encoder(spec)
    check_encoder_fits(encoder, env, agent)
    return encoder.bind(env.unwrapped.observation_space(agent))


def encoder_kinds_for(env: AECEnv, agent: str) -> list[str]:
    """The built-in encoder kinds that fit ``agent`` of ``env`` (by its class or a base class, and its role)."""
    names = {cls.__name__ for cls in type(env.unwrapped).__mro__}
    role = agent.rsplit("_", 1)[0]
    return sorted({kind for (env_name, env_role), kind in _DEFAULT_KINDS.items() if env_name in names and env_role == role})


def check_encoder_fits(encoder: Encoder, env: AECEnv, agent: str) -> None:
    """Refuse a built-in encoder made for another environment or role (a negotiator's for a solver).

    Encoders of other kinds (user subclasses not registered with ``default_for``) are trusted: they say
    nothing about what they encode.
    """
    if not isinstance(encoder, ENCODERS.get(encoder.kind, ())) or encoder.kind not in _DEFAULT_KINDS.values():
        return
    fits = encoder_kinds_for(env, agent)
    if encoder.kind in fits:
        return
    made_for = ", ".join(f"{e} {r}" for (e, r), kind in _DEFAULT_KINDS.items() if kind == encoder.kind)
    takes = f"the {', '.join(fits)} encoder" if fits else "no default encoder"
    raise ArgumentError(
        f"the {encoder.kind!r} encoder is made for {made_for}, not for {agent!r} of {type(env.unwrapped).__name__}, "
        f"which takes {takes}"
    )


# ------------------------------------------------------------------------------------ wrappers
class NumericView(gymnasium.Wrapper):
    """A :class:`SingleAgent` with numeric observations and a ``Discrete`` action (the learner's encoder).

    ``flatten=True`` gives one float32 ``Box`` instead of a ``Dict`` of them. ``slim_info=True``
    replaces the info by ``{"metrics": ...}`` (the episode's scalar metrics, at its end only), which
    keeps ``SyncVectorEnv``'s info merging cheap during training; otherwise the learner's info is
    passed through with ``reply`` (the text the action became). The encoder is seeded like the
    runner seeds the learner's agent (``agent_seed(episode_seed, index)``), so a policy sees the same
    features here as the ``ppo`` agent sees in a rollout of the same episode.
    """

    def __init__(
        self,
        env: SingleAgent,
        encoder: Encoder | str | Mapping[str, Any] | None = None,
        *,
        flatten: bool = False,
        slim_info: bool = False,
    ) -> None:
        if not isinstance(env, SingleAgent):
            raise TypeError(f"NumericView wraps a SingleAgent, got {env!r}")
        _refuse_a_second_numeric_view(env.env, "NumericView")
        super().__init__(env)
        base = env.env
        self.encoder = resolve_encoder(base, env.learner, encoder)
        self.flatten = require_bool("flatten", flatten)
        self.slim_info = require_bool("slim_info", slim_info)
        self._learner_index = list(base.possible_agents).index(env.learner)
        self.observation_space = self.encoder.flat_space() if self.flatten else self.encoder.observation_space
        self.action_space = self.encoder.action_space
        self._info: dict[str, Any] = {}

    def _observe(self, observation: Mapping[str, Any], info: dict[str, Any]) -> Any:
        features = self.encoder.encode(observation, info)
        return self.encoder.flatten(features) if self.flatten else features

    def _info_out(self, info: dict[str, Any]) -> dict[str, Any]:
        if not self.slim_info:
            return info
        metrics = info.get("episode")
        if not metrics:
            return {}
        return {"metrics": {k: float(v) for k, v in metrics.items() if isinstance(v, (bool, int, float)) and v is not None}}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(seed=seed, options=options)
        episode_seed = self.env.unwrapped.episode_seed  # type: ignore[attr-defined]
        self.encoder.reset(agent_seed(episode_seed, self._learner_index))
        self._info = info
        return self._observe(observation, info), self._info_out(info)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        reply = self.encoder.decode(action, self._info)
        observation, reward, terminated, truncated, info = self.env.step(reply)
        self._info = info
        out = self._info_out(info)
        if not self.slim_info:
            out["reply"] = reply
        return self._observe(observation, info), reward, terminated, truncated, out


def make_numeric(
    env: str | AECEnv,
    learner: str,
    others: Mapping[str, Any],
    *,
    encoder: Encoder | str | Mapping[str, Any] | None = None,
    flatten: bool = False,
    slim_info: bool = False,
    seed: int | None = None,
    **env_kwargs: Any,
) -> NumericView:
    """``NumericView(SingleAgent(env, learner, others, **env_kwargs), encoder)`` in one call."""
    # A slim view reads the info and hands on a new one, so the per-step copy of the full info is not needed.
    single = SingleAgent(env, learner, others, seed=seed, copy_info=not slim_info, **env_kwargs)
    return NumericView(single, encoder, flatten=flatten, slim_info=slim_info)


class NumericAEC(BaseWrapper):
    """A PettingZoo AEC environment in which the roles in ``encoders`` see numbers and act with ``Discrete`` choices.

    ## Arguments

    | argument | meaning |
    |---|---|
    | `encoders` | agent id -> an :class:`Encoder`, a kind, a config, or None (the :func:`default_encoder`); left out: every role that has a default encoder and is not in `others` |
    | `others` | agent id -> an agent (an object with `act`, a registered name, `{"name": ..., **kwargs}`), as in `SingleAgent`: these roles are played inside the wrapper and hidden (not in `agents`, `possible_agents`, `rewards`, ...) |
    | `flatten` | flat `Box` observations instead of a `Dict` of them |
    | `slim_info` | every info is `{}` (libraries that batch infos into arrays, such as Tianshou's buffer, need one shape every step; episode metrics stay in `env.unwrapped.episode_metrics`) |
    | `pad` | every encoded role gets one shared space: `Dict(observation=Box(n), action_mask=Box(0, 1, (m,), int8))`, with `n` and `m` the largest observation and action sizes (zeros pad the rest; implies `flatten`). Libraries that need identical spaces for all agents (Tianshou's `PettingZooEnv`) take it as it is; an action outside a role's mask is played as an invalid move |

    Roles neither encoded nor in ``others`` keep the text interface, so scripted or LLM agents can
    still play them while torch policies play the encoded ones. Every role left visible must be
    encoded for an RL library to drive the whole game: give the rest to ``others``. An environment
    with no role that has a built-in encoder (``JudgeProtocol-v0``, ``SimulatedUser-*``) is refused
    when ``encoders`` is left out, rather than encoding nothing: write an :class:`Encoder` subclass
    and pass it in ``encoders``. Encoders and the ``others`` are seeded with ``agent_seed(seed, index)``
    at ``reset(seed)`` (as the runner seeds agents).

    >>> from feedbackgym.envs import make
    >>> env = make("Negotiation-v0", wrappers=[("numeric_view", {"encoders": {"seller_0": None, "buyer_0": None}})])
    >>> env.action_space("seller_0"), type(env.action_space("critic_0")).__name__
    (Discrete(13), 'PrintableText')
    >>> env = make("Negotiation-v0", wrappers=[("numeric_view", {"others": {"critic_0": "critic_coach"}, "pad": True})])
    >>> env.possible_agents, env.observation_space("seller_0") == env.observation_space("buyer_0")
    (['seller_0', 'buyer_0'], True)
    """

    def __init__(
        self,
        env: AECEnv,
        encoders: Mapping[str, Encoder | str | Mapping[str, Any] | None] | None = None,
        flatten: bool = False,
        others: Mapping[str, Any] | None = None,
        pad: bool = False,
        slim_info: bool = False,
    ) -> None:
        require_aec(env, "NumericAEC")
        _refuse_a_second_numeric_view(env, "numeric_view")
        super().__init__(env)
        base = env.unwrapped
        possible = list(base.possible_agents)
        if others is not None and not isinstance(others, Mapping):
            raise fail("others", "a mapping from agent ids to agents (objects with act, registered names or {name: ...})", others)
        others = dict(others or {})
        unknown = [a for a in others if a not in possible]
        if unknown:
            raise ValueError(f"others name {unknown}, which are not agents of this environment; agents: {possible}")
        if encoders is None:
            roles = [a for a in possible if a not in others and encoder_kinds_for(base, a)]
            if not roles:
                known = ", ".join(f"{e} {r}" for e, r in _DEFAULT_KINDS)
                raise ArgumentError(
                    f"numeric_view: no role of {type(base).__name__} ({', '.join(a for a in possible if a not in others)}) has a "
                    f"built-in encoder, so this view would encode nothing; built-in encoders exist for: {known}. "
                    "Pass encoders={agent id: <your Encoder subclass>}"
                )
            encoders = dict.fromkeys(roles)
        if not isinstance(encoders, Mapping):
            raise fail("encoders", "a mapping from agent ids to encoders (or None)", encoders)
        unknown = [a for a in encoders if a not in possible]
        if unknown:
            raise ValueError(f"encoders name {unknown}, which are not agents of this environment; agents: {possible}")
        both = [a for a in encoders if a in others]
        if both:
            raise ValueError(f"{both} are both encoded and played by others; a role is one or the other")
        self.encoders: dict[str, Encoder] = {}
        for agent, spec in encoders.items():
            self.encoders[agent] = resolve_encoder(base, agent, spec)
        self.others = _build_others(others, env)
        self._hidden = frozenset(self.others)
        self._step_rewards: dict[str, float] | None = None
        self._seed_index = {agent: index for index, agent in enumerate(possible)}
        self.pad = require_bool("pad", pad)
        self.slim_info = require_bool("slim_info", slim_info)
        self.flatten = require_bool("flatten", flatten) or self.pad
        if self.pad:
            visible_text = [a for a in possible if a not in self._hidden and a not in self.encoders]
            if visible_text:
                raise ValueError(f"pad=True gives every visible role one numeric space, but {visible_text} are not encoded: "
                                 "encode them (encoders=) or play them inside (others=)")
            self._obs_size = max(int(enc.flat_space().shape[0]) for enc in self.encoders.values())
            self._n_actions = max(enc.n_actions for enc in self.encoders.values())
            shared = spaces.Dict({
                "observation": _box((self._obs_size,), -UNSCALED_CLIP, UNSCALED_CLIP),
                "action_mask": spaces.Box(low=0, high=1, shape=(self._n_actions,), dtype=np.int8),
            })
            self._observation_spaces = dict.fromkeys(self.encoders, shared)
            self._action_spaces = {agent: spaces.Discrete(self._n_actions) for agent in self.encoders}
        else:
            self._observation_spaces = {
                agent: (enc.flat_space() if self.flatten else enc.observation_space) for agent, enc in self.encoders.items()
            }
            self._action_spaces = {agent: enc.action_space for agent, enc in self.encoders.items()}

    # ------------------------------------------------------------------ the visible agents
    @property
    def possible_agents(self) -> list[str]:  # type: ignore[override]
        return [a for a in self.env.possible_agents if a not in self._hidden]

    @property
    def agents(self) -> list[str]:  # type: ignore[override]
        return [a for a in self.env.agents if a not in self._hidden]

    @property
    def num_agents(self) -> int:  # type: ignore[override]
        return len(self.agents)

    @property
    def max_num_agents(self) -> int:  # type: ignore[override]
        return len(self.possible_agents)

    def _visible(self, table: Any) -> Any:
        if not self._hidden:
            return table  # nothing hidden: the env's own dict, so that writes through the wrapper reach it
        return {a: value for a, value in table.items() if a not in self._hidden}

    @property
    def rewards(self) -> dict[str, float]:  # type: ignore[override]
        if self._hidden and self._step_rewards is not None:
            # the rewards of the visible step and the hidden plays after it, as one step
            return {a: self._step_rewards.get(a, 0.0) for a in self.agents}
        return self._visible(self.env.rewards)

    @property
    def terminations(self) -> dict[str, bool]:  # type: ignore[override]
        return self._visible(self.env.terminations)

    @property
    def truncations(self) -> dict[str, bool]:  # type: ignore[override]
        return self._visible(self.env.truncations)

    @property
    def infos(self) -> dict[str, dict[str, Any]]:  # type: ignore[override]
        if self.slim_info:
            return {a: {} for a in self.agents}
        return self._visible(self.env.infos)

    @property
    def _cumulative_rewards(self) -> dict[str, float]:  # type: ignore[override]
        return self._visible(self.env._cumulative_rewards)

    # ------------------------------------------------------------------------------ spaces
    def observation_space(self, agent: str) -> spaces.Space[Any]:
        return self._observation_spaces[agent] if agent in self._observation_spaces else self.env.observation_space(agent)

    def action_space(self, agent: str) -> spaces.Space[Any]:
        return self._action_spaces[agent] if agent in self._action_spaces else self.env.action_space(agent)

    # ------------------------------------------------------------------------------- play
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        seed = require_seed("seed", seed)  # the encoders' and others' seeds derive from the env's int seed
        self.env.reset(seed=seed, options=options)
        for index, agent in enumerate(self.env.unwrapped.possible_agents):
            if agent in self.encoders:
                self.encoders[agent].reset(agent_seed(seed, index))  # without a seed its generator runs on
            elif agent in self.others:
                reset = getattr(self.others[agent], "reset", None)  # optional for an agent
                if callable(reset):
                    reset(seed=agent_seed(seed, index))
        self._play_hidden()

    def observe(self, agent: str) -> Any:
        observation = self.env.observe(agent)
        encoder = self.encoders.get(agent)
        if encoder is None:
            return observation
        features = encoder.encode(observation, self.env.unwrapped.infos.get(agent, {}))
        if self.pad:
            return self._padded(encoder, features)
        return encoder.flatten(features) if self.flatten else features

    def _padded(self, encoder: Encoder, features: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        flat = encoder.flatten(features)
        observation = np.zeros(self._obs_size, dtype=np.float32)
        observation[: flat.shape[0]] = flat
        mask = np.zeros(self._n_actions, dtype=np.int8)
        mask[: encoder.n_actions] = 1
        return {"observation": observation, "action_mask": mask}

    def last(self, observe: bool = True) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        agent = self.env.unwrapped.agent_selection
        _, reward, terminated, truncated, info = self.env.last(observe=False)
        return (self.observe(agent) if observe else None), reward, terminated, truncated, ({} if self.slim_info else info)

    def step(self, action: Any) -> None:
        base = self.env.unwrapped
        agent = base.agent_selection
        encoder = self.encoders.get(agent)
        if encoder is not None and action is not None and not (base.terminations.get(agent) or base.truncations.get(agent)):
            if self.pad and not 0 <= _index_or_none(action) < encoder.n_actions:
                # Outside this role's choices (its mask): an invalid move, which the env answers. Not an empty reply:
                # a negotiator may say nothing, and the env would play that as a move.
                base.step_invalid("", f"action {shown(action)} is outside this role's action mask",  # no text was said
                                  f"an action index in 0..{encoder.n_actions - 1}")
                self._play_hidden()
                return
            action = encoder.decode(action, base.infos.get(agent, {}))
        self.env.step(action)
        self._play_hidden()

    def _play_hidden(self) -> None:
        """Play the hidden roles (``others``) until a visible agent is selected or the episode is over;
        the visible agents' rewards of those plays add to the step's ``rewards``."""
        if not self._hidden:
            return
        env = self.env
        totals = {a: float(r) for a, r in env.rewards.items() if a not in self._hidden}
        for _ in range(MAX_HIDDEN_STEPS):
            if not env.agents or env.agent_selection not in self._hidden:
                self._step_rewards = totals
                return
            agent = env.agent_selection
            observation, _, terminated, truncated, info = env.last()
            env.step(None if (terminated or truncated) else self.others[agent].act(observation, info))
            for a, reward in env.rewards.items():
                if a not in self._hidden:
                    totals[a] = totals.get(a, 0.0) + float(reward)
        raise RuntimeError(f"the hidden roles {sorted(self._hidden)} played {MAX_HIDDEN_STEPS} moves without a visible agent's turn")


MAX_HIDDEN_STEPS = 100_000


def _refuse_a_second_numeric_view(env: Any, what: str) -> None:
    """A numeric view over one: its encoders would read numbers as if they were the env's observations, and hand
    the inner view reply text where it takes action indices. Refused when built, rather than failing at a step."""
    layer, seen = env, 0
    while layer is not None and seen < 1000:  # a chain of wrappers, each holding the next in .env
        if isinstance(layer, NumericAEC):
            raise TypeError(f"{what} over an environment that already has a numeric view (numeric_view): encode each role once")
        layer, seen = getattr(layer, "env", None), seen + 1


def _index_or_none(action: Any) -> int:
    index = action_index(action)
    return -1 if index is None else index


def action_index(action: Any) -> int | None:
    """The integer a Discrete action holds (an int, a numpy integer, an array or tensor of one integer, a float
    with an integral value), or None for anything else: a string, None, NaN, a fraction, several values.
    (Reading the first of several values, or truncating 1.5, would play a move the policy never chose.)"""
    if type(action) is int:
        return action
    if isinstance(action, (bool, np.bool_, str, bytes)) or action is None:
        return None
    try:
        value = np.asarray(action)
    except Exception:  # noqa: BLE001 - an object numpy cannot read is no action
        return None
    if value.size != 1 or value.dtype.kind not in "iuf":
        return None
    number = value.reshape(()).item()
    if isinstance(number, float) and not number.is_integer():  # NaN and infinities too
        return None
    return int(number)


def _build_others(specs: Mapping[str, Any], env: AECEnv) -> dict[str, Any]:
    """Agents for the hidden roles, from objects with ``act``, registered names or ``{"name": ...}`` specs."""
    if not specs:
        return {}
    from feedbackgym.wrappers.single_agent import _build_agents

    try:
        return _build_agents(specs, env)
    except TypeError as error:
        raise TypeError(str(error).replace("others[", "numeric_view others[", 1)) from None


__all__ = [
    "CriticEncoder",
    "check_encoder_fits",
    "encoder_kinds_for",
    "Encoder",
    "JudgeEncoder",
    "JudgedSolverEncoder",
    "KnowledgePrior",
    "NegotiatorEncoder",
    "NumericAEC",
    "NumericView",
    "SolverEncoder",
    "default_answers",
    "default_encoder",
    "make_encoder",
    "make_numeric",
    "resolve_encoder",
]
