"""Text helpers shared by environments: making agent text safe to show, and bounding it."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def printable(text: str) -> str:
    """Text safe for an observation: control characters are shown as ``\\xNN`` escapes.

    Newlines and tabs stay. Other non-printable code points (unassigned, separators) are escaped too,
    so the result always satisfies :class:`PrintableText`.
    """
    # Fast path: most messages are printable apart from their newlines.
    if text.isprintable() or text.replace("\n", " ").replace("\t", " ").isprintable():
        return text
    text = _CONTROL.sub(_escape, text)
    if all(c.isprintable() or c in "\n\t" for c in text):
        return text
    return "".join(c if c.isprintable() or c in "\n\t" else f"\\u{ord(c):04x}" for c in text)


def clip_middle(text: str, limit: int) -> str:
    """At most about ``limit`` characters: the head and tail kept, the middle replaced by a note."""
    if len(text) <= limit:
        return text
    keep = max(limit // 2 - 40, 1)
    omitted = len(text) - 2 * keep
    return f"{text[:keep]}\n…[{omitted} characters omitted]…\n{text[-keep:]}"


def for_view(text: str, limit: int) -> str:
    """How one message appears in an observation: bounded, then made printable."""
    return printable(clip_middle(text, limit))
