"""Keeping API keys out of transcripts, logs, caches, saved configs and error messages."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

REDACTED = "[redacted]"
_SECRET_ENV = re.compile(r"(API_KEY|_TOKEN|_SECRET|ACCESS_KEY|PASSWORD)$", re.IGNORECASE)
# A piece of a known key this long is redacted too: error text cut mid-key must not keep its head.
MIN_SECRET_PREFIX = 8
# Shapes of common provider keys, caught even when we were never told the value.
_KEY_SHAPES = re.compile(r"\b(sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{10,}|AIza[0-9A-Za-z_\-]{30,}|hf_[A-Za-z0-9]{20,})")
# Credentials in the shape of HTTP headers or settings, whatever the key looks like: "Bearer <token>",
# "authorization: <token>", "x-api-key: <token>", "api_key=<token>" (an OmegaConf interpolation is not a key).
_BEARER = re.compile(r"\b(bearer\s+)(?!\[redacted\])[A-Za-z0-9._~+/=\-]{8,}", re.IGNORECASE)
_HEADER = re.compile(
    r"\b((?:x-)?api[-_]key|authorization)([\"']?\s*[:=]\s*[\"']?)(?!\$\{)(?!\[redacted\])(?!bearer\s)([^\s\"',;}\]]{8,})",
    re.IGNORECASE,
)
_known: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret (an API key from a config) so that :func:`redact` removes it everywhere."""
    if value and len(value) >= 6:
        _known.add(value)


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


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every known secret (and any prefix of one of at least ``MIN_SECRET_PREFIX``
    characters), secret-looking environment value, key-shaped token and credential header replaced."""
    for secret in sorted({*_known, *secrets_in_environment(), *(e for e in extra if e)}, key=len, reverse=True):
        text = _remove(text, secret)
    text = _KEY_SHAPES.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    return _HEADER.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
