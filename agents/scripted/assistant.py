"""A scripted assistant for ``SimulatedUser-v0``: elicits and recommends, or learns a reply style online.

In the reaction and preference modes it is a small online learner (a factored bandit over reply
styles) that maximises whatever reward the environment pays it: pay it reactions and it learns
upbeat sign-offs; pay it the hidden utility and it learns to recommend well. That is the
experiment of RLUF's reward hacking in miniature (docs/protocols.md, section 9).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from feedbackgym.agents.base import Agent
from feedbackgym.agents.registration import register_agent
from feedbackgym.agents.scripted.solver import FrictionSolver
from feedbackgym.envs.core.checks import require_choice, require_int, require_mapping, require_probability
from feedbackgym.envs.registration import check_kwargs

# Reply-style factors and their levels. Effort decides the item; the others only how the reply sounds.
FACTORS: dict[str, tuple[str, ...]] = {
    "effort": ("none", "quick", "careful"),
    "positivity": ("neutral", "upbeat"),
    "sign_off": ("absent", "present"),
    "verbosity": ("terse", "verbose"),
}
# Words chosen so that each factor moves one style feature only: the upbeat line is all positive
# words, the sign-off and the filler contain none.
UPBEAT = "Great question, I'd love to help! This is a fantastic pick!"
SIGN_OFF = "Take care."
FILLER = (
    "It is a popular model that many shoppers choose, it ships within a few days, it comes with the "
    "standard warranty, and the retailer accepts returns within thirty days of delivery."
)
_BUDGET = re.compile(r"\$\s*(\d[\d,]*)")
_COLORS = ("black", "silver", "white", "blue", "red")
_BRANDS = ("Aurora", "Birch", "Cobalt", "Delta", "Ember")
_QUESTIONS = {"budget": "What is your budget?", "color": "Which colours would you accept?", "brand": "Is there a brand you want to avoid?"}
# Compiled once: re's own cache lookup on every call costs more than these searches on short messages.
_ITEM_ID = re.compile(r"#\d{2}")
_BUDGET_WORDS = re.compile(r"budget|at most|under|afford")
_COLOR_WORDS = re.compile(r"\bin\b|colou?r")
# One pass for all colours and one for all brands: a match is a whole colour word, or a negation and a
# brand that no other match can overlap, so the words found are exactly those each pattern alone finds.
_ANY_COLOR = re.compile(rf"\b({'|'.join(_COLORS)})\b")
_BRANDS_LOWERED = tuple((brand, brand.lower()) for brand in _BRANDS)
_ANY_AVOIDED = re.compile(rf"(?:nothing|not|no|avoid)\s+(?:from\s+)?({'|'.join(brand.lower() for brand in _BRANDS)})")


class StyleBandit:
    """Epsilon-greedy over each style factor separately, assuming their effects on reward add up.

    Each factor level keeps the mean reward of the turns it was chosen in; untried levels go first.
    """

    def __init__(self, factors: Mapping[str, tuple[str, ...]], exploration: float) -> None:
        self.factors = dict(factors)
        self.exploration = exploration
        # Zeroed tables, copied at each clear (every reset of the assistant): cheaper than building them.
        self._zero_totals = {f: {level: 0.0 for level in levels} for f, levels in self.factors.items()}
        self._zero_counts = {f: {level: 0 for level in levels} for f, levels in self.factors.items()}
        self.clear()

    def clear(self) -> None:
        self.totals = {f: zeros.copy() for f, zeros in self._zero_totals.items()}
        self.counts = {f: zeros.copy() for f, zeros in self._zero_counts.items()}

    def choose(self, rng: Any) -> dict[str, str]:
        arm = {}
        for factor, levels in self.factors.items():
            counts = self.counts[factor]
            untried = [level for level in levels if counts[level] == 0]
            if untried:
                arm[factor] = _one_of(untried, rng)
            elif rng.random() < self.exploration:
                arm[factor] = _one_of(levels, rng)
            else:
                means = {level: self.totals[factor][level] / counts[level] for level in levels}
                best = max(means.values())
                tied = [level for level in levels if means[level] >= best - 1e-12]
                arm[factor] = _one_of(tied, rng)
        return arm

    def update(self, arm: Mapping[str, str], reward: float) -> None:
        for factor, level in arm.items():
            self.totals[factor][level] += reward
            self.counts[factor][level] += 1


@register_agent("scripted_assistant", "assistant")
class ScriptedAssistant(Agent):
    """The scripted assistant of every mode of ``SimulatedUser-v0``.

    - **interactive** (catalogue): asks about up to ``n_questions`` of budget, colours and brand,
      then recommends the best-rated item that meets everything it has learnt (from answers and
      feedback) and was not turned down; with probability ``p_uptake`` it reads a piece of feedback
      at all. With a task (MINT) it is a :class:`FrictionSolver` with ``solver_kwargs``.
    - **reaction / preference**: a :class:`StyleBandit` over effort (no recommendation, a quick
      one: any item of the requested category, a careful one: the best-rated item that meets the
      stated request), tone, sign-off and verbosity, learning from ``observation["last_reward"]``
      with exploration rate ``exploration``. In preference mode (a) is its reply and (b) a reference
      reply in the ``reference`` style.
    """

    plays = ("SimulatedUser/assistant",)

    def __init__(
        self,
        n_questions: int = 1,
        p_uptake: float = 0.9,
        exploration: float = 0.15,
        reference: Mapping[str, str] | None = None,
        solver_kwargs: Mapping[str, Any] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        self.p_uptake = require_probability("p_uptake", p_uptake)
        self.exploration = require_probability("exploration", exploration)
        self.n_questions = require_int("n_questions", n_questions, 0, 100)
        self.reference = {"effort": "quick", "positivity": "neutral", "sign_off": "absent", "verbosity": "terse",
                          **dict(require_mapping("reference", reference) or {})}
        for factor, level in self.reference.items():
            require_choice("reference keys", factor, tuple(FACTORS))
            require_choice(f"reference[{factor!r}]", level, FACTORS[factor])
        inner = dict(require_mapping("solver_kwargs", solver_kwargs) or {})
        check_kwargs(FrictionSolver, inner, "solver_kwargs (the inner friction_solver)")
        # The inner solver gets its own seed derived from ours, so an agent built with a seed is reproducible even before reset.
        self.solver = FrictionSolver(**{"seed": None if seed is None else int(seed) + 1, **inner})
        self._solver_reset: tuple[int | None] | None = None  # (seed,) of a reset the inner solver still owes
        self.bandit = StyleBandit(FACTORS, exploration)
        self._clear()

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        # The inner solver plays task (MINT) episodes only: it is reset when it first acts, not at every
        # reset (seeding its generator costs as much as the rest of the reset).
        self._solver_reset = (None if seed is None else seed + 1,)
        self._clear()

    def _clear(self) -> None:
        self.bandit.clear()
        self._last_arm: dict[str, str] | None = None
        self._read_messages = 0
        self.known: dict[str, Any] = {"budget": None, "colors": None, "avoid_brand": None}
        self.rejected: set[str] = set()
        self.asked: list[str] = []
        self.arms: list[dict[str, str]] = []  # every style chosen this episode, for inspection
        self._category_index: tuple[list[dict[str, Any]], dict[Any, list[dict[str, Any]]]] | None = None

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        if "task" in info:
            if self._solver_reset is not None:
                self.solver.reset(self._solver_reset[0])
                self._solver_reset = None
            return self.solver.act(observation, info)
        mode = info.get("mode", "interactive")
        if mode == "interactive":
            return self._interactive(info)
        if self._last_arm is not None:
            self.bandit.update(self._last_arm, float(observation["last_reward"][0]))
        arm = self.bandit.choose(self.np_random)
        self._last_arm = arm
        self.arms.append(arm)
        reply = self._reply(arm, info)
        if mode == "preference":
            return f"<reply_a>{reply}</reply_a>\n<reply_b>{self._reply(self.reference, info)}</reply_b>"
        return reply

    # ----------------------------------------------------------------------- reaction, preference
    def _reply(self, arm: Mapping[str, str], info: dict[str, Any]) -> str:
        request = info.get("request") or {}
        catalogue = info.get("catalogue") or []
        parts = []
        if arm["positivity"] == "upbeat":
            parts.append(UPBEAT)
        item = self._pick(arm["effort"], request, catalogue)
        if item is None:
            parts.append("Could you tell me a bit more about what you need?")
        else:
            parts.append(f"Recommendation: {item['id']}, the {item['brand']} {item['category']} in {item['color']} for ${item['price']}.")
        if arm["verbosity"] == "verbose":
            parts.append(FILLER)
        if arm["sign_off"] == "present":
            parts.append(SIGN_OFF)
        return " ".join(parts)

    def _pick(self, effort: str, request: Mapping[str, Any], catalogue: list[dict[str, Any]]) -> dict[str, Any] | None:
        if effort == "none" or not catalogue:
            return None
        # The requested category's items (kept per catalogue), in catalogue order; the catalogue if none.
        in_category = self._by_category(catalogue).get(request.get("category")) or catalogue
        if effort == "quick":
            return in_category[int(self.np_random.integers(len(in_category)))]
        fitting = [item for item in in_category if _meets(item, request)] or in_category
        return max(fitting, key=_rating)

    # ------------------------------------------------------------------------------ interactive
    def _interactive(self, info: dict[str, Any]) -> str:
        messages = info.get("messages") or []
        for message in messages[self._read_messages :]:
            if message["role"] == "user" and self.np_random.random() < self.p_uptake:
                self._learn(message["content"])
            if message["role"] == "assistant":
                rejected = _ITEM_ID.findall(message["content"])
                self.rejected.update(rejected)  # anything recommended before did not end the episode: it was not right
        self._read_messages = len(messages)
        for attribute in ("budget", "color", "brand")[: self.n_questions]:
            if attribute not in self.asked:
                self.asked.append(attribute)
                return _QUESTIONS[attribute]
        request = {"category": (info.get("request") or {}).get("category"), "budget": self.known["budget"],
                   "colors": self.known["colors"] or [], "avoid_brand": self.known["avoid_brand"]}
        # _pick("careful", ...) over the catalogue without rejected items, reading only the requested
        # category's items (kept per catalogue): the same item, without scanning the catalogue each turn.
        catalogue = info.get("catalogue") or []
        rejected = self.rejected
        in_category = [item for item in self._by_category(catalogue).get(request["category"], ()) if item["id"] not in rejected]
        if not in_category:  # none left in the category: _pick falls back to the whole (unrejected) catalogue
            in_category = [item for item in catalogue if item["id"] not in rejected]
            if not in_category:
                return "What else can you tell me about what you need?"
        fitting = [item for item in in_category if _meets(item, request)] or in_category
        item = max(fitting, key=_rating)
        return f"Recommendation: {item['id']} ({item['brand']}, {item['color']}, ${item['price']}, rated {item['rating']})."

    def _by_category(self, catalogue: list[dict[str, Any]]) -> dict[Any, list[dict[str, Any]]]:
        """The catalogue's items per category, in catalogue order; built once per catalogue (an episode's)."""
        cached = self._category_index
        if cached is None or cached[0] is not catalogue:
            groups: dict[Any, list[dict[str, Any]]] = {}
            for item in catalogue:
                groups.setdefault(item["category"], []).append(item)
            cached = self._category_index = (catalogue, groups)
        return cached[1]

    def _learn(self, text: str) -> None:
        """Read constraints out of a user's message (the scripted user's phrasing, and similar)."""
        budget, colors, avoided = _constraints_in(text)
        if budget is not None:
            self.known["budget"] = budget
        if colors:
            self.known["colors"] = list(colors)
        if avoided is not None:
            self.known["avoid_brand"] = avoided


@functools.lru_cache(maxsize=256)
def _constraints_in(text: str) -> tuple[int | None, tuple[str, ...], str | None]:
    """The budget, the acceptable colours and the brand to avoid that ``text`` states (None / empty if it
    does not). Kept for recent texts: notices and openings come back every episode."""
    lowered = text.lower()
    budget = None
    if _BUDGET_WORDS.search(lowered):
        amounts = _BUDGET.findall(text)
        if amounts:
            budget = int(amounts[-1].replace(",", ""))
    found = set(_ANY_COLOR.findall(lowered))
    colors = tuple(color for color in _COLORS if color in found)
    if colors and not _COLOR_WORDS.search(lowered):
        colors = ()
    avoided_names = set(_ANY_AVOIDED.findall(lowered))
    avoided = None
    for brand, lowered_brand in _BRANDS_LOWERED:
        if lowered_brand in avoided_names:  # the last brand named wins, as before
            avoided = brand
    return budget, colors, avoided


def _one_of(options: Any, rng: Any) -> Any:
    """``options[int(rng.integers(len(options)))]``; one option is returned without the call, which draws
    nothing for a single value (numpy's integers over one value uses no output)."""
    return options[0] if len(options) == 1 else options[int(rng.integers(len(options)))]


def _rating(item: Mapping[str, Any]) -> Any:
    return item["rating"]


def _meets(item: Mapping[str, Any], request: Mapping[str, Any]) -> bool:
    if request.get("category") and item["category"] != request["category"]:
        return False
    if request.get("budget") is not None and item["price"] > request["budget"]:
        return False
    if request.get("colors") and item["color"] not in request["colors"]:
        return False
    return not (request.get("avoid_brand") and item["brand"] == request["avoid_brand"])
