"""A generated catalogue of items with attributes, and a user's hidden goal and taste over it.

The user's *goal* is a set of hard constraints (category, budget, acceptable colours, a brand to
avoid); an item that breaks one is worth nothing to the user. The user's *taste* is soft: weights
on rating, price, brand and colour. The hidden utility of an item is its taste score relative to
the best item that meets the goal, so the best feasible item is worth exactly 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from feedbackgym.envs.simulated_user.block_draws import NumpyDraws, episode_draws

# category -> (lowest, highest) price in dollars
CATEGORIES: dict[str, tuple[int, int]] = {
    "laptop": (400, 2000),
    "phone": (200, 1200),
    "headphones": (40, 400),
    "camera": (250, 1800),
    "tablet": (150, 1100),
    "monitor": (120, 900),
}
BRANDS = ("Aurora", "Birch", "Cobalt", "Delta", "Ember")
COLORS = ("black", "silver", "white", "blue", "red")
CONSTRAINTS = ("category", "budget", "color", "brand")  # in the order a goal adds them
MAX_ITEMS = 1000
_ITEM_IDS = tuple(f"#{index:02d}" for index in range(1, MAX_ITEMS + 1))  # "#01", ..., "#1000"
_CATEGORY_NAMES = tuple(CATEGORIES)
# f"{rating:.1f}" of every rating an item can have (round(x, 1) of x in [1, 5] is the double nearest k / 10).
_RATING_TEXT = {k / 10: f"{k / 10:.1f}" for k in range(10, 51)}
_PRICE_BOUNDS = {category: (float(low), float(high)) for category, (low, high) in CATEGORIES.items()}
_OTHER_COLORS = {color: tuple(c for c in COLORS if c != color) for color in COLORS}
_OTHER_BRANDS = {brand: tuple(b for b in BRANDS if b != brand) for brand in BRANDS}
_WEIGHT_NAMES = ("rating", "price", "brand", "color")
_WEIGHT_ALPHA = (2.0, 2.0, 2.0, 2.0)
_TASTE_OUTPUTS = 2 * len(_WEIGHT_ALPHA) + len(BRANDS) + len(COLORS)  # a normal and a uniform per gamma variate, then uniforms


@dataclass(frozen=True)
class Item:
    id: str  # "#07"
    category: str
    brand: str
    color: str
    price: int
    rating: float

    def line(self) -> str:
        rating = _RATING_TEXT.get(self.rating) or f"{self.rating:.1f}"  # the table: the same text, a third of the cost
        return f"{self.id} {self.category}, {self.brand}, {self.color}, ${self.price}, rated {rating}"

    def to_dict(self) -> dict[str, Any]:
        # The instance dict holds exactly the fields, in order (a frozen dataclass without slots): a third of the cost.
        return self.__dict__.copy()


@dataclass(frozen=True)
class Goal:
    """Hard constraints. Empty ``colors`` means any colour; ``avoid_brand`` None means any brand."""

    category: str
    budget: int | None = None
    colors: tuple[str, ...] = ()
    avoid_brand: str | None = None

    def violations(self, item: Item) -> list[str]:
        found = []
        if item.category != self.category:
            found.append("category")
        if self.budget is not None and item.price > self.budget:
            found.append("budget")
        if self.colors and item.color not in self.colors:
            found.append("color")
        if self.avoid_brand is not None and item.brand == self.avoid_brand:
            found.append("brand")
        return found

    def admits(self, item: Item) -> bool:
        """``not self.violations(item)``, without listing them."""
        return (item.category == self.category and (self.budget is None or item.price <= self.budget)
                and (not self.colors or item.color in self.colors) and (self.avoid_brand is None or item.brand != self.avoid_brand))

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "budget": self.budget, "colors": list(self.colors), "avoid_brand": self.avoid_brand}

    def describe(self) -> str:
        """The goal in the user's words (what a user who states everything would say)."""
        parts = [f"a {self.category}"]
        if self.budget is not None:
            parts.append(f"for at most ${self.budget}")
        if self.colors:
            parts.append("in " + " or ".join(self.colors))
        text = " ".join(parts)
        if self.avoid_brand:
            text += f", not from {self.avoid_brand}"
        return text


@dataclass(frozen=True)
class Taste:
    """Soft preferences: weights (summing to 1) and affinities in [0, 1] per brand and colour."""

    weights: dict[str, float] = field(default_factory=dict)  # rating, price, brand, color
    brand_affinity: dict[str, float] = field(default_factory=dict)
    color_affinity: dict[str, float] = field(default_factory=dict)

    def score(self, item: Item, budget: int | None) -> float:
        low, high = CATEGORIES[item.category]
        cap = budget if budget is not None else high
        cheapness = 1.0 - min(max((item.price - low) / max(cap - low, 1), 0.0), 1.0)
        weights = self.weights
        # sum() over the four products in this order (rating, price, brand, colour), as ever: the same float.
        return sum((
            weights.get("rating", 0.0) * ((item.rating - 1.0) / 4.0),
            weights.get("price", 0.0) * cheapness,
            weights.get("brand", 0.0) * self.brand_affinity.get(item.brand, 0.5),
            weights.get("color", 0.0) * self.color_affinity.get(item.color, 0.5),
        ))

    def favourite_brand(self) -> str:
        return max(self.brand_affinity, key=self.brand_affinity.__getitem__)

    def to_dict(self) -> dict[str, Any]:
        return {"weights": dict(self.weights), "brand_affinity": dict(self.brand_affinity), "color_affinity": dict(self.color_affinity)}


def make_catalogue(rng: np.random.Generator | NumpyDraws, n_items: int, n_categories: int) -> list[Item]:
    """``n_items`` (at most 1000) items over ``n_categories`` categories, each category with at least 3 items.

    ``rng`` is a generator, or the episode's draws (:func:`make_world` draws a whole episode at once).
    """
    if not 1 <= n_items <= MAX_ITEMS:
        raise ValueError(f"n_items must be 1 to {MAX_ITEMS}, got {n_items!r}")
    if isinstance(rng, np.random.Generator):
        with episode_draws(rng, _catalogue_outputs(n_items)) as drawn:
            return _draw_catalogue(drawn, n_items, n_categories, None)
    return _draw_catalogue(rng, n_items, n_categories, None)


def _draw_catalogue(rng: NumpyDraws, n_items: int, n_categories: int, lines: list[str] | None, dicts: list[dict[str, Any]] | None = None) -> list[Item]:
    """The catalogue's draws and items; with ``lines``, each item's :meth:`Item.line` is appended to it,
    and with ``dicts`` each item's :meth:`Item.to_dict`."""
    chosen = [_CATEGORY_NAMES[i] for i in rng.distinct(len(_CATEGORY_NAMES), n_categories)]
    categories = (chosen * -(-n_items // n_categories))[:n_items]  # chosen[i % n_categories] for item i
    rng.shuffle(categories)
    # Per item: uniform (price), normal (rating), integers (brand, colour), all drawn in one pass.
    drawn = rng.records([_PRICE_BOUNDS[category] for category in categories], 3.9, 0.6, len(BRANDS), len(COLORS))
    items = []
    new_item = object.__new__
    for item_id, category, (price_draw, rating_draw, brand_index, color_index) in zip(_ITEM_IDS, categories, drawn):
        brand, color = BRANDS[brand_index], COLORS[color_index]
        price = round(price_draw / 10.0) * 10 - 1
        # min(max(draw, 1.0), 5.0), without the calls: the same value (NaN included), a tenth of the cost.
        rating = round(1.0 if rating_draw < 1.0 else 5.0 if rating_draw > 5.0 else rating_draw, 1)
        # Item(...) without the frozen dataclass's checked __init__: a third of the cost, dozens of times an episode.
        fields = {"id": item_id, "category": category, "brand": brand, "color": color, "price": price, "rating": rating}
        item = new_item(Item)
        item.__dict__.update(fields)  # the item keeps its own copy: fields can be handed out as its to_dict()
        items.append(item)
        if lines is not None:  # Item.line(), from the values at hand
            lines.append(f"{item_id} {category}, {brand}, {color}, ${price}, rated {_RATING_TEXT.get(rating) or f'{rating:.1f}'}")
        if dicts is not None:
            dicts.append(fields)
    return items


def make_taste(rng: np.random.Generator | NumpyDraws) -> Taste:
    """A taste: Dirichlet(2, 2, 2, 2) weights, then uniform affinities per brand and colour."""
    if isinstance(rng, np.random.Generator):
        with episode_draws(rng, _TASTE_OUTPUTS) as drawn:
            return make_taste(drawn)
    weights = rng.dirichlet(_WEIGHT_ALPHA)
    affinities = rng.randoms(len(BRANDS) + len(COLORS))
    brand_affinity = dict(zip(BRANDS, affinities))
    color_affinity = dict(zip(COLORS, affinities[len(BRANDS) :]))
    taste = object.__new__(Taste)  # Taste(...) without the frozen dataclass's checked __init__, as for items
    taste.__dict__.update(weights=dict(zip(_WEIGHT_NAMES, weights)), brand_affinity=brand_affinity, color_affinity=color_affinity)
    return taste


class World(NamedTuple):
    """An episode's catalogue, taste and first goal (None if not drawn), the catalogue's listing (its
    items' :meth:`Item.line`, one a line) and its items as dicts."""

    catalogue: list[Item]
    taste: Taste
    goal: Goal | None
    listing: str
    dicts: list[dict[str, Any]]  # the items' to_dict(), fresh ones


def make_world(rng: np.random.Generator, n_items: int, n_categories: int, n_constraints: int | None) -> World:
    """:func:`make_catalogue`, :func:`make_taste`, then (unless ``n_constraints`` is None) :func:`make_goal`,
    in that order from one block of draws: the same values as the three calls, at a fraction of the cost."""
    if not 1 <= n_items <= MAX_ITEMS:
        raise ValueError(f"n_items must be 1 to {MAX_ITEMS}, got {n_items!r}")
    lines: list[str] = []
    dicts: list[dict[str, Any]] = []
    with episode_draws(rng, _catalogue_outputs(n_items) + _TASTE_OUTPUTS + 4) as drawn:
        catalogue = _draw_catalogue(drawn, n_items, n_categories, lines, dicts)
        taste = make_taste(drawn)
        goal = None if n_constraints is None else make_goal(drawn, catalogue, n_constraints)
    return World(catalogue, taste, goal, "\n".join(lines), dicts)


def _catalogue_outputs(n_items: int) -> int:
    # Raw outputs a catalogue usually takes: three per item, about one per two shuffle swaps, a few to sample
    # the categories. Fewer only cost a refill, more a longer block.
    return 3 * n_items + n_items // 2 + 8


def make_goal(rng: np.random.Generator | NumpyDraws, catalogue: Sequence[Item], n_constraints: int, category: str | None = None) -> Goal:
    """A goal with the first ``n_constraints`` of category, budget, colour, brand; always satisfiable.

    It is built around an item drawn as the user's ideal, so at least that item meets it.
    """
    pool = catalogue if category is None else [item for item in catalogue if item.category == category]
    ideal = pool[int(rng.integers(len(pool)))]
    budget = colors = avoid = None
    if n_constraints >= 2:
        budget = math.ceil(ideal.price * float(rng.uniform(1.0, 1.3)) / 50.0) * 50  # as int(np.ceil(...) * 50)
    if n_constraints >= 3:
        others = _OTHER_COLORS.get(ideal.color) or [c for c in COLORS if c != ideal.color]
        colors = (ideal.color, others[int(rng.integers(len(others)))])
    if n_constraints >= 4:
        others = _OTHER_BRANDS.get(ideal.brand) or [b for b in BRANDS if b != ideal.brand]
        avoid = others[int(rng.integers(len(others)))]
    return Goal(ideal.category, budget, tuple(sorted(colors)) if colors else (), avoid)


def utility(item: Item | None, goal: Goal, taste: Taste, catalogue: Sequence[Item], best_score: float | None = None) -> float:
    """The hidden utility of recommending ``item``: 0 if none or it breaks the goal, 1 for the best feasible item.

    ``best_score``, the taste score of :func:`best_item` (the highest feasible score), saves the scan
    of the catalogue when the caller keeps it.
    """
    if item is None or goal.violations(item):
        return 0.0
    best = max(taste.score(other, goal.budget) for other in catalogue if goal.admits(other)) if best_score is None else best_score
    return taste.score(item, goal.budget) / best if best > 0 else 1.0


def best_item(goal: Goal, taste: Taste, catalogue: Sequence[Item]) -> Item:
    feasible = [item for item in catalogue if goal.admits(item)]
    return max(feasible, key=lambda item: taste.score(item, goal.budget))
