"""SimulatedUser's per-episode draws from one block of raw outputs, and its cheap reply readers, must give
exactly what numpy's own calls and the full patterns give (the values its episodes were recorded with)."""

from __future__ import annotations

import random
import re
from typing import Any

import numpy as np
import pytest

from feedbackgym.envs import make
from feedbackgym.envs.simulated_user import block_draws
from feedbackgym.envs.core.draws import emulation_matches_numpy
from feedbackgym.envs.simulated_user.block_draws import BlockDraws, NumpyDraws, episode_draws
from feedbackgym.envs.simulated_user.catalogue import BRANDS, CATEGORIES, COLORS, best_item, make_catalogue, make_goal, make_taste, make_world
from feedbackgym.envs.simulated_user.replies import recommended_ids, style_dict, style_of


# ------------------------------------------------------------------ the episode's draws, as numpy makes them
def reference_world(rng: np.random.Generator, n_items: int, n_categories: int, n_constraints: int) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """A catalogue, a taste and a goal from numpy's calls one at a time (the generator as it was first written)."""
    names = list(CATEGORIES)
    chosen = [names[int(i)] for i in rng.choice(len(names), size=n_categories, replace=False)]
    categories = [chosen[i % n_categories] for i in range(n_items)]
    rng.shuffle(categories)
    items = []
    for number, category in enumerate(categories, 1):
        low, high = CATEGORIES[category]
        price, rating = float(rng.uniform(low, high)), float(rng.normal(3.9, 0.6))
        brand, color = int(rng.integers(len(BRANDS))), int(rng.integers(len(COLORS)))
        items.append({"id": f"#{number:02d}", "category": category, "brand": BRANDS[brand], "color": COLORS[color],
                      "price": int(round(price / 10.0) * 10 - 1), "rating": round(float(np.clip(rating, 1.0, 5.0)), 1)})
    weights = rng.dirichlet(np.full(4, 2.0))
    taste = {"weights": dict(zip(("rating", "price", "brand", "color"), (float(w) for w in weights))),
             "brand_affinity": {brand: float(rng.uniform()) for brand in BRANDS},
             "color_affinity": {color: float(rng.uniform()) for color in COLORS}}
    ideal = items[int(rng.integers(len(items)))]
    budget = avoid = None
    colors: list[str] = []
    if n_constraints >= 2:
        budget = int(np.ceil(ideal["price"] * float(rng.uniform(1.0, 1.3)) / 50.0) * 50)
    if n_constraints >= 3:
        others = [c for c in COLORS if c != ideal["color"]]
        colors = sorted((ideal["color"], others[int(rng.integers(len(others)))]))
    if n_constraints >= 4:
        others = [b for b in BRANDS if b != ideal["brand"]]
        avoid = others[int(rng.integers(len(others)))]
    return items, taste, {"category": ideal["category"], "budget": budget, "colors": colors, "avoid_brand": avoid}


CONFIGS = [(24, 4, 3), (3, 1, 1), (12, 4, 4), (7, 2, 2), (18, 6, 3), (60, 5, 4)]


@pytest.mark.parametrize("n_items, n_categories, n_constraints", CONFIGS)
def test_make_world_is_numpys_draws_one_at_a_time(n_items: int, n_categories: int, n_constraints: int) -> None:
    for seed in range(60):
        ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
        if seed % 2:  # start with a buffered 32-bit half
            ours.integers(3), theirs.integers(3)
        catalogue, taste, goal, listing, dicts = make_world(ours, n_items, n_categories, n_constraints)
        items, reference_taste, reference_goal = reference_world(theirs, n_items, n_categories, n_constraints)
        assert [item.to_dict() for item in catalogue] == items == dicts
        assert listing == "\n".join(item.line() for item in catalogue)
        dicts[0]["price"] = -1  # the dicts are the items' copies, not their fields
        assert catalogue[0].price == items[0]["price"]
        assert taste.to_dict() == reference_taste
        assert goal is not None and goal.to_dict() == reference_goal
        assert ours.bit_generator.state == theirs.bit_generator.state  # the same draws follow
        assert float(ours.random()) == float(theirs.random())


def test_a_thousand_items_and_the_separate_calls_are_the_same_draws() -> None:
    for seed in range(4):
        ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
        catalogue = make_catalogue(ours, 1000, 6)
        taste = make_taste(ours)
        goal = make_goal(ours, catalogue, 4)
        items, reference_taste, reference_goal = reference_world(theirs, 1000, 6, 4)
        assert [item.to_dict() for item in catalogue] == items
        assert (taste.to_dict(), goal.to_dict()) == (reference_taste, reference_goal)
        assert ours.bit_generator.state == theirs.bit_generator.state


def test_other_bit_generators_and_a_numpy_that_differs_take_numpys_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    ours, theirs = np.random.Generator(np.random.MT19937(5)), np.random.Generator(np.random.MT19937(5))
    assert type(episode_draws(ours, 10)) is NumpyDraws
    catalogue, taste, goal, _, _ = make_world(ours, 24, 4, 3)
    items, reference_taste, reference_goal = reference_world(theirs, 24, 4, 3)
    assert [item.to_dict() for item in catalogue] == items and taste.to_dict() == reference_taste
    assert ours.random(5).tolist() == theirs.random(5).tolist()

    monkeypatch.setattr(block_draws, "emulation_matches_numpy", lambda: False)
    ours, theirs = np.random.default_rng(9), np.random.default_rng(9)
    assert type(episode_draws(ours, 10)) is NumpyDraws
    catalogue, taste, goal, _, _ = make_world(ours, 24, 4, 3)
    items, reference_taste, reference_goal = reference_world(theirs, 24, 4, 3)
    assert [item.to_dict() for item in catalogue] == items and goal is not None and goal.to_dict() == reference_goal


def test_the_process_check_passes_on_this_numpy() -> None:
    assert emulation_matches_numpy()


def _program_step(kind: int, program: random.Random, drawn: NumpyDraws) -> Any:
    if kind == 0:
        return drawn.uniform(-1.5, 2.5)
    if kind == 1:
        return drawn.normal(3.9, 0.6)
    if kind == 2:
        return drawn.integers(program.choice([1, 2, 3, 5, 24, 1000, 2**31 + 7, 2**32 - 1]))
    if kind == 3:
        population = program.choice([1, 4, 6, 50, 20_000])
        return drawn.distinct(population, program.randint(0, min(population, 12)))
    if kind == 4:
        items = list(range(program.choice([0, 1, 2, 24, 300])))
        drawn.shuffle(items)
        return items
    if kind == 5:
        return drawn.dirichlet(program.choice([(2.0, 2.0, 2.0, 2.0), (1.5, 3.0), (0.5, 2.0), (0.05, 0.05)]))
    if kind == 6:
        bounds = [(40.0, 400.0), (400.0, 2000.0), (0.0, 1.0)] * program.randint(0, 40)
        return drawn.records(bounds, 3.9, 0.6, program.choice([2, 5]), 5)
    if kind == 7:
        return drawn.randoms(program.randint(0, 40))
    return drawn.random()


def test_every_draw_of_the_block_is_numpys_and_leaves_the_generator_where_numpy_does() -> None:
    program = random.Random(7)
    for seed in range(30):
        ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
        if seed % 3 == 0:
            ours.integers(9), theirs.integers(9)
        # Small blocks run out (refills), large ones are handed back; normals off the fast path, rejected
        # integers and numpy's own algorithms for other shapes and populations all come up.
        drawn, reference = BlockDraws(ours, program.choice([0, 5, 400])), NumpyDraws(theirs)
        for _ in range(80):
            kind = program.randrange(9)
            state = program.getstate()
            ours_value = _program_step(kind, program, drawn)
            program.setstate(state)
            assert ours_value == _program_step(kind, program, reference), (seed, kind)
        drawn.close()
        assert ours.bit_generator.state == theirs.bit_generator.state


def test_a_long_block_is_handed_back_exactly() -> None:
    # Past the table of jumps, the jump back into place is composed by squaring: still the same state.
    ours, theirs = np.random.default_rng(3), np.random.default_rng(3)
    with BlockDraws(ours, 10_000) as drawn:
        items = list(range(9000))
        drawn.shuffle(items)
        value = drawn.normal(0.0, 1.0)
    expected = list(range(9000))
    theirs.shuffle(expected)
    assert items == expected and value == float(theirs.normal(0.0, 1.0))
    assert ours.bit_generator.state == theirs.bit_generator.state


def test_the_env_finds_the_best_item_of_the_whole_catalogue() -> None:
    env = make("SimulatedUser-Reaction-v0").unwrapped
    for seed in range(20):
        env.reset(seed=seed)
        assert env.best is best_item(env.user_goal, env.taste, env.catalogue)


# -------------------------------------------------------------------------------- reading the replies
# The patterns as first written: what the cheaper readers must reproduce on every text.
POSITIVE = re.compile(
    r"\b(?:great|wonderful|amazing|awesome|fantastic|excellent|perfect|delighted|happy|glad|love|lovely|enjoy|"
    r"exciting|brilliant|superb|fabulous|thrilled|pleasure)\b|!|[\U0001F600-\U0001F64F\U0001F389\u2728\u2764\U0001F44D\U0001F496]",
    re.IGNORECASE,
)
SIGN_OFF = re.compile(
    r"\b(?:bye|goodbye|have an? (?:great|nice|wonderful|lovely|fantastic) (?:day|evening|week)|cheers|happy shopping|"
    r"take care|enjoy your (?:new )?\w+|best wishes|talk soon|all the best)\b",
    re.IGNORECASE,
)
RECOMMEND_TAG = re.compile(r"<recommend>\s*+#?\s*+(\d{1,3})\s*+</recommend>", re.IGNORECASE)
RECOMMEND_TEXT = re.compile(r"recommend(?:ation|ed)?\b[^#\n]{0,40}?#\s*(\d{1,3})\b", re.IGNORECASE)

PIECES = ["great", "Great", "GREAT", "greatest", "lovely", "love", "LOVE", "loved", "unhappy", "happy_", "happy1", "1happy",
          "!", "!!", " ", "  ", ", ", ".", "\n", "\t", "goodbye", "Goodbye", "bye", "byebye", "Have a great day", "have an lovely week",
          "HAVE A NICE EVENING", "have a  great day", "enjoy your new laptop", "Enjoy your", "enjoy your new", "Take care",
          "take  care", "cheers", "all the best", "Recommendation: #7", "recommended #12", "RECOMMEND #3", "<recommend>#05</recommend>",
          "<RECOMMEND> 9 </recommend>", "#3", "x", "_", "9", "superb", "Pleasure", "talk soon", "best wishes", "happy shopping",
          "\u017f", "\u212a", "\u0130", "\u2764", "\U0001F600", "\U0001F44D", "caf\u00e9", "fabulous", "thrilled", "enjoy", "glad"]


def _text(chooser: random.Random) -> str:
    return "".join(chooser.choice(PIECES) for _ in range(chooser.randint(0, 30)))


def test_style_and_recommendations_are_what_the_full_patterns_find() -> None:
    chooser = random.Random(11)
    texts = [_text(chooser) for _ in range(20_000)]
    texts += ["Great! " * 40 + "Take care.", "x" * 20_100 + " great!", "love " * 5_000 + "bye", "Take care." + " " * 200]
    for text in texts:
        head = text[:20_000]
        positivity = min(len(POSITIVE.findall(head)) / 4.0, 1.0)
        expected = {"positivity": positivity, "sign_off": bool(SIGN_OFF.search(head[-160:])), "chars": len(text)}
        assert style_dict(text) == expected, text
        assert style_of(text).to_dict() == expected
        found = RECOMMEND_TAG.findall(head) or RECOMMEND_TEXT.findall(head)
        assert recommended_ids(text) == [f"#{int(number):02d}" for number in found], text


def test_the_rating_table_is_the_formatted_rating_of_every_rating_an_item_can_have() -> None:
    from feedbackgym.envs.simulated_user.catalogue import _RATING_TEXT

    for x in np.linspace(1.0, 5.0, 40_001).tolist() + [np.nextafter(1.05, 0), 1.05, 4.95, np.nextafter(4.95, 5)]:
        rating = round(float(x), 1)
        assert _RATING_TEXT[rating] == f"{rating:.1f}"
