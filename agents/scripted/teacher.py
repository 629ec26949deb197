"""A teacher that gives feedback at any level of the ladder, sometimes wrong, rarely leaking the answer."""

from __future__ import annotations

from typing import Any

from feedbackgym.agents.base import Agent
from feedbackgym.agents.registration import register_agent
from feedbackgym.envs.core.checks import require_probability


@register_agent("scripted_teacher", "teacher")
class ScriptedTeacher(Agent):
    """Feedback from templates, at whatever level the environment asks for (docs/protocols.md, "Scripted behaviour models").

    It reads the request in ``info["request"]`` (level, the grader's verdict, the solver's answer,
    and the gold answer or solution when the level grants them) and writes:

    - at ``unary``/``binary``: the verdict ("Your answer is incorrect."), flipped with probability
      ``p_wrong_feedback``;
    - at ``critique``: a generic critique without the answer;
    - at ``critique_with_answer``: a directed hint (too high or too low, which option to drop); with
      probability ``p_leak`` it states the gold answer outright, which the environment masks;
    - at ``critique_with_solution``: the steps of the worked solution.

    With probability ``p_wrong_feedback`` a critique points the wrong way (misleading feedback).
    """

    plays = ("SolverFeedback/teacher",)

    def __init__(self, p_wrong_feedback: float = 0.0, p_leak: float = 0.003, seed: int | None = None) -> None:
        super().__init__(seed)
        self.p_wrong_feedback = require_probability("p_wrong_feedback", p_wrong_feedback)
        self.p_leak = require_probability("p_leak", p_leak)

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        request = info.get("request") or {"level": "binary", "verdict": "incorrect", "answer": None}
        level, verdict, answer = request["level"], request["verdict"], request.get("answer")
        wrong = self.np_random.random() < self.p_wrong_feedback
        if level in ("unary", "binary"):
            if wrong:
                verdict = "correct" if verdict == "incorrect" else "incorrect"
            return f"Your answer is {verdict}."
        if verdict == "correct" and not wrong:
            return "Your answer is correct. Keep it."
        if wrong:
            return "Your reasoning is sound; the mistake is only in how you wrote the result. Keep the same value."
        if level == "critique":
            return (
                "There is a mistake in your reasoning. Recompute each intermediate result, check every "
                "carry and sign, and make sure you answer exactly what the question asks."
            )
        lines = [self._directed_hint(answer, request.get("gold"), info.get("task", {}))]
        if level == "critique_with_solution" and request.get("solution"):
            lines.append("Follow the correct process step by step:\n" + str(request["solution"]))
        if request.get("gold") is not None and self.np_random.random() < self.p_leak:
            lines.append(f"The correct answer is {request['gold']}.")
        return "\n".join(lines)

    @staticmethod
    def _directed_hint(answer: str | None, gold: str | None, task: dict[str, Any]) -> str:
        if answer is None or gold is None:
            return "Your attempt did not give a readable final answer; state one clearly."
        if task.get("choices"):
            return f"Option ({answer}) is not supported by the facts; eliminate it and re-read the question."
        base = int(task.get("base", 10) or 10)
        try:
            direction = "too large" if int(answer, base) > int(gold, base) else "too small"
        except ValueError:
            return "Your final answer does not match; re-derive it from the question."
        return f"Your result {answer} is {direction}. Recheck the partial results and the carries in the sum."
