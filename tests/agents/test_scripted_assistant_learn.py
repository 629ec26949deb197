"""The scripted assistant reads constraints with one pass per kind; it must read exactly what a
pattern per colour and per brand would (the behaviour its episodes were recorded with)."""

from __future__ import annotations

import random
import re

from feedbackgym.agents.scripted.assistant import _BRANDS, _BUDGET, _COLORS, ScriptedAssistant


def _per_word_reference(text: str) -> dict[str, object]:
    known: dict[str, object] = {"budget": None, "colors": None, "avoid_brand": None}
    lowered = text.lower()
    if re.search(r"budget|at most|under|afford", lowered):
        amounts = _BUDGET.findall(text)
        if amounts:
            known["budget"] = int(amounts[-1].replace(",", ""))
    colors = [color for color in _COLORS if re.search(rf"\b{color}\b", lowered)]
    if colors and re.search(r"\bin\b|colou?r", lowered):
        known["colors"] = colors
    for brand in _BRANDS:
        if re.search(rf"(?:nothing|not|no|avoid)\s+(?:from\s+)?{brand.lower()}", lowered):
            known["avoid_brand"] = brand
    return known


WORDS = ["not", "no", "nothing", "avoid", "from", "in", "colour", "piano", "blue", "red", "reds", "bluered", "black", "silver",
         "white", "aurora", "Birch", "cobalt", "DELTA", "ember", "emberx", "  ", "\n", "$1,200", "budget", "under",
         "not  from\taurora", "no-red", "avoidbirch", "noaurora", "I want it in blue or red.", "Nothing from Cobalt, please."]


def test_learn_reads_what_a_pattern_per_word_reads() -> None:
    chooser = random.Random(0)
    assistant = ScriptedAssistant()
    for _ in range(20_000):
        glue = " " if chooser.random() < 0.8 else ""
        text = glue.join(chooser.choice(WORDS) for _ in range(chooser.randint(1, 12)))
        assistant.known = {"budget": None, "colors": None, "avoid_brand": None}
        assistant._learn(text)
        assert assistant.known == _per_word_reference(text), text


# ------------------------------------------------------------ picks read by category, and the style bandit
def _catalogue() -> list[dict[str, object]]:
    rows = [("laptop", "Aurora", "black", 900, 4.1), ("phone", "Birch", "red", 500, 4.9), ("laptop", "Cobalt", "blue", 1200, 4.6),
            ("camera", "Delta", "white", 700, 3.0), ("laptop", "Ember", "black", 800, 4.6), ("phone", "Aurora", "silver", 300, 4.2)]
    return [{"id": f"#{i:02d}", "category": c, "brand": b, "color": col, "price": p, "rating": r}
            for i, (c, b, col, p, r) in enumerate(rows, 1)]


def _reference_pick(catalogue: list[dict[str, object]], rejected: set[str], request: dict[str, object]) -> dict[str, object] | None:
    """The interactive pick as first written: a scan of the whole catalogue."""
    from feedbackgym.agents.scripted.assistant import _meets

    remaining = [item for item in catalogue if item["id"] not in rejected]
    if not remaining:
        return None
    in_category = [item for item in remaining if item["category"] == request.get("category")] or remaining
    fitting = [item for item in in_category if _meets(item, request)] or in_category
    return max(fitting, key=lambda item: item["rating"])


def test_interactive_picks_are_those_of_a_scan_of_the_whole_catalogue() -> None:
    catalogue = _catalogue()
    chooser = random.Random(3)
    for _ in range(300):
        assistant = ScriptedAssistant(n_questions=0, p_uptake=0.0)
        assistant.reset(seed=1)
        category = chooser.choice(["laptop", "phone", "camera", "tablet", None])
        rejected = {item["id"] for item in catalogue if chooser.random() < 0.5}
        messages = [{"role": "assistant", "content": f"Recommendation: {item_id}."} for item_id in sorted(rejected)]
        reply = assistant.act({}, {"mode": "interactive", "catalogue": catalogue, "request": {"category": category}, "messages": messages})
        expected = _reference_pick(catalogue, rejected, {"category": category, "budget": None, "colors": [], "avoid_brand": None})
        if expected is None:
            assert reply == "What else can you tell me about what you need?"
        else:  # with every item of the category turned down, any other item (the best rated) rather than none
            assert reply.startswith(f"Recommendation: {expected['id']} "), (category, rejected, reply)


def test_the_bandit_draws_what_it_drew_when_it_always_called_integers() -> None:
    import numpy as np

    from feedbackgym.agents.scripted.assistant import FACTORS, StyleBandit

    def reference_choose(bandit: StyleBandit, rng: np.random.Generator) -> dict[str, str]:
        arm = {}
        for factor, levels in bandit.factors.items():
            counts = bandit.counts[factor]
            untried = [level for level in levels if counts[level] == 0]
            if untried:
                arm[factor] = untried[int(rng.integers(len(untried)))]
            elif rng.random() < bandit.exploration:
                arm[factor] = levels[int(rng.integers(len(levels)))]
            else:
                means = {level: bandit.totals[factor][level] / counts[level] for level in levels}
                best = max(means.values())
                tied = [level for level in levels if means[level] >= best - 1e-12]
                arm[factor] = tied[int(rng.integers(len(tied)))]
        return arm

    for seed in range(20):
        ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
        bandit, reference = StyleBandit(FACTORS, 0.2), StyleBandit(FACTORS, 0.2)
        rewards = random.Random(seed)
        for _ in range(60):
            arm = bandit.choose(ours)
            assert arm == reference_choose(reference, theirs)
            reward = float(rewards.choice([0.0, 0.0, 1.0, -1.0]))  # ties among the means are common
            bandit.update(arm, reward)
            reference.update(arm, reward)
        assert ours.bit_generator.state == theirs.bit_generator.state
