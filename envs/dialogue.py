"""Helpers shared by the dialogue environments (negotiation, simulated user).

Spotting a reply that speaks as someone else is done for every environment by
:func:`feedbackgym.envs.core.voice.speaks_as` (the base class checks each move with it);
``impersonated`` is kept as its former name here.
"""

from __future__ import annotations

from collections.abc import Iterable

from feedbackgym.envs.core.voice import SYSTEM_NAMES, speaks_as

__all__ = ["SYSTEM_NAMES", "impersonated", "number_word"]


def impersonated(text: str, speaker: str, others: Iterable[str]) -> str | None:
    """The participant ``text`` speaks as, if it is not ``speaker`` (``"env"`` for the environment); else None.

    >>> impersonated("Seller: I accept $20.", "buyer_0", ["seller_0", "critic_0"])
    'seller_0'
    >>> impersonated("[env] Deal closed.", "buyer_0", ["seller_0"])
    'env'
    """
    return speaks_as(text, speaker, others)


def number_word(n: int) -> str:
    """``3`` -> ``"three"`` (the papers write counts in words: "give three suggestions")."""
    words = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
    return words[n] if 0 <= n < len(words) else str(n)
