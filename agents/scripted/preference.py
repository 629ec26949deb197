"""Scripted generators and a distractible judge for ``JudgeProtocol-v0`` (docs/protocols.md, section 8)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from operator import mul
from typing import Any

from feedbackgym.agents.base import Agent
from feedbackgym.agents.registration import register_agent
from feedbackgym.agents.scripted.streams import LazilySeeded
from feedbackgym.envs.deception import near_miss
from feedbackgym.wrappers.distractor import DISTRACTOR_SPANS
from feedbackgym.envs.core.checks import require_choice, require_float, require_probability

# Calibrated on JudgeProtocol-v0's default items (half equal pairs, gaps 1-3 otherwise; distractor on
# the worse response) to flip about 35% of pairwise and 9% of pointwise judgments, as the paper
# reports. The paper gives no per-distractor rates, so all three kinds share one effect size.
DEFAULT_DELTA_PAIR = 1.85  # measured: 35.1% pairwise flips over 2000 default episodes (seeds 0-1999)
DEFAULT_DELTA_ABS = 0.23  # measured: 9.1% pointwise flips


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


MAX_WEIGHT = 1e3  # the bound on the judge's numeric knobs
_KINDS = tuple(DISTRACTOR_SPANS)
_SPANS = tuple(DISTRACTOR_SPANS.values())


def _per_kind(name: str, value: float | Mapping[str, float]) -> dict[str, float]:
    if isinstance(value, Mapping):
        for key in value:
            require_choice(f"{name} keys", key, tuple(DISTRACTOR_SPANS))
        return {kind: require_float(f"{name}[{kind!r}]", value.get(kind, 0.0), -MAX_WEIGHT, MAX_WEIGHT) for kind in DISTRACTOR_SPANS}
    number = require_float(name, value, -MAX_WEIGHT, MAX_WEIGHT)
    return dict.fromkeys(DISTRACTOR_SPANS, number)


@register_agent("distractible_judge")
class DistractibleJudge(Agent):
    """A judge whose verdicts follow latent quality but bend to distractors, more so pairwise than pointwise.

    It reads the latent qualities of the shown responses from ``info["latent"]`` and counts the
    distractor spans in each response's text (``d``, per kind).

    - **Pairwise**: ``P(A) = sigmoid((q_A - q_B + delta_pair . (d_A - d_B) + position_bias) / temperature)``;
      when ties are allowed it says "tie" with probability ``p_tie * exp(-|margin| / temperature)``,
      so ties are rare even on equal pairs (the paper: 2.4-7.3%).
    - **Pointwise**: ``score = round(clip(q + delta_abs . d + noise))`` with Gaussian noise of std
      ``score_noise``; rounding makes equal pairs score identically most of the time (84-93%).

    Its noise is drawn once per episode and response (pointwise) or order (pairwise), like a judge
    at temperature 0: the clean and the distracted judgment of a pair differ only through the
    distractor, so the environment's ``flip`` measures the distractor's effect and nothing else.
    """

    plays = ("JudgeProtocol/judge",)

    def __init__(
        self,
        delta_pair: float | Mapping[str, float] = DEFAULT_DELTA_PAIR,
        delta_abs: float | Mapping[str, float] = DEFAULT_DELTA_ABS,
        temperature: float = 1.0,
        position_bias: float = 0.0,
        p_tie: float = 0.05,
        score_noise: float = 0.25,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        self.temperature = require_float("temperature", temperature, 0.0, MAX_WEIGHT, open_low=True)
        self.p_tie = require_probability("p_tie", p_tie)
        self.score_noise = require_float("score_noise", score_noise, 0.0, MAX_WEIGHT)
        self.delta_pair = _per_kind("delta_pair", delta_pair)
        self.delta_abs = _per_kind("delta_abs", delta_abs)
        self.position_bias = require_float("position_bias", position_bias, -MAX_WEIGHT, MAX_WEIGHT)
        self._noise: dict[Any, Any] = {}

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._noise = {}

    def _draw(self, key: Any, make: Any) -> Any:
        if key not in self._noise:
            self._noise[key] = make()
        return self._noise[key]

    @staticmethod
    def _effect(text: str, deltas: Mapping[str, float]) -> float:
        # sum(deltas[kind] * text.count(span) for each kind, in order), the loop in C
        return sum(map(mul, map(deltas.__getitem__, _KINDS), map(text.count, _SPANS)))

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        request = info.get("request") or {}
        latent = info.get("latent") or {}
        task_id = (info.get("task") or {}).get("id")
        texts = [r["text"] for r in request.get("responses", [])]
        qualities = latent.get("qualities")
        qualities = [5.0] * len(texts) if qualities is None else [float(q) for q in qualities]
        generators = latent.get("generators")
        if generators is None:
            generators = [str(i) for i in range(len(texts))]
        noises = self._noise
        if request.get("protocol") == "pointwise":
            low, high = request.get("score_range", [1, 10])
            key = (task_id, generators[0])
            noise = noises[key] if key in noises else self._draw(key, lambda: float(self.np_random.normal(0.0, self.score_noise)))
            raw = qualities[0] + self._effect(texts[0], self.delta_abs) + noise
            score = int(min(max(round(raw), low), high))
            return f"The response is judged on its merits.\nRating: [[{score}]]"
        margin = qualities[0] - qualities[1] + self._effect(texts[0], self.delta_pair) - self._effect(texts[1], self.delta_pair) + self.position_bias
        key = (task_id, *generators)
        if key in noises:
            u_tie, u_pick = noises[key]
        else:
            rng = self.np_random
            u_tie, u_pick = noises[key] = (float(rng.random()), float(rng.random()))
        if request.get("allow_tie", True) and u_tie < self.p_tie * math.exp(-abs(margin) / self.temperature):
            return "Both responses are equally good.\n[[C]]"
        return "Comparing the two responses.\n" + ("[[A]]" if u_pick < _sigmoid(margin / self.temperature) else "[[B]]")


@register_agent("scripted_generator", "generator")
class ScriptedGenerator(LazilySeeded, Agent):
    """Writes a response at its latent quality: a full worked solution (7-10), a bare correct answer (4-6), a wrong answer (1-3).

    It reads the target quality from ``info["request"]`` and the gold answer and worked solution from
    ``info["latent"]``. It draws only for a wrong answer, so its generator is reseeded when first used
    (:class:`~feedbackgym.agents.scripted.streams.LazilySeeded`).
    """

    plays = ("JudgeProtocol/generator",)

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        request = info.get("request") or {}
        latent = info.get("latent") or {}
        task = info.get("task") or {}
        quality = int(request.get("quality", latent.get("quality", 5)))
        gold = str(latent.get("gold", "?"))
        if quality >= 7:
            solution = latent.get("solution") or "I worked through the question step by step."
            return f"Here is a careful solution.\n{solution}\nThe answer is {gold}."
        if quality >= 4:
            return f"The answer is {gold}."
        choices = task.get("choices") or ()
        if choices:
            options = [chr(65 + i) for i in range(len(choices)) if chr(65 + i) != gold]
            wrong = options[int(self.np_random.integers(len(options)))]
        else:
            wrong = near_miss(gold, self.np_random, int(task.get("base", 10) or 10))
        return f"I think the answer is {wrong}."
