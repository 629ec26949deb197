"""A solver whose feedback uptake has the shape the papers report (Feedback Friction, UFO)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from functools import partial
from itertools import accumulate
from typing import Any

import numpy as np

from feedbackgym.agents.base import TaskAgent
from feedbackgym.agents.registration import register_agent
from feedbackgym.envs.core.feedback import FeedbackLevel
from feedbackgym.envs.core.checks import fail, require_bool, require_float, require_int, require_mapping, require_probability

# How much a piece of feedback at each ladder level tells the solver (docs/protocols.md, "Scripted behaviour models").
DEFAULT_INFORMATIVENESS: dict[str, float] = {
    "none": 0.0,
    "unary": 0.05,
    "binary": 0.1,
    "critique": 0.2,
    "critique_with_answer": 0.6,
    "critique_with_solution": 0.8,
}
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_SHAPE = 1e3  # the bound on the behaviour model's shape parameters, temperatures and weights


@register_agent("friction_solver", "scripted_solver")
class FrictionSolver(TaskAgent):
    """A behaviour model of a solver that under-uses feedback (docs/protocols.md, "Scripted behaviour models").

    Per task it draws a latent competence ``c ~ Beta(competence_alpha, competence_beta)`` and a
    confidence ``k ~ Beta(confidence_alpha, confidence_beta)``, and holds a belief over candidate
    answers: the gold answer with weight ``c``, plausible wrong answers sharing the rest. Its first
    answer is drawn from the belief. After feedback of informativeness ``I`` (by ladder level,
    ``informativeness``) on a wrong answer it switches to the gold answer with probability
    ``I * (1 - k) ** rho * (1 - friction)``; otherwise it repeats its last answer with probability
    ``stickiness``, or else redraws from its belief at ``temperature`` (which rises by
    ``temperature_step`` per attempt, capped at 1.5, Feedback Friction's schedule), leaving out every
    answer already tried when ``reject_previous``. Told its answer is correct, it keeps it.

    It reads only its observation and info: the gold answer from ``info["latent"]`` (what a
    simulated competence needs; the environment exposes it to behaviour models only), the shown
    feedback event from ``info["feedback"]``, and its earlier answers from ``info["tried_answers"]``.
    Without ``latent`` it guesses among the choices or random numbers.
    """

    plays = ("SolverFeedback/solver", "DeceptiveJudge/solver")  # any multiple-choice or numeric solver seat

    def __init__(
        self,
        competence_alpha: float = 1.5,
        competence_beta: float = 3.0,
        confidence_alpha: float = 2.0,
        confidence_beta: float = 2.0,
        rho: float = 1.0,
        friction: float = 0.5,
        stickiness: float = 0.6,
        temperature: float = 1.0,
        temperature_step: float = 0.0,
        reject_previous: bool = False,
        n_distractors: int = 8,
        informativeness: Mapping[str, float] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        def positive(name: str, value: Any) -> float:
            return require_float(name, value, 0.0, MAX_SHAPE, open_low=True)  # type: ignore[return-value]

        levels = dict(DEFAULT_INFORMATIVENESS)
        for key, value in (require_mapping("informativeness", informativeness) or {}).items():
            try:
                level = FeedbackLevel.parse(key).name.lower()
            except ValueError:
                raise fail("informativeness keys", f"feedback levels ({', '.join(DEFAULT_INFORMATIVENESS)})", key) from None
            levels[level] = require_probability(f"informativeness[{key!r}]", value)
        self.competence = (positive("competence_alpha", competence_alpha), positive("competence_beta", competence_beta))
        self.confidence = (positive("confidence_alpha", confidence_alpha), positive("confidence_beta", confidence_beta))
        self.rho = require_float("rho", rho, -MAX_SHAPE, MAX_SHAPE)
        self.friction = require_probability("friction", friction)
        self.stickiness = require_probability("stickiness", stickiness)
        self.temperature = positive("temperature", temperature)
        self.temperature_step = require_float("temperature_step", temperature_step, -MAX_SHAPE, MAX_SHAPE)
        self.reject_previous = require_bool("reject_previous", reject_previous)
        self.n_distractors = require_int("n_distractors", n_distractors, 1, 1000)
        self.informativeness = levels

    # ------------------------------------------------------------------------------------------
    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        task = info.get("task", {})
        tried: list[str] = info.get("tried_answers", [])  # only read here (the env hands out a fresh list)
        if self.new_task(info, tried=tried):
            self._new_task(task, info.get("latent"))
            if not tried:
                return self._say(self._draw(exclude=set(), attempt=0))
        last = tried[-1]
        feedback = info.get("feedback")
        # Feedback from a custom wrapper or giver may lack a verdict or a level, or name a level of its own:
        # it then counts as uninformative feedback rather than failing the episode.
        fresh = bool(isinstance(feedback, Mapping) and feedback.get("turn") == info.get("turn") and feedback.get("text"))
        if fresh and feedback.get("verdict") == "correct":
            return self._say(last)
        level = feedback.get("level") if fresh else "none"
        informativeness = self.informativeness.get(level, self.informativeness["none"]) if isinstance(level, str) else self.informativeness["none"]
        p_fix = informativeness * (1.0 - self.kappa) ** self.rho * (1.0 - self.friction)
        if self.gold is not None and self.np_random.random() < p_fix:
            return self._say(self.gold)
        if self.np_random.random() < self.stickiness:
            return self._say(last)
        exclude = set(tried) if self.reject_previous else {last}
        return self._say(self._draw(exclude=exclude, attempt=len(tried)))

    # ------------------------------------------------------------------------------------------
    def _new_task(self, task: Mapping[str, Any], latent: Mapping[str, Any] | None) -> None:
        self.c = float(self.np_random.beta(*self.competence))
        self.kappa = float(self.np_random.beta(*self.confidence))
        self.gold = None if latent is None else str(latent["gold"])
        wrong = self._wrong_candidates(task)
        candidates = ([self.gold] if self.gold is not None else []) + wrong
        rest = 1.0 - self.c if self.gold is not None else 1.0
        # dirichlet(ones(n)) in numpy's own steps: n standard gamma(1) draws, which are standard exponentials
        # (the same ziggurat draws, in order), summed in order, then scaled by the sum's reciprocal. numpy's
        # dirichlet spends most of its 6 us checking its argument.
        gammas = self.np_random.standard_exponential(size=len(wrong)).tolist() if wrong else []
        total = 0.0
        for value in gammas:
            total = total + value
        scale = 1.0 / total if gammas else 0.0
        weights = ([self.c] if self.gold is not None else []) + [rest * (value * scale) for value in gammas]
        self.candidates = candidates
        self.weights = np.asarray(weights, dtype=float)

    def _wrong_candidates(self, task: Mapping[str, Any]) -> list[str]:
        choices = task.get("choices") or ()
        if choices:
            letters = [LETTERS[i] for i in range(len(choices))]
            return [letter for letter in letters if letter != self.gold]
        base = int(task.get("base", 10) or 10)
        gold = self._as_int(self.gold, base)
        if gold is None and self.gold is None and task.get("kind", "numeric") == "numeric":
            gold = int(self.np_random.integers(0, 1000))  # no latent gold: random numbers, not "guess 1"
        if gold is None:
            return [f"{self.gold or 'guess'} {i}" for i in range(1, self.n_distractors + 1)]
        wrong: list[str] = []
        magnitude = max(len(str(abs(gold))), 1)
        # One vectorised draw of candidate perturbations instead of three scalar draws per candidate.
        size = 4 * self.n_distractors
        powers = self.np_random.integers(0, magnitude, size=size)
        digits = self.np_random.integers(1, base, size=size)
        signs = self.np_random.random(size) < 0.5
        own, wanted = self.gold, self.n_distractors
        # _format_int inlined for base 10 (str), the common case: this loop runs a few dozen times a task.
        format_int = str if base == 10 else partial(self._format_int, base=base)
        for power, digit, positive in zip(powers.tolist(), digits.tolist(), signs.tolist()):
            candidate = format_int(gold + digit * base**power * (1 if positive else -1))
            if candidate != own and candidate not in wrong:
                wrong.append(candidate)
                if len(wrong) == wanted:
                    break
        return wrong

    @staticmethod
    def _as_int(value: str | None, base: int) -> int | None:
        if value is None:
            return None
        try:
            return int(value, base)
        except ValueError:
            return None

    @staticmethod
    def _format_int(value: int, base: int) -> str:
        if base == 16:
            return ("-" if value < 0 else "") + format(abs(value), "X")
        return str(value)

    def _draw(self, exclude: set[str], attempt: int) -> str:
        temperature = min(self.temperature + self.temperature_step * attempt, 1.5)
        keep = [i for i, c in enumerate(self.candidates) if c not in exclude] or list(range(len(self.candidates)))
        if temperature == 1.0:
            # The same numbers as the numpy path below (x ** 1.0 is x; cumsum adds in order), in plain
            # Python: on a dozen candidates numpy's per-call overhead is most of the cost.
            floored = self._floored_weights()
            cumulative = list(accumulate(map(floored.__getitem__, keep)))
            index = bisect_right(cumulative, self.np_random.random() * cumulative[-1])
            return self.candidates[keep[min(index, len(keep) - 1)]]
        weights = np.maximum(self.weights[keep], 1e-12) ** (1.0 / temperature)
        # Inverse-CDF draw: the same distribution as Generator.choice(p=...), at a tenth of its cost.
        cumulative = np.cumsum(weights)
        index = int(np.searchsorted(cumulative, self.np_random.random() * cumulative[-1], side="right"))
        return self.candidates[keep[min(index, len(keep) - 1)]]

    def _floored_weights(self) -> list[float]:
        """``max(w, 1e-12)`` of every belief weight, as floats, kept while ``self.weights`` is the same array."""
        weights = self.weights
        if self.__dict__.get("_floored_of") is not weights:
            self._floored = [max(weight, 1e-12) for weight in weights.tolist()]
            self._floored_of = weights
        return self._floored

    @staticmethod
    def _say(answer: str) -> str:
        return f"The answer is \\boxed{{{answer}}}."
