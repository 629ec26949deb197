"""The scripted negotiator and critic: concession curves, acceptance, feedback uptake, diagnoses, and the paper's directions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from feedbackgym.agents import make_agent
from feedbackgym.agents.scripted.critic_coach import CriticCoach
from feedbackgym.agents.scripted.negotiation_tips import TIPS, price_target, tips_in
from feedbackgym.agents.scripted.negotiator import ConcessionNegotiator
from feedbackgym.envs import make
from feedbackgym.envs.negotiation import HUMAN_TIPS
from feedbackgym.experiments.runner import rollout


def state(role: str = "seller", moves_made: int = 0, rival: float | None = 10.0, own: float | None = 20.0, **extra: Any) -> dict[str, Any]:
    return {
        "negotiation": {
            "role": role, "game": 0, "n_games": 5, "coached": True, "feedback_source": "critic", "n_round": 10,
            "moves_made": moves_made, "moves_left": 10 - moves_made, "own_offer": own, "rival_offer": rival,
            "seller_init": 20.0, "buyer_init": 10.0, "price_range": [10.0, 20.0],
            "reservation": 8.0 if role == "seller" else 20.0, "previous_price": None, "prices": [], **extra,
        }
    }


def exact(**kwargs: Any) -> ConcessionNegotiator:
    """A negotiator without random spreads, so its offers follow the formula exactly."""
    return ConcessionNegotiator(beta_spread=0.0, concession_spread=0.0, seed=0, **kwargs)


def price(text: str) -> float:
    return float(text.split("$")[-1].rstrip("?.!"))


# ------------------------------------------------------------------------------ concession curve
def test_offers_follow_the_time_dependent_concession_formula() -> None:
    seller = exact(beta=1.0, max_concession=0.7)
    # reservation = 20 - 0.7 * 10 = 13; move t offers 20 + (13 - 20) * t / 10, rounded up to $0.50
    offers = [price(seller.act({}, state(moves_made=t, own=None))) for t in range(10)]
    assert offers == [19.5, 19.0, 18.0, 17.5, 16.5, 16.0, 15.5, 14.5, 14.0, 13.0]
    buyer = exact(beta=1.0, max_concession=0.7)
    assert price(buyer.act({}, state("buyer", moves_made=9, rival=20.0, own=None))) == 17.0


def _offer_by_the_formula(agent: ConcessionNegotiator, state: dict[str, Any]) -> float:
    """The offer as the docstring defines it, with min() and max() (the agent spells them as comparisons)."""
    import math

    params = agent._params
    gap = state["seller_init"] - state["buyer_init"]
    low, high = state["price_range"]
    seller = state["role"] == "seller"
    if seller:
        opening, reservation = state["seller_init"], max(state["seller_init"] - params["max_concession"] * gap, state["reservation"], low)
    else:
        opening, reservation = state["buyer_init"], min(state["buyer_init"] + params["max_concession"] * gap, state["reservation"], high)
    progress = min((state["moves_made"] + 1) / state["n_round"], 1.0)
    steps = (opening + (reservation - opening) * progress ** (1.0 / params["beta"])) / agent.price_step
    rounded = (math.ceil(steps - 1e-9) if seller else math.floor(steps + 1e-9)) * agent.price_step
    return min(max(rounded, low), high)


def test_offers_are_the_formulas_on_any_state() -> None:
    import random

    rng = random.Random(15)
    agent = ConcessionNegotiator(seed=0, price_step=rng.choice([0.5, 0.01, 1.0]))
    for _ in range(5_000):
        agent._params = {"beta": rng.choice([0.3, 1.0, 2.5, rng.uniform(0.05, 5.0)]), "max_concession": rng.choice([0.0, 0.5, 0.7, 1.0, rng.random()])}
        low = rng.choice([0, 5.0, 10, 10.0, rng.uniform(0.0, 15.0)])
        high = rng.choice([low, low + 10, 20.0 if low < 20 else low, low + rng.uniform(0.0, 30.0)])  # ints and floats, ties (15 and 15.0), equal bounds
        one = rng.choice([{"role": "seller", "reservation": rng.choice([8.0, 14, 15, low, high, rng.uniform(0.0, 30.0)])},
                          {"role": "buyer", "reservation": rng.choice([20.0, 12, 15, low, high, rng.uniform(0.0, 30.0)])}])
        n_round = rng.randint(1, 12)
        state = {**one, "seller_init": rng.choice([20.0, high, rng.uniform(low, high + 5)]), "buyer_init": rng.choice([10.0, low, rng.uniform(low - 5, high)]),
                 "price_range": [low, high], "moves_made": rng.randint(0, n_round + 2), "n_round": n_round}
        offer, expected = agent._offer(state), _offer_by_the_formula(agent, state)
        assert offer == expected and type(offer) is type(expected), state


def test_boulware_concedes_later_than_conceder() -> None:
    firm, soft = exact(beta=0.4), exact(beta=2.5)
    mid = state(moves_made=4, own=None)
    assert price(firm.act({}, mid)) > price(soft.act({}, mid))
    assert price(exact(beta=0.4).act({}, state(moves_made=9, own=None))) == price(exact(beta=2.5).act({}, state(moves_made=9, own=None))) == 13.0


def test_accepts_when_the_rival_crosses_its_current_threshold() -> None:
    seller = exact(max_concession=0.7)
    assert seller.act({}, state(moves_made=5, rival=16.5)) == "I accept your offer of $16.50."  # it would offer $16
    assert "accept" not in exact(max_concession=0.7).act({}, state(moves_made=5, rival=15.0))
    buyer = exact(max_concession=0.7)
    assert buyer.act({}, state("buyer", moves_made=9, rival=17.0, own=16.0)) == "I accept your offer of $17."
    assert "accept" not in exact(max_concession=0.7).act({}, state("buyer", moves_made=9, rival=17.5, own=16.0))


def test_never_crosses_its_cost_or_value() -> None:
    seller = exact(max_concession=1.0)
    assert price(seller.act({}, state(moves_made=9, own=None, reservation=14.0))) == 14.0


# ------------------------------------------------------------------------------ feedback uptake
def feedback(content: str, prev: float = 15.0) -> dict[str, Any]:
    return {"text": f"Well done ... {content} ... i.e., higher than ${prev}.", "content": content, "turn": 1}


def test_tips_are_recognised_in_any_wording() -> None:
    assert tips_in(TIPS["anchor"].seller) == ["anchor"]
    assert tips_in("1. Be patient. 2. Do not offer to split the difference. 3. Be ready to walk away.") == ["patience", "walk_away", "no_split"]
    assert [tips_in(tip) for tip in HUMAN_TIPS["seller"]].count([]) == 0  # every human tip means something to the model
    assert price_target("... i.e., higher than $16.50.") == 16.5 and price_target("no price here") is None


def test_uptake_makes_the_coached_side_firmer() -> None:
    taker = exact(p_uptake=1.0)
    taker.act({}, state())
    before = dict(taker._params)
    taker.act({}, {**state(moves_made=1), "feedback": feedback(TIPS["anchor"].seller + " " + TIPS["patience"].seller)})
    assert taker.taken_up == ["anchor", "patience", "target"]
    assert taker._params["beta"] == pytest.approx(before["beta"] * 0.7)
    assert taker._params["max_concession"] == pytest.approx(before["max_concession"] - 0.04 - 0.08 - 0.03)
    ignorer = exact(p_uptake=0.0)
    ignorer.act({}, {**state(), "feedback": feedback(TIPS["anchor"].seller)})
    assert ignorer.taken_up == [] and ignorer._params["max_concession"] == pytest.approx(0.7)


def test_uptake_games_limits_how_many_messages_are_taken_up() -> None:
    once = exact(p_uptake=1.0, uptake_games=1)
    once.act({}, {**state(), "feedback": feedback(TIPS["firm"].seller)})
    once.act({}, {**state(game=1), "feedback": feedback(TIPS["anchor"].seller, prev=16.0)})
    assert once.taken_up == ["firm", "target"]


def test_the_rival_is_redrawn_every_game_and_the_coached_side_keeps_its_state() -> None:
    rival = ConcessionNegotiator(seed=1)
    rival.act({}, state(coached=False))
    first = dict(rival._params)
    rival.act({}, state(coached=False, game=1))
    assert rival._params != first
    coached = ConcessionNegotiator(seed=1)
    coached.act({}, state())
    kept = dict(coached._params)
    coached.act({}, state(game=1))
    assert coached._params == kept


# ------------------------------------------------------------------------------------- critic
def request(moves: list[dict[str, Any]], price: float | None, closed_by: str | None, reason: str, n: int = 3) -> dict[str, Any]:
    return {"request": {"coached": "seller", "n_suggestions": n, "openings": {"seller": 20.0, "buyer": 10.0},
                        "games": [{"index": 0, "deal": price is not None, "price": price, "reason": reason, "closed_by": closed_by, "moves": moves}]}}


def test_the_critic_gives_the_tips_the_game_calls_for() -> None:
    critic = CriticCoach(insight=1.0, noise=0.0, seed=0)
    big_first_step = [{"side": "seller", "offer": 14.0}, {"side": "buyer", "offer": 13.0}, {"side": "seller", "offer": None}]
    text = critic.act({}, request(big_first_step, 13.0, "seller", "accepted"))
    lines = text.splitlines()
    assert len(lines) == 3 and [line[:3] for line in lines] == ["1. ", "2. ", "3. "]
    assert tips_in(lines[0]) == ["anchor"] and "patience" in tips_in(text)
    assert critic.act({}, request(big_first_step, 13.0, "seller", "accepted", n=5)).count("\n") == 4
    assert "flexib" not in critic.act({}, request([], None, None, "out_of_rounds"))  # the paper's critic only pushes the price
    assert "flexib" in CriticCoach(insight=1.0, noise=0.0, price_only=False).act({}, request([], None, None, "out_of_rounds"))


def test_a_critic_without_insight_gives_generic_tips() -> None:
    text = CriticCoach(insight=0.0, seed=0).act({}, request([{"side": "seller", "offer": 12.0}], 12.0, "seller", "accepted"))
    assert set(tips_in(text)) <= {"value", "firm", "generic"}


# -------------------------------------------------------------------------- the paper's directions
def series(source: str, episodes: int, coached: str = "seller", **agent_kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    prices, deals = [], []
    for seed in range(episodes):
        env = make("Negotiation-v0", feedback_source=source, coached=coached)
        agents = {"seller_0": make_agent("negotiator", **(agent_kwargs if coached == "seller" else {})),
                  "buyer_0": make_agent("negotiator", **(agent_kwargs if coached == "buyer" else {})),
                  "critic_0": make_agent("critic_coach")}
        result = rollout(env, agents, seed=seed)
        assert result.error is None and result.metrics["invalid_moves"] == 0
        prices.append([np.nan if p is None else p for p in result.metrics["deal_price"]])
        deals.append(result.metrics["deal"])
    return np.nanmean(np.array(prices, dtype=float), axis=0), np.mean(deals, axis=0)


def test_coaching_raises_the_sellers_price_and_lowers_the_deal_rate() -> None:
    critic_price, critic_deals = series("critic", 40)
    human_price, _ = series("human_pool", 40)
    constant_price, _ = series("constant", 40)
    none_price, none_deals = series("none", 40)
    gain = {name: p[1] - p[0] for name, p in (("critic", critic_price), ("human", human_price), ("constant", constant_price), ("none", none_price))}
    assert gain["critic"] > gain["constant"] > gain["none"] and gain["human"] > gain["constant"]
    assert abs(gain["none"]) < 0.2
    assert critic_deals[-1] < critic_deals[0] - 0.3 and none_deals[-1] > 0.9


def test_a_buyer_that_ignores_feedback_barely_moves() -> None:
    ignoring, _ = series("critic", 40, coached="buyer", p_uptake=0.0)
    taking, _ = series("critic", 40, coached="buyer", p_uptake=0.9)
    assert abs(ignoring[1] - ignoring[0]) < 0.3 and taking[1] < taking[0] - 0.4


def test_tip_and_price_target_reading_skips_patterns_only_when_they_cannot_match() -> None:
    import random
    import re

    from feedbackgym.agents.scripted import negotiation_tips

    assert negotiation_tips._branch_prefixes(r"\banchor|first concession") == ("anchor", "first concession")
    assert negotiation_tips._branch_prefixes(r"smaller?|Big[ -]jumps") == ("smalle", "big")
    assert negotiation_tips._branch_prefixes(r"(?:a|b)c") is None and negotiation_tips._branch_prefixes(r"x|\d+") is None
    tip_texts = [text for tip in negotiation_tips.TIPS.values() for text in (tip.seller, tip.buyer)]
    pieces = [*" ".join(tip_texts).split(), "WALK-AWAY", "walk away", "Higher than $16", "lower THAN $7.5", "than", "$", "16",
              "ſoft", "\u212aeep", "İ", "FLEXIB", "Meet you halfway", "\n", ", ", "meet in the middle", "do  better"]
    rng = random.Random(11)
    texts = tip_texts + ["\n".join(tip_texts)]
    texts += [" ".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))) for _ in range(5000)]
    found = 0
    for text in texts:
        expected = [tip_id for tip_id, pattern, _ in negotiation_tips._MATCHERS if pattern.search(text[:20_000])]
        assert negotiation_tips.tips_in(text) == expected, text
        match = re.search(r"(higher|lower) than \$(\d+(?:\.\d+)?)", text[-2000:], re.IGNORECASE)
        assert negotiation_tips.price_target(text) == (float(match.group(2)) if match else None), text
        found += bool(expected)
    assert 1000 < found < len(texts)


def test_the_critics_block_of_gumbel_draws_is_its_scalar_draws() -> None:
    for seed in range(50):
        one_by_one, block = np.random.default_rng(seed), np.random.default_rng(seed)
        for size in (1, 3, 7, 8):
            assert [float(one_by_one.gumbel()) for _ in range(size)] == block.gumbel(size=size).tolist()
            assert one_by_one.random() == block.random()  # and the stream goes on alike


def test_price_target_is_the_patterns_first_match() -> None:
    import random

    from feedbackgym.agents.scripted.negotiation_tips import _TARGET

    def by_pattern(text: str) -> float | None:
        match = _TARGET.search(text[-2000:])
        return float(match.group(2)) if match else None

    rng = random.Random(0)
    pieces = ["higher", "HIGHER", "Lower", "lower", " than $", " than ", "$", "12", "3.5", ".", "x", " ", "hhigher", "than $", "7.", "\n", "r ", "é"]
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert price_target(text) == by_pattern(text), text
    assert price_target("x" * 3_000 + " lower than $5.25, please") == 5.25
    assert price_target("higher than $" + "1" * 20) == float("1" * 20)


def test_tips_found_again_are_a_fresh_list() -> None:
    found = tips_in("1. Stay firm. 2. Emphasize the quality of the balloon.")
    found.append("anchor")
    assert tips_in("1. Stay firm. 2. Emphasize the quality of the balloon.") == ["value", "firm"]


def test_kept_offer_lines_are_the_filled_templates() -> None:
    import math
    import random

    from feedbackgym.agents.scripted import negotiator

    rng = random.Random(5)
    prices = [0.0, -0.0, math.nan, math.inf, 15, 15.0, 15.5, 1e-9, 12.345, 1e7] + [rng.choice([0.5, 0.01]) * rng.randint(0, 4000) for _ in range(300)]
    templates = [line for lines in negotiator.OFFER_LINES.values() for line in lines]
    for _ in range(3):  # new, then kept
        for price in prices:
            for template in templates:
                assert negotiator._offer_line(template, price) == template.replace("{price}", negotiator._money(price)), (template, price)
    assert negotiator._offer_line("How about ${price}?", -0.0) == "How about $-0?"  # never the line kept for 0.0
