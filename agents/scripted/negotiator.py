"""A time-dependent concession negotiator whose strategy moves with the coaching it takes up."""

from __future__ import annotations

import math
from typing import Any

from feedbackgym.agents.base import Agent
from feedbackgym.agents.registration import register_agent
from feedbackgym.agents.scripted.negotiation_tips import TIPS, price_target, tips_in
from feedbackgym.agents.scripted.streams import StreamedRandom
from feedbackgym.envs.core.base import MAX_TURNS
from feedbackgym.envs.core.checks import require_float, require_int, require_probability

MAX_SHAPE = 1e3  # the bound on the concession curve's shape and spreads

# A few ways to say the same move, so transcripts read like a conversation (chosen at random).
OFFER_LINES = {
    "seller": ("How about ${price}?", "I can let it go for ${price}.", "The best I can do is ${price}.", "I could do ${price}."),
    "buyer": ("Would you take ${price}?", "I can pay ${price}.", "How about ${price}?", "My offer is ${price}."),
}
# What coached play sounds like: each tip taken up adds its line to later offers (longer replies,
# as the paper observed over rounds). None of them names a price or an acceptance word.
TIP_LINES = {
    "value": {"seller": "It is a high-quality balloon that will last.", "buyer": "I have seen similar ones elsewhere for less."},
    "firm": {"seller": "I am confident in this price.", "buyer": "I am confident in my budget."},
    "walk_away": {"seller": "I am happy to keep it otherwise.", "buyer": "I am happy to look elsewhere otherwise."},
    "anchor": {"seller": "It is worth every cent.", "buyer": "That is a fair figure for it."},
}


@register_agent("concession_negotiator", "negotiator")
class ConcessionNegotiator(StreamedRandom, Agent):
    """A buyer or seller that concedes over time and takes up coaching (docs/protocols.md, section 2).

    Its reservation lies ``max_concession`` of the way from its own opening price to the other
    side's (the seller never goes below its cost, the buyer never above its value). At its t-th
    move of ``T = n_round`` it offers ``open + (reservation - open) * (t / T) ** (1 / beta)``,
    rounded to ``price_step`` (at least 0.001): ``beta < 1`` concedes late (Boulware), ``beta > 1`` early
    (Conceder). It accepts the other side's standing offer as soon as that offer is at least as good
    as what it would offer now, so at its last move it accepts anything within its reservation.

    ``beta`` and ``max_concession`` are drawn around their means (``beta_spread``, a log-normal
    sigma; ``concession_spread``, a normal sd). An uncoached side draws afresh every game (the
    paper resets the rival); the coached side draws once per episode and keeps its history.

    Feedback uptake: each tip found in a feedback message (see ``negotiation_tips``) is taken up
    with probability ``p_uptake``: it multiplies ``beta`` and cuts ``max_concession``. The price to
    beat in the paper's message ("higher than $16") is taken up with the same probability and cuts
    ``max_concession`` by ``target_cut``. ``uptake_games`` limits how many feedback messages are
    taken up at all (1 is the paper's claude-instant, which improved at most one round; 0 a model
    that ignores feedback). ``p_uptake`` near 1 is the paper's GPT-4.

    It reads ``info["negotiation"]`` (its role, standing offers, moves made) and ``info["feedback"]``.
    Its draws are ``np_random``'s, made through :class:`~feedbackgym.agents.scripted.streams.StreamedRandom`.
    """

    plays = ("Negotiation/seller", "Negotiation/buyer")

    def __init__(
        self,
        beta: float = 1.0,
        beta_spread: float = 0.35,
        max_concession: float = 0.7,
        concession_spread: float = 0.12,
        p_uptake: float = 0.8,
        uptake_games: int | None = None,
        target_cut: float = 0.03,
        min_concession: float = 0.05,
        price_step: float = 0.5,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        self.beta = require_float("beta", beta, 0.0, MAX_SHAPE, open_low=True)
        self.beta_spread = require_float("beta_spread", beta_spread, 0.0, MAX_SHAPE)
        self.max_concession = require_probability("max_concession", max_concession)
        self.concession_spread = require_float("concession_spread", concession_spread, 0.0, MAX_SHAPE)
        self.p_uptake = require_probability("p_uptake", p_uptake)
        self.uptake_games = require_int("uptake_games", uptake_games, 0, MAX_TURNS, allow_none=True)
        self.target_cut = require_probability("target_cut", target_cut)
        self.min_concession = require_probability("min_concession", min_concession)
        self.price_step = require_float("price_step", price_step, 0.001, 1e6)
        self._clear()

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._clear()

    def _clear(self) -> None:
        self._game: int | None = None
        self._params: dict[str, float] | None = None
        self._seen_feedback: dict[str, Any] | None = None
        self.taken_up: list[str] = []  # tip ids taken up this episode, for inspection and tests
        self._feedback_games = 0
        self._spoken_key: tuple[str, int] | None = None  # (side, tips taken up) that _spoken was made for
        self._spoken = ""  # the lines of the tips taken up, each followed by a space

    # ------------------------------------------------------------------------------------------
    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        state = info.get("negotiation")
        if not state:
            return "How about $15?"
        side = state["role"]
        if state["game"] != self._game:
            self._new_game(state)
        feedback = info.get("feedback")
        if feedback is not None and feedback is not self._seen_feedback:  # the same event stays in every info
            self._take_up(feedback, side)
        assert self._params is not None
        offer = self._offer(state)
        rival = state["rival_offer"]
        # The rival's offer is acceptable when at least as good as this move's own (within 1e-9).
        if rival is not None and (rival >= offer - 1e-9 if side == "seller" else rival <= offer + 1e-9):
            return f"I accept your offer of ${_money(rival)}."
        own = state["own_offer"]
        if own is not None:  # never move backwards: a re-drawn or rounded target must not undo a concession
            if side == "seller":
                offer = own if own < offer else offer  # min(offer, own)
            else:
                offer = own if own > offer else offer  # max(offer, own)
        lines = OFFER_LINES[side]
        line = _offer_line(lines[self.draws().integers(len(lines))], offer)
        taken = self.taken_up
        if not taken:
            return line
        key = (side, len(taken))
        if key != self._spoken_key:  # the tip lines change only when a tip is taken up
            self._spoken_key = key
            self._spoken = "".join(TIP_LINES[tip][side] + " " for tip in dict.fromkeys(taken) if tip in TIP_LINES)
        return self._spoken + line

    # ------------------------------------------------------------------------------------------
    def _new_game(self, state: dict[str, Any]) -> None:
        fresh = not state["coached"] or self._params is None
        self._game = state["game"]
        if fresh:
            draws = self.draws()
            beta = self.beta * math.exp(self.beta_spread * draws.standard_normal())
            concession = self.max_concession + self.concession_spread * draws.standard_normal()
            self._params = {"beta": beta, "max_concession": min(max(concession, self.min_concession), 1.0)}

    def _take_up(self, feedback: dict[str, Any] | None, side: str) -> None:
        if not feedback or feedback == self._seen_feedback or not feedback.get("text"):
            return
        self._seen_feedback = feedback
        if self.uptake_games is not None and self._feedback_games >= self.uptake_games:
            return
        self._feedback_games += 1
        assert self._params is not None
        words = feedback.get("content") or feedback["text"]
        draws = self.draws()
        for tip_id in tips_in(words):
            if draws.random() < self.p_uptake:
                tip = TIPS[tip_id]
                self._params["beta"] *= tip.beta_factor
                self._cut(tip.concession_cut)
                self.taken_up.append(tip_id)
        if price_target(feedback["text"]) is not None and draws.random() < self.p_uptake:
            self._cut(self.target_cut)
            self.taken_up.append("target")

    def _cut(self, amount: float) -> None:
        assert self._params is not None
        self._params["max_concession"] = min(max(self._params["max_concession"] - amount, self.min_concession), 1.0)

    def _offer(self, state: dict[str, Any]) -> float:
        """This move's price on the concession curve from the opening to the reservation, rounded to
        ``price_step`` toward the own side's interest and kept in ``price_range``."""
        params = self._params
        assert params is not None
        # This runs at every move: min() and max() are spelt as the comparisons they make (each keeps the first
        # of equal values), a call less each.
        seller_open, buyer_open = state["seller_init"], state["buyer_init"]
        concession = params["max_concession"] * (seller_open - buyer_open)
        low, high = state["price_range"]
        seller = state["role"] == "seller"
        floor_or_cap = state["reservation"]
        if seller:  # max(seller_open - concession, cost, low)
            opening = seller_open
            reservation = seller_open - concession
            reservation = floor_or_cap if floor_or_cap > reservation else reservation
            reservation = low if low > reservation else reservation
        else:  # min(buyer_open + concession, value, high)
            opening = buyer_open
            reservation = buyer_open + concession
            reservation = floor_or_cap if floor_or_cap < reservation else reservation
            reservation = high if high < reservation else reservation
        progress = (state["moves_made"] + 1) / state["n_round"]
        progress = 1.0 if 1.0 < progress else progress  # min(progress, 1.0)
        target = opening + (reservation - opening) * progress ** (1.0 / params["beta"])
        steps = target / self.price_step
        # Round toward the own side's interest, so the reservation is never crossed by rounding.
        rounded = (math.ceil(steps - 1e-9) if seller else math.floor(steps + 1e-9)) * self.price_step
        rounded = low if low > rounded else rounded  # min(max(rounded, low), high)
        return high if high < rounded else rounded


_MONEY: dict[float, str] = {}  # prices said before: a negotiator's come from a short grid
_LINES: dict[tuple[str, float], str] = {}  # offer lines said before: a few phrasings of those prices


def _offer_line(template: str, price: float) -> str:
    """``template`` ("How about ${price}?") with ``price`` in it as :func:`_money` writes it; kept, as _money keeps it."""
    key = (template, price)
    line = _LINES.get(key) if price > 0 else None
    if line is None:
        line = template.replace("{price}", _money(price))
        if price > 0 and len(_LINES) < 4096:
            _LINES[key] = line
    return line


def _money(value: float) -> str:
    shown = _MONEY.get(value) if value > 0 else None  # not 0.0, which equals -0.0 ("-0"), nor a NaN
    if shown is None:
        shown = f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"
        if value > 0 and len(_MONEY) < 4096:
            _MONEY[value] = shown
    return shown
