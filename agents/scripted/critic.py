"""Scripted critic and actor for ``Critic-v0`` (docs/protocols.md, section 7)."""

from __future__ import annotations

from typing import Any

from feedbackgym.agents.base import Agent
from feedbackgym.agents.registration import register_agent
from feedbackgym.agents.scripted.streams import LazilySeeded
from feedbackgym.envs.deception import alternative_answer
from feedbackgym.envs.core.checks import require_probability as _probability


# What follows a step's sentence in a critique (Critique-RL's format), by whether the step is marked wrong.
_STEP_VERDICT = {
    False: "\nCorrectness of the step: Correct\nExplanation: This step follows from the previous ones.",
    True: "\nCorrectness of the step: Wrong\nExplanation: This step does not follow; recompute it.",
}


@register_agent("scripted_critic", "critic")
class ScriptedCritic(Agent):
    """A critic with set discriminability and helpfulness, writing Critique-RL's format.

    It says "Correct" about a correct attempt with probability ``tpr`` and "Wrong" about a wrong one
    with probability ``tnr`` (so positives are correct attempts). When it says "Wrong" about a wrong
    attempt it marks the actual first wrong step with probability ``help_quality`` (a critique that
    contains the fix), otherwise another step; a false alarm marks a random step. With probability
    ``p_no_verdict`` it forgets the final verdict line (an unparseable critique). It reads the
    attempt's steps from ``info["request"]`` and the truth from ``info["latent"]``.
    """

    plays = ("Critic/critic",)

    def __init__(self, tpr: float = 0.8, tnr: float = 0.8, help_quality: float = 0.5, p_no_verdict: float = 0.0, seed: int | None = None) -> None:
        super().__init__(seed)
        self.tpr = _probability("tpr", tpr)
        self.tnr = _probability("tnr", tnr)
        self.help_quality = _probability("help_quality", help_quality)
        self.p_no_verdict = _probability("p_no_verdict", p_no_verdict)

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        request = info.get("request") or {}
        latent = info.get("latent") or {}
        steps: list[str] = list(request.get("steps") or ["(the solution)"])
        correct = bool(latent.get("attempt_correct"))
        error_step = latent.get("error_step")
        says_correct = self.np_random.random() < self.tpr if correct else self.np_random.random() >= self.tnr
        flagged = None
        if not says_correct:
            others = [i for i in range(1, len(steps) + 1) if i != error_step] or [len(steps)]
            if not correct and error_step and self.np_random.random() < self.help_quality:
                flagged = int(error_step)
            else:
                flagged = others[int(self.np_random.integers(len(others)))]
        blocks = [f"Step sentence: {step}{_STEP_VERDICT[i == flagged]}" for i, step in enumerate(steps, start=1)]
        if self.np_random.random() < self.p_no_verdict:
            return "\n\n".join(blocks)
        final = "Correct" if says_correct else "Wrong"
        why = "Every step checks out." if says_correct else f"Step {flagged} is wrong, so the final answer is wrong."
        return "\n\n".join([*blocks, f"Correctness of the final answer: {final}\nExplanation: {why}"])


@register_agent("scripted_actor", "actor")
class ScriptedActor(LazilySeeded, Agent):
    """A frozen actor that fixes or breaks its answer after a critique (the source of i->c and c->i).

    After a "Wrong" verdict on a wrong attempt it moves to the gold answer with probability
    ``p_fix_located`` when the critique marked the actual error step and ``p_fix_unlocated``
    otherwise; after a "Wrong" verdict on a correct attempt it breaks it (moves to a wrong answer)
    with probability ``p_break``; after a "Correct" verdict (or no critique) it keeps its answer. It
    reads its attempt from ``info["attempt"]``, the verdict from ``info["critique"]`` and the truth from
    ``info["latent"]``. It draws only after a "Wrong" verdict, so its generator is reseeded when first
    used (:class:`~feedbackgym.agents.scripted.streams.LazilySeeded`).
    """

    plays = ("Critic/actor",)

    def __init__(self, p_fix_located: float = 0.8, p_fix_unlocated: float = 0.2, p_break: float = 0.3, seed: int | None = None) -> None:
        super().__init__(seed)
        self.p_fix_located = _probability("p_fix_located", p_fix_located)
        self.p_fix_unlocated = _probability("p_fix_unlocated", p_fix_unlocated)
        self.p_break = _probability("p_break", p_break)

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        critique = info.get("critique") or {}
        latent = info.get("latent") or {}
        task = info.get("task") or {}
        answer = str((info.get("attempt") or {}).get("answer", ""))
        gold = latent.get("gold")
        if critique.get("verdict") == "wrong":
            if latent.get("attempt_correct"):
                if self.np_random.random() < self.p_break:
                    answer = alternative_answer(self.np_random, gold, task.get("choices") or (), int(task.get("base", 10) or 10), exclude=[answer])
            else:
                p_fix = self.p_fix_located if latent.get("error_located") else self.p_fix_unlocated
                if gold is not None and self.np_random.random() < p_fix:
                    answer = str(gold)
        return f"Let's break it down step by step, strictly following the critique:\n\nI rechecked each step.\nThe answer is [{answer}]."
