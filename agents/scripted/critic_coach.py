"""A critic that reads the coached side's last game and gives the tips that game calls for."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from feedbackgym.agents.base import Agent
from feedbackgym.agents.registration import register_agent
from feedbackgym.agents.scripted.negotiation_tips import TIPS
from feedbackgym.envs.core.checks import require_bool, require_float, require_probability

GENERIC_POOL = ("value", "firm", "generic")


@register_agent("critic_coach", "negotiation_critic")
class CriticCoach(Agent):
    """Gives ``n_suggestions`` numbered tips to the coached side of ``Negotiation-v0`` (C.3 item 3).

    It reads ``info["request"]`` (the coached side and the games it played) and scores each tip by
    what went wrong in the last game, for the coached side's interest:

    - a large first concession calls for ``anchor``; large average concessions for ``small_steps``;
    - closing the deal by accepting the other side's offer calls for ``patience``;
    - a price on the other side's half of the opening gap calls for ``walk_away`` and ``no_split``;
    - a game without a deal calls for ``flexible`` (unless ``price_only``: the paper's critic is
      asked only for a better price, so by default it never suggests giving ground);
    - ``value`` and ``firm`` always score a little.

    Each suggestion is, with probability ``insight``, the best-scoring tip not yet given (ties and
    near-ties broken by Gumbel noise of scale ``noise``), and otherwise a generic tip. A lower
    ``insight`` is a weaker critic.
    """

    plays = ("Negotiation/critic",)

    def __init__(self, insight: float = 0.85, noise: float = 0.3, price_only: bool = True, seed: int | None = None) -> None:
        super().__init__(seed)
        self.insight = require_probability("insight", insight)
        self.noise = require_float("noise", noise, 0.0, 1e3)
        self.price_only = require_bool("price_only", price_only)

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        request = info.get("request") or {}
        side = request.get("coached", "seller")
        n = int(request.get("n_suggestions", 3))
        games = request.get("games") or []
        scores = self.diagnose(side, games[-1] if games else None, request)
        chosen: list[str] = []
        rng = self.np_random
        noise = self.noise
        for _ in range(n):
            left = [(tip, score) for tip, score in scores.items() if tip not in chosen]
            if rng.random() < self.insight and left:
                # One draw of len(left) values: the same doubles, in the same order, as a scalar draw per tip.
                draws = rng.gumbel(size=len(left)).tolist()
                # The first tip with the highest noisy score, as max() over them in order finds it.
                best_tip, best = left[0][0], left[0][1] + noise * draws[0]
                for (tip, score), draw in zip(left, draws):
                    value = score + noise * draw
                    if value > best:
                        best_tip, best = tip, value
                chosen.append(best_tip)
            else:
                generic = [tip for tip in GENERIC_POOL if tip not in chosen] or list(GENERIC_POOL)
                chosen.append(generic[int(rng.integers(len(generic)))])
        return "\n".join(f"{i}. {TIPS[tip].text(side)}" for i, tip in enumerate(chosen, start=1))

    def diagnose(self, side: str, game: dict[str, Any] | None, request: dict[str, Any]) -> dict[str, float]:
        """A score per tip (higher: more called for by this game)."""
        scores = {"anchor": 0.2, "small_steps": 0.2, "patience": 0.2, "value": 0.4, "walk_away": 0.2, "no_split": 0.2, "firm": 0.3}
        if not self.price_only:
            scores["flexible"] = 0.0
        if game is None:
            return scores
        openings = request.get("openings", {"seller": 20.0, "buyer": 10.0})
        gap = max(float(openings["seller"]) - float(openings["buyer"]), 1e-9)
        toward_rival = 1.0 if side == "seller" else -1.0  # concessions lower the seller's price, raise the buyer's
        offers = [float(openings[side])] + [m["offer"] for m in game["moves"] if m["side"] == side and m["offer"] is not None]
        steps = [toward_rival * (a - b) / gap for a, b in zip(offers, offers[1:])]
        if steps:
            scores["anchor"] += 4.0 * max(steps[0], 0.0)
            scores["small_steps"] += 4.0 * numpy_mean([max(s, 0.0) for s in steps])
        if game.get("closed_by") == side and game.get("reason") == "accepted":
            scores["patience"] += 0.8
        price = game.get("price")
        if price is None:
            if not self.price_only:
                scores["flexible"] += 1.5
        else:
            share = toward_rival * (float(openings[side]) - float(price)) / gap  # share of the gap given away
            scores["walk_away"] += max(share - 0.4, 0.0) * 2.0
            scores["no_split"] += max(0.6 - abs(share - 0.5) * 4, 0.0)
        return scores


def numpy_mean(values: list[float]) -> float:
    """``float(np.mean(values))`` of a non-empty list of floats, in plain Python (a tenth of the cost on a
    few values): numpy's pairwise sum, added to 0.0, divided by the count. numpy's own call when this
    numpy sums otherwise (:func:`_mean_matches_numpy`)."""
    if not _mean_matches_numpy():
        return float(np.mean(values))
    return (0.0 + _pairwise_sum(values)) / len(values)


def _pairwise_sum(values: list[float]) -> float:
    """numpy's pairwise summation of float64 (``DOUBLE_pairwise_sum``): in order below 8 values, eight
    running sums up to 128, halves (a multiple of 8 on the left) above."""
    n = len(values)
    if n < 8:
        total = 0.0
        for value in values:
            total += value
        return total
    if n <= 128:
        sums = values[:8]
        index, end = 8, n - n % 8
        while index < end:
            for lane in range(8):
                sums[lane] += values[index + lane]
            index += 8
        total = ((sums[0] + sums[1]) + (sums[2] + sums[3])) + ((sums[4] + sums[5]) + (sums[6] + sums[7]))
        for value in values[index:]:
            total += value
        return total
    half = n // 2
    half -= half % 8
    return _pairwise_sum(values[:half]) + _pairwise_sum(values[half:])


@functools.cache
def _mean_matches_numpy() -> bool:
    """Whether :func:`numpy_mean` gives this numpy's means, checked once per process on lists of 1-300 values."""
    rng = np.random.default_rng(7)
    for size in [*range(1, 40), 127, 128, 129, 255, 300]:
        values = (rng.random(size) * 10.0 ** rng.integers(-12, 12, size)).tolist()
        if (0.0 + _pairwise_sum(values)) / size != float(np.mean(values)):
            return False
    return True
