"""Text helpers shared by environments: making agent text safe to show, bounding it, and filling prompt templates."""

from __future__ import annotations

from typing import Any

from feedbackgym.envs.core.spaces import is_printable_text


class _EscapeTable(dict):  # type: ignore[type-arg]
    """A ``str.translate`` table, filled as characters are first met: each character maps to itself when
    printable (or a newline or tab), else to its escape. After a character's first lookup the table answers
    from C, so escaping a text costs one pass over it whatever it holds."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char.isprintable() or char in "\n\t":
            shown = char
        elif code <= 0xFF:
            shown = f"\\x{code:02x}"
        elif code <= 0xFFFF:
            shown = f"\\u{code:04x}"
        else:
            shown = f"\\U{code:08x}"
        self[code] = shown
        return shown


_ESCAPES = _EscapeTable()


def printable(text: str) -> str:
    """Text safe for an observation: control and other non-printable characters shown as escapes.

    Newlines and tabs stay; C0/C1 controls become ``\\xNN``, other non-printable code points (format
    characters such as bidi overrides, lone surrogates, separators, unassigned ones) ``\\uXXXX``, so
    the result always satisfies :class:`~feedbackgym.envs.core.spaces.PrintableText`. One pass over
    the text (``str.translate``), however many characters need escaping.
    """
    if is_printable_text(text):  # the fast path: most messages are printable apart from newlines
        return text
    return text.translate(_ESCAPES)


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


# ------------------------------------------------------------------ prompt templates, filled fast
def template_parts(template: str, *fields: str) -> tuple[str, ...] | None:
    """The literal text around ``fields`` of a ``str.format`` template that names exactly those fields, once
    each and in that order, with no other braces; None for any other template.

    Filling a long template by joining its parts costs a fraction of ``format``, which rescans it.
    """
    parts = []
    rest = template
    for name in fields:
        head, found, rest = rest.partition("{" + name + "}")
        if not found:
            return None
        parts.append(head)
    parts.append(rest)
    return None if any("{" in part or "}" in part for part in parts) else tuple(parts)


def fill_template(template: str, parts: tuple[str, ...] | None, *values: Any, **fields: Any) -> str:
    """``template.format(**fields)``; by joining ``parts`` (from :func:`template_parts`) with ``values``,
    the same fields in order, when every value is a plain string (what ``format`` would print unchanged)."""
    if parts is None:
        return template.format(**fields)
    pieces = [parts[0]]
    for value, part in zip(values, parts[1:]):
        if type(value) is not str:
            return template.format(**fields)
        pieces.append(value)
        pieces.append(part)
    return "".join(pieces)
