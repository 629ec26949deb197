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
