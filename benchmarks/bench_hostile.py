"""What hostile text costs: escaping, answer parsing, the voice check and whole steps on multi-megabyte replies.

Each figure is CPU seconds (``time.process_time``), the best of ``--reps`` runs. Where the code used
to work per character, the former implementation is kept below as a reference and the ratio printed:

- ``printable``: escaping a reply of ``--mb`` million characters full of controls, bidi overrides or
  lone surrogates (what rendering a transcript and building a view do);
- ``extract_answer``: ``\\boxed{`` followed by ten million ``{``;
- ``speaks_as``: the voice check on replies built to be slow (brackets, line starts, combining marks);
- ``step``: one ``env.step`` of such a reply in a few environments; ``render``: ``render_transcript``.

    python benchmarks/bench_hostile.py
    python benchmarks/bench_hostile.py --mb 10 --reps 3
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from typing import Any

from feedbackgym.envs import make
from feedbackgym.envs.core.parsing import extract_answer
from feedbackgym.envs.core.text import printable
from feedbackgym.envs.core.voice import speaks_as

# ---------------------------------------------------------------- the former implementations
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable_per_character(text: str) -> str:
    """Escaping as it was: a regex callback per control character, then a generator over every character."""
    if text.isprintable() or text.replace("\n", " ").replace("\t", " ").isprintable():
        return text
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    if all(c.isprintable() or c in "\n\t" for c in text):
        return text
    return "".join(c if c.isprintable() or c in "\n\t" else f"\\u{ord(c):04x}" for c in text)


def boxed_per_character(text: str) -> str | None:
    """``\\boxed{}`` as it was read: a Python loop over every character after the box."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, i = 1, start + len("\\boxed{")
    begin = i
    while i < len(text):
        char = text[i]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[begin:i]
        i += 1
    return None


def cpu(function: Callable[..., Any], *args: Any, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        started = time.process_time()
        function(*args)
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=10.0, help="size of the hostile replies, in millions of characters")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--no-reference", action="store_true", help="skip the former implementations (slow)")
    args = parser.parse_args()
    size = int(args.mb * 1_000_000)

    def fill(unit: str) -> str:
        return (unit * (size // len(unit) + 1))[:size]

    rows: list[tuple[str, float, float | None]] = []
    for name, unit in (("controls", "\x00\x1b\x7f"), ("bidi", "\u202e\u2066x"), ("surrogates", "\ud800\udfffa")):
        text = fill(unit)
        now = cpu(printable, text, reps=args.reps)
        before = None if args.no_reference else cpu(printable_per_character, text, reps=1)
        rows.append((f"printable, {args.mb:g}M chars of {name}", now, before))
    braces = "\\boxed{" + "{" * 10_000_000
    rows.append(("extract_answer, \\boxed{ + 10M '{'", cpu(extract_answer, braces, reps=args.reps),
                 None if args.no_reference else cpu(boxed_per_character, braces, reps=1)))
    participants = ["seller_0", "buyer_0", "critic_0"]
    for name, unit in (("ascii", "x"), ("line starts", "\nb"), ("brackets", "[buyer"), ("zero-width", "\u200bx"),
                       ("combining marks", "\u0301\u0316"), ("look-alikes", "\u0412\u0443")):
        rows.append((f"speaks_as, {args.mb:g}M chars of {name}", cpu(speaks_as, fill(unit), "seller_0", participants, reps=args.reps), None))
    for env_id, unit in (("Negotiation-v0", "$1 I accept "), ("SolverFeedback-v0", "\\boxed{"), ("SimulatedUser-Preference-v0", "<reply_a>"),
                         ("Critic-v0", "Correctness of the step: Wrong\n"), ("DeceptiveJudge-v0", "\ud800\u202e{")):
        text = fill(unit)
        env = make(env_id, render_mode="ansi")

        def one_step(env: Any = env, text: str = text) -> None:
            env.reset(seed=0)
            env.step(text)

        rows.append((f"step {env_id}, {args.mb:g}M chars", cpu(one_step, reps=args.reps), None))
        rows.append((f"render {env_id} after it", cpu(env.unwrapped.render_transcript, reps=args.reps), None))

    width = max(len(label) for label, _, _ in rows)
    print(f"{'measure'.ljust(width)}  {'now (s)':>9}  {'before (s)':>10}  {'speed-up':>8}")
    for label, now, before in rows:
        ratio = f"{before / now:8.0f}x" if before is not None and now > 0 else ""
        shown = f"{before:10.3f}" if before is not None else ""
        print(f"{label.ljust(width)}  {now:9.3f}  {shown:>10}  {ratio}")


if __name__ == "__main__":
    main()
