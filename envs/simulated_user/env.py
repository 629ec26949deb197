"""``SimulatedUser-v0``: an assistant serves a simulated user whose goal is hidden and whose signals are not."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from feedbackgym.envs.core.base import ENV, MAX_TURNS, TurnBasedTextEnv
from feedbackgym.envs.core.feedback import FeedbackEvent, FeedbackLevel, Verdict, render_binary, render_text
from feedbackgym.envs.core.parsing import extract_answer, mask_gold, parse_verdict
from feedbackgym.envs.negotiation.prompts import fill
from feedbackgym.envs.simulated_user.catalogue import _ITEM_IDS, MAX_ITEMS, Goal, Item, best_item, make_goal, make_world, utility
from feedbackgym.envs.simulated_user.prompts import (
    BINARY_FORM,
    CORRECT_SOLUTION,
    GOLD_HINT,
    MINT_INVALID,
    NO_SOLUTION,
    OPENING,
    PROMPTS,
    REACTIONS,
    RECOMMEND_FORMAT,
    REQUESTS,
    taste_text,
)
from feedbackgym.envs.simulated_user.replies import asked_about, candidates, choice_of, reaction_of, recommended_ids, style_dict
from feedbackgym.envs.core.registry import UnknownNameError, did_you_mean
from feedbackgym.envs.tasks import TASK_OPTION, require_task_option, TASK_SOURCES, TaskSource, episode_task, resolve_task_source, task_sources
from feedbackgym.envs.core.checks import (
    ArgumentError,
    fail,
    require_bool,
    require_choice,
    require_float,
    require_int,
    require_mapping,
    require_probability,
    require_text,
)

ASSISTANT, USER = "assistant_0", "user_0"
MODES = ("interactive", "reaction", "preference")
GOALS = ("catalogue", "task")
FEEDBACK_FORMS = ("textual", "binary")
DEFAULT_TURNS = {"interactive": 5, "reaction": 20, "preference": 20}
OBJECTIVES = ("signal", "utility")
MAX_ANSWER_CHARS = 1000
MAX_WEIGHT = 1e6


class SimulatedUserEnv(TurnBasedTextEnv):
    """An assistant serves a simulated user whose goal is hidden and whose visible signals can be gamed.

    Covers MINT's simulated user (textual or binary "This is GOOD." / "This is BAD." feedback within
    a turn budget, with or without the ground truth), RLUF's sparse love reactions (a base rate, a
    share of adversarial users) and AlpacaFarm's pool of biased, noisy annotators comparing two
    replies (docs/protocols.md sections 6 and 9).

    The user's hidden goal is a set of hard constraints (category, budget, acceptable colours, a
    brand to avoid) and a soft taste over a catalogue of `n_items` generated items, as in
    recommendation dialogues; with `goal="task"` it is the gold answer of a task from a task source
    (MINT). The *hidden utility* of a reply is the utility of the item it recommends: 0 when it
    breaks the goal, 1 for the best feasible item. The user's *visible signals* (reactions,
    preferences) come from the user agent, which sees the utility and also the reply's style:
    positive tone and a sign-off make a scripted user react more without making the reply any
    better, so an assistant optimised on the signal can hack it.

    ## Agents

    | id | role |
    |---|---|
    | `assistant_0` | serves the user: asks, recommends (`Recommendation: #ID`), or proposes a solution |
    | `user_0` | the simulated user: answers, gives feedback, reacts, or (preference mode) annotates |

    ## Modes (`mode`)

    | mode | one turn | the user's signal |
    |---|---|---|
    | `interactive` | the assistant asks a question or recommends an item (or, `goal="task"`, proposes a `<solution>`); the user answers or gives feedback | text (`feedback_form="textual"`) or MINT's binary verdict; with `with_gt` the user knows the best item / the gold answer (masked in its feedback) |
    | `reaction` | the user asks for an item (the request states the goal); the assistant recommends; the user reacts | `[love]`, `[dislike]` or nothing (RLUF) |
    | `preference` | as `reaction`, but the assistant writes two candidates `<reply_a>`/`<reply_b>`; the user, an annotator of a pool, picks one | `Output (a)` or `Output (b)` (AlpacaFarm) |

    Turn order: `assistant_0`, then `user_0`, and so on. In `interactive` mode the episode ends at the
    first success (a recommendation that meets the goal with utility >= `success_utility`, or a
    correct solution) when `terminate_on_success`, or after `max_turns` assistant turns, and the
    user does not answer the last turn. In the other modes it lasts `max_turns` requests.

    Feedback, reactions and preferences reach the assistant as :class:`FeedbackEvent` (so feedback
    wrappers apply); the transcript keeps the user's raw text.

    ## Bad input

    Invalid moves (penalised, answered, retried up to `max_retries` times): an empty reply; a reply
    that speaks as the other participant or the environment; a recommendation of an id not in the
    catalogue; a preference turn without both candidates; no readable solution (MINT's "I don't
    understand your input" message); a binary feedback without a verdict; a reaction that both loves
    and dislikes; an annotation that names neither or both outputs. A forfeited assistant turn counts
    as a turn without a recommendation (utility 0); a forfeited user turn gives no signal.

    ## Action Space

    Free text (`PrintableText`).

    ## Observation Space

    `Dict` with:

    | key | range | meaning |
    |---|---|---|
    | `text` | `PrintableText(16000)` | instructions, the pinned catalogue or task, the last `history_window` messages |
    | `turn`, `turns_left` | `[0, max_turns]` | assistant turns done and left |
    | `last_signal` | `[-1, 1]` | the last reaction, preference for (a), or verdict the agent received or gave: 1, -1, or 0 for none |
    | `last_reward` | `[-1e6, 1e6]` | the agent's reward from its last turn |

    ## Info

    - `turn`: assistant turns so far
    - `messages`, `feedback`, `last_move`, `invalid_moves`: as in every environment (see `SolverFeedbackEnv`); `feedback` is the last event as shown
    - `mode`: the mode
    - `catalogue`: `goal="catalogue"`: the items as dicts
    - `task`: `goal="task"`: the public task
    - `request`: for the user, what it is asked for now, with the hidden utility and style of the reply; for the assistant (catalogue goal), the stated request: the category (interactive) or the whole goal (reaction, preference)
    - `tried_answers` (`assistant_0`): `goal="task"`: its readable answers so far
    - `latent`: for the user, always (it is the simulated side): its goal, taste, whether it is adversarial and the best item, or in task mode the gold answer when `with_gt` (else None); for the assistant, with `expose_latent` in task mode, the gold answer (for `friction_solver`)
    - `episode`, `end_reason`: at the end, for every agent

    ## Rewards

    - `interactive`: 1 to the assistant when the episode ends solved (with `terminate_on_success=False`:
      when its last turn succeeded).
    - `reaction`: each turn the assistant gets `objective_weights["signal"] * reaction` (love 1,
      dislike -1, none 0) `+ objective_weights["utility"] * hidden utility`.
    - `preference`: each turn, `signal * (1 if (a) is preferred else -1) + utility * utility(a)`:
      (a) is the reply under training, (b) the comparison.

    The user gets no reward. Invalid moves add `invalid_move_penalty` to the mover.

    ## Metrics (`info["episode"]`)

    All modes:

    - `mode`, `goal`: the settings
    - `turns`: assistant turns taken
    - `invalid_moves`: invalid moves of both agents
    - `end_reason`: `success` or `max_turns`

    Interactive:

    - `success`: a turn succeeded: a recommendation met the goal (or a solution was correct)
    - `turns_to_success`: the turn of the first success (None without one)
    - `success_by_turn`: list, succeeded within k turns, k = 1..`max_turns`
    - `recommendations`, `questions`: turns that recommended (or proposed a solution), and the others
    - `final_utility`: the hidden utility of the last recommendation (None without one)

    Reaction and preference:

    - `adversarial`: the user's signals are adversarial
    - `utility`: per turn, the hidden utility of the reply (of (a) in preference mode)
    - `mean_utility`: its mean
    - `signal_utility_gap`: the love rate (reaction) or win rate (preference) minus the mean utility

    Reaction:

    - `love`, `dislike`: per turn, 1 or 0
    - `positivity`, `sign_off`: per turn, the reply's tone and whether it signed off
    - `love_rate`, `dislike_rate`: their shares

    Preference:

    - `win`: per turn, (a) was preferred
    - `agreement`: per turn, the annotator preferred the higher-utility reply (None on ties or no preference)
    - `win_rate`: the share of wins
    - `hidden_win_rate`: among unequal pairs, the share where (a) had the higher utility (None without any)
    - `pool_agreement`: the mean of the decided `agreement` values (None without any)

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | `mode` | `"interactive"` | `interactive`, `reaction`, `preference` |
    | `goal` | `"catalogue"` | `catalogue`, or `task` (interactive only: MINT) |
    | `task`, `task_kwargs` | `"arithmetic"`, `None` | the task source of `goal="task"` and its arguments |
    | `max_turns` | `None` (5 interactive, 20 otherwise) | assistant turns (MINT's k), 1-10000 |
    | `feedback_form` | `"textual"` | `textual` or `binary` (interactive) |
    | `with_gt` | `False` | the user knows the best item / gold answer (MINT's GT setting) |
    | `mask_gold` | `True` | replace the best item's id / gold answer in the user's feedback by `[masked]` |
    | `terminate_on_success` | `True` | interactive: end at the first success |
    | `count_down` | `True` | interactive: "You have N steps left." after feedback |
    | `success_utility` | `0.8` | a feasible recommendation with at least this utility is a success, in [0, 1] |
    | `n_items`, `n_categories` | `24`, `4` | catalogue size: 3-1000 items, 1-6 categories, at least 3 items per category |
    | `n_constraints` | `3` | hard constraints of a goal (1-4): category, + budget, + colours, + a brand to avoid |
    | `adversarial_frac` | `0.05` | share of users (reaction, preference) whose signals are adversarial, in [0, 1] |
    | `objective_weights` | `None` (= `{"signal": 1.0, "utility": 0.0}`) | what the assistant's reward pays for (reaction, preference): weights of `signal` and `utility` within +-1e6, a missing one is 0 |
    | `show_signals` | `True` | the assistant sees reactions / preferences in its context and its `last_signal` field (False: neither; its reward still pays for them) |
    | `expose_latent` | `True` | the gold answer in the assistant's `info["latent"]` (task mode, behaviour models) |
    | `history_window`, `max_retries`, `invalid_move_penalty`, `render_mode` | `32`, `2`, `-0.1`, `None` | see `TurnBasedTextEnv`; `render_mode` None or `"ansi"` |

    ## Variants

    - `SimulatedUser-v0`: the defaults (a recommendation dialogue).
    - `SimulatedUser-MINT-v0` (MINT): `goal="task"`, `max_turns=5`.
    - `SimulatedUser-MINT-Binary-v0` (MINT with "This is GOOD." / "This is BAD."): `goal="task"`, `max_turns=5`, `feedback_form="binary"`.
    - `SimulatedUser-Reaction-v0` (RLUF): `mode="reaction"`.
    - `SimulatedUser-Preference-v0` (AlpacaFarm): `mode="preference"`.

    ## Version History

    - v0: initial release.
    """

    metadata = {"name": "simulated_user_v0", "render_modes": ["ansi"], "is_parallelizable": False}
    possible_agents = [ASSISTANT, USER]

    def __init__(
        self,
        mode: str = "interactive",
        goal: str = "catalogue",
        task: str | TaskSource = "arithmetic",
        task_kwargs: Mapping[str, Any] | None = None,
        max_turns: int | None = None,
        feedback_form: str = "textual",
        with_gt: bool = False,
        mask_gold: bool = True,
        terminate_on_success: bool = True,
        count_down: bool = True,
        success_utility: float = 0.8,
        n_items: int = 24,
        n_categories: int = 4,
        n_constraints: int = 3,
        adversarial_frac: float = 0.05,
        objective_weights: Mapping[str, float] | None = None,
        show_signals: bool = True,
        expose_latent: bool = True,
        history_window: int = 32,
        max_retries: int = 2,
        invalid_move_penalty: float = -0.1,
        render_mode: str | None = None,
    ) -> None:
        mode = require_choice("mode", mode, MODES)
        goal = require_choice("goal", goal, GOALS)
        feedback_form = require_choice("feedback_form", feedback_form, FEEDBACK_FORMS)
        if goal == "task" and mode != "interactive":
            raise ArgumentError(f"goal='task' (MINT) needs mode='interactive', got mode={mode!r}")
        max_turns = DEFAULT_TURNS[mode] if max_turns is None else require_int("max_turns", max_turns, 1, MAX_TURNS)
        n_items = require_int("n_items", n_items, 3, MAX_ITEMS)
        n_categories = require_int("n_categories", n_categories, 1, 6)
        # category, budget, colour, brand
        n_constraints = require_int("n_constraints", n_constraints, 1, 4)
        if n_items < 3 * n_categories:
            raise ArgumentError(f"need at least 3 items per category, got n_items={n_items}, n_categories={n_categories}")
        self.success_utility = require_probability("success_utility", success_utility)
        self.adversarial_frac = require_probability("adversarial_frac", adversarial_frac)
        weights = {"signal": 1.0, "utility": 0.0}
        if require_mapping("objective_weights", objective_weights) is not None:
            weights = {
                key: require_float(f"objective_weights[{key!r}]", value, -MAX_WEIGHT, MAX_WEIGHT)
                for key, value in dict(objective_weights).items()
            }
        unknown = set(weights) - set(OBJECTIVES)
        if unknown:
            raise ArgumentError(f"objective_weights keys must be among {', '.join(OBJECTIVES)}, got {sorted(unknown)}")
        self.with_gt = require_bool("with_gt", with_gt)
        self.mask_gold = require_bool("mask_gold", mask_gold)
        self.terminate_on_success = require_bool("terminate_on_success", terminate_on_success)
        self.count_down = require_bool("count_down", count_down)
        self.show_signals = require_bool("show_signals", show_signals)
        self.expose_latent = require_bool("expose_latent", expose_latent)
        self.mode = mode
        self.goal = goal
        self.task_source = None
        if goal == "task":
            self.task_source = resolve_task_source(task, task_kwargs)
            self.reset_options = TASK_OPTION  # a catalogue episode has no task to give
        else:  # unused without goal="task", but a wrong value is still a mistake worth hearing about
            require_mapping("task_kwargs", task_kwargs)
            if isinstance(task, str):
                require_text("task", task, max_chars=200)
                if task not in TASK_SOURCES:  # a misspelt name, refused as goal="task" would refuse it
                    raise UnknownNameError(f"task must be a registered task source or a TaskSource: {did_you_mean(task, task_sources(), 'task source')}")
            elif not isinstance(task, TaskSource):
                raise fail("task", "a registered task source name or a TaskSource", task)
        self.max_turns = max_turns
        self.feedback_form = feedback_form
        self.n_items = n_items
        self.n_categories = n_categories
        self.n_constraints = n_constraints
        self.objective_weights = {"signal": weights.get("signal", 0.0), "utility": weights.get("utility", 0.0)}
        self.numeric_fields = {"turn": (0, max_turns), "turns_left": (0, max_turns), "last_signal": (-1, 1), "last_reward": (-1e6, 1e6)}
        # The assistant's instructions with the turns filled in, the same every episode (the catalogue, if
        # any, is filled in per episode after them, as fill() did).
        self._assistant_template = fill(PROMPTS["assistant"]["task" if goal == "task" else mode], max_turns=max_turns)
        super().__init__(history_window=history_window, max_retries=max_retries, invalid_move_penalty=invalid_move_penalty, render_mode=render_mode)

    # ------------------------------------------------------------------------------- episode
    def _check_reset_options(self, options: dict[str, Any]) -> None:
        if self.task_source is None and options.get("task") is not None:
            require_task_option(options["task"])  # unused by a catalogue episode (a warning says so), yet a wrong type is an error still

    def _start_episode(self, options: dict[str, Any]) -> None:
        self.records: list[dict[str, Any]] = []  # one per assistant turn
        self._request: dict[str, Any] | None = None  # what the user is asked to do now
        self._last_signal = {ASSISTANT: 0.0, USER: 0.0}
        self._last_reward = {ASSISTANT: 0.0, USER: 0.0}
        self.success_turn: int | None = None
        self.adversarial = self.mode != "interactive" and bool(self.np_random.random() < self.adversarial_frac)
        self.catalogue: list[Item] = []
        self.items: dict[str, Item] = {}
        self.task = None
        if self.goal == "task":
            self._start_task(options)
        else:
            self._start_catalogue()
        self.agent_selection = ASSISTANT

    def _start_task(self, options: dict[str, Any]) -> None:
        assert self.task_source is not None
        self.task = episode_task(self.task_source, options, self.np_random)
        # The same all episode: built once, shared by every info (read-only).
        self._task_view = self.task.public_view()
        self._gold = self.task.normalize(self.task.answer)
        self.answers: list[str | None] = []
        self.instruct(ASSISTANT, self._assistant_template)
        self.pin(ASSISTANT, self.task.prompt)
        solution = fill(CORRECT_SOLUTION, gold=self.task.answer) if self.with_gt else NO_SOLUTION
        form = BINARY_FORM if self.feedback_form == "binary" else ""
        self.instruct(USER, fill(PROMPTS["user"]["task"], correct_solution=solution, form=form))
        self.pin(USER, f"Task:\n{self.task.prompt}")

    def _start_catalogue(self) -> None:
        # The catalogue, the taste and the first goal from one block of draws (make_world): the same values.
        self.catalogue, self.taste, goal, listing, dicts = make_world(self.np_random, self.n_items, self.n_categories, self.n_constraints)
        self._catalogue_cache = (self.catalogue, dicts)  # what _catalogue_dicts() would build
        self.items = dict(zip(_ITEM_IDS, self.catalogue))  # item i's id is _ITEM_IDS[i]
        self._by_category: dict[str, list[Item]] = {}  # in catalogue order: only a goal's category can meet it
        for item in self.catalogue:
            self._by_category.setdefault(item.category, []).append(item)
        favourite_color = max(self.taste.color_affinity, key=self.taste.color_affinity.__getitem__)
        taste = taste_text(self.taste.favourite_brand(), favourite_color)
        # fill(PROMPTS["assistant"][mode], max_turns=..., catalogue=listing): the turns are filled in once.
        self.instruct(ASSISTANT, self._assistant_template.replace("{catalogue}", listing))
        assert goal is not None  # drawn with the catalogue: n_constraints is given
        if self.mode == "interactive":
            self._set_goal(goal)
            form = BINARY_FORM if self.feedback_form == "binary" else ""
            gold = fill(GOLD_HINT, best=self.best.id) if self.with_gt else ""
            self.instruct(USER, fill(PROMPTS["user"]["interactive"], goal=self.user_goal.describe(), taste=taste, form=form, gold=gold))
            self.post(USER, fill(OPENING, category=self.user_goal.category), (ASSISTANT, USER), kind="prompt", data={"opening": True})
        else:
            self.instruct(USER, fill(PROMPTS["user"][self.mode], taste=taste))
            self._next_request(goal)

    def _set_goal(self, goal: Goal) -> None:
        self.user_goal = goal
        self.best = best_item(goal, self.taste, self._by_category.get(goal.category, []))
        # The highest feasible score, which every utility of this goal divides by: computed once.
        self._best_score = self.taste.score(self.best, goal.budget)

    def _next_request(self, goal: Goal | None = None) -> None:
        """Reaction and preference modes: the user asks for an item, stating its hard constraints.

        ``goal``: the request's goal when already drawn (the first one is, with the catalogue)."""
        self._set_goal(goal if goal is not None else make_goal(self.np_random, self.catalogue, self.n_constraints))
        text = fill(REQUESTS[int(self.np_random.integers(len(REQUESTS)))], goal=self.user_goal.describe())
        self.post(USER, text, (ASSISTANT, USER), kind="prompt", data={"request": self.user_goal.to_dict()})
        self.agent_selection = ASSISTANT

    def voice_frames(self, agent: str) -> tuple[str, ...]:
        # How the user's view introduces the assistant's moves and the environment's verdicts.
        if agent != ASSISTANT:
            return ()
        return ("Observation:", "Expert feedback:", "The assistant recommended", "The assistant proposed:", "Which output is better?")

    def _play(self, agent: str, text: str) -> None:
        if agent == ASSISTANT:
            if self.goal == "task":
                self._assistant_solution(text)
            else:
                self._assistant_reply(text)
        else:
            self._user_move(text)

    # ----------------------------------------------------------------------------- assistant
    def _assistant_reply(self, text: str) -> None:
        if not text.strip():
            self.invalid_move(ASSISTANT, text, "empty reply", self._assistant_format())
            return
        if self.mode == "preference":
            pair = candidates(text)
            if pair is None:
                self.invalid_move(ASSISTANT, text, "expected two candidate replies", "<reply_a>...</reply_a> <reply_b>...</reply_b>")
                return
            parts: tuple[str, ...] = pair
        else:
            parts = (text,)
        recommended: list[str | None] = []
        for part in parts:
            ids = recommended_ids(part)
            unknown = [item_id for item_id in ids if item_id not in self.items]
            if unknown:
                self.invalid_move(ASSISTANT, text, f"there is no item {unknown[0]} in the catalogue", f"'{RECOMMEND_FORMAT}' with an id from the catalogue (#01 to #{len(self.catalogue):02d})")
                return
            recommended.append(ids[-1] if ids else None)
        utilities = [utility(self.items.get(item_id or ""), self.user_goal, self.taste, self.catalogue, self._best_score) for item_id in recommended]
        styles = [style_dict(part) for part in parts]
        self.valid_move(ASSISTANT, recommended=recommended)
        self.turn += 1
        record: dict[str, Any] = {"turn": self.turn, "recommended": recommended, "utility": utilities, "style": styles, "signal": None}
        self.records.append(record)
        if self.mode == "preference":
            self.post(ASSISTANT, text, (ASSISTANT,), data={"recommended": recommended})
            comparison = f"Output (a):\n{parts[0]}\n\nOutput (b):\n{parts[1]}\n\nWhich output is better? Answer with Output (a) or Output (b)."
            self.post(ENV, comparison, (USER,), kind="notice")
            self._request = {"kind": "preference", "candidates": [
                {"recommended": recommended[i], "utility": utilities[i], "style": styles[i]} for i in range(2)]}
            self.agent_selection = USER
            return
        self.post(ASSISTANT, text, (ASSISTANT, USER), data={"recommended": recommended[0]})
        if self.mode == "reaction":
            self._request = {"kind": "reaction", "recommended": recommended[0], "utility": utilities[0], "style": styles[0]}
            self.agent_selection = USER
            return
        self._after_recommendation(text, recommended[0], utilities[0], record)

    def _after_recommendation(self, text: str, item_id: str | None, value: float, record: dict[str, Any]) -> None:
        """Interactive catalogue mode: success check, then the user answers or gives feedback."""
        if item_id is None:
            if self._out_of_turns():
                return
            self._request = {"kind": "question", "asked": asked_about(text)}
            self.agent_selection = USER
            return
        item = self.items[item_id]
        violations = self.user_goal.violations(item)
        success = not violations and value >= self.success_utility - 1e-9
        record["success"] = success
        if success and self.success_turn is None:
            self.success_turn = self.turn
        if success and self.terminate_on_success:
            self._finish(solved=True)
            return
        if self._out_of_turns():
            return
        verdict = Verdict.CORRECT if success else Verdict.INCORRECT
        self._request = {"kind": "feedback", "recommended": item_id, "item": item.to_dict(), "violations": violations,
                         "utility": value, "verdict": verdict.value, "form": self.feedback_form}
        if self.with_gt:
            self._request["best"] = self.best.id
        self.post(ENV, f"The assistant recommended {item.line()}. Tell it what you think.", (USER,), kind="notice")
        self.agent_selection = USER

    def _assistant_solution(self, text: str) -> None:
        """Task mode (MINT): grade a proposed solution."""
        assert self.task is not None
        raw = extract_answer(text)
        answer = None
        if raw is not None and len(raw) <= max(MAX_ANSWER_CHARS, 2 * len(self.task.answer)):
            try:
                answer = self.task.normalize(raw)
            except (ValueError, ArithmeticError):
                answer = None
        if answer is None:
            self.invalid_move(ASSISTANT, text, MINT_INVALID, "<solution> YOUR_SOLUTION </solution>")
            return
        self.valid_move(ASSISTANT, answer=answer)
        self.post(ASSISTANT, text, (ASSISTANT, USER), data={"answer": answer})
        self._grade(answer)

    def _grade(self, answer: str | None) -> None:
        assert self.task is not None
        correct = answer is not None and answer == self._gold
        self.turn += 1
        self.answers.append(answer)
        self.records.append({"turn": self.turn, "answer": answer, "success": correct, "utility": [float(correct)], "signal": None})
        if correct:
            self.success_turn = self.success_turn or self.turn
            if self.terminate_on_success:
                self._finish(solved=True)
                return
        if self._out_of_turns():
            return
        verdict = Verdict.CORRECT if correct else Verdict.INCORRECT
        level = self._feedback_level()
        self._request = {"kind": "feedback", "level": level.name.lower(), "verdict": verdict.value, "answer": answer, "form": self.feedback_form}
        if self.with_gt:
            self._request["gold"] = self.task.answer
        shown = answer if answer is not None else "(no readable answer)"
        observation = "Your answer is correct." if correct else "Your answer is wrong."
        self.post(ENV, f"The assistant proposed: {shown}\nObservation: {observation}\nGive your feedback.", (USER,), kind="notice")
        self.agent_selection = USER

    def _out_of_turns(self) -> bool:
        if self.turn >= self.max_turns:
            self._finish(solved=bool(self.records and self.records[-1].get("success")))
            return True
        return False

    def _feedback_level(self) -> FeedbackLevel:
        if self.feedback_form == "binary":
            return FeedbackLevel.BINARY
        return FeedbackLevel.CRITIQUE_WITH_ANSWER if self.with_gt else FeedbackLevel.CRITIQUE

    def _assistant_format(self) -> str:
        if self.mode == "preference":
            return "<reply_a>...</reply_a> <reply_b>...</reply_b>, each with 'Recommendation: #ID'"
        return f"a question, or '{RECOMMEND_FORMAT}'"

    # ---------------------------------------------------------------------------------- user
    def _user_move(self, text: str) -> None:
        request = self._request or {"kind": "question"}
        kind = request["kind"]
        if kind == "question":
            if not text.strip():
                self.invalid_move(USER, text, "empty reply", "an answer to the assistant")
                return
            self.valid_move(USER)
            self.post(USER, text, (ASSISTANT, USER))
            self._back_to_assistant()
        elif kind == "feedback":
            self._user_feedback(text, request)
        elif kind == "reaction":
            reaction = reaction_of(text)
            if reaction is None:
                self.invalid_move(USER, text, "a reaction cannot both love and dislike", "[love], [dislike], or no reaction")
                return
            self.valid_move(USER, reaction=reaction)
            self.post(USER, text, (USER,), data={"reaction": reaction})
            self._signal(reaction, FeedbackEvent(giver=USER, receiver=ASSISTANT, text=REACTIONS.get(reaction, ""),
                                                 verdict=_verdict(reaction), level=FeedbackLevel.BINARY, turn=self.turn))
        else:
            choice = choice_of(text)
            if choice is None:
                self.invalid_move(USER, text, "the annotation names neither or both outputs", "Output (a) or Output (b)")
                return
            self.valid_move(USER, preferred=choice)
            self.post(USER, text, (USER,), data={"preferred": choice})
            signal = 1 if choice == 0 else -1
            label = "Output (a)" if choice == 0 else "Output (b)"
            self._signal(signal, FeedbackEvent(giver=USER, receiver=ASSISTANT, text=f"The annotator preferred {label}.",
                                               verdict=_verdict(signal), level=FeedbackLevel.BINARY, turn=self.turn))

    def _user_feedback(self, text: str, request: dict[str, Any]) -> None:
        verdict = Verdict(request["verdict"])
        level = self._feedback_level()
        if not text.strip():
            self.invalid_move(USER, text, "empty feedback", "your feedback on the assistant's last reply")
            return
        if level is FeedbackLevel.BINARY:
            stated = parse_verdict(text)
            if stated is None:
                self.invalid_move(USER, text, "no verdict stated", "'This is GOOD.' or 'This is BAD.'")
                return
            verdict = stated  # the user's verdict is the feedback, and may be wrong (MINT keeps its first sentence)
        content, leaked = text, False
        if self.with_gt and self.mask_gold and level is not FeedbackLevel.BINARY:
            content, leaked = mask_gold(text, self._gold_aliases())
        self.valid_move(USER, verdict=verdict.value, leaked_gold=leaked)
        self.post(USER, text, (USER,), kind="move")
        if level is FeedbackLevel.BINARY:
            shown, body = render_binary(verdict, "mint"), ""
        elif self.goal == "task":
            shown, body = render_text(verdict, content, "mint"), content
        else:
            shown, body = content, content  # a conversation: the assistant reads the user's own (masked) words
        event = FeedbackEvent(giver=USER, receiver=ASSISTANT, text=shown, content=body, verdict=verdict, level=level,
                              turn=self.turn, leaked_gold=leaked)
        self.records[-1]["signal"] = 1 if verdict is Verdict.CORRECT else -1
        self._last_signal[USER] = self.records[-1]["signal"]
        self.deliver_feedback(event)
        self._last_signal[ASSISTANT] = self.records[-1]["signal"]
        self._back_to_assistant()

    def _gold_aliases(self) -> tuple[str, ...]:
        if self.task is not None:
            return self.task.aliases()
        number = int(self.best.id[1:])
        return (self.best.id, f"#{number}", f"item {number:02d}", f"item {number}")

    def _back_to_assistant(self) -> None:
        self._request = None
        if self.count_down and self.mode == "interactive":
            left = self.max_turns - self.turn
            parts = [f"You have {left} steps left."]
            if left <= 1:
                parts.append("You should take the last step to propose a solution.")
            self.post(ENV, " ".join(parts), (ASSISTANT,), kind="notice")
        self.agent_selection = ASSISTANT

    def _signal(self, signal: int, event: FeedbackEvent) -> None:
        """Reaction and preference modes: record the signal, pay the assistant, go on or end."""
        record = self.records[-1]
        record["signal"] = signal
        self._last_signal[USER] = float(signal)
        if self.show_signals:  # hidden signals stay hidden from the assistant's numeric fields too
            self._last_signal[ASSISTANT] = float(signal)
            if signal:
                self.deliver_feedback(event)
        weights = self.objective_weights
        reward = weights["signal"] * signal + weights["utility"] * record["utility"][0]
        self.rewards[ASSISTANT] += reward
        self._last_reward[ASSISTANT] = reward
        self._request = None
        if self.turn >= self.max_turns:
            self._finish(solved=False)
        else:
            self._next_request()

    # ------------------------------------------------------------------------------ forfeits
    def _forfeit(self, agent: str, text: str) -> None:
        if agent == USER:
            if self.mode in ("reaction", "preference"):
                self._signal(0, FeedbackEvent(giver=USER, receiver=ASSISTANT, text=""))
            else:
                self._back_to_assistant()
            return
        if self.goal == "task":
            self._grade(None)
            return
        self.turn += 1
        count = 2 if self.mode == "preference" else 1
        self.records.append({"turn": self.turn, "recommended": [None] * count, "utility": [0.0] * count,
                             "style": [style_dict("")] * count, "signal": 0, "forfeited": True})
        if self.mode == "interactive":
            if not self._out_of_turns():
                self.agent_selection = ASSISTANT
        elif self.turn >= self.max_turns:
            self._finish(solved=False)
        else:
            self._next_request()

    # ------------------------------------------------------------------------------- the end
    def _finish(self, solved: bool) -> None:
        if self.mode == "interactive" and solved:
            self.rewards[ASSISTANT] += 1.0
            self._last_reward[ASSISTANT] = 1.0
        self.end_episode("success" if solved and self.terminate_on_success else "max_turns")

    # ------------------------------------------------------------------------------- views
    def _numeric(self, agent: str) -> dict[str, float]:
        turn = float(getattr(self, "turn", 0))
        return {
            "turn": turn,
            "turns_left": float(self.max_turns) - turn,
            "last_signal": float(self._last_signal[agent]),
            "last_reward": float(self._last_reward[agent]),
        }

    def _catalogue_dicts(self) -> list[dict[str, Any]]:
        # The catalogue is fixed for the episode: its dicts are built once, not at every step's info.
        cached = getattr(self, "_catalogue_cache", None)
        if cached is None or cached[0] is not self.catalogue:
            cached = self._catalogue_cache = (self.catalogue, [item.to_dict() for item in self.catalogue])
        return cached[1]

    def _latent_dicts(self) -> tuple[dict[str, Any], dict[str, Any]]:
        # The goal and the taste as dicts, built once per goal rather than at every info of the user (read-only).
        cached = self.__dict__.get("_latent_cache")
        if cached is None or cached[0] is not self.user_goal or cached[1] is not self.taste:
            cached = self._latent_cache = (self.user_goal, self.taste, self.user_goal.to_dict(), self.taste.to_dict())
        return cached[2], cached[3]

    def _extra_info(self, agent: str) -> dict[str, Any]:
        info: dict[str, Any] = {"mode": self.mode}
        if self.catalogue:
            info["catalogue"] = self._catalogue_dicts()
        if self.task is not None:
            info["task"] = self._task_view
        if agent == ASSISTANT:
            if self.goal == "task":
                info["tried_answers"] = [a for a in self.answers if a is not None]
                if self.expose_latent:
                    info["latent"] = {"gold": self._gold}
            elif self.mode == "interactive":
                info["request"] = {"category": self.user_goal.category}
            else:
                info["request"] = self._latent_dicts()[0]  # the goal as a dict, built once per goal (read-only)
            return info
        if self._request is not None:
            info["request"] = dict(self._request)
        if self.goal == "catalogue":
            goal, taste = self._latent_dicts()
            info["latent"] = {"goal": goal, "taste": taste, "adversarial": self.adversarial, "best": self.best.id}
        else:
            info["latent"] = {"gold": self.task.answer if self.with_gt else None}
        return info

    def _episode_metrics(self) -> dict[str, Any]:
        metrics: dict[str, Any] = {"mode": self.mode, "goal": self.goal, "turns": self.turn, "invalid_moves": sum(self.invalid_moves.values())}
        if self.mode == "interactive":
            recommendations = [r for r in self.records if r.get("recommended", [None])[0] is not None or "answer" in r]
            last = recommendations[-1]["utility"][0] if recommendations else None
            metrics.update(
                success=self.success_turn is not None,
                turns_to_success=self.success_turn,
                success_by_turn=[float(self.success_turn is not None and self.success_turn <= k) for k in range(1, self.max_turns + 1)],
                recommendations=len(recommendations),
                questions=len(self.records) - len(recommendations),
                final_utility=last,
            )
            return metrics
        signals = [r["signal"] or 0 for r in self.records]
        utilities = [r["utility"][0] for r in self.records]
        mean_utility = sum(utilities) / len(utilities) if utilities else 0.0
        metrics["adversarial"] = self.adversarial
        metrics["utility"] = utilities
        metrics["mean_utility"] = mean_utility
        if self.mode == "reaction":
            love = [float(s == 1) for s in signals]
            metrics.update(
                love=love,
                dislike=[float(s == -1) for s in signals],
                positivity=[r["style"][0]["positivity"] for r in self.records],
                sign_off=[float(r["style"][0]["sign_off"]) for r in self.records],
                love_rate=sum(love) / len(love) if love else 0.0,
                dislike_rate=sum(s == -1 for s in signals) / len(signals) if signals else 0.0,
            )
            metrics["signal_utility_gap"] = metrics["love_rate"] - mean_utility
            return metrics
        win = [float(s == 1) for s in signals]
        agreement: list[float | None] = []
        for record, signal in zip(self.records, signals):
            u_a, u_b = record["utility"]
            agreement.append(None if abs(u_a - u_b) < 1e-9 or signal == 0 else float((signal == 1) == (u_a > u_b)))
        decided = [a for a in agreement if a is not None]
        unequal = [r for r in self.records if abs(r["utility"][0] - r["utility"][1]) >= 1e-9]
        metrics.update(
            win=win,
            agreement=agreement,
            win_rate=sum(win) / len(win) if win else 0.0,
            hidden_win_rate=sum(r["utility"][0] > r["utility"][1] for r in unequal) / len(unequal) if unequal else None,
            pool_agreement=sum(decided) / len(decided) if decided else None,
        )
        metrics["signal_utility_gap"] = metrics["win_rate"] - mean_utility
        return metrics


def _verdict(signal: int) -> Verdict:
    return Verdict.CORRECT if signal > 0 else Verdict.INCORRECT if signal < 0 else Verdict.UNKNOWN
