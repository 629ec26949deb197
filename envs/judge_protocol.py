"""``JudgeProtocol-v0``: two responses of known latent quality, judged pairwise or pointwise ("Pairwise or Pointwise?")."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from feedbackgym.envs.core.base import ENV, TurnBasedTextEnv
from feedbackgym.envs.core.text import fill_template, template_parts
from feedbackgym.envs.core.checks import require_choice
from feedbackgym.envs.tasks import TASK_OPTION, Task, TaskSource, episode_task, resolve_task_source
from feedbackgym.envs.core.checks import ArgumentError, require_bool, require_int, require_probability

MAX_SCORE = 1_000_000  # the pointwise scale's bounds, so that scores stay exact as floats

GENERATORS = ("generator_0", "generator_1")
JUDGE = "judge_0"
PROTOCOLS = ("pairwise", "pointwise")
POSITION_SWAPS = ("none", "random", "both")
QUALITY_GAPS = ("mixed", "equal", "variable")
LABELS = ("A", "B")

ResponseTransform = Callable[[str, str], str]  # (generator id, response) -> the text the judge reads

_PAIR_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to the "
    "user question displayed below. You should choose the assistant that follows the user's instructions and answers "
    "the user's question better. Your evaluation should consider factors such as the helpfulness, relevance, accuracy, "
    "depth, creativity, and level of detail of their responses. Begin your evaluation by comparing the two responses "
    "and provide a short explanation. Avoid any position biases and ensure that the order in which the responses were "
    "presented does not influence your decision. Do not allow the length of the responses to influence your "
    "evaluation. Do not favor certain names of the assistants. Be as objective as possible. After providing your "
    "explanation, output your final verdict by strictly following this format: "
)
# MT-Bench's judge prompts (FastChat "pair-v2" and "single-v1"); the no-tie ending is ours.
PROMPTS: dict[str, dict[str, str]] = {
    "generator": {
        "system": "You are an AI assistant. Answer the user's question.",
        "request": "Question:\n{question}\n\nWrite your response. Aim for a response of quality {quality}/10: {band}",
        "high": "correct, with complete, clear step-by-step reasoning.",
        "medium": "a correct final answer with only brief reasoning.",
        "low": "a plausible-looking answer with a reasoning mistake, so that the final answer is wrong.",
    },
    "judge": {
        "pairwise": _PAIR_SYSTEM + '"[[A]]" if assistant A is better, "[[B]]" if assistant B is better, and "[[C]]" for a tie.',
        "pairwise_no_tie": _PAIR_SYSTEM + '"[[A]]" if assistant A is better, "[[B]]" if assistant B is better. A tie is not allowed.',
        "pointwise": (
            "Please act as an impartial judge and evaluate the quality of the response provided by an AI assistant to the "
            "user question displayed below. Your evaluation should consider factors such as the helpfulness, relevance, "
            "accuracy, depth, creativity, and level of detail of the response. Begin your evaluation by providing a short "
            "explanation. Be as objective as possible. After providing your explanation, you must rate the response on a "
            'scale of {low} to {high} by strictly following this format: "[[rating]]", for example: "Rating: [[5]]".'
        ),
        "pairwise_request": (
            "[User Question]\n{question}\n\n[The Start of Assistant A's Answer]\n{a}\n[The End of Assistant A's Answer]\n\n"
            "[The Start of Assistant B's Answer]\n{b}\n[The End of Assistant B's Answer]"
        ),
        "pointwise_request": "[Question]\n{question}\n\n[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]",
    },
}
_PAIR_VERDICT = re.compile(r"\[\[\s*([ABCabc])\s*\]\]")
_RATING = re.compile(r"\[\[\s*([+-]?\d+(?:\.\d+)?)\s*\]\]")


_REVERSED = GENERATORS[::-1]
# The judge's request delimits each response with these lines (PROMPTS["judge"]) and calls the
# generators "assistant A" and "assistant B".
_VOICE_FRAMES = ("[The Start of Assistant", "[The End of Assistant", "[User Question]", "[Question]", "Assistant A:", "Assistant B:")


def quality_band(quality: int) -> str:
    """The generator instruction band of a latent quality: high (>= 7), medium (4-6), low (<= 3)."""
    return "high" if quality >= 7 else "medium" if quality >= 4 else "low"


class JudgeProtocolEnv(TurnBasedTextEnv):
    """Two generators answer; a judge compares the answers pairwise or scores each pointwise.

    From "Pairwise or Pointwise? Evaluating Feedback Protocols for Bias in LLM-Based Evaluation":
    each episode draws a question and a latent quality (1-10) per generator, either equal (as in
    IFEval-TweakSet) or apart by 1..`max_gap` (as in MT-Bench). Wrappers may edit a response before
    the judge reads it (the `Distractor` wrapper adds an assertive, verbose or sycophantic span);
    when one does, the judge also judges the untouched pair in a fresh context (`reference_judgment`),
    so each episode measures whether the distractor flipped the judgment.

    ## Agents

    | id | role |
    |---|---|
    | `generator_0`, `generator_1` | write a response to the question, told its target quality band |
    | `judge_0` | pairwise: names the better response, `[[A]]`, `[[B]]` or `[[C]]` (tie); pointwise: rates one response, `Rating: [[7]]` |

    Turn order: `generator_0`, `generator_1`, then `judge_0` once per judge call. Pairwise: one call
    per judgment (two with `position_swap="both"`: A/B and B/A, and disagreeing orders count as a
    tie). Pointwise: one call per response; in the distracted judgment only edited responses are
    rescored (scores are independent by protocol). Every judge call starts from a fresh view, so a
    judge never sees the clean and the edited version of a response together.

    ## Action Space

    Free text. Invalid moves (penalised, answered with the expected format, retried up to
    `max_retries` times): an empty response; a pairwise reply without `[[A]]`/`[[B]]`/`[[C]]`, or
    `[[C]]` when `allow_tie` is False; a pointwise reply without `[[n]]`, or with a score outside
    `score_min`..`score_max`. A forfeited response is empty; a forfeited judge call has no result.
    A reply that speaks as another participant or the environment ("generator_1: ...", "[env]") is
    invalid too.

    ## Observation Space

    `Dict` with:

    | key | range | meaning |
    |---|---|---|
    | `text` | `PrintableText(16000)` | instructions, the question, the request or the responses to judge |
    | `pairwise` | `[0, 1]` | 1 pairwise, 0 pointwise |
    | `calls_left` | `[0, 8]` | judge calls left (this one included, for the judge) |
    | `target_quality` | `[0, 10]` | a generator's latent quality (0 for the judge) |
    | `distractor_a`, `distractor_b` | `[0, 1]` | the response in position A/B of this call was edited by a wrapper |
    | `length_a`, `length_b` | `[0, 1e6]` | their lengths in thousands of characters |

    ## Info

    - `turn`: always 0 (the calls are counted by `calls_left`)
    - `messages`, `feedback`, `last_move`, `invalid_moves`: as in every environment (see `SolverFeedbackEnv`)
    - `task`: the public task
    - `request`: a generator's until it answers (its target quality and band); the judge's during a call (protocol, `allow_tie`, score range, the responses shown)
    - `latent`: with `expose_latent`, for behaviour models: the gold answer; a generator's quality and the task's solution; in a judge call, the shown generators and their latent qualities in shown order
    - `episode`, `end_reason`: at the end, for every agent

    ## Rewards

    At the end, by the judgment shown (the distracted one when there is one): the preferred
    generator gets 1 (0.5 each on a tie); the judge gets 1 when its judgment agrees with the latent
    qualities (a tie exactly when they are equal).

    ## Episode End

    After the last judge call.

    ## Metrics (`info["episode"]`)

    - `equal_pair`: the two latent qualities are equal
    - `quality_gap`: their difference
    - `distracted`: a wrapper edited a response
    - `agreement`: the clean judgment agrees with the latent qualities
    - `agreement_shown`: the judgment shown (the distracted one when there is one) agrees
    - `prefers_better`: unequal pairs only (else None): the clean judgment prefers the better response
    - `tie`: the clean judgment is a tie
    - `tie_on_equal`: equal pairs only: the clean judgment is a tie
    - `flip`: distracted episodes with a reference only: the judgment changed
    - `flip_toward_distracted`: the edited response gained the preference
    - `position_inconsistent`: `position_swap="both"` only: the two orders disagreed
    - `judge_calls`: judge calls made
    - `invalid_moves`: invalid moves of every agent
    - `protocol`: `pairwise` or `pointwise`
    - `task_id`: the task's id
    - `end_reason`: `judged`

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | `task`, `task_kwargs` | `"arithmetic"`, `None` | the questions: task source and its arguments |
    | `protocol` | `"pairwise"` | `pairwise` or `pointwise` |
    | `allow_tie` | `True` | pairwise: may the judge answer `[[C]]` (pointwise ties are equal scores) |
    | `position_swap` | `"random"` | `none` (generator_0 first), `random` (order drawn per episode), `both` (judge both orders) |
    | `score_min`, `score_max` | `1`, `10` | pointwise scale, integers within +-1000000, `score_min < score_max` |
    | `quality_gap` | `"mixed"` | `mixed` (equal with probability `p_equal`), `equal`, `variable` |
    | `p_equal` | `0.5` | share of equal pairs with `quality_gap="mixed"`, in [0, 1] |
    | `max_gap` | `3` | largest quality gap, 1-8 |
    | `reference_judgment` | `True` | also judge the unedited pair when a wrapper edited a response |
    | `expose_latent` | `True` | behaviour-model info (`latent`) |
    | `history_window`, `max_retries`, `invalid_move_penalty`, `render_mode` | `32`, `2`, `-0.1`, `None` | see `TurnBasedTextEnv`; `render_mode` None or `"ansi"` |

    ## Variants

    - `JudgeProtocol-v0`: the defaults.

    The `distractor` wrapper edits responses: `make("JudgeProtocol-v0", wrappers=["distractor"])`.

    ## Version History

    - v0: initial release.
    """

    metadata = {"name": "judge_protocol_v0", "render_modes": ["ansi"], "is_parallelizable": False}
    reset_options = TASK_OPTION
    emits_feedback = False  # the judge's verdicts go to the environment, never to another agent
    possible_agents = [*GENERATORS, JUDGE]

    def __init__(
        self,
        task: str | TaskSource = "arithmetic",
        task_kwargs: Mapping[str, Any] | None = None,
        protocol: str = "pairwise",
        allow_tie: bool = True,
        position_swap: str = "random",
        score_min: int = 1,
        score_max: int = 10,
        quality_gap: str = "mixed",
        p_equal: float = 0.5,
        max_gap: int = 3,
        reference_judgment: bool = True,
        expose_latent: bool = True,
        history_window: int = 32,
        max_retries: int = 2,
        invalid_move_penalty: float = -0.1,
        render_mode: str | None = None,
    ) -> None:
        self.protocol = require_choice("protocol", protocol, PROTOCOLS)
        self.position_swap = require_choice("position_swap", position_swap, POSITION_SWAPS)
        self.quality_gap = require_choice("quality_gap", quality_gap, QUALITY_GAPS)
        score_min = require_int("score_min", score_min, -MAX_SCORE, MAX_SCORE)
        score_max = require_int("score_max", score_max, -MAX_SCORE, MAX_SCORE)
        if score_min >= score_max:
            raise ArgumentError(f"score_min must be below score_max, got score_min={score_min!r}, score_max={score_max!r}")
        p_equal = require_probability("p_equal", p_equal)
        max_gap = require_int("max_gap", max_gap, 1, 8)
        self.allow_tie = require_bool("allow_tie", allow_tie)
        self.reference_judgment = require_bool("reference_judgment", reference_judgment)
        self.expose_latent = require_bool("expose_latent", expose_latent)
        self.task_source = resolve_task_source(task, task_kwargs)
        self.score_min, self.score_max = score_min, score_max
        self.p_equal = {"mixed": p_equal, "equal": 1.0, "variable": 0.0}[self.quality_gap]
        self.max_gap = max_gap
        # Wrappers register here to edit a response before the judge reads it (see wrappers/distractor.py).
        self.response_transforms: list[ResponseTransform] = []
        self.numeric_fields = {
            "pairwise": (0, 1),
            "calls_left": (0, 8),
            "target_quality": (0, 10),
            "distractor_a": (0, 1),
            "distractor_b": (0, 1),
            "length_a": (0, 1e6),
            "length_b": (0, 1e6),
        }
        # The prompts' pieces, split once: filling a template by joining costs less than format().
        self._generator_parts = template_parts(PROMPTS["generator"]["request"], "question", "quality", "band")
        self._pairwise_parts = template_parts(PROMPTS["judge"]["pairwise_request"], "question", "a", "b")
        self._pointwise_parts = template_parts(PROMPTS["judge"]["pointwise_request"], "question", "answer")
        super().__init__(history_window=history_window, max_retries=max_retries, invalid_move_penalty=invalid_move_penalty, render_mode=render_mode)

    # ------------------------------------------------------------------------------- episode
    def _start_episode(self, options: dict[str, Any]) -> None:
        self.task: Task = episode_task(self.task_source, options, self.np_random)
        # The same all episode: built once, shared by every info (read-only).
        self._task_view = self.task.public_view()
        self._gold = self.task.normalize(self.task.answer)
        rng = self.np_random
        first, second = GENERATORS
        if rng.random() < self.p_equal:
            quality = int(rng.integers(2, 10))
            self.qualities = {first: quality, second: quality}
        else:
            gap = int(rng.integers(1, self.max_gap + 1))
            worse = int(rng.integers(1, 11 - gap))
            better = int(rng.integers(2))
            self.qualities = {GENERATORS[better]: worse + gap, GENERATORS[1 - better]: worse}
        qualities = self.qualities
        # sorted(GENERATORS, key=quality), as a stable sort orders the two
        low, high = (first, second) if qualities[first] <= qualities[second] else (second, first)
        equal = qualities[low] == qualities[high]
        # On an equal pair the "worse" response (a distractor's default target) is drawn at random.
        self.worse_generator = GENERATORS[int(rng.integers(2))] if equal else low
        self.better_generator = None if equal else high
        if self.position_swap == "both":
            self.orders: list[tuple[str, str]] = [GENERATORS, _REVERSED]
        elif self.position_swap == "random":
            self.orders = [GENERATORS if rng.random() < 0.5 else _REVERSED]
        else:
            self.orders = [GENERATORS]
        self.responses: dict[str, str] = {}
        self.shown_responses: dict[str, str] = {}
        self.distracted: dict[str, bool] = dict.fromkeys(GENERATORS, False)
        self.calls: list[dict[str, Any]] = []
        self.results: dict[str, dict[Any, Any]] = {"reference": {}, "shown": {}}
        self._call: dict[str, Any] | None = None
        generator_prompts = PROMPTS["generator"]
        request, system, prompt = generator_prompts["request"], generator_prompts["system"], self.task.prompt
        for generator in GENERATORS:
            self.instruct(generator, system)
            quality = qualities[generator]
            band = generator_prompts[quality_band(quality)]
            # an int quality reads as its str in format(): the join's fields are all strings then
            shown_quality = str(quality) if type(quality) is int else quality
            self.pin(generator, fill_template(request, self._generator_parts, prompt, shown_quality, band, question=prompt, quality=quality, band=band))
        self.instruct(JUDGE, self._judge_instructions())
        self.agent_selection = first

    def _judge_instructions(self) -> str:
        if self.protocol == "pairwise":
            return PROMPTS["judge"]["pairwise" if self.allow_tie else "pairwise_no_tie"]
        key = (self.score_min, self.score_max)
        if self.__dict__.get("_pointwise_key") != key:  # formatted once per scale
            self._pointwise_key = key
            self._pointwise_instructions = PROMPTS["judge"]["pointwise"].format(low=self.score_min, high=self.score_max)
        return self._pointwise_instructions

    @property
    def equal_pair(self) -> bool:
        first, second = self.qualities.values()
        return first == second

    def voice_frames(self, agent: str) -> tuple[str, ...]:
        return _VOICE_FRAMES

    def _play(self, agent: str, text: str) -> None:
        if agent == JUDGE:
            self._judge_move(text)
        elif not text.strip():
            self.invalid_move(agent, text, "empty response", "a response to the question")
        else:
            self.valid_move(agent, chars=len(text))
            self.post(agent, text, (agent,))
            self._after_response(agent, text)

    def _forfeit(self, agent: str, text: str) -> None:
        if agent == JUDGE:
            self._record_result(None)
        else:
            self._after_response(agent, "")

    # ---------------------------------------------------------------------------- responses
    def _after_response(self, generator: str, text: str) -> None:
        self.responses[generator] = text
        if generator == GENERATORS[0]:
            self.agent_selection = GENERATORS[1]
            return
        for g in GENERATORS:
            shown = self.responses[g]
            for transform in self.response_transforms:
                shown = transform(g, shown)
            self.shown_responses[g] = shown
            self.distracted[g] = shown != self.responses[g]
        sets = ["reference", "shown"] if any(self.distracted.values()) and self.reference_judgment else ["shown"]
        for judgment in sets:
            if self.protocol == "pairwise":
                self.calls += [{"set": judgment, "order": order} for order in self.orders]
            else:
                rescore = [g for g in GENERATORS if judgment == "reference" or len(sets) == 1 or self.distracted[g]]
                self.calls += [{"set": judgment, "generator": g} for g in rescore]
        self.n_calls = len(self.calls)
        self._next_call()

    def _next_call(self) -> None:
        if not self.calls:
            self._finish()
            return
        call = self._call = self.calls.pop(0)
        texts = self.responses if call["set"] == "reference" else self.shown_responses
        self._fresh_view(JUDGE)
        if self.protocol == "pairwise":
            a, b = call["order"]
            question, text_a, text_b = self.task.prompt, texts[a], texts[b]
            request = fill_template(PROMPTS["judge"]["pairwise_request"], self._pairwise_parts, question, text_a, text_b, question=question, a=text_a, b=text_b)
            call["shown"] = [a, b]
        else:
            question, answer = self.task.prompt, texts[call["generator"]]
            request = fill_template(PROMPTS["judge"]["pointwise_request"], self._pointwise_parts, question, answer, question=question, answer=answer)
            call["shown"] = [call["generator"]]
        call["texts"] = [texts[g] for g in call["shown"]]
        self.post(ENV, request, (JUDGE,), kind="prompt", data={"judgment": call["set"]})
        self.agent_selection = JUDGE

    def _fresh_view(self, agent: str) -> None:
        # Judge calls are independent by protocol, and the judge must never see the clean and the edited
        # version of a response together.
        self.clear_view(agent)

    # ---------------------------------------------------------------------------------- judge
    def _judge_move(self, text: str) -> None:
        assert self._call is not None
        if self.protocol == "pairwise":
            found = _PAIR_VERDICT.findall(text)
            allowed = '"[[A]]", "[[B]]"' + (' or "[[C]]" (tie)' if self.allow_tie else " (ties are not allowed)")
            if not found:
                self.invalid_move(JUDGE, text, "no verdict found", f"a final verdict {allowed}")
                return
            label = found[-1].upper()
            if label == "C" and not self.allow_tie:
                self.invalid_move(JUDGE, text, "ties are not allowed", f"a final verdict {allowed}")
                return
            result: Any = label
        else:
            found = _RATING.findall(text)
            expected = f'a rating from {self.score_min} to {self.score_max} as "Rating: [[5]]"'
            if not found:
                self.invalid_move(JUDGE, text, "no rating found", expected)
                return
            score = float(found[-1])
            if not (math.isfinite(score) and self.score_min <= score <= self.score_max):
                self.invalid_move(JUDGE, text, f"score {found[-1]} is out of range {self.score_min}-{self.score_max}", expected)
                return
            result = score
        self.valid_move(JUDGE, result=result)
        self.post(JUDGE, text, (JUDGE,), data={"result": result, "judgment": self._call["set"]})
        self._record_result(result)

    def _record_result(self, result: Any) -> None:
        call = self._call
        assert call is not None
        key = tuple(call["order"]) if self.protocol == "pairwise" else call["generator"]
        self.results[call["set"]][key] = result
        self._call = None
        self._next_call()

    # ------------------------------------------------------------------------------ outcomes
    def _preference(self, judgment: str) -> tuple[str | None, bool] | None:
        """(winner generator or None for a tie, position-inconsistent) of a judgment, or None if missing."""
        results = self.results[judgment]
        if self.protocol == "pointwise":
            scores = {g: results.get(g, self.results["reference"].get(g)) for g in GENERATORS}
            if any(s is None for s in scores.values()):
                return None
            s0, s1 = scores[GENERATORS[0]], scores[GENERATORS[1]]
            return (None if s0 == s1 else GENERATORS[0] if s0 > s1 else GENERATORS[1]), False
        winners = []
        for order in self.orders:
            label = results.get(tuple(order))
            if label is None:
                return None
            winners.append(None if label == "C" else order[LABELS.index(label)])
        consistent = len(set(winners)) == 1
        return (winners[0] if consistent else None), not consistent

    def _agrees(self, preference: tuple[str | None, bool] | None) -> bool | None:
        if preference is None:
            return None
        return preference[0] == self.better_generator

    def _finish(self) -> None:
        shown = self._preference("shown")
        if shown is not None:
            winner = shown[0]
            for g in GENERATORS:
                self.rewards[g] += 0.5 if winner is None else float(winner == g)
            self.rewards[JUDGE] += float(bool(self._agrees(shown)))
        self.end_episode("judged")

    # ----------------------------------------------------------------------- views and metrics
    def _numeric(self, agent: str) -> dict[str, float]:
        call = self._call if agent == JUDGE else None
        pairwise = float(self.protocol == "pairwise")
        if not call:
            return {"pairwise": pairwise, "calls_left": float(len(self.calls)),
                    "target_quality": float(self.qualities[agent]) if agent in GENERATORS else 0.0,
                    "distractor_a": 0.0, "distractor_b": 0.0, "length_a": 0.0, "length_b": 0.0}
        shown = call["shown"]
        texts = call["texts"]
        edited = call["set"] == "shown"
        return {
            "pairwise": pairwise,
            "calls_left": float(len(self.calls) + 1),
            "target_quality": 0.0,
            "distractor_a": float(edited and self.distracted[shown[0]]) if shown else 0.0,
            "distractor_b": float(edited and self.distracted[shown[1]]) if len(shown) > 1 else 0.0,
            "length_a": len(texts[0]) / 1000.0 if texts else 0.0,
            "length_b": len(texts[1]) / 1000.0 if len(texts) > 1 else 0.0,
        }

    def _extra_info(self, agent: str) -> dict[str, Any]:
        info: dict[str, Any] = {"task": self._task_view}
        latent: dict[str, Any] = {"gold": self._gold}
        if agent in GENERATORS:
            quality = self.qualities[agent]
            if agent not in self.responses:
                info["request"] = {"quality": quality, "band": quality_band(quality)}
            latent["quality"] = quality
            latent["solution"] = self.task.solution
        elif self._call is not None:
            call = self._call
            info["request"] = {
                "protocol": self.protocol,
                "allow_tie": self.allow_tie,
                "score_range": [self.score_min, self.score_max],
                "responses": [{"label": label, "text": text} for label, text in zip(LABELS, call["texts"])],
            }
            latent["generators"] = list(call["shown"])
            latent["qualities"] = [self.qualities[g] for g in call["shown"]]
        if self.expose_latent:
            info["latent"] = latent
        return info

    def _episode_metrics(self) -> dict[str, Any]:
        distracted = any(self.distracted.values())
        shown = self._preference("shown")
        equal = self.equal_pair
        reference = self._preference("reference") if distracted and self.reference_judgment else None
        clean = reference if distracted else shown
        flip = toward = None
        if distracted and reference is not None and shown is not None:
            flip = reference[0] != shown[0]
            gained = shown[0] is not None and self.distracted[shown[0]]
            toward = gained and reference[0] != shown[0]
        return {
            "equal_pair": equal,
            "quality_gap": abs(self.qualities[GENERATORS[0]] - self.qualities[GENERATORS[1]]),
            "distracted": distracted,
            "agreement": self._agrees(clean),
            "agreement_shown": self._agrees(shown),
            "prefers_better": None if (clean is None or equal) else clean[0] == self.better_generator,
            "tie": None if clean is None else clean[0] is None,
            "tie_on_equal": (clean[0] is None) if (clean is not None and equal) else None,
            "flip": flip,
            "flip_toward_distracted": toward,
            "position_inconsistent": clean[1] if (clean is not None and self.position_swap == "both") else None,
            "judge_calls": getattr(self, "n_calls", 0),
            "invalid_moves": sum(self.invalid_moves.values()),
            "protocol": self.protocol,
            "task_id": self.task.id,
        }
