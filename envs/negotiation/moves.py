"""Reading a negotiator's free-text reply: its price, and whether it accepts or walks away.

The environment decides deals from what a reply says about its own speaker only, so the parsing
is deliberately plain: the last ``$X`` (or "X dollars") is the speaker's offer, as in the paper's
``parse_final_price``; an acceptance phrase accepts the *other* side's standing offer; a walk-away
phrase ends the game. Negated phrases ("I can't accept", "no deal below $15") do not count.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_PRICE = re.compile(
    r"(?P<neg>-[ \t]*+)?\$[ \t]*+(?P<neg2>-[ \t]*+)?(?P<num>\d[\d,]*(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    # The lookbehind starts a number only where a digit run starts: without it a long run of digits is
    # rescanned from every digit (quadratic; a 100k-digit reply took a minute).
    r"|(?<![\d,.])(?P<num2>-?\d[\d,]*(?:\.\d+)?)[ \t]*(?:dollars?|bucks|usd)\b",
    re.IGNORECASE,
)
# Possessive blanks (*+) throughout: two optional runs of blanks in a row backtrack quadratically otherwise.
_DOLLAR_WITHOUT_NUMBER = re.compile(r"\$(?![ \t]*+-?[ \t]*+\d)")
_ACCEPT = re.compile(
    r"\b(?:i|we)\s+(?:will\s+|'ll\s+|can\s+|do\s+)?accept\b|\baccepted\b|\bit'?s\s+a\s+deal\b|\b(?:you|we)(?:'ve| have)?\s+(?:got\s+)?a\s+deal\b"
    r"|^[ \t]*deal[ \t]*[.!]*[ \t]*$|\bdeal\s*!|\bagreed\b|(?:^|[.!?]\s+)sold\b|\bi'?ll\s+take\s+it\b|\b(?:i|we)\s+agree\b",
    re.IGNORECASE | re.MULTILINE,
)
_NEGATED = re.compile(
    r"\b(?:not|never|can'?t|cannot|won'?t|don'?t|couldn'?t|wouldn'?t|unable\s+to|no)\s+(?:\w+\s+){0,2}?"
    r"(?:accept|agree|deal|take\s+it|sold)",
    re.IGNORECASE,
)
_WALK_AWAY = re.compile(
    r"\bi(?:'m|\s+am|\s+will|'ll)?\s+walk(?:ing)?\s+away\b|\bwalk\s+away[ \t]*[.!]*[ \t]*$|\bno\s+deal[ \t]*[.!]*[ \t]*$"
    r"|\bi'?m\s+out\b|\bi\s+give\s+up\b|\bend\s+the\s+negotiation\b",
    re.IGNORECASE | re.MULTILINE,
)
_SCAN_CHARS = 20_000  # replies are read from a bounded window, so a megabyte of text costs no more

# Words without which a pattern cannot match, in lower case. On an ASCII reply IGNORECASE is plain
# lower-casing, so a reply holding none of a pattern's words is answered without running it (the
# patterns try every position: a few lines of coaching-style prose took 50 us). Non-ASCII replies
# always take the patterns: re's case folding matches "ſ" to "s" and the Kelvin sign to "k".
# (Substring tests as any(map(text.__contains__, words)): no generator frame, a third of the cost.)
_PRICE_WORDS = ("dollar", "bucks", "usd")  # _PRICE's second branch; its first needs a "$"
_ACCEPT_WORDS = ("accept", "deal", "agree", "sold")  # _ACCEPT's, and the phrases _NEGATED removes; and:
_TAKE_IT = re.compile(r"take\s+it")  # not "take" alone: "Would you take $12?" is a buyer's every offer
_WALK_AWAY_WORDS = ("walk", "deal", "give", "negotiation")  # and "out" after "im"/"i'm", see _may_walk_away


@dataclass(frozen=True)
class Reading:
    """What a reply says about its speaker: the offer (last price), acceptance, walk-away, or a problem."""

    price: float | None = None
    accepts: bool = False
    walks_away: bool = False
    problem: str | None = None  # why the price cannot be read ("negative price", ...)


# Readings of recent short replies, per ``absurd_above``: a scripted negotiator (or an LLM at
# temperature 0) says the same few lines again and again, and parsing one costs 3-5 us. A reading
# is a pure function of the text and the bound, and immutable, so a stored one is as good as new.
_CACHED_CHARS = 500  # longer replies are rare and rarely repeated: parsed every time
_CACHE_SIZE = 4_096  # readings kept per bound (a coached scripted negotiator says some 2,000 different lines over
# a few thousand episodes); the store is emptied when full (at most a few MB per bound)
_CACHED_BOUNDS = 8  # distinct absurd_above values with a store of their own
_readings: dict[float, dict[str, Reading]] = {}


def read_reply(text: str, *, absurd_above: float) -> Reading:
    """Parse one negotiation reply (a short reply read before is answered from a store).

    >>> read_reply("I can do $15.50 for you.", absurd_above=1000).price
    15.5
    >>> read_reply("Deal! I accept your offer.", absurd_above=1000).accepts
    True
    >>> read_reply("I can't accept that, how about $16?", absurd_above=1000)
    Reading(price=16.0, accepts=False, walks_away=False, problem=None)
    >>> read_reply("Fine, -$5 it is.", absurd_above=1000).problem
    'negative price -$5'
    """
    if type(text) is not str or len(text) > _CACHED_CHARS:  # a str subclass may redefine hashing and equality
        return _read(text, absurd_above)
    readings = _readings.get(absurd_above)
    if readings is None:
        if len(_readings) >= _CACHED_BOUNDS:
            _readings.clear()
        readings = _readings[absurd_above] = {}
    reading = readings.get(text)
    if reading is None:
        if len(readings) >= _CACHE_SIZE:
            readings.clear()
        reading = readings[text] = _read(text, absurd_above)
    return reading


def _read(text: str, absurd_above: float) -> Reading:
    window = text if len(text) <= 2 * _SCAN_CHARS else text[:_SCAN_CHARS] + "\n" + text[-_SCAN_CHARS:]
    lower = window.lower() if window.isascii() else None
    if lower is not None and not any(map(lower.__contains__, _PRICE_WORDS)):
        last = _last_dollar_price(window)
    else:
        prices = list(_PRICE.finditer(window))
        last = prices[-1] if prices else None
    price: float | None = None
    problem: str | None = None
    if last is not None:
        price, problem = price_of(last, absurd_above)
    elif "$" in window and _DOLLAR_WITHOUT_NUMBER.search(window):
        problem = "a '$' with no number after it"
    if lower is not None and not any(map(lower.__contains__, _ACCEPT_WORDS)) and not _TAKE_IT.search(lower):
        accepts = False  # and _NEGATED would remove nothing: its phrases end in the same words
    else:
        accepts = bool(_ACCEPT.search(_NEGATED.sub(" ", window)))
    walks_away = _may_walk_away(lower) and bool(_WALK_AWAY.search(window))
    return Reading(price=price, accepts=accepts, walks_away=walks_away, problem=problem)


def price_of(match: re.Match[str], absurd_above: float) -> tuple[float | None, str | None]:
    """The price a match of ``_PRICE`` states, or None and what is wrong with it (unreadable, negative, absurd)."""
    raw = match.group("num") or match.group("num2")
    negative = bool(match.group("neg") or match.group("neg2")) or raw.startswith("-")
    try:
        value = float(raw.replace(",", "").lstrip("-"))
    except ValueError:  # "1,2,3" style digit soup that float() refuses
        value = math.nan
    if not math.isfinite(value):
        return None, f"unreadable price {match.group(0).strip()!r}"
    if negative:
        return None, f"negative price -${_fmt(value)}"
    if value > absurd_above:
        return None, f"absurd price ${_fmt(value)}"
    return value, None


def _last_dollar_price(window: str) -> re.Match[str] | None:
    """The last match of ``_PRICE`` in an ASCII ``window`` without "dollar", "bucks" or "usd".

    Only the first branch of ``_PRICE`` can match such a text, and each of its matches holds exactly
    one "$", starting there or at a "-" just before it (blanks between). A match never covers a later
    "$" or the "-" before it (a number ends at anything but digits, commas, a point and an exponent), so
    a left-to-right scan matches at every "$" where a match can start: the last match is the one at
    the last such "$". Found from the right, in time proportional to the tail after it.
    """
    end = len(window)
    while (dollar := window.rfind("$", 0, end)) >= 0:
        start = dollar
        while start > 0 and window[start - 1] in " \t":
            start -= 1
        start = start - 1 if start > 0 and window[start - 1] == "-" else dollar
        match = _PRICE.match(window, start)
        if match is not None:
            return match
        end = dollar
    return None


def _may_walk_away(lower: str | None) -> bool:
    """False only when ``_WALK_AWAY`` cannot match an ASCII reply (``lower``, its lower case; None: not ASCII)."""
    if lower is None or any(map(lower.__contains__, _WALK_AWAY_WORDS)):
        return True
    return "out" in lower and ("im" in lower or "i'm" in lower)  # "i'm out"


def _fmt(value: float) -> str:
    if value >= 1e9:
        return f"{value:.3g}"
    return f"{value:.0f}" if value.is_integer() else f"{value:.2f}"
