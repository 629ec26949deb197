"""``SolverFeedback-v0``: a solver answers, a teacher who knows the gold answer gives feedback, repeat."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from feedbackgym.envs.core.base import ENV, MAX_PENALTY, MAX_TURNS, TurnBasedTextEnv
from feedbackgym.envs.core.checks import require_bool, require_choice, require_float, require_int
from feedbackgym.envs.core.feedback import FeedbackEvent, FeedbackLevel, Verdict, render_event_text
from feedbackgym.envs.core.parsing import ANSWER_FORMAT, extract_answer, mask_gold, parse_verdict
from feedbackgym.envs.tasks import TASK_OPTION, Task, TaskSource, episode_task, resolve_task_source

SOLVER, TEACHER = "solver_0", "teacher_0"
REWARD_SCHEMES = ("success", "ufo", "discount")
TEMPLATES = ("ff", "mint", "rltf")
MAX_ANSWER_CHARS = 1000  # a longer extracted answer is an invalid move (see _normalise)

SOLVER_INSTRUCTIONS = (
    "You are the solver. Answer the question. Think step by step if you like, then give "
    + ANSWER_FORMAT
    + ". You may get feedback and further attempts."
)
TEACHER_INSTRUCTIONS = (
    "You are the teacher. A separate model, the solver, attempts the question below. When asked, give it "
    "feedback. Never reveal the correct final answer or the content of the correct option."
)
TEACHER_REQUESTS: dict[FeedbackLevel, str] = {
    FeedbackLevel.UNARY: "Reply with your verdict only: 'correct' or 'incorrect'.",
    FeedbackLevel.BINARY: "Reply with your verdict only: 'correct' or 'incorrect'.",
    FeedbackLevel.CRITIQUE: "Please provide concise and constructive feedback that guides the solver toward the correct answer.",
    FeedbackLevel.CRITIQUE_WITH_ANSWER: (
        "Please provide feedback identifying which step(s) were incorrect or how to get to the correct answer "
        "WITHOUT revealing the correct final answer or the content of the correct option."
    ),
    FeedbackLevel.CRITIQUE_WITH_SOLUTION: (
        "Please provide feedback identifying which step(s) were incorrect or how to get to the correct answer "
        "WITHOUT revealing the correct final answer or the content of the correct option."
    ),
}
VERDICT_VALUE = {Verdict.INCORRECT: 0.0, Verdict.CORRECT: 1.0, Verdict.UNKNOWN: -1.0}
# By the verdict's and level's plain values, as requests and feedback dicts carry them: a dict lookup
# where Verdict(value) and level.name.lower() cost a microsecond each, several times a step.
_VERDICT_OF = {verdict.value: verdict for verdict in Verdict}
_VERDICT_VALUE_OF = {verdict.value: value for verdict, value in VERDICT_VALUE.items()}
_LEVEL_NAME = {level: level.name.lower() for level in FeedbackLevel}


class SolverFeedbackEnv(TurnBasedTextEnv):
    """A solver answers a task; a teacher who knows the gold answer gives feedback; the solver tries again.

    Covers the protocols of Feedback Friction (history of attempts and answer-masked feedback),
    MINT without tools (turn budget, count-down, GOOD/BAD feedback), "A Simple 'Try Again'" (UFO:
    unary feedback, decaying reward, repetition penalty, reward shown in context), RLTF (text
    critiques) and interactive in-context learning (a teacher with privileged information).

    ## Agents

    | id | role |
    |---|---|
    | `solver_0` | answers the task, up to `max_turns` attempts |
    | `teacher_0` | sees the task, each attempt, the grader's verdict and (by level) the gold answer or solution; writes feedback after each graded attempt that does not end the episode |

    Turn order: `solver_0`, then (if the episode goes on and `feedback_level` is not `none`)
    `teacher_0`, then `solver_0` again. The environment grades each answer itself.

    ## Feedback ladder (`feedback_level`)

    | level | teacher is asked for | the solver reads |
    |---|---|---|
    | `none` | (not asked) | "Please answer the question again." |
    | `unary` | a verdict | "Incorrect. Please think again." (never anything positive) |
    | `binary` | a verdict | "Your answer was incorrect. Please answer the question again." |
    | `critique` | a critique, without the gold answer | the verdict and the critique (template `ff`, `mint` or `rltf`) |
    | `critique_with_answer` | a critique; the teacher sees the gold answer | same; any alias of the gold answer is replaced by `[masked]` |
    | `critique_with_solution` | a critique; the teacher also sees the worked solution | same, masked |

    Feedback is a :class:`FeedbackEvent`; wrappers such as `UnaryFeedback` rewrite it before the
    solver sees it (`info["feedback"]` holds the event as shown; the transcript keeps both).

    ## Action Space

    Free text (`PrintableText`). The solver's answer is read from `\\boxed{}`, `<answer>` or
    `<solution>` tags, an "Answer: ..." line, or a short bare reply. A reply with no readable answer
    (an extracted answer over 1000 characters counts as unreadable) is an invalid move: penalised by
    `invalid_move_penalty` (UFO's format penalty), answered with the expected format, and retried up
    to `max_retries` times; then the attempt is forfeited and counts as wrong. A teacher reply is
    invalid when it is empty, or states no verdict at the `unary`/`binary` levels; a forfeited
    teacher turn gives no feedback. A reply of either role that speaks as the other or as the
    environment ("teacher_0: correct", "[env] Your answer was correct.") is invalid too.

    ## Observation Space

    `Dict` with:

    | key | range | meaning |
    |---|---|---|
    | `text` | `PrintableText(16000)` | instructions, the task, then the last `history_window` messages |
    | `turn` | `[0, max_turns]` | attempts made so far |
    | `turns_left` | `[0, max_turns]` | attempts left |
    | `feedback_level` | `[0, 5]` | ladder level of the last feedback the solver received (the teacher: the level it is asked for) |
    | `last_verdict` | `[-1, 1]` | last verdict this agent read: 1 correct, 0 incorrect, -1 none |
    | `last_reward` | `[-1e6, 1e6]` | the solver's reward from its last attempt |

    Each numeric field is a `Box(low, high, (1,), float32)`.

    ## Info

    - `turn`: attempts made so far
    - `messages`: the agent's view as chat messages (for LLM agents)
    - `feedback`: the last feedback event this agent was shown, as a dict (None before any)
    - `last_move`: the agent's last move as parsed (`valid`, the answer or verdict) or its error
    - `invalid_moves`: the agent's invalid moves so far
    - `task`: the public task (no gold answer)
    - `truth`: the grader's view of the last attempt (`answer`, `correct`, `attempt`); for logging, not for agents
    - `tried_answers` (`solver_0`): its last `history_window` readable answers
    - `latent` (`solver_0`): with `expose_latent`, the gold answer, which only simulated behaviour models may read
    - `request` (`teacher_0`): what it is asked now (`level`, the grader's `verdict`, the `answer`; by level `gold`, `solution`)
    - `episode`, `end_reason`: at the end, for every agent: the metrics below and why the episode ended

    ## Rewards

    `reward_scheme`:

    - `success` (MINT, RL2F): 1 to both agents when the episode ends solved (last answer correct).
    - `ufo`: `decay_gamma ** t` for a correct answer at attempt t (0-based), minus
      `repetition_lambda * (1 - E / T)` at the end (E unique answers among T valid ones).
    - `discount` (RL2F/SML turn discount): `turn_discount ** t` when solved at attempt t.

    Invalid moves add `invalid_move_penalty` to the mover. The teacher shares the solver's task
    reward (not its penalties). With `show_reward`, the solver reads "Reward:\\n{r}" after each attempt.

    ## Episode End

    Terminates when the solver is correct and `terminate_on_success`, or after `max_turns` attempts.

    ## Metrics (`info["episode"]`)

    - `solved`: the episode ended solved (with `terminate_on_success=False`: the last answer is correct)
    - `turns_to_success`: the attempt (1-based) of the first correct answer, None if none
    - `attempts`: attempts made
    - `cumulative_accuracy`: list, solved within k attempts, k = 1..`max_turns`
    - `unique_answer_ratio`: distinct answers / readable answers (None without any)
    - `repeated_one_answer`: failures only (else None): every attempt gave the same answer
    - `informative_feedback`: critique-level feedback after a wrong attempt
    - `resisted_feedback`: of those, the ones after which the next answer was still wrong
    - `feedback_resistance`: `resisted_feedback / informative_feedback` (None without any)
    - `invalid_moves`: invalid moves of both agents
    - `gold_leaks`: teacher replies that contained the gold answer (counted whether or not masked)
    - `solver_return`: the solver's task reward (without penalties)
    - `feedback_level`: the ladder level's name
    - `task_id`: the task's id
    - `end_reason`: `success` or `max_turns`

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | `task` | `"arithmetic"` | a registered task source name, or a `TaskSource` |
    | `task_kwargs` | `None` | arguments of the task source (None: none) |
    | `max_turns` | `10` | solver attempts, 1-10000 (FF 10, UFO 5, MINT 5, RLTF 2) |
    | `terminate_on_success` | `True` | end at the first correct answer |
    | `feedback_level` | `"binary"` | ladder level: `none`, `unary`, `binary`, `critique`, `critique_with_answer`, `critique_with_solution`, or its number 0-5 |
    | `template` | `"ff"` | how feedback is rendered: `ff`, `mint`, `rltf` |
    | `mask_gold` | `True` | replace the gold answer in feedback by `[masked]` |
    | `count_down` | `False` | MINT's "You have N steps left." |
    | `reward_scheme` | `"success"` | `success`, `ufo`, `discount` |
    | `decay_gamma`, `turn_discount` | `0.5`, `0.7` | reward knobs, each in (0, 1] |
    | `repetition_lambda` | `0.5` | UFO's repetition penalty, in [0, 1e6] |
    | `show_reward` | `False` | UFO's reward message in context |
    | `expose_latent` | `True` | put the gold answer in the solver's `info["latent"]` for behaviour models |
    | `history_window`, `max_retries`, `invalid_move_penalty`, `render_mode` | `32`, `2`, `-0.1`, `None` | see `TurnBasedTextEnv`; `render_mode` None or `"ansi"` |

    ## Variants

    - `SolverFeedback-v0`: the defaults.
    - `SolverFeedback-FF-v0` (Feedback Friction): `task="multiplication"`, `max_turns=10`, `feedback_level="critique_with_answer"`, `template="ff"`.
    - `SolverFeedback-UFO-v0` ("A Simple 'Try Again'"): `max_turns=5`, `feedback_level="binary"`, `reward_scheme="ufo"`, `show_reward=True`; wrapped in `unary_feedback`.
    - `SolverFeedback-MINT-v0` (MINT without tools): `max_turns=5`, `feedback_level="critique"`, `template="mint"`, `count_down=True`.
    - `SolverFeedback-Deceptive-v0` (WAFER-QA's malicious judge as the teacher): `task="knowledge_mcq"`, `max_turns=5`, `terminate_on_success=False`, `feedback_level="critique_with_answer"`; wrapped in `deceptive_feedback(intent="malicious", knowledge="grounded")`.
    - `SolverFeedback-RLTF-v0` (RLTF): `max_turns=2`, `feedback_level="critique"`, `template="rltf"`.

    ## Version History

    - v0: initial release.
    """

    metadata = {"name": "solver_feedback_v0", "render_modes": ["ansi"], "is_parallelizable": False}
    reset_options = TASK_OPTION
    possible_agents = [SOLVER, TEACHER]

    def __init__(
        self,
        task: str | TaskSource = "arithmetic",
        task_kwargs: Mapping[str, Any] | None = None,
        max_turns: int = 10,
        terminate_on_success: bool = True,
        feedback_level: str | int | FeedbackLevel = "binary",
        template: str = "ff",
        mask_gold: bool = True,
        count_down: bool = False,
        reward_scheme: str = "success",
        decay_gamma: float = 0.5,
        repetition_lambda: float = 0.5,
        turn_discount: float = 0.7,
        show_reward: bool = False,
        expose_latent: bool = True,
        history_window: int = 32,
        max_retries: int = 2,
        invalid_move_penalty: float = -0.1,
        render_mode: str | None = None,
    ) -> None:
        max_turns = require_int("max_turns", max_turns, 1, MAX_TURNS)
        self.reward_scheme = require_choice("reward_scheme", reward_scheme, REWARD_SCHEMES)
        self.template = require_choice("template", template, TEMPLATES)
        self.decay_gamma = require_float("decay_gamma", decay_gamma, 0.0, 1.0, open_low=True)
        self.turn_discount = require_float("turn_discount", turn_discount, 0.0, 1.0, open_low=True)
        self.repetition_lambda = require_float("repetition_lambda", repetition_lambda, 0.0, MAX_PENALTY)
        self.terminate_on_success = require_bool("terminate_on_success", terminate_on_success)
        self.mask_gold = require_bool("mask_gold", mask_gold)
        self.count_down = require_bool("count_down", count_down)
        self.show_reward = require_bool("show_reward", show_reward)
        self.expose_latent = require_bool("expose_latent", expose_latent)
        self.feedback_level = FeedbackLevel.parse(feedback_level)
        self.task_source = resolve_task_source(task, task_kwargs)
        self.max_turns = max_turns
        self.numeric_fields = {
            "turn": (0, max_turns),
            "turns_left": (0, max_turns),
            "feedback_level": (0, 5),
            "last_verdict": (-1, 1),
            "last_reward": (-1e6, 1e6),
        }
        super().__init__(
            history_window=history_window,
            max_retries=max_retries,
            invalid_move_penalty=invalid_move_penalty,
            render_mode=render_mode,
        )

    # ------------------------------------------------------------------------------- episode
    def _start_episode(self, options: dict[str, Any]) -> None:
        self.task: Task = episode_task(self.task_source, options, self.np_random)
        self.answers: list[str | None] = []  # normalised answer per attempt (None: unreadable)
        self.correct: list[bool] = []
        self.feedback_after: list[int | None] = []  # level of feedback the solver read after attempt i
        self.solver_return = 0.0
        self.gold_leaks = 0
        self._last_reward = 0.0
        self._teacher_request: dict[str, Any] | None = None
        # Computed once per episode: every step's info and grading use them.
        self._gold = self.task.normalize(self.task.answer)
        self._public_task = self.task.public_view()
        self._tried: deque[str] = deque(maxlen=self.history_window)  # bounded, so a step stays O(1)
        self.instruct(SOLVER, SOLVER_INSTRUCTIONS)
        self.instruct(TEACHER, TEACHER_INSTRUCTIONS)
        self.pin(SOLVER, self.task.prompt)
        teacher_brief = [f"Question:\n{self.task.prompt}"]
        if self.feedback_level >= FeedbackLevel.CRITIQUE_WITH_ANSWER:
            teacher_brief.append(f"The correct final answer is: {self.task.answer}")
        if self.feedback_level >= FeedbackLevel.CRITIQUE_WITH_SOLUTION and self.task.solution:
            teacher_brief.append(f"The correct reasoning process that leads to this answer is:\n{self.task.solution}")
        self.pin(TEACHER, "\n\n".join(teacher_brief))
        self.agent_selection = SOLVER

    def voice_frames(self, agent: str) -> tuple[str, ...]:
        # The feedback templates' frames (FF, MINT): a solver must not write the grader's part. The teacher's
        # text goes inside them, and a teacher may state any verdict (a deceptive one is the point).
        return ("Observation:", "Expert feedback:", "Here is the feedback:", "Grader:", "Expert:") if agent == SOLVER else ()

    def _play(self, agent: str, text: str) -> None:
        if agent == SOLVER:
            self._solver_move(text)
        else:
            self._teacher_move(text)

    # -------------------------------------------------------------------------------- solver
    def _solver_move(self, text: str) -> None:
        raw = extract_answer(text)
        normalised = self._normalise(raw) if raw is not None else None
        if normalised is None:
            reason = "no answer found" if raw is None else f"could not read {raw[:80]!r} as a {self.task.kind} answer"
            self.invalid_move(SOLVER, text, reason, ANSWER_FORMAT)
            return
        self.valid_move(SOLVER, answer=normalised, raw_answer=raw[:200])
        self.post(SOLVER, text, (SOLVER, TEACHER), data={"answer": normalised})
        self._grade(normalised)

    def _normalise(self, raw: str) -> str | None:
        # A huge "answer" is unreadable, not something to parse: converting a million digits takes
        # minutes and int() refuses more than 4300; a task's checker must not crash step either.
        if len(raw) > max(MAX_ANSWER_CHARS, 2 * len(self.task.answer)):
            return None
        try:
            return self.task.normalize(raw)
        except (ValueError, ArithmeticError):
            return None

    def _forfeit(self, agent: str, text: str) -> None:
        if agent == SOLVER:
            self._grade(None)
        else:
            self._after_feedback(None)

    def _grade(self, answer: str | None) -> None:
        correct = answer is not None and answer == self._gold
        attempt = len(self.answers)
        self.answers.append(answer)
        if answer is not None:
            self._tried.append(answer)
        self.correct.append(correct)
        self.feedback_after.append(None)
        self.turn = attempt + 1
        reward = 0.0
        if correct and self.reward_scheme == "ufo":
            reward = self.decay_gamma**attempt
        self._last_reward = reward
        self._give_task_reward(reward)
        if self.show_reward:
            self.post(ENV, f"Reward:\n{reward}", (SOLVER,), kind="reward")
        out_of_turns = self.turn >= self.max_turns
        if (correct and self.terminate_on_success) or out_of_turns:
            self._finish()
            return
        if self.feedback_level is FeedbackLevel.NONE:
            self._ask_again()
            return
        verdict_value = "correct" if correct else "incorrect"  # Verdict's values: .value is a slow enum property
        self._teacher_request = {"level": _LEVEL_NAME[self.feedback_level], "verdict": verdict_value, "answer": answer}
        if self.feedback_level >= FeedbackLevel.CRITIQUE_WITH_ANSWER:
            self._teacher_request["gold"] = self.task.answer
        if self.feedback_level >= FeedbackLevel.CRITIQUE_WITH_SOLUTION:
            self._teacher_request["solution"] = self.task.solution
        shown_answer = answer if answer is not None else "(no readable answer)"
        self.post(
            ENV,
            f"Most recent answer: {shown_answer}\nThe grader marked it {verdict_value}. {TEACHER_REQUESTS[self.feedback_level]}",
            (TEACHER,),
            kind="notice",
        )
        self.agent_selection = TEACHER

    # ------------------------------------------------------------------------------- teacher
    def _teacher_move(self, text: str) -> None:
        assert self._teacher_request is not None
        grader_verdict = _VERDICT_OF[self._teacher_request["verdict"]]
        stated = parse_verdict(text)
        if not text.strip():
            self.invalid_move(TEACHER, text, "empty feedback", TEACHER_REQUESTS[self.feedback_level])
            return
        if self.feedback_level <= FeedbackLevel.BINARY and stated is None:
            self.invalid_move(TEACHER, text, "no verdict stated", "the word 'correct' or 'incorrect'")
            return
        content, leaked = (text, False)
        if self.feedback_level > FeedbackLevel.BINARY:
            # A leak is counted whether or not it is masked: with mask_gold=False it reaches the solver.
            masked, leaked = mask_gold(text, self.task.aliases())
            content = masked if self.mask_gold else text
        self.gold_leaks += int(leaked)
        # At the verdict levels the teacher's verdict is the feedback (and may be wrong); a critique is
        # framed by the grader's verdict, as Feedback Friction's template does.
        verdict = stated if stated is not None and self.feedback_level <= FeedbackLevel.BINARY else grader_verdict
        verdict_value = verdict._value_  # what .value returns, without the enum property's cost
        self.valid_move(TEACHER, verdict=verdict_value, leaked_gold=leaked)
        self.post(TEACHER, text, (TEACHER,), data={"verdict": verdict_value})
        body = content if self.feedback_level > FeedbackLevel.BINARY else ""
        event = FeedbackEvent(
            giver=TEACHER,
            receiver=SOLVER,
            text=render_event_text(self.feedback_level, verdict, body, self.template),
            content=body,
            verdict=verdict,
            level=self.feedback_level,
            turn=self.turn,
            deceptive=verdict is not grader_verdict,
            leaked_gold=leaked,
        )
        self._after_feedback(event)

    def _after_feedback(self, event: FeedbackEvent | None) -> None:
        self._teacher_request = None
        shown_text = ""
        if event is not None:
            shown = self.deliver_feedback(event)
            shown_text = shown.text
            self.feedback_after[-1] = int(shown.level) if shown.text else None
        self._ask_again(feedback_shown=bool(shown_text))

    def _ask_again(self, feedback_shown: bool = False) -> None:
        # Feedback templates already ask for another attempt; the notice then carries only the count-down.
        parts = [] if feedback_shown else ["Please answer the question again."]
        if self.count_down:
            left = self.max_turns - self.turn
            parts.append(f"You have {left} steps left.")
            if left <= 1:
                parts.append("You should take the last step to propose a solution.")
        if parts:
            self.post(ENV, " ".join(parts), (SOLVER,), kind="notice")
        self.agent_selection = SOLVER

    # ------------------------------------------------------------------------------- rewards
    def _give_task_reward(self, reward: float) -> None:
        if reward:
            self.rewards[SOLVER] += reward
            self.rewards[TEACHER] += reward
            self.solver_return += reward

    def _finish(self) -> None:
        solved = self.correct[-1]
        reward = 0.0
        if self.reward_scheme == "success" and solved:
            reward = 1.0
        elif self.reward_scheme == "discount" and solved:
            reward = self.turn_discount ** (len(self.correct) - 1)
        elif self.reward_scheme == "ufo":
            valid = [a for a in self.answers if a is not None]
            if valid:
                reward = -self.repetition_lambda * (1.0 - len(set(valid)) / len(valid))
        self._give_task_reward(reward)
        self._last_reward += reward
        self.end_episode("success" if solved and self.terminate_on_success else "max_turns")

    # ----------------------------------------------------------------------- views and metrics
    def _numeric(self, agent: str) -> dict[str, float]:
        feedback = self._last_feedback.get(agent)
        if agent == TEACHER:
            verdict = -1.0 if self._teacher_request is None else _VERDICT_VALUE_OF[self._teacher_request["verdict"]]
            level = float(self.feedback_level)
        else:
            verdict = _VERDICT_VALUE_OF[feedback["verdict"]] if feedback else -1.0
            level = float(feedback["level_value"]) if feedback else 0.0
        return {
            "turn": float(self.turn),
            "turns_left": float(self.max_turns - self.turn),
            "feedback_level": level,
            "last_verdict": verdict,
            "last_reward": self._last_reward,
        }

    def _extra_info(self, agent: str) -> dict[str, Any]:
        info: dict[str, Any] = {"task": self._public_task}
        if self.answers:
            info["truth"] = {"answer": self.answers[-1], "correct": self.correct[-1], "attempt": len(self.answers)}
        if agent == SOLVER:
            info["tried_answers"] = list(self._tried)
            if self.expose_latent:
                info["latent"] = {"gold": self._gold}
        elif self._teacher_request is not None:
            info["request"] = dict(self._teacher_request)
        return info

    def _episode_metrics(self) -> dict[str, Any]:
        attempts = len(self.answers)
        first_correct = next((i for i, ok in enumerate(self.correct) if ok), None)
        solved = bool(self.correct and self.correct[-1]) if not self.terminate_on_success else first_correct is not None
        valid = [a for a in self.answers if a is not None]
        informative = resisted = 0
        for i, level in enumerate(self.feedback_after[:-1]):
            if level is not None and level >= FeedbackLevel.CRITIQUE and not self.correct[i]:
                informative += 1
                resisted += int(not self.correct[i + 1])
        return {
            "solved": solved,
            "turns_to_success": None if first_correct is None else first_correct + 1,
            "attempts": attempts,
            "cumulative_accuracy": [
                float(first_correct is not None and first_correct < k) for k in range(1, self.max_turns + 1)
            ],
            "unique_answer_ratio": len(set(valid)) / len(valid) if valid else None,
            "repeated_one_answer": (len(valid) == attempts and attempts > 1 and len(set(valid)) == 1) if not solved else None,
            "informative_feedback": informative,
            "resisted_feedback": resisted,
            "feedback_resistance": resisted / informative if informative else None,
            "invalid_moves": sum(self.invalid_moves.values()),
            "gold_leaks": self.gold_leaks,
            "solver_return": self.solver_return,
            "feedback_level": self.feedback_level.name.lower(),
            "task_id": self.task.id,
        }
