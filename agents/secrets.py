"""Keeping API keys out of transcripts, logs, saved configs and error messages."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

REDACTED = "[redacted]"
_SECRET_ENV = re.compile(r"(API_KEY|_TOKEN|_SECRET|ACCESS_KEY|PASSWORD)$", re.IGNORECASE)
# Shapes of common provider keys, caught even when we were never told the value.
_KEY_SHAPES = re.compile(r"\b(sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}|AIza[0-9A-Za-z_\-]{30,}|hf_[A-Za-z0-9]{20,})\b")
_known: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret (an API key from a config) so that :func:`redact` removes it everywhere."""
    if value and len(value) >= 6:
        _known.add(value)


def secrets_in_environment() -> set[str]:
    return {v for k, v in os.environ.items() if _SECRET_ENV.search(k) and v and len(v) >= 6}


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every known secret, secret-looking environment value and key-shaped token replaced."""
    for secret in sorted({*_known, *secrets_in_environment(), *(e for e in extra if e)}, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _KEY_SHAPES.sub(REDACTED, text)
