"""Keeping API keys out of transcripts, logs, caches, saved configs and error messages."""

from __future__ import annotations

import os
import re
import string
from collections.abc import Iterable

REDACTED = "[redacted]"
_SECRET_ENV = re.compile(r"(API_KEY|_TOKEN|_SECRET|ACCESS_KEY|PASSWORD)$", re.IGNORECASE)
# A piece of a known key this long is redacted too: error text cut mid-key must not keep its head.
MIN_SECRET_PREFIX = 8
# Shapes of common provider keys, caught even when we were never told the value. Each pattern starts
# with a literal, which lets ``re`` skip ahead (a leading ``\b`` or alternation makes a 1 MB reply
# cost ~30 ms a pattern); word boundaries are checked by hand.
_KEY_SHAPES = (
    re.compile(r"sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{10,}"),
    re.compile(r"AIza[0-9A-Za-z_\-]{30,}"),
    re.compile(r"hf_[A-Za-z0-9]{20,}"),
)
# Credentials in the shape of HTTP headers or settings, whatever the key looks like: "Bearer <token>",
# "authorization: <token>", "x-api-key: <token>", "api_key=<token>" (an OmegaConf interpolation is not
# a key). Matched on an ASCII-lowercased copy of the text (same length, so spans carry over).
_VALUE = r"([\"']?\s*[:=]\s*[\"']?)(?!\$\{)(?!\[redacted\])(?!bearer\s)([^\s\"',;}\]]{8,})"
_LOWERCASE_SHAPES = (
    (re.compile(r"bearer\s+(?!\[redacted\])([a-z0-9._~+/=\-]{8,})"), 1),
    (re.compile(r"api[-_]key" + _VALUE), 2),
    (re.compile(r"authorization" + _VALUE), 2),
)
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_known: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret (an API key from a config) so that :func:`redact` removes it everywhere."""
    if value and len(value) >= 6:
        _known.add(value)


def register_secrets_in_config(lines: Iterable[str]) -> None:
    """Remember every key written in saved config lines: ``api_key: sk-...`` (YAML) or
    ``agents.solver_0.kwargs.api_key=sk-...`` (a Hydra override)."""
    for line in lines:
        if "api_key=" in line:
            register_secret(line.split("api_key=", 1)[1].strip().strip("'\""))
        elif line.strip().startswith("api_key:"):
            value = line.split(":", 1)[1].strip().strip("'\"")
            if value not in ("", "null"):
                register_secret(value)


def secrets_in_environment() -> set[str]:
    return {v for k, v in os.environ.items() if _SECRET_ENV.search(k) and v and len(v) >= 6}


def _remove(text: str, secret: str) -> str:
    """``text`` without ``secret`` and without any piece of it that starts like it and is long enough to matter."""
    if secret in text:
        text = text.replace(secret, REDACTED)
    if len(secret) < MIN_SECRET_PREFIX:
        return text
    head = secret[:MIN_SECRET_PREFIX]
    start = text.find(head)
    if start < 0:
        return text
    pieces: list[str] = []
    done = 0
    while start >= 0:
        end = start + MIN_SECRET_PREFIX
        while end - start < len(secret) and end < len(text) and text[end] == secret[end - start]:
            end += 1
        pieces += [text[done:start], REDACTED]
        done = end
        start = text.find(head, end)
    pieces.append(text[done:])
    return "".join(pieces)


def _starts_word(text: str, index: int) -> bool:
    return index == 0 or not (text[index - 1].isalnum() or text[index - 1] == "_")


def _shaped_spans(text: str) -> list[tuple[int, int]]:
    """Where key-shaped tokens and credential values are in ``text``."""
    spans = [m.span() for pattern in _KEY_SHAPES for m in pattern.finditer(text) if _starts_word(text, m.start())]
    lowered = text.translate(_ASCII_LOWER)
    for pattern, group in _LOWERCASE_SHAPES:
        spans += [m.span(group) for m in pattern.finditer(lowered) if _starts_word(lowered, m.start())]
    return spans


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every known secret (and any prefix of one of at least ``MIN_SECRET_PREFIX``
    characters), secret-looking environment value, key-shaped token and credential header replaced."""
    for secret in sorted({*_known, *secrets_in_environment(), *(e for e in extra if e)}, key=len, reverse=True):
        text = _remove(text, secret)
    spans = _shaped_spans(text)
    if not spans:
        return text
    pieces: list[str] = []
    done = 0
    for start, end in sorted(spans):
        if end <= done:
            continue
        if start >= done:
            pieces += [text[done:start], REDACTED]
        else:
            pieces.append("")  # overlaps the previous span: extend it
        done = end
    pieces.append(text[done:])
    return "".join(pieces)
