"""Reading answers: canonical forms for numeric, multiple-choice and free-text answers.

These functions are pure and never raise on agent input: anything unreadable maps to ``None``,
so an environment can treat it as an invalid move instead of crashing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

KINDS = ("numeric", "choice", "text")
BASES = (10, 16)

# Separators and currency marks that people and models put inside numbers; removing them is lossless.
_NUMERIC_NOISE = str.maketrans({" ": None, "\t": None, "\n": None, ",": None, "_": None, "$": None, "\u2212": "-"})
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_HEX = re.compile(r"([+-]?)(?:0[xX])?([0-9a-fA-F]+)")
# Markdown emphasis and code marks wrap a choice letter ("**B**", "`B`") without changing it.
_MARKUP = "*_` \t\n"
_BARE_LETTER = re.compile(r"[(\[]?\s*([A-Za-z])\s*[)\]]?[.:]?")
_LETTER_THEN_TEXT = re.compile(r"[(\[]?([A-Za-z])[)\]]?[.:]?\s+(.+)", re.DOTALL)
# Brackets are deliberately absent: in math answers "(1, 2)" and "1, 2" differ.
_END_PUNCTUATION = ".,;:!?'\"`*\u201c\u201d\u2018\u2019\u00ab\u00bb\u2026 \t\n"


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # the choice letters, by 0-based option index


def letter(index: int) -> str:
    """The choice letter of a 0-based option index: 0 -> "A"."""
    if not 0 <= index < 26:
        raise ValueError(f"choice index must be in 0..25, got {index}")
    return LETTERS[index]


def format_choices(question: str, choices: Sequence[str]) -> str:
    """The question followed by its options, one per line, as ``(A) ...`` (the Feedback Friction MCQ form)."""
    if len(choices) > len(LETTERS):
        letter(len(choices) - 1)  # the error naming the index
    options = "\n".join([f"({mark}) {choice}" for mark, choice in zip(LETTERS, choices)])
    return f"{question.rstrip()}\nChoices:\n{options}"


def normalize_numeric(text: str, base: int = 10) -> str | None:
    """Canonical integer or decimal string, or None.

    Base 10: "1,234" -> "1234", "42.0" -> "42", "-0.50" -> "-0.5", "$7." -> "7".
    Base 16: "0x1a3f" -> "1A3F" (upper case, no prefix, no leading zeros).
    """
    s = text.strip().translate(_NUMERIC_NOISE)
    if s.endswith("."):
        s = s[:-1]  # a sentence-final period, not a decimal point
    if base == 16:
        match = _HEX.fullmatch(s)
        if not match:
            return None
        value = int(match.group(2), 16)
        return ("-" if match.group(1) == "-" and value else "") + f"{value:X}"
    digits = s[1:] if s[:1] in ("-", "+") else s
    if digits.isascii() and digits.isdigit() and len(digits) < 4000:
        return str(int(s))  # a plain integer, the common answer: what the Decimal path gives, without it
    if not _DECIMAL.fullmatch(s):
        return None
    try:
        number = Decimal(s)
    except InvalidOperation:
        return None
    if number == number.to_integral_value():
        if number.adjusted() < 4000:
            return str(int(number))
        # str(int) refuses over 4300 digits (Python's int-to-str limit); Decimal writes them itself
        return format(number.to_integral_value(), "f")
    return format(number.normalize(), "f")


def _collapse(text: str) -> str:
    return " ".join(text.split()).casefold().rstrip(".")


def normalize_choice(text: str, choices: Sequence[str] = ()) -> str | None:
    """The option letter that ``text`` names, or None.

    Accepts "B", "b", "(B)", "B)", "[B]", "B.", "**B**", the exact text of an option (case and
    whitespace ignored) and "(B) <option text>" when the text matches option B. A bare letter wins over
    an option whose text is that letter. Without ``choices`` any letter A..Z is accepted.
    """
    valid = {letter(i) for i in range(len(choices))} if choices else {chr(c) for c in range(ord("A"), ord("Z") + 1)}
    s = text.strip(_MARKUP)
    match = _BARE_LETTER.fullmatch(s)
    if match and match.group(1).upper() in valid:
        return match.group(1).upper()
    key = _collapse(s)
    if not key:
        return None
    for i, choice in enumerate(choices):
        if _collapse(choice) == key:
            return letter(i)
    match = _LETTER_THEN_TEXT.fullmatch(s)
    if match and choices:
        index = ord(match.group(1).upper()) - ord("A")
        if 0 <= index < len(choices) and _collapse(choices[index]) == _collapse(match.group(2)):
            return letter(index)
    return None


def normalize_text(text: str) -> str | None:
    """Case-folded text with whitespace collapsed and punctuation trimmed from both ends, or None if empty."""
    s = " ".join(text.split()).casefold().strip(_END_PUNCTUATION)
    return s or None


def group_thousands(canonical: str) -> str:
    """"-1234567.5" -> "-1,234,567.5"; the form a model often writes, so feedback masking must know it."""
    sign = "-" if canonical.startswith("-") else ""
    whole, dot, fraction = canonical.lstrip("-").partition(".")
    return f"{sign}{int(whole):,}{dot}{fraction}"
