"""``Critic-v0``: a critic judges an actor's first attempt, the actor refines, the environment grades (Critique-RL, RefCritic)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from feedbackgym.envs.core.base import MAX_PENALTY, TurnBasedTextEnv
from feedbackgym.envs.core.feedback import FeedbackEvent, FeedbackLevel, Verdict
from feedbackgym.envs.core.parsing import extract_answer
from feedbackgym.envs.core.text import fill_template, template_parts
from feedbackgym.envs.deception import alternative_answer, answer_label, near_miss, passages_for
from feedbackgym.envs.tasks import TASK_OPTION, ArithmeticTasks, Task, TaskSource, episode_task, resolve_task_source
from feedbackgym.envs.core.checks import (
    ArgumentError,
    ResetOption,
    require_bool,
    require_choice,
    require_float,
    require_probability,
    require_text,
    shown,
)

ACTOR, CRITIC = "actor_0", "critic_0"
REWARD_SCHEMES = ("stage1", "stage2", "refcritic")
RF_MODES = ("r_refine", "r_delta", "r_correct")
VERDICT_REGEX = r"Correctness of the final answer: (Correct|Wrong)"
STEP_REGEX = r"Correctness of the step:\s*\[?(Correct|Wrong)"
_STEP = re.compile(STEP_REGEX)

# Critique-RL's own templates (WooooDyy/Critique-RL, RL/Critique-RL/data/build_data.py), verbatim.
PROMPTS: dict[str, dict[str, str]] = {
    "actor": {
        "inference": "{question} Please also give your final number in the format of 'The answer is [your answer].'",
        "inference_prefix": "Let's break it down step by step:\n\n",
        "refine": (
            "I have made a step-by-step critique for your solution. Please read and understand the critique carefully, "
            "paying attention to each step\u2019s correctness and the explanation provided. Then strictly adhere to the "
            "critique's guidance to provide a new detailed, step-by-step solution, including all reasoning and "
            "intermediate steps. Ensure the new solution aligns with the critique's guidance. Please also give your "
            "final number in the format of 'The answer is [your answer].'\n\n{critique}"
        ),
        # Critique-RL prefills the actor's reply with this; chat APIs cannot, so the request names it.
        "refine_prefix": "Let's break it down step by step, strictly following the critique:\n\n",
        "no_critique": "The critic gave no usable critique. Please check your solution again and give your final answer in the format of 'The answer is [your answer].'",
    },
    "critic": {
        "critique": (
            "Instruction:\nFor a given question, there is a step-by-step solution of which each sentence is a step. The "
            "solution may contain some errors, your task is to check the solution step by step carefully then tell me "
            "whether the solution is correct or wrong. Furthermore, you should repeat each step, state the correctness "
            "of the step, and give a detailed explanation of why this step is correct or wrong. Finally, you should tell "
            "me whether the final answer is correct or wrong.\n\nYour answer format should be:\n\nStep sentence: "
            "[Repeated sentence, ignoring new line break]\nCorrectness of the step: [Correct/Wrong]\nExplanation: [Your "
            "Explanation]\n\nCorrectness of the final answer: [Correct/Wrong]\nExplanation: [Your Explanation]\n\n\n"
            "Question:\n{question}\n\nSolution:\n{solution}"
        ),
    },
}
_FINAL_LINE = re.compile(r"^\s*(?:answer|final (?:answer|product))\b", re.IGNORECASE)
_SHOWN_VERDICT = {"correct": Verdict.CORRECT, "wrong": Verdict.INCORRECT}  # a parsed verdict as the actor's feedback states it
_VERDICT_FEATURE = {"correct": 1.0, "wrong": 0.0}  # the actor's critic_verdict observation (-1: none)


# ------------------------------------------------------------------------------------ rewards
def stage1_reward(verdict_correct: bool) -> float:
    """Critique-RL stage I (discriminability): +1 when the verdict matches the oracle, -1 otherwise or unparsed."""
    return 1.0 if verdict_correct else -1.0


def help_reward(rf_mode: str, before: bool, after: bool) -> float:
    """Critique-RL's refinement reward: ``r_refine`` 1[after]; ``r_delta`` +1 i->c, -1 c->i; ``r_correct`` c->c 0.2, i->c 1."""
    if rf_mode == "r_refine":
        return float(after)
    if rf_mode == "r_delta":
        return float(after) - float(before)
    if rf_mode == "r_correct":
        return (0.2 if after else 0.0) if before else float(after)
    raise ValueError(f"rf_mode must be one of {', '.join(RF_MODES)}, got {rf_mode!r}")


def stage2_reward(verdict_correct: bool, before: bool, after: bool, rf_mode: str = "r_refine", disc_bonus: float = 0.2, disc_penalty: float = -1.0) -> float:
    """Critique-RL stage II: the refinement reward plus ``disc_bonus`` for a correct verdict; ``disc_penalty`` instead for a wrong one."""
    return help_reward(rf_mode, before, after) + disc_bonus if verdict_correct else disc_penalty


def refcritic_reward(verdict_correct: bool, after: bool, judgment_weight: float = 1.0, refine_weight: float = 1.0) -> float:
    """RefCritic's dual reward: the judgment's correctness plus the refinement's (weights: our guess, the sum)."""
    return judgment_weight * float(verdict_correct) + refine_weight * float(after)


# ----------------------------------------------------------------------------------- attempts
@dataclass(frozen=True)
class Attempt:
    """An actor's first attempt: its steps (each a sentence, the last states the answer) and the first wrong step."""

    steps: tuple[str, ...]
    answer: str
    correct: bool
    error_step: int | None  # 1-based; None when correct

    @classmethod
    def _built(cls, steps: tuple[str, ...], answer: str, correct: bool, error_step: int | None) -> Attempt:
        """``Attempt(steps, answer, correct, error_step)`` without the frozen dataclass's per-field
        ``object.__setattr__`` calls (one attempt is made every episode)."""
        attempt = object.__new__(cls)
        attempt.__dict__.update(steps=steps, answer=answer, correct=correct, error_step=error_step)
        return attempt

    @property
    def solution(self) -> str:
        return "\n".join(self.steps)

    @property
    def text(self) -> str:
        return PROMPTS["actor"]["inference_prefix"] + self.solution


def _last_number(line: str, base: int) -> str | None:
    token = line.rstrip(" .").rsplit(" ", 1)[-1].strip(",")
    try:
        int(token, base)
    except ValueError:
        return None
    return token


def make_attempt(task: Task, correct: bool, rng: np.random.Generator) -> Attempt:
    """A first attempt at ``task``: its worked solution, or one with an error introduced at a random step.

    Numeric tasks with a step-by-step solution get a near-miss number at the error step, carried to
    the final answer; choice tasks with evidence cite a true passage (correct) or the fabricated
    passage backing a wrong option (wrong); anything else gets a one-line argument with the error in
    the final step.
    """
    return _make_attempt(task, task.normalize(task.answer), correct, rng)


def _solution_lines(task: Task) -> tuple[list[str], list[str | None]]:
    """The lines of ``task``'s worked solution an attempt repeats (stripped, neither blank nor the final
    answer's line) and each line's last number (None where a line ends in none)."""
    lines = []
    for line in (task.solution or "").splitlines():
        stripped = line.strip()
        if stripped and not _FINAL_LINE.match(line):
            lines.append(stripped)
    base = task.base
    return lines, [_last_number(line, base) for line in lines]


def _arithmetic_solution_lines(task: Task) -> tuple[list[str], list[str | None]]:
    """:func:`_solution_lines` of a task that ``ArithmeticTasks`` generated, without parsing it: its solution
    is one line ``Step k: a op b = v`` per operation (no blank, none padded, each ending in the
    operation's result ``v`` as ``str`` writes it), then ``Answer: v``; its metadata's
    ``intermediate_values`` are the first operand, then every operation's result."""
    lines = (task.solution or "").split("\n")
    lines.pop()  # "Answer: ..."
    return lines, [str(value) for value in task.metadata["intermediate_values"][1:]]


def _make_attempt(
    task: Task,
    normalized_gold: str | None,
    correct: bool,
    rng: np.random.Generator,
    solution_lines: Callable[[Task], tuple[list[str], list[str | None]]] = _solution_lines,
) -> Attempt:
    """:func:`make_attempt` with the task's gold answer already read (``task.normalize(task.answer)``);
    ``solution_lines`` reads the solution's lines (:func:`_solution_lines` or a source's own shortcut)."""
    gold = normalized_gold or task.answer
    # deception.wrong_answer(task, rng), without reading the gold answer again
    answer = gold if correct else alternative_answer(rng, normalized_gold, task.choices, task.base)
    final = f"The answer is {answer_label(answer, task.choices)}."
    if task.kind == "choice":
        backing = next((e for e in passages_for(task, answer) if e.is_true == correct), None)
        if backing is not None:
            return Attempt._built((backing.text, final), answer, correct, None if correct else 1)
        return Attempt._built(("Let me weigh each option against the question.", final), answer, correct, None if correct else 2)
    lines, tokens = solution_lines(task)  # each line's last number, None if it ends in none
    numbered = [i for i, token in enumerate(tokens) if token is not None]
    if not numbered:
        return Attempt._built(("Let me work through the problem.", final), answer, correct, None if correct else 2)
    if correct:
        return Attempt._built((*lines, final), answer, True, None)
    base = task.base
    error = numbered[int(rng.integers(len(numbered)))]
    for i in numbered:
        token: str = tokens[i]  # type: ignore[assignment]
        if i == error:
            replacement = answer if token == gold else near_miss(token, rng, base)
        elif i > error and token == gold:
            replacement = answer
        else:
            continue
        line = lines[i]
        cut = line.rfind(token)
        lines[i] = line[:cut] + replacement + line[cut + len(token) :]
    return Attempt._built((*lines, final), answer, False, error + 1)


class CriticEnv(TurnBasedTextEnv):
    """A critic judges an actor's first attempt; the actor refines with the critique; the environment grades.

    The Critique-RL protocol (two-stage RL for critics: discriminability, then helpfulness with a
    discrimination regulariser) and RefCritic's dual reward. The actor's first attempt comes from a
    pool in which a share `actor_pool_correct_frac` is correct; a wrong attempt has its first error
    at a known step (`error_step`), so the environment can tell whether a critique located it.

    ## Agents

    | id | role |
    |---|---|
    | `critic_0` | reads the question and the attempt; writes a step-by-step critique ending "Correctness of the final answer: Correct" or "... Wrong" |
    | `actor_0` | reads the critique (Critique-RL's refinement prompt) and writes a refined solution, "The answer is [X]." |

    Turn order: `critic_0`, then (if `refine`) `actor_0`. The critique reaches the actor as a
    :class:`FeedbackEvent` (verdict from the critique, level `critique`), so feedback wrappers apply.

    ## Action Space

    Free text. A critique without a verdict matching `verdict_regex` is an invalid move (retried up
    to `max_retries` times; then forfeited: the verdict counts as wrong and the actor refines without
    a critique). A refinement without a readable answer is invalid; forfeited, it counts as wrong.
    A reply that speaks as the other role or the environment ("critic_0: ...", "[env]") is invalid too.

    ## Observation Space

    `Dict` with:

    | key | range | meaning |
    |---|---|---|
    | `text` | `PrintableText(16000)` | instructions, the question, the attempt or the critique |
    | `n_steps` | `[0, 1000]` | steps in the attempt |
    | `correctness_signal` | `[-1e6, 1e6]` | critic only (0 for the actor): +1 correct / -1 wrong plus Gaussian noise of std `signal_noise`, a feature for non-text critics (clipped into its range, which only a `signal_noise` above ~1e5 can reach) |
    | `critic_verdict` | `[-1, 1]` | actor: 1 Correct, 0 Wrong, -1 none (always -1 for the critic) |
    | `flagged_step` | `[0, 1000]` | actor: the first step the critique marks Wrong, 0 none |

    ## Info

    - `turn`: always 0 (one critique, one refinement)
    - `messages`, `feedback`, `last_move`, `invalid_moves`: as in every environment (see `SolverFeedbackEnv`)
    - `task`: the public task
    - `truth`: after the refinement, its answer and whether it is correct (for logging)
    - `request` (`critic_0`): until it has judged, the question, the attempt's steps and answer
    - `attempt` (`actor_0`): its first attempt (steps and answer)
    - `critique` (`actor_0`): when it refines, the parsed verdict and flagged step
    - `latent`: with `expose_latent`, for behaviour models: the gold answer, whether the attempt is correct, its error step and, for the actor, whether the critique located the error
    - `episode`, `end_reason`: at the end, for every agent

    ## Rewards

    At the end the critic gets, by `reward_scheme` (v = the verdict matched the oracle; b, a = the
    attempt and the refinement were correct):

    - `stage1` (Critique-RL discriminability): +1 if v, else -1 (an unparsed verdict is wrong);
    - `stage2` (Critique-RL helpfulness): `help(rf_mode) + disc_bonus` if v, else `disc_penalty`, where
      `help` is `r_refine` = 1[a], `r_delta` = a - b, or `r_correct` = 0.2 for c->c, 1 for i->c, else 0;
    - `refcritic` (RefCritic's dual reward): `judgment_weight * v + refine_weight * a`.

    The actor gets 1[a]. Invalid moves add `invalid_move_penalty`. Every scheme's value is also in
    the metrics, so one run scores a critic under all of them.

    ## Episode End

    After the refinement (or the critique when `refine=False`).

    ## Metrics (`info["episode"]`)

    - `attempt_correct`: the first attempt was correct (accuracy before)
    - `verdict`: "correct", "wrong" or None (unparsed)
    - `verdict_parsed`: a verdict was read
    - `verdict_correct`: the verdict matched the oracle (discrimination accuracy)
    - `true_positive`: correct attempts only (else None): the verdict says Correct; its mean is the TPR
    - `true_negative`: wrong attempts only: the verdict says Wrong; the TNR
    - `error_step`: the wrong attempt's first wrong step (None when correct)
    - `flagged_step`: the first step the critique marks Wrong (None if none)
    - `error_located`: a Wrong verdict on a wrong attempt flagged its error step (None otherwise)
    - `refined_correct`: the refinement is correct (accuracy after; None without one)
    - `delta`: `refined_correct - attempt_correct`
    - `c_to_c`, `c_to_i`, `i_to_c`, `i_to_i`: the transition from attempt to refinement (None without one)
    - `changed`: the refinement's answer differs from the attempt's
    - `reward_stage1`, `reward_stage2`, `reward_refcritic`, `reward_refine_only`: the critic's reward under each scheme (the last: r_refine alone, helpfulness without discrimination)
    - `critic_reward`: the critic's reward under `reward_scheme`
    - `invalid_moves`: invalid moves of both agents
    - `reward_scheme`: the scheme in use
    - `task_id`: the task's id
    - `end_reason`: `graded` (after the refinement) or `critiqued` (`refine=False`)

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | `task`, `task_kwargs` | `"arithmetic"`, `None` | task source and its arguments |
    | `actor_pool_correct_frac` | `0.5` | share of correct first attempts, in [0, 1] |
    | `reward_scheme` | `"stage2"` | `stage1`, `stage2`, `refcritic` |
    | `rf_mode` | `"r_refine"` | `r_refine`, `r_delta`, `r_correct` |
    | `disc_bonus`, `disc_penalty` | `0.2`, `-1.0` | stage II's discrimination terms, within +-1e6 |
    | `judgment_weight`, `refine_weight` | `1.0`, `1.0` | RefCritic's weights, within +-1e6 |
    | `verdict_regex` | `Correctness of the final answer: (Correct\\|Wrong)` | how the verdict is read (last match): one line of up to 1000 characters, with a group capturing Correct or Wrong |
    | `refine` | `True` | let the actor refine (stage I training needs no refinement; False needs `reward_scheme="stage1"`) |
    | `signal_noise` | `1.0` | std of the critic's numeric correctness signal, 0-1e6 |
    | `expose_latent` | `True` | behaviour-model info (`latent`) |
    | `history_window`, `max_retries`, `invalid_move_penalty`, `render_mode` | `32`, `2`, `-0.1`, `None` | see `TurnBasedTextEnv`; `render_mode` None or `"ansi"` |

    `reset(options={"task": Task, "attempt_correct": bool})` fixes the episode's task and attempt (None:
    drawn as usual; `attempt_correct` must be a real bool, and a value of the wrong type is an error).

    ## Variants

    - `Critic-v0`: the defaults.

    ## Version History

    - v0: initial release.
    """

    metadata = {"name": "critic_v0", "render_modes": ["ansi"], "is_parallelizable": False}
    reset_options = {
        **TASK_OPTION,
        # a real bool: bool("false") would be True
        "attempt_correct": ResetOption("true or false, whether the actor's attempt is correct", partial(require_bool, "options['attempt_correct']")),
    }
    possible_agents = [ACTOR, CRITIC]

    def __init__(
        self,
        task: str | TaskSource = "arithmetic",
        task_kwargs: Mapping[str, Any] | None = None,
        actor_pool_correct_frac: float = 0.5,
        reward_scheme: str = "stage2",
        rf_mode: str = "r_refine",
        disc_bonus: float = 0.2,
        disc_penalty: float = -1.0,
        judgment_weight: float = 1.0,
        refine_weight: float = 1.0,
        verdict_regex: str = VERDICT_REGEX,
        refine: bool = True,
        signal_noise: float = 1.0,
        expose_latent: bool = True,
        history_window: int = 32,
        max_retries: int = 2,
        invalid_move_penalty: float = -0.1,
        render_mode: str | None = None,
    ) -> None:
        self.actor_pool_correct_frac = require_probability("actor_pool_correct_frac", actor_pool_correct_frac)
        self.reward_scheme = require_choice("reward_scheme", reward_scheme, REWARD_SCHEMES)
        self.rf_mode = require_choice("rf_mode", rf_mode, RF_MODES)
        self.refine = require_bool("refine", refine)
        if not self.refine and self.reward_scheme != "stage1":
            raise ArgumentError(f"reward_scheme {reward_scheme!r} rewards the refinement; with refine=False use 'stage1'")
        require_text("verdict_regex", verdict_regex, max_chars=1000)
        try:
            self.verdict_pattern = re.compile(verdict_regex)
        except (re.error, RecursionError, OverflowError) as error:
            raise ArgumentError(f"verdict_regex must be a valid regular expression ({error}), got {shown(verdict_regex)}") from None
        if self.verdict_pattern.groups < 1:
            raise ArgumentError(f"verdict_regex needs one group capturing Correct or Wrong, got {shown(verdict_regex)}")
        self.signal_noise = require_float("signal_noise", signal_noise, 0.0, 1e6)
        self.disc_bonus = require_float("disc_bonus", disc_bonus, -MAX_PENALTY, MAX_PENALTY)
        self.disc_penalty = require_float("disc_penalty", disc_penalty, -MAX_PENALTY, MAX_PENALTY)
        self.judgment_weight = require_float("judgment_weight", judgment_weight, -MAX_PENALTY, MAX_PENALTY)
        self.refine_weight = require_float("refine_weight", refine_weight, -MAX_PENALTY, MAX_PENALTY)
        self.expose_latent = require_bool("expose_latent", expose_latent)
        self.task_source = resolve_task_source(task, task_kwargs)
        self.numeric_fields = {"n_steps": (0, 1000), "correctness_signal": (-1e6, 1e6), "critic_verdict": (-1, 1), "flagged_step": (0, 1000)}
        # The prompts' pieces, split once: filling a long template by joining costs less than format().
        self._inference_parts = template_parts(PROMPTS["actor"]["inference"], "question")
        self._critique_parts = template_parts(PROMPTS["critic"]["critique"], "question", "solution")
        self._refine_parts = template_parts(PROMPTS["actor"]["refine"], "critique")
        self._reply_hint = "\n\nBegin your reply with: " + PROMPTS["actor"]["refine_prefix"].strip()
        super().__init__(history_window=history_window, max_retries=max_retries, invalid_move_penalty=invalid_move_penalty, render_mode=render_mode)

    # ------------------------------------------------------------------------------- episode
    def _start_episode(self, options: dict[str, Any]) -> None:
        given = options.get("task")
        self.task: Task = episode_task(self.task_source, options, self.np_random)
        self.gold = self.task.normalize(self.task.answer)  # read once: the attempt's making needs it too
        # The task's public view is the same all episode: built once, shared by every info (read-only).
        self._task_view = self.task.public_view()
        if options.get("attempt_correct") is not None:  # a real bool (checked before the reset began)
            correct = bool(options["attempt_correct"])
        else:
            correct = bool(self.np_random.random() < self.actor_pool_correct_frac)
        # A task ArithmeticTasks itself drew (not one passed in, not a subclass's) has its solution's numbers in its metadata.
        sampled_arithmetic = type(self.task_source) is ArithmeticTasks and not isinstance(given, Task)
        lines = _arithmetic_solution_lines if sampled_arithmetic else _solution_lines
        self.attempt = _make_attempt(self.task, self.gold, correct, self.np_random, lines)
        self.signal = (1.0 if correct else -1.0) + float(self.np_random.normal(0.0, self.signal_noise)) if self.signal_noise else (1.0 if correct else -1.0)
        self.verdict: str | None = None  # "correct" | "wrong" | None (no parseable verdict)
        self.flagged_step: int | None = None
        self.refined: str | None = None
        self.refined_correct: bool | None = None
        self._refining = False
        self._final_rewards: dict[str, float | None] | None = None  # scheme_rewards() at the episode's end
        question, solution = self.task.prompt, self.attempt.solution
        self.pin(ACTOR, fill_template(PROMPTS["actor"]["inference"], self._inference_parts, question, question=question))
        self.post(ACTOR, PROMPTS["actor"]["inference_prefix"] + solution, (ACTOR,), data={"answer": self.attempt.answer, "first_attempt": True})
        self.pin(CRITIC, fill_template(PROMPTS["critic"]["critique"], self._critique_parts, question, solution, question=question, solution=solution))
        self.agent_selection = CRITIC

    def _play(self, agent: str, text: str) -> None:
        if agent == CRITIC:
            self._critic_move(text)
        else:
            self._actor_move(text)

    def _forfeit(self, agent: str, text: str) -> None:
        if agent == CRITIC:
            self._after_critique(None, "")
        else:
            self._grade(None)

    # --------------------------------------------------------------------------------- critic
    def _critic_move(self, text: str) -> None:
        verdicts = self.verdict_pattern.findall(text)
        if not verdicts:
            self.invalid_move(
                CRITIC,
                text,
                "no parseable verdict",
                "a critique ending with the line 'Correctness of the final answer: Correct' or 'Correctness of the final answer: Wrong'",
            )
            return
        last = verdicts[-1] if isinstance(verdicts[-1], str) else verdicts[-1][0]
        verdict = "correct" if last.strip().lower() == "correct" else "wrong"
        # Verdicts past the attempt's last step judge no step: they cannot flag one (and flagged_step stays in its Box).
        flagged = None
        for index, step in enumerate(_STEP.findall(text)[: len(self.attempt.steps)]):
            if step.lower() == "wrong":
                flagged = index + 1
                break
        self.valid_move(CRITIC, verdict=verdict, flagged_step=flagged)
        self.post(CRITIC, text, (CRITIC,), data={"verdict": verdict})
        self.flagged_step = flagged
        self._after_critique(verdict, text)

    def _after_critique(self, verdict: str | None, text: str) -> None:
        self.verdict = verdict
        if not self.refine:
            self._finish()
            return
        # Critique-RL shows the actor the critique from its first "Step sentence:" on.
        start = text.find("Step sentence:")
        critique = (text[start:] if start >= 0 else text).strip()
        shown_verdict = _SHOWN_VERDICT.get(verdict or "", Verdict.UNKNOWN)
        truth = Verdict.CORRECT if self.attempt.correct else Verdict.INCORRECT
        body = fill_template(PROMPTS["actor"]["refine"], self._refine_parts, critique, critique=critique) if verdict else PROMPTS["actor"]["no_critique"]
        event = FeedbackEvent(
            giver=CRITIC,
            receiver=ACTOR,
            text=body + self._reply_hint,
            content=critique,
            verdict=shown_verdict,
            level=FeedbackLevel.CRITIQUE,
            turn=self.turn,
            deceptive=shown_verdict is not Verdict.UNKNOWN and shown_verdict is not truth,
        )
        self.deliver_feedback(event)
        self._refining = True
        self.agent_selection = ACTOR

    # ---------------------------------------------------------------------------------- actor
    def _actor_move(self, text: str) -> None:
        raw = extract_answer(text)
        answer = self._read(raw)
        if answer is None:
            self.invalid_move(ACTOR, text, "no answer found" if raw is None else f"could not read {raw[:80]!r} as an answer", "a refined solution ending 'The answer is [your answer].'")
            return
        self.valid_move(ACTOR, answer=answer)
        self.post(ACTOR, text, (ACTOR,), data={"answer": answer})
        self._grade(answer)

    def _read(self, raw: str | None) -> str | None:
        if raw is None or len(raw) > 1000:
            return None
        for candidate in (raw, raw.strip().strip("[]").strip()):
            try:
                answer = self.task.normalize(candidate)
            except (ValueError, ArithmeticError):
                answer = None
            if answer is not None:
                return answer
        return None

    def _grade(self, answer: str | None) -> None:
        self.refined = answer
        self.refined_correct = answer is not None and answer == self.gold
        self._refining = False
        self._finish()

    # ------------------------------------------------------------------------------ rewards
    def scheme_rewards(self) -> dict[str, float | None]:
        """The critic's reward under every scheme for this episode (None where the refinement is missing)."""
        v = self.verdict is not None and (self.verdict == "correct") == self.attempt.correct
        before, after = self.attempt.correct, self.refined_correct
        rewards: dict[str, float | None] = {"stage1": stage1_reward(v), "refine_only": None, "stage2": None, "refcritic": None}
        if after is not None:
            rewards["refine_only"] = help_reward("r_refine", before, after)
            rewards["stage2"] = stage2_reward(v, before, after, self.rf_mode, self.disc_bonus, self.disc_penalty)
            rewards["refcritic"] = refcritic_reward(v, after, self.judgment_weight, self.refine_weight)
        return rewards

    def _finish(self) -> None:
        self._final_rewards = self.scheme_rewards()  # the metrics report them too: computed once
        reward = self._final_rewards[self.reward_scheme]
        self.critic_reward = float(reward or 0.0)
        self.rewards[CRITIC] += self.critic_reward
        if self.refined_correct is not None:
            self.rewards[ACTOR] += float(self.refined_correct)
        self.end_episode("graded" if self.refine else "critiqued")

    # ----------------------------------------------------------------------- views and metrics
    def _numeric(self, agent: str) -> dict[str, float]:
        if agent == CRITIC:
            return {"n_steps": float(len(self.attempt.steps)), "correctness_signal": self.signal, "critic_verdict": -1.0, "flagged_step": 0.0}
        return {
            "n_steps": float(len(self.attempt.steps)),
            "correctness_signal": 0.0,
            "critic_verdict": _VERDICT_FEATURE.get(self.verdict or "", -1.0),
            "flagged_step": float(self.flagged_step or 0),
        }

    def _located(self) -> bool | None:
        if self.attempt.correct or self.verdict != "wrong":
            return None
        return self.flagged_step == self.attempt.error_step

    def _extra_info(self, agent: str) -> dict[str, Any]:
        info: dict[str, Any] = {"task": self._task_view}
        if agent == CRITIC and self.verdict is None and not self.episode_metrics:
            info["request"] = {"question": self.task.prompt, "steps": list(self.attempt.steps), "answer": self.attempt.answer}
        if agent == ACTOR:
            info["attempt"] = {"steps": list(self.attempt.steps), "answer": self.attempt.answer}
            if self._refining:
                # not "request": by convention that key asks for feedback (RandomAgent reads it so)
                info["critique"] = {"verdict": self.verdict, "flagged_step": self.flagged_step}
        if self.refined is not None or self.refined_correct is not None:
            info["truth"] = {"answer": self.refined, "correct": self.refined_correct}
        if self.expose_latent:
            latent: dict[str, Any] = {"gold": self.gold, "attempt_correct": self.attempt.correct, "error_step": self.attempt.error_step}
            if agent == ACTOR:
                latent["error_located"] = self._located()
            info["latent"] = latent
        return info

    def _episode_metrics(self) -> dict[str, Any]:
        before, after = self.attempt.correct, self.refined_correct
        v = self.verdict is not None and (self.verdict == "correct") == before
        rewards = self._final_rewards or self.scheme_rewards()
        refined = after is not None
        return {
            "attempt_correct": before,
            "verdict": self.verdict,
            "verdict_parsed": self.verdict is not None,
            "verdict_correct": v,
            "true_positive": (self.verdict == "correct") if before else None,
            "true_negative": (self.verdict == "wrong") if not before else None,
            "error_step": self.attempt.error_step,
            "flagged_step": self.flagged_step,
            "error_located": self._located(),
            "refined_correct": after,
            "delta": float(after) - float(before) if refined else None,
            "c_to_c": (before and after) if refined else None,
            "c_to_i": (before and not after) if refined else None,
            "i_to_c": (not before and after) if refined else None,
            "i_to_i": (not before and not after) if refined else None,
            "changed": (self.refined != self.attempt.answer) if refined else None,
            "reward_stage1": rewards["stage1"],
            "reward_refine_only": rewards["refine_only"],
            "reward_stage2": rewards["stage2"],
            "reward_refcritic": rewards["refcritic"],
            "critic_reward": self.critic_reward,
            "invalid_moves": sum(self.invalid_moves.values()),
            "reward_scheme": self.reward_scheme,
            "task_id": self.task.id,
        }
