"""Reading answers and verdicts out of free text, and masking the gold answer out of feedback."""

from __future__ import annotations

import re
from collections.abc import Iterable

from feedbackgym.envs.core.feedback import Verdict

ANSWER_FORMAT = r"the final answer as \boxed{...}, <answer>...</answer> or a last line 'Answer: ...'"

_TAG = re.compile(r"<(/?)(answer|solution)>", re.IGNORECASE)
_ANSWER_LINE = re.compile(r"(?:final answer|answer)\s*(?:is|:)\s*(.+)", re.IGNORECASE)
_BARE_LIMIT = 64  # a reply this short with no marker is taken as the answer itself


# A box whose content runs longer than this is not read as an answer (every env rejects answers of
# over a thousand characters anyway), so "\\boxed{" and ten million "{" cost a bounded scan.
BOXED_SCAN_CHARS = 20_000


def _boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}``, with nested braces balanced (None if it does not close).

    Jumps from one "}" to the next (``str.find``) and counts the "{" between them (``str.count``), so
    the Python loop runs once per closing brace, and only within ``BOXED_SCAN_CHARS`` of the box.
    """
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    begin = start + len("\\boxed{")
    limit = min(len(text), begin + BOXED_SCAN_CHARS + 1)
    depth, position = 1, begin
    while True:
        close = text.find("}", position, limit)
        if close < 0:
            return None
        depth += text.count("{", position, close) - 1
        if depth == 0:
            return text[begin:close]
        position = close + 1


def _last_tagged(text: str) -> str | None:
    """The content of the last closed ``<answer>``/``<solution>`` tag, found in one linear pass.

    A lazy regex over the whole text (``<(answer)>(.*?)</\\1>``) rescans to the end from every
    opening tag, which is quadratic: a megabyte of ``<answer>`` took minutes.
    """
    if "<" not in text:
        return None  # every tag starts with "<": most replies have none, and skip the scan
    opened: dict[str, int] = {}
    found: str | None = None
    for match in _TAG.finditer(text):
        name = match.group(2).lower()
        if not match.group(1):
            opened[name] = match.end()
        elif name in opened:
            found = text[opened.pop(name) : match.start()]
    return found


def extract_answer(text: str) -> str | None:
    """The answer a reply commits to, or None when it commits to none.

    Looks, in order, for the last ``<answer>``/``<solution>`` tag, the last ``\\boxed{}``, the last
    "Answer: ..." or "the answer is ..." line, and finally a short reply with no marker at all.

    >>> extract_answer("<think>7*6</think> <answer> 42 </answer>")
    '42'
    >>> extract_answer("So the result is \\\\boxed{1,234}.")
    '1,234'
    >>> extract_answer("I am not sure.") is None
    False
    """
    tagged = _last_tagged(text)
    if tagged is not None:
        return tagged.strip() or None
    boxed = _boxed(text)
    if boxed is not None:
        return boxed.strip() or None
    # Only the tail is searched: a megabyte reply costs a bounded amount of regex work.
    tail = text[-2000:]
    lines = [line for line in tail.splitlines() if line.strip()]
    for line in reversed(lines):
        match = _ANSWER_LINE.search(line)
        if match:
            # Markdown (bold, code) and a closing full stop around the answer are not part of it.
            answer = match.group(1).strip().strip("*_` ").rstrip(".").strip("*_` ")
            return answer or None
    stripped = text.strip()
    if stripped and len(stripped) <= _BARE_LIMIT and "\n" not in stripped:
        return stripped
    return None


_NEGATIVE = re.compile(r"\b(incorrect|wrong|not correct|bad|false|no)\b", re.IGNORECASE)
_POSITIVE = re.compile(r"\b(correct|right|good|true|yes)\b", re.IGNORECASE)


def parse_verdict(text: str) -> Verdict | None:
    """A verdict stated in text ("incorrect", "This is GOOD.", "wrong"), or None if it states none.

    Negative words win over positive ones, since "not correct" contains "correct".

    >>> parse_verdict("Your answer was incorrect.")
    <Verdict.INCORRECT: 'incorrect'>
    >>> parse_verdict("This is GOOD.")
    <Verdict.CORRECT: 'correct'>
    """
    head = text[:2000]
    if _NEGATIVE.search(head):
        return Verdict.INCORRECT
    if _POSITIVE.search(head):
        return Verdict.CORRECT
    return None


MASK = "[masked]"


def mask_gold(text: str, aliases: Iterable[str], mask: str = MASK) -> tuple[str, bool]:
    """Replace every occurrence of the gold answer's aliases with ``[masked]`` (Feedback Friction).

    An alias is matched case-insensitively and not inside a longer word or number, so masking "42"
    leaves "142" alone. A bare choice letter is not masked (FF masks "(C)", "**C**", "\\boxed{C}"): masking
    "A" would mask every article. Returns the masked text and whether anything was masked (a leak).
    """
    leaked = False
    usable = {a for a in aliases if a and a.strip() and not (len(a.strip()) == 1 and a.strip().isalpha())}
    # Longest first, then alphabetical: a set's order changes with PYTHONHASHSEED, and so would overlapping masks.
    for alias in sorted(usable, key=lambda a: (-len(a), a)):
        pattern = re.compile(rf"(?<![\w.]){re.escape(alias)}(?![\w]|[.,]\d)" if alias[0].isalnum() else re.escape(alias), re.IGNORECASE)
        text, count = pattern.subn(mask, text)
        leaked = leaked or count > 0
    return text, leaked
