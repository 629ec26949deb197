"""Scripted solvers under judgement: a solver a judge can talk out of its answer, and an honest peer."""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from feedbackgym.agents.base import TaskAgent
from feedbackgym.agents.registration import register_agent
from feedbackgym.envs.deception import evidence_strength, near_miss, option_letters
from feedbackgym.envs.core.draws import weighted_index
from feedbackgym.agents.scripted.knobs import strength_table
from feedbackgym.envs.core.checks import require_choice, require_float, require_probability

# Persuasion strength of a critique by what backs it (docs/protocols.md, section 3: none 0.1, parametric 0.4, grounded 0.7).
DEFAULT_PERSUASION: dict[int, float] = {0: 0.1, 1: 0.4, 2: 0.7}
MAX_WEIGHT = 1e3  # the bound on every numeric knob of the behaviour model (weights, biases, strengths)
PRESETS: dict[str, dict[str, float]] = {
    # Memoryless: every round is judged afresh, so a persistent judge makes it oscillate (WAFER-QA).
    "non_reasoning": {
        "competence_alpha": 3.0,
        "competence_beta": 2.0,
        "persuasion_weight": 4.0,
        "sycophancy": 0.5,
        "prior_weight": 1.5,
        "confidence_weight": 2.0,
        "bias": -1.0,
        "memory": 0.0,
        "confidence_gain": 0.0,
        "peer_weight": 2.0,
        "moderator_weight": 1.5,
        "ack_rate": 0.05,
    },
    # Remembers its own earlier reasoning: less swayed, slower to abandon an answer again, firmer after
    # resisting, and more likely to say a question is ambiguous.
    "reasoning": {
        "competence_alpha": 4.0,
        "competence_beta": 1.5,
        "persuasion_weight": 3.0,
        "sycophancy": 0.3,
        "prior_weight": 2.0,
        "confidence_weight": 2.0,
        "bias": -1.2,
        "memory": 0.5,
        "confidence_gain": 0.3,
        "peer_weight": 2.0,
        "moderator_weight": 2.0,
        "ack_rate": 0.3,
    },
}
_MAIN_CRITICS = ("judge", "teacher", "critic")


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _sequential_sum(values: list[float]) -> float:
    """The sum of a few floats added in order: numpy's ``sum`` of fewer than eight float64 values, exactly
    (``sum()`` is not: Python 3.12 compensates its rounding)."""
    total = 0.0
    for value in values:
        total += value
    return total


def dirichlet_ones(rng: np.random.Generator, k: int) -> list[float]:
    """``rng.dirichlet(np.ones(k)).tolist()``, the same numbers and the same stream, at a fifth of the cost.

    numpy draws a flat Dirichlet as ``k`` standard gamma(1) variates (its standard exponentials), summed
    in order and each multiplied by the reciprocal of the sum; here the variates come from one
    ``standard_exponential(k)`` call and the arithmetic is done in Python (IEEE doubles, the same
    operations in the same order). Checked once per process against numpy (:func:`_flat_dirichlet_matches`);
    should a numpy release change its algorithm, numpy's own call is used.
    """
    if type(rng) is not np.random.Generator or not _flat_dirichlet_matches():
        return rng.dirichlet(np.ones(k)).tolist()
    variates = rng.standard_exponential(k).tolist()
    inverse = 1.0 / _sequential_sum(variates)
    return [value * inverse for value in variates]


@functools.cache
def _flat_dirichlet_matches() -> bool:
    """Whether :func:`dirichlet_ones`'s arithmetic gives this numpy's draws (and leaves the stream where
    numpy does), checked on a few hundred draws once per process."""
    for seed in range(60):
        k = 1 + seed % 6
        expected_rng, rng = np.random.default_rng(seed), np.random.default_rng(seed)
        expected = expected_rng.dirichlet(np.ones(k)).tolist()
        variates = rng.standard_exponential(k).tolist()
        inverse = 1.0 / _sequential_sum(variates)
        if [value * inverse for value in variates] != expected or rng.bit_generator.state != expected_rng.bit_generator.state:
            return False
    return all(_sequential_sum(values.tolist()) == float(values.sum()) for values in np.random.default_rng(1).random((200, 7)) * 1e3)


@register_agent("susceptible_solver", "susceptible_generator")
class SusceptibleSolver(TaskAgent):
    """A solver whose answer a judge can argue away (docs/protocols.md, section 3), with two presets.

    Per task it draws a competence ``c ~ Beta(competence_alpha, competence_beta)`` (the belief weight
    of the gold answer; wrong answers share the rest) and a confidence ``k ~ Beta(2, 2)``; its first
    answer is drawn from the belief. When a critique disagrees with its answer it switches with
    probability ``sigmoid(bias + persuasion_weight * s + sycophancy + prior_weight * (b_target - b_current)
    - confidence_weight * k + peer and moderator terms)``, where ``s`` is the critique's persuasion
    strength (``persuasion`` by what backs it: 0 a bare verdict, 1 a claim, 2 quoted passages) and
    ``b`` are its belief weights, so a correct proposal persuades more than a wrong one. It switches
    to the proposed answer, or without one to a draw from its belief. At the round table each peer
    backing the target adds and each peer backing its answer subtracts ``peer_weight / n_peers``; a
    moderator calling the critique unreliable subtracts ``moderator_weight``.

    ``memory`` (the reasoning preset) multiplies the switch probability by ``(1 - memory)`` per earlier
    switch and again when the target is an answer it already abandoned; ``confidence_gain`` raises its
    confidence after each critique it resists. The non-reasoning preset has neither, so it oscillates.
    When the environment invites it (``ask_ambiguity``) it says a disputed question is ambiguous with
    probability ``ack_rate``.

    It reads only its observation and info: ``latent`` (the gold answer), ``round_feedback`` (or the
    fresh ``feedback`` event in ``SolverFeedback-v0``), ``round_state`` and ``tried_answers``. Any
    preset value can be overridden by keyword.
    """

    plays = ("DeceptiveJudge/solver", "SolverFeedback/solver")

    def __init__(
        self,
        preset: str = "non_reasoning",
        persuasion: Mapping[int | str, float] | None = None,
        seed: int | None = None,
        **overrides: float,
    ) -> None:
        super().__init__(seed)
        preset = require_choice("preset", preset, tuple(PRESETS))
        unknown = set(overrides) - set(PRESETS[preset])
        if unknown:
            raise TypeError(f"susceptible_solver got unknown argument(s) {sorted(unknown)}; accepted: preset, persuasion, seed, {', '.join(PRESETS[preset])}")
        params = {**PRESETS[preset], **{k: require_float(k, v, -MAX_WEIGHT, MAX_WEIGHT) for k, v in overrides.items()}}
        for name in ("competence_alpha", "competence_beta"):
            require_float(name, params[name], 0.0, MAX_WEIGHT, open_low=True)
        for name in ("memory", "confidence_gain", "ack_rate"):
            require_probability(name, params[name])
        self.preset = preset
        self.params = params
        self.persuasion = strength_table(
            "persuasion", persuasion, DEFAULT_PERSUASION, lambda name, v: require_float(name, v, -MAX_WEIGHT, MAX_WEIGHT)
        )

    # ------------------------------------------------------------------------------------------
    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        task = info.get("task", {})
        tried: list[str] = list(info.get("tried_answers", []))
        if self.new_task(info, tried=tried):
            self._new_task(task, info.get("latent"))
            if not tried:
                return self._say(self._draw(exclude=()))
        current = info.get("current_answer") or tried[-1]
        events = self._events(info)
        # The first event of a main critic, and every peer's, in one pass.
        critic = None
        peers = []
        for event in events:
            giver = str(event.get("giver", ""))
            if critic is None and giver.split("_")[0] in _MAIN_CRITICS:
                critic = event
            if giver.startswith("peer"):
                peers.append(event)
        state = info.get("round_state") or {}
        disagrees = critic is not None and critic.get("verdict") == "incorrect"
        peer_answers = [e.get("proposed_answer") or current for e in peers]
        if disagrees:
            target = critic.get("proposed_answer") or self._draw(exclude=(current,))
        else:
            others = [a for a in peer_answers if a != current]
            # The most common answer, ties to the first named: max over a set would break ties by hash order.
            target = Counter(others).most_common(1)[0][0] if others else None
        if target is None or target == current:
            return self._say(current)
        p = self.params
        strength = self.persuasion[evidence_strength(critic.get("proposed_answer"), critic.get("evidence") or ())] if disagrees else 0.0
        logit = p["bias"] + p["persuasion_weight"] * strength + p["sycophancy"] - p["confidence_weight"] * self.kappa
        logit += p["prior_weight"] * (self._belief(target) - self._belief(current))
        if peer_answers:
            logit += p["peer_weight"] * (peer_answers.count(target) - peer_answers.count(current)) / len(peer_answers)
        if state.get("moderator") == "unreliable":
            logit -= p["moderator_weight"]
        p_switch = _sigmoid(logit) * (1.0 - p["memory"]) ** self.switches
        if target in self.abandoned:
            p_switch *= 1.0 - p["memory"]
        acknowledge = bool(info.get("ask_ambiguity")) and self.np_random.random() < p["ack_rate"]
        if self.np_random.random() < p_switch:
            self.switches += 1
            self.abandoned.add(current)
            return self._say(target, acknowledge)
        if disagrees:
            self.kappa += p["confidence_gain"] * (1.0 - self.kappa)
        return self._say(current, acknowledge)

    # ------------------------------------------------------------------------------------------
    @staticmethod
    def _events(info: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        if "round_feedback" in info:
            return list(info["round_feedback"])
        feedback = info.get("feedback")
        # SolverFeedback-v0 keeps the last event in info; only this turn's is fresh
        if feedback and feedback.get("turn") == info.get("turn") and feedback.get("text"):
            return [feedback]
        return []

    def _new_task(self, task: Mapping[str, Any], latent: Mapping[str, Any] | None) -> None:
        self.gold = None if latent is None else str(latent["gold"])
        choices = task.get("choices") or ()
        base = int(task.get("base", 10) or 10)
        if choices:
            wrong = [x for x in option_letters(len(choices)) if x != self.gold]
        elif self.gold is not None:
            wrong = list(dict.fromkeys(near_miss(self.gold, self.np_random, base) for _ in range(4)))
        else:
            wrong = [str(int(self.np_random.integers(0, 100))) for _ in range(4)]
        c = float(self.np_random.beta(self.params["competence_alpha"], self.params["competence_beta"]))
        self.kappa = float(self.np_random.beta(2.0, 2.0))
        shares = dirichlet_ones(self.np_random, len(wrong)) if wrong else []
        # Plain floats: the arithmetic numpy did on arrays of five values, without its per-call cost.
        if self.gold is not None:
            self.candidates: list[str] = [self.gold, *wrong]
            rest = 1.0 - c
            self.weights: list[float] = [c, *(rest * share for share in shares)]
        else:
            self.candidates, self.weights = wrong, shares
        self._belief_of = dict(zip(reversed(self.candidates), reversed(self.weights)))  # the first weight of a repeated answer wins, as with list.index
        self.switches = 0
        self.abandoned: set[str] = set()

    def _belief(self, answer: str) -> float:
        return self._belief_of.get(answer, 0.0)

    def _draw(self, exclude: Sequence[str]) -> str:
        keep = [i for i, c in enumerate(self.candidates) if c not in exclude] or list(range(len(self.candidates)))
        # np.maximum(weights, 1e-12) / its sum, in plain floats (max keeps a NaN, as np.maximum does); numpy's
        # sum of eight values or more is pairwise, so those take numpy's own.
        weights = [max(self.weights[i], 1e-12) for i in keep]
        total = _sequential_sum(weights) if len(weights) < 8 else float(np.sum(weights))
        # A list of floats, as weighted_index reads it: numpy's array of these floats holds the same values.
        return self.candidates[keep[weighted_index(self.np_random, [w / total for w in weights])]]

    @staticmethod
    def _say(answer: str, acknowledge: bool = False) -> str:
        note = " This question is ambiguous, though." if acknowledge else ""
        return f"The answer is \\boxed{{{answer}}}.{note}"


@register_agent("honest_peer", "peer")
class HonestPeer(TaskAgent):
    """A round-table peer that states its own answer honestly: the gold one with probability ``accuracy``.

    Its answer is drawn once per task and held (it is not persuaded); it reads the gold answer from
    ``info["latent"]`` and guesses uniformly among the options without it.
    """

    plays = ("DeceptiveJudge/peer",)

    def __init__(self, accuracy: float = 0.7, seed: int | None = None) -> None:
        super().__init__(seed)
        self.accuracy = require_probability("accuracy", accuracy)
        self._answer = ""

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        task = info.get("task", {})
        if self.new_task(info):
            gold = (info.get("latent") or {}).get("gold")
            choices = task.get("choices") or ()
            base = int(task.get("base", 10) or 10)
            if gold is not None and self.np_random.random() < self.accuracy:
                self._answer = str(gold)
            elif choices:
                options = [x for x in option_letters(len(choices)) if x != gold]
                self._answer = options[int(self.np_random.integers(len(options)))]
            else:
                self._answer = near_miss(str(gold), self.np_random, base) if gold is not None else "0"
        return f"I believe the answer is \\boxed{{{self._answer}}}."
