"""Procedural arithmetic: multi-step integer expressions and Feedback Friction's long multiplication."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

import numpy as np

from feedbackgym.envs.core.checks import ArgumentError, shown
from feedbackgym.envs.core.draws import GeneratorDraws, SeededDraws, plain_draws

from ._checks import require_bool, require_int, require_one_of
from .base import FrozenDict, ProceduralTaskSource, Task

# difficulty -> (operations, largest addend, largest factor or divisor)
_LEVELS: dict[int, tuple[int, int, int]] = {
    1: (1, 20, 9),
    2: (2, 50, 12),
    3: (3, 100, 12),
    4: (4, 500, 20),
    5: (5, 1000, 25),
}
_OPERATIONS = "+-*/"
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
_ATOM = 3


def _render(left: str, left_precedence: int, op: str, right: str, right_precedence: int) -> str:
    precedence = _PRECEDENCE[op]
    if left_precedence < precedence:
        left = f"({left})"
    # a - (b + c) and a / (b * c) need brackets even at equal precedence
    if right_precedence < precedence or (right_precedence == precedence and op in "-/"):
        right = f"({right})"
    return f"{left} {op} {right}"


def _apply(a: int, op: str, b: int) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a // b  # only ever called with an exact divisor


def _show(value: int) -> str:
    return f"({value})" if value < 0 else str(value)


class ArithmeticTasks(ProceduralTaskSource):
    """Multi-step integer arithmetic such as "Compute (37 + 18) * 4 - 26.".

    Knobs:
        difficulty: 1..5. Level d uses d operations; operands grow with d (addends up to 20, 50, 100,
            500, 1000; factors and divisors up to 9, 12, 12, 20, 25).
        operations: which of "+", "-", "*", "/" may appear (a string like "+-" or a list). Division is
            only used when it is exact, so it needs at least one other operation to fall back on.
        allow_negative: if False (default) subtraction is arranged so no intermediate result is negative.

    The answer is the exact integer; the solution lists one line per operation in evaluation order.
    ``Task.difficulty`` is the level.
    """

    name = "arithmetic"
    scalar_draws = True

    def __init__(
        self, difficulty: int = 2, operations: str | Iterable[str] = _OPERATIONS, allow_negative: bool = False
    ) -> None:
        self.difficulty = require_int("difficulty", difficulty, 1, 5)
        ok_type = isinstance(operations, str) or (
            isinstance(operations, (list, tuple)) and all(isinstance(op, str) for op in operations)
        )
        chosen = set(operations) if ok_type else set()
        if not chosen or chosen - set(_OPERATIONS):
            raise ArgumentError(f"operations must be a non-empty subset of '+', '-', '*', '/', got {shown(operations)}")
        if chosen == {"/"}:
            raise ArgumentError("operations must include '+', '-' or '*' besides '/': division is used only when exact")
        self.operations = "".join(op for op in _OPERATIONS if op in chosen)
        self.allow_negative = require_bool("allow_negative", allow_negative)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "difficulty": self.difficulty,
            "operations": self.operations,
            "allow_negative": self.allow_negative,
        }

    def _generate(self, rng: np.random.Generator, task_id: str) -> Task:
        # Plain-int draws (SeededDraws from from_seed): the same values as int(rng.integers(...)), without
        # numpy scalars in between.
        draws = plain_draws(rng)
        below, between, uniform = draws.below, draws.between, draws.random
        operations = self.operations
        n_operations, add_max, factor_max = _LEVELS[self.difficulty]
        value = between(1, add_max + 1)
        expression, precedence = str(value), _ATOM
        steps: list[str] = []
        values = [value]
        for _ in range(n_operations):
            # Index draws: Generator.choice on a list costs ~10 us a call, which dominated reset.
            op = operations[below(len(operations))]
            divisors = [d for d in range(2, factor_max + 1) if value and value % d == 0] if op == "/" else []
            if op == "/" and not divisors:
                others = [o for o in operations if o != "/"]
                op = others[below(len(others))]
            number_on_left = uniform() < 0.5 and op != "/"
            if op == "+":
                number = between(1, add_max + 1)
            elif op == "*":
                number = between(2, factor_max + 1)
            elif op == "/":
                number = divisors[below(len(divisors))]
            elif self.allow_negative:
                number = between(1, add_max + 1)
            elif number_on_left or value < 1:
                number_on_left = True
                number = between(value, value + add_max + 1)
            else:
                number = between(1, min(value, add_max) + 1)
            a, b = (number, value) if number_on_left else (value, number)
            result = _apply(a, op, b)
            steps.append(f"Step {len(steps) + 1}: {_show(a)} {op} {_show(b)} = {result}")
            if number_on_left:
                expression = _render(str(number), _ATOM, op, expression, precedence)
            else:
                expression = _render(expression, precedence, op, str(number), _ATOM)
            precedence, value = _PRECEDENCE[op], result
            values.append(value)
        answer = str(value)  # an int's str is already its canonical numeric form
        steps.append(f"Answer: {value}")
        return Task._built(
            id=task_id,
            prompt=f"Compute {expression}.",
            answer=answer,
            kind="numeric",
            choices=(),
            solution="\n".join(steps),
            evidence=(),
            difficulty=float(self.difficulty),
            base=10,
            metadata=FrozenDict({"expression": expression, "n_operations": n_operations, "intermediate_values": tuple(values)}),
            gold=answer,
        )


_DIGITS = "0123456789ABCDEF"


def _to_base(value: int, base: int) -> str:
    return str(value) if base == 10 else f"{value:X}"


class MultiplicationTasks(ProceduralTaskSource):
    """Long multiplication of two ``digits``-digit numbers, as in Feedback Friction.

    Knobs:
        digits: 1..12 digits per operand (the paper uses 5).
        base: 10 (the paper's ``custom_simple`` set) or 16 (its ``hex`` set). Operands, answer and
            solution are all written in this base; hex answers are upper case without "0x".
        operand_digits: "all" (default) draws operands with exactly ``digits`` digits from the whole
            alphabet of the base; "decimal" (base 16 only) draws each digit from 0-9 with leading zeros
            allowed, which is how the paper built its hex set ("decimal-looking" hex numbers).

    The prompt follows the paper's templates. The solution is its scripted decomposition
    ("fixed_feedback"): one partial product per digit of the second operand, least significant first,
    each shifted and added to a running sum, then the total. ``metadata`` holds the operands as ints
    (``a``, ``b``) and as written (``a_text``, ``b_text``). ``Task.difficulty`` is ``digits``.
    """

    name = "multiplication"
    scalar_draws = True

    def __init__(self, digits: int = 5, base: int = 10, operand_digits: str = "all") -> None:
        self.digits = require_int("digits", digits, 1, 12)
        self.base = require_one_of("base", base, (10, 16))
        self.operand_digits = require_one_of("operand_digits", operand_digits, ("all", "decimal"))
        if self.operand_digits == "decimal" and self.base != 16:
            raise ArgumentError("operand_digits='decimal' only applies to base=16; base-10 operands are decimal anyway")
        self.name = "multiplication" if self.base == 10 else "hex_multiplication"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "digits": self.digits, "base": self.base, "operand_digits": self.operand_digits}

    def _operand(self, draws: SeededDraws | GeneratorDraws) -> str:
        if self.operand_digits == "decimal":
            # rng.integers(0, 10, size=digits): the draws of rng.choice(10, size=digits)
            text = "".join([_DIGITS[d] for d in draws.indices(10, self.digits)])
            # an all-zero operand makes a trivial question; redrawing keeps the result a function of rng
            return text if int(text, 16) else self._operand(draws)
        low = self.base ** (self.digits - 1)
        return _to_base(draws.between(low, self.base**self.digits), self.base)

    def _generate(self, rng: np.random.Generator, task_id: str) -> Task:
        draws = plain_draws(rng)
        a_text, b_text = self._operand(draws), self._operand(draws)
        a, b = int(a_text, self.base), int(b_text, self.base)
        show = partial(_to_base, base=self.base)
        lines = [f"Multiplying {a_text} by {b_text} in base {self.base}:"]
        shifted_products, running = [], 0
        for position, digit in enumerate(reversed(b_text)):
            partial_product = a * int(digit, self.base)
            shifted = partial_product * self.base**position
            running += shifted
            shifted_products.append(show(shifted))
            lines.append(
                f"Step {position + 1}: Multiply {a_text} by '{digit}' → Partial product: {show(partial_product)}, "
                f"Shifted: {show(shifted)}, Intermediate Sum: {show(running)}"
            )
        product = show(a * b)
        lines.append(f"Sum of the shifted partial products: {' + '.join(shifted_products)} = {product}")
        lines.append(f"Final Product{' (hex)' if self.base == 16 else ''} = {product}")
        if self.base == 16:
            prompt = (
                "Calculate the following question, where each number is represented in base 16: "
                f"{a_text} * {b_text}."
            )
        else:
            prompt = f"Calculate the following question: {a_text} * {b_text}."
        return Task._built(
            id=task_id,
            prompt=prompt,
            answer=product,
            kind="numeric",
            choices=(),
            solution="\n".join(lines),
            evidence=(),
            difficulty=float(self.digits),
            base=self.base,
            metadata=FrozenDict({"a": a, "b": b, "a_text": a_text, "b_text": b_text, "digits": self.digits, "base": self.base}),
            gold=product,  # a positive product, written without sign, prefix or leading zeros: already canonical
        )
