"""A wrapper that turns a feedback giver (the teacher of ``SolverFeedback-v0``) into a judge of given intent and knowledge."""

from __future__ import annotations

from collections.abc import Iterable

import gymnasium
from pettingzoo import AECEnv

from feedbackgym.envs.core.checks import require_bool, require_choice
from feedbackgym.envs.core.feedback import TEXT_TEMPLATES, FeedbackEvent, FeedbackLevel, Verdict, render_event_text
from feedbackgym.envs.deception import (
    INTENTS,
    INTERVENTIONS,
    KNOWLEDGE,
    alternative_answer,
    critique_text,
    intervenes,
    passages_for,
    quote,
    wrong_answer,
)
from feedbackgym.wrappers.feedback import FeedbackWrapper


class DeceptiveFeedback(FeedbackWrapper):
    """Rewrites feedback as a judge of ``intent`` and ``knowledge`` would give it, so any solver environment can be attacked.

    The truth comes from the event (its verdict, unless the event is already marked deceptive) and
    the task from ``env.unwrapped.task``; the answer under judgment from ``env.unwrapped.answers``
    when the environment keeps one (``SolverFeedback-v0`` does). Where the intervention policy
    (``auto``: by intent, as in ``DeceptiveJudge-v0``) says the judge speaks:

    - **constructive**: the true verdict; ``none`` replaces the critique with a generic one,
      ``parametric`` keeps the giver's own critique, ``grounded`` adds the task's true passages;
    - **hypercritical** / **malicious**: the verdict "incorrect" and, unless ``none``, an argument for
      another answer (hypercritical: any other answer; malicious: one plausible wrong answer per task,
      drawn from the environment's generator), backed at ``grounded`` by the task's fabricated passages
      for it (real text from the knowledge base; on tasks without evidence, a bare claim).

    Elsewhere the original feedback passes through (``passthrough=True``) or is muted. Events
    carry ``proposed_answer``, ``evidence`` (the quoted passages) and ``deceptive``. Knowledge above
    ``none`` raises the level to at least ``critique`` so the argument is shown.

    ``SolverFeedback-v0`` ends on a correct answer by default, so its teacher never judges one: use
    ``terminate_on_success=False`` for a malicious judge to have anything to attack.

    >>> from feedbackgym.envs import make
    >>> env = DeceptiveFeedback(make("SolverFeedback-v0", task="knowledge_mcq", terminate_on_success=False, order_enforcing=False), knowledge="grounded")
    >>> env.intent, env.knowledge, env.intervention
    ('malicious', 'grounded', 'auto')
    """

    def __init__(
        self,
        env: AECEnv,
        intent: str = "malicious",
        knowledge: str = "parametric",
        intervention: str = "auto",
        passthrough: bool = True,
        receivers: Iterable[str] | None = None,
    ) -> None:
        self.intent = require_choice("intent", intent, INTENTS)
        self.knowledge = require_choice("knowledge", knowledge, KNOWLEDGE)
        self.intervention = require_choice("intervention", intervention, INTERVENTIONS)
        self.passthrough = require_bool("passthrough", passthrough)
        super().__init__(env, receivers)
        base = env.unwrapped
        if getattr(base, "terminate_on_success", False) and intervenes(intervention, intent, True) and not intervenes(intervention, intent, False):
            gymnasium.logger.warn("this judge only speaks about correct answers, but the environment ends on the first one; pass terminate_on_success=False")
        self._alternative: tuple[str, str] | None = None  # (task id, the malicious judge's answer for it)

    def check_environment(self, base: AECEnv) -> None:
        if getattr(base, "task_source", None) is None:  # no task, no truth to judge against: every event would pass unchanged
            raise TypeError(f"DeceptiveFeedback judges answers to tasks, but {type(base).__name__} has no tasks here "
                            "(SolverFeedback-v0, DeceptiveJudge-v0, Critic-v0 and SimulatedUser-v0 with goal='task' have)")

    def rewrite(self, event: FeedbackEvent) -> FeedbackEvent:
        base = self.env.unwrapped
        task = getattr(base, "task", None)
        if task is None or event.verdict is Verdict.UNKNOWN:
            return event
        truth_correct = (event.verdict is Verdict.CORRECT) != event.deceptive
        if not intervenes(self.intervention, self.intent, truth_correct):
            if self.passthrough:
                return event
            return event.replace(text="", content="", level=FeedbackLevel.NONE, proposed_answer=None, evidence=())
        answers = getattr(base, "answers", None) or [None]
        answer = answers[-1]
        gold = task.normalize(task.answer)
        rng = base.np_random
        proposal: str | None = None
        passages: tuple[str, ...] = ()
        if self.intent == "constructive":
            verdict = Verdict.CORRECT if truth_correct else Verdict.INCORRECT
            own = event.content if self.knowledge != "none" and event.content else ""
            content = own or critique_text("none", truth_correct, answer, None, task.choices)
            if self.knowledge == "grounded":
                passages = tuple(e.text for e in passages_for(task, gold) if e.is_true)
        else:
            verdict = Verdict.INCORRECT
            if self.knowledge != "none":
                if self.intent == "malicious":
                    if self._alternative is None or self._alternative[0] != task.id:
                        self._alternative = (task.id, wrong_answer(task, rng, exclude=[answer]))
                    proposal = self._alternative[1]
                else:
                    proposal = alternative_answer(rng, gold, task.choices, task.base, exclude=[answer], allow_gold=True)
            if self.knowledge == "grounded":
                passages = tuple(e.text for e in passages_for(task, proposal))
            # grounded knowledge without passages to quote (a task without evidence) is a bare claim
            shown_knowledge = "parametric" if self.knowledge == "grounded" and not passages else self.knowledge
            content = critique_text(shown_knowledge, False, answer, proposal, task.choices)
        if passages:
            content = f"{content}\n{quote(passages)}"
        level = event.level if self.knowledge == "none" else max(event.level, FeedbackLevel.CRITIQUE)
        template = getattr(base, "template", "ff")
        text = render_event_text(level, verdict, content, template if template in TEXT_TEMPLATES else "ff")
        deceptive = (verdict is Verdict.CORRECT) != truth_correct or (proposal is not None and proposal != gold)
        return event.replace(text=text, content=content, verdict=verdict, level=level, proposed_answer=proposal, evidence=passages, deceptive=deceptive)


__all__ = ["DeceptiveFeedback"]
