"""The negotiation tips a critic gives and a negotiator takes up (docs/protocols.md, section 2 and "Scripted behaviour models").

Each tip has a text per side (what a scripted critic writes), the words that identify it in any
feedback text (so a negotiator takes up tips from an LLM critic or the paper's human tips just as
well), and its effect on a concession strategy when taken up: a factor on the concession exponent
(below 1 is firmer, Boulware-ward) and a cut of the reservation (the share of the opening gap the
negotiator is willing to concede). Firmer play raises the price and lowers the deal rate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Tip:
    id: str
    seller: str
    buyer: str
    keywords: str  # a regex, matched case-insensitively
    beta_factor: float = 1.0  # the concession exponent is multiplied by this
    concession_cut: float = 0.0  # subtracted from the share of the gap the side will concede

    def text(self, side: str) -> str:
        return self.seller if side == "seller" else self.buyer


TIPS: dict[str, Tip] = {
    tip.id: tip
    for tip in (
        Tip(
            "anchor",
            "Hold your anchor: make your first concession small and late, so the buyer's expectations stay close to your asking price.",
            "Hold your anchor: make your first concession small and late, so the seller's expectations stay close to your opening offer.",
            r"\banchor|first concession",
            beta_factor=0.7,
            concession_cut=0.04,
        ),
        Tip(
            "small_steps",
            "Concede in small, shrinking steps; big jumps tell the buyer there is much more room.",
            "Concede in small, shrinking steps; big jumps tell the seller there is much more room.",
            r"small(?:er)?,? (?:shrinking )?steps|concede slowly|smaller concessions|big jumps",
            beta_factor=0.75,
            concession_cut=0.03,
        ),
        Tip(
            "patience",
            "Be patient and do not accept the first counter-offer; the buyer usually has more room to move.",
            "Be patient and do not accept the first counter-offer; the seller usually has more room to move.",
            r"\bpatien|first counter|hold out",
            concession_cut=0.08,
        ),
        Tip(
            "value",
            "Emphasize the quality of the balloon and why it is worth the price before you move on price.",
            "Point out the flaws of the balloon and the alternatives you have before you move on price.",
            r"quality|\bworth\b|\bvalue\b|advantages|flaws|alternatives|concrete reasons|persua|why the (?:buyer|seller) should",
            concession_cut=0.06,
        ),
        Tip(
            "walk_away",
            "Be ready to walk away politely when the offer is not good enough; a credible walk-away keeps the price up.",
            "Be ready to walk away politely when the offer is not good enough; a credible walk-away keeps the price down.",
            r"walk[ -]away",
            beta_factor=0.9,
            concession_cut=0.08,
        ),
        Tip(
            "no_split",
            "Do not offer to split the difference; let the buyer close the gap.",
            "Do not offer to split the difference; let the seller close the gap.",
            r"split the difference|meet (?:you )?(?:halfway|in the middle)",
            concession_cut=0.05,
        ),
        Tip(
            "firm",
            "Stay firm and confident in your tone; sounding unsure invites more pressure.",
            "Stay firm and confident in your tone; sounding unsure invites more pressure.",
            r"\bfirm|aggressive|confident|\btone\b|\bsoft\b|assertive",
            beta_factor=0.8,
            concession_cut=0.03,
        ),
        Tip(
            "flexible",
            "Signal some flexibility near the end, so that the negotiation still closes with a deal.",
            "Signal some flexibility near the end, so that the negotiation still closes with a deal.",
            r"flexib",
            beta_factor=1.3,
            concession_cut=-0.08,
        ),
        Tip(
            "generic",
            "Think about a better strategy than in the previous round.",
            "Think about a better strategy than in the previous round.",
            r"strateg|improve|do your best|do better",
            concession_cut=0.02,
        ),
    )
}

_META = frozenset("\\()[]{}?*+.|^$")


def _branch_prefixes(pattern: str) -> tuple[str, ...] | None:
    """The literal text every branch of ``pattern``'s top-level alternation starts with, in lower case.

    A match of the pattern (case-insensitive) holds one of them, so an ASCII text holding none cannot
    match. None when some branch starts with no literal (the pattern must then always run).
    """
    branches, depth, start, index = [], 0, 0, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 1  # an escaped character opens, closes or separates nothing
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "|" and depth == 0:
            branches.append(pattern[start:index])
            start = index + 1
        index += 1
    branches.append(pattern[start:])
    prefixes = []
    for branch in branches:
        branch = branch.removeprefix("\\b")
        end = 0
        while end < len(branch) and branch[end] not in _META:
            end += 1
        literal = branch[:end]
        if end < len(branch) and branch[end] in "?*+{":
            literal = literal[:-1]  # the quantifier makes the last character optional
        if not literal:
            return None
        prefixes.append(literal.lower())
    return tuple(prefixes)


_MATCHERS = [(tip.id, re.compile(tip.keywords, re.IGNORECASE), _branch_prefixes(tip.keywords)) for tip in TIPS.values()]
_TARGET = re.compile(r"(higher|lower) than \$(\d+(?:\.\d+)?)", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")  # _TARGET's second group
# The tips found in recent feedback texts: a scripted critic's few dozen messages recur across episodes.
_CACHED_CHARS = 4_000
_CACHE_SIZE = 1_024
_found: dict[str, tuple[str, ...]] = {}


def tips_in(text: str) -> list[str]:
    """The ids of the tips ``text`` gives, each once, in catalogue order.

    A tip's pattern runs only when the text could match it: an ASCII text must hold the literal start
    of one of its branches (case-insensitive patterns try every position; nine of them on a critique
    took 80 us).

    >>> tips_in("1. Stay firm. 2. Emphasize the quality of the balloon.")
    ['value', 'firm']
    """
    if type(text) is not str or len(text) > _CACHED_CHARS:
        return _tips_in(text)
    found = _found.get(text)
    if found is None:
        if len(_found) >= _CACHE_SIZE:
            _found.clear()
        found = _found[text] = tuple(_tips_in(text))
    return list(found)


def _tips_in(text: str) -> list[str]:
    head = text[:20_000]
    lower = head.lower() if head.isascii() else None
    return [
        tip_id
        for tip_id, pattern, prefixes in _MATCHERS
        if (lower is None or prefixes is None or any(map(lower.__contains__, prefixes))) and pattern.search(head)
    ]


def price_target(text: str) -> float | None:
    """The price to beat in the paper's feedback message ("... i.e., higher than $16.").

    >>> price_target("Your goal is to sell it at a higher price, i.e., higher than $16.")
    16.0
    """
    tail = text[-2000:]
    if not tail.isascii():
        match = _TARGET.search(tail)
        return float(match.group(2)) if match else None
    # On ASCII text the case-insensitive pattern is a lower-case comparison: every match holds "than $",
    # preceded by "higher " or "lower " and followed by a number; the first such is the pattern's match.
    # (The pattern, tried at every position of a 600-character message, took 25 us.)
    lower = tail.lower()
    at = lower.find("than $")
    while at >= 0:
        if lower.endswith("higher ", 0, at) or lower.endswith("lower ", 0, at):
            number = _NUMBER.match(tail, at + 6)
            if number is not None:
                return float(number.group())
        at = lower.find("than $", at + 1)
    return None
