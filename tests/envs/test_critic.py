"""Critic-v0 against its class docstring: exact rewards per scheme, attempts, verdict parsing, bad input, metrics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, seed_test

from feedbackgym.agents import make_agent
from feedbackgym.envs import make, make_parallel
from feedbackgym.envs.critic import PROMPTS, help_reward, make_attempt, refcritic_reward, stage1_reward, stage2_reward
from feedbackgym.envs.tasks import Task, make_task_source
from feedbackgym.experiments.runner import rollout

ACTOR, CRITIC = "actor_0", "critic_0"
TASK = Task(
    id="test/critic",
    prompt="Compute 89 - (63 - 13).",
    answer="39",
    kind="numeric",
    solution="Step 1: 63 - 13 = 50\nStep 2: 89 - 50 = 39\nAnswer: 39",
)


def critique(verdict: str, flagged: int | None = None, n_steps: int = 3) -> str:
    blocks = [
        f"Step sentence: step {i}\nCorrectness of the step: {'Wrong' if i == flagged else 'Correct'}\nExplanation: x"
        for i in range(1, n_steps + 1)
    ]
    return "\n\n".join([*blocks, f"Correctness of the final answer: {verdict}\nExplanation: y"])


def episode(attempt_correct: bool, critic_reply: str | None, refined: str | None, *, max_retries: int = 2, **kwargs: Any):
    """Play one scripted episode: the critic's reply (None: three unparseable replies), then the actor's."""
    env = make("Critic-v0", max_retries=max_retries, **kwargs)
    env.reset(seed=0, options={"task": TASK, "attempt_correct": attempt_correct})
    if critic_reply is None:
        for _ in range(max_retries + 1):
            env.step("I have looked at it.")
    else:
        env.step(critic_reply)
    if env.agents and not all(env.terminations.values()):
        env.step(f"The answer is [{refined}]." if refined is not None else "no idea")
    return env


# ------------------------------------------------------------------------------- conformance
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("kwargs", [{}, {"task": "knowledge_mcq", "reward_scheme": "refcritic"}, {"refine": False, "reward_scheme": "stage1"}])
def test_pettingzoo_api_parallel_and_seed(kwargs: dict[str, Any]) -> None:
    api_test(make("Critic-v0", **kwargs), num_cycles=40)
    parallel_api_test(make_parallel("Critic-v0", **kwargs), num_cycles=40)
    seed_test(lambda: make("Critic-v0", **kwargs), num_cycles=40)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"reward_scheme": "stage3"}, "reward_scheme"), ({"rf_mode": "r_best"}, "rf_mode"), ({"actor_pool_correct_frac": 1.5}, "actor_pool_correct_frac"),
     ({"verdict_regex": "("}, "verdict_regex"), ({"verdict_regex": "Correct"}, "verdict_regex"), ({"refine": False}, "refine=False")],
)
def test_bad_knobs_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        make("Critic-v0", **kwargs)


# ----------------------------------------------------------------------------------- rewards
@pytest.mark.parametrize(
    ("attempt_correct", "verdict", "refined_correct", "expected"),
    [
        # stage1, stage2 with r_refine / r_delta / r_correct, refcritic
        (True, "Correct", True, (1.0, 1.2, 0.2, 0.4, 2.0)),
        (True, "Wrong", False, (-1.0, -1.0, -1.0, -1.0, 0.0)),
        (True, "Wrong", True, (-1.0, -1.0, -1.0, -1.0, 1.0)),
        (False, "Wrong", True, (1.0, 1.2, 1.2, 1.2, 2.0)),
        (False, "Wrong", False, (1.0, 0.2, 0.2, 0.2, 1.0)),
        (False, "Correct", False, (-1.0, -1.0, -1.0, -1.0, 0.0)),
        (False, None, True, (-1.0, -1.0, -1.0, -1.0, 1.0)),  # no parseable verdict: a wrong one
    ],
)
def test_exact_rewards_for_each_scheme(attempt_correct: bool, verdict: str | None, refined_correct: bool, expected: tuple[float, ...]) -> None:
    refined = "39" if refined_correct else "41"
    reply = None if verdict is None else critique(verdict, flagged=None if verdict == "Correct" else 1)
    schemes = [("stage1", "r_refine"), ("stage2", "r_refine"), ("stage2", "r_delta"), ("stage2", "r_correct"), ("refcritic", "r_refine")]
    for (scheme, rf_mode), reward in zip(schemes, expected):
        env = episode(attempt_correct, reply, refined, reward_scheme=scheme, rf_mode=rf_mode)
        base = env.unwrapped
        assert base.rewards[CRITIC] == pytest.approx(reward), (scheme, rf_mode)  # given with the actor's last move
        assert base.episode_metrics["critic_reward"] == pytest.approx(reward)
        assert base.rewards[ACTOR] == float(refined_correct)
        assert base.invalid_moves[CRITIC] == (3 if verdict is None else 0)


def test_every_scheme_is_in_the_metrics() -> None:
    env = episode(False, critique("Wrong", 1), "39", rf_mode="r_delta")
    metrics = env.unwrapped.episode_metrics
    assert (metrics["reward_stage1"], metrics["reward_refine_only"], metrics["reward_stage2"], metrics["reward_refcritic"]) == (1.0, 1.0, 1.2, 2.0)


def test_reward_functions() -> None:
    assert stage1_reward(True) == 1.0 and stage1_reward(False) == -1.0
    assert [help_reward("r_delta", b, a) for b, a in [(True, True), (True, False), (False, True), (False, False)]] == [0.0, -1.0, 1.0, 0.0]
    assert [help_reward("r_correct", b, a) for b, a in [(True, True), (True, False), (False, True), (False, False)]] == [0.2, 0.0, 1.0, 0.0]
    assert stage2_reward(True, False, True, "r_refine", disc_bonus=0.5) == 1.5
    assert stage2_reward(False, False, True, disc_penalty=-2.0) == -2.0
    assert refcritic_reward(True, True, judgment_weight=0.5, refine_weight=2.0) == 2.5
    with pytest.raises(ValueError, match="rf_mode"):
        help_reward("r_other", True, True)


def test_rewards_reach_the_agents_through_the_aec_loop() -> None:
    result = rollout(
        make("Critic-v0", reward_scheme="refcritic"),
        {CRITIC: {"name": "scripted_critic", "tpr": 1.0, "tnr": 1.0, "help_quality": 1.0}, ACTOR: {"name": "scripted_actor", "p_fix_located": 1.0, "p_break": 0.0}},
        seed=3,
    )
    assert result.returns[CRITIC] == pytest.approx(2.0) and result.returns[ACTOR] == 1.0


# ------------------------------------------------------------------------------ verdicts
def test_the_verdict_is_the_last_match_and_flags_are_read_per_step() -> None:
    reply = "Correctness of the final answer: Correct\n...on reflection:\n" + critique("Wrong", flagged=2)
    env = episode(False, reply, "41")
    base = env.unwrapped
    assert base.verdict == "wrong" and base.flagged_step == 2
    assert base.episode_metrics["error_located"] == (base.attempt.error_step == 2)


def test_a_critic_without_a_parseable_verdict_is_an_invalid_move_with_a_clear_message() -> None:
    env = make("Critic-v0")
    env.reset(seed=0, options={"task": TASK, "attempt_correct": True})
    env.step("Correctness of the final answer: [Correct]")  # the template's placeholder, not a verdict
    notice = env.unwrapped.transcript[-1].text
    assert notice == (
        "Invalid move: no parseable verdict. Expected: a critique ending with the line 'Correctness of the final answer: "
        "Correct' or 'Correctness of the final answer: Wrong'. Retries left this turn: 2."
    )
    assert env.agent_selection == CRITIC and env.rewards[CRITIC] == pytest.approx(-0.1)


def test_a_forfeited_critique_leaves_the_actor_without_one() -> None:
    env = episode(True, None, "39")
    base = env.unwrapped
    feedback = [m for m in base.transcript if m.kind == "feedback"]
    assert feedback[0].text.startswith(PROMPTS["actor"]["no_critique"])
    assert base.episode_metrics["verdict"] is None and base.episode_metrics["verdict_parsed"] is False


def test_a_custom_verdict_regex() -> None:
    env = episode(True, "Final verdict: [[CORRECT]]", "39", verdict_regex=r"Final verdict: \[\[(CORRECT|WRONG)\]\]")
    assert env.unwrapped.verdict == "correct" and env.unwrapped.episode_metrics["reward_stage2"] == pytest.approx(1.2)


def test_an_actor_without_an_answer_is_asked_again_then_counts_as_wrong() -> None:
    env = make("Critic-v0", max_retries=1)
    env.reset(seed=0, options={"task": TASK, "attempt_correct": True})
    env.step(critique("Correct"))
    env.step("Let me think about it a little longer before I commit to any particular final value.")
    assert env.unwrapped.transcript[-1].text.startswith("Invalid move: no answer found. Expected: a refined solution ending 'The answer is [your answer].'")
    env.step("still thinking, really, there is no final value in this reply at all, none whatsoever")
    metrics = env.unwrapped.episode_metrics
    assert metrics["refined_correct"] is False and metrics["c_to_i"] is True


# ------------------------------------------------------------------------------ the actor's side
def test_the_actor_reads_critique_rl_s_refinement_prompt() -> None:
    env = episode(False, critique("Wrong", 1), "39")
    base = env.unwrapped
    refine = next(m for m in base.transcript if m.kind == "feedback")
    assert refine.sender == CRITIC and refine.visible_to == (ACTOR,)
    assert refine.text.startswith("I have made a step-by-step critique for your solution.")
    assert refine.text.endswith("Begin your reply with: Let's break it down step by step, strictly following the critique:")
    assert "Step sentence: step 1" in refine.text
    event = refine.data["event"]
    assert event["verdict"] == "incorrect" and event["deceptive"] is False
    chat = base.chat_messages(ACTOR)
    assert chat[0]["content"] == PROMPTS["actor"]["inference"].format(question=TASK.prompt)
    assert chat[1] == {"role": "assistant", "content": base.attempt.text}  # its own first attempt


def test_the_critic_reads_critique_rl_s_prompt() -> None:
    env = make("Critic-v0")
    env.reset(seed=0, options={"task": TASK, "attempt_correct": True})
    expected = PROMPTS["critic"]["critique"].format(question=TASK.prompt, solution="Step 1: 63 - 13 = 50\nStep 2: 89 - 50 = 39\nThe answer is 39.")
    assert env.unwrapped.chat_messages(CRITIC) == [{"role": "user", "content": expected}]


# ------------------------------------------------------------------------------- attempts
def test_attempts_follow_the_solution_and_place_one_error() -> None:
    rng = np.random.default_rng(0)
    right = make_attempt(TASK, True, rng)
    assert right.steps == ("Step 1: 63 - 13 = 50", "Step 2: 89 - 50 = 39", "The answer is 39.") and right.error_step is None
    for _ in range(20):
        wrong = make_attempt(TASK, False, rng)
        assert wrong.answer != "39" and wrong.steps[-1] == f"The answer is {wrong.answer}."
        assert wrong.error_step in (1, 2)
        changed = [i + 1 for i, (a, b) in enumerate(zip(right.steps, wrong.steps)) if a != b]
        assert changed[0] == wrong.error_step  # the first step that differs is the error


def test_knowledge_attempts_cite_a_true_or_a_fabricated_passage() -> None:
    source = make_task_source("knowledge_mcq")
    rng = np.random.default_rng(1)
    for _ in range(10):
        task = source.sample(rng)
        for correct in (True, False):
            attempt = make_attempt(task, correct, rng)
            passage = next(e for e in task.evidence if e.text == attempt.steps[0])
            assert passage.is_true == correct and passage.supports == attempt.answer
            assert task.check(attempt.answer) == correct


def test_pool_share_and_discrimination_metrics() -> None:
    env = make("Critic-v0", actor_pool_correct_frac=0.8)
    agents = {CRITIC: {"name": "scripted_critic", "tpr": 1.0, "tnr": 0.0}, ACTOR: "scripted_actor"}
    metrics = [rollout(env, agents, seed=s).metrics for s in range(100)]
    share = np.mean([m["attempt_correct"] for m in metrics])
    assert 0.7 < share < 0.9
    assert all(m["true_positive"] is True for m in metrics if m["attempt_correct"])
    assert all(m["true_negative"] is False for m in metrics if not m["attempt_correct"])
    assert np.mean([m["verdict_correct"] for m in metrics]) == pytest.approx(share)
    assert all(m["refined_correct"] == m["attempt_correct"] for m in metrics)  # "Correct" verdicts change nothing


def test_helpfulness_only_reward_prefers_a_critic_that_always_says_wrong() -> None:
    # Critique-RL's finding in miniature: the refinement reward alone rewards an undiscriminating but helpful critic.
    env = make("Critic-v0")

    def mean(name: str, critic: dict[str, Any]) -> float:
        agents = {CRITIC: make_agent("scripted_critic", **critic), ACTOR: make_agent("scripted_actor")}
        return float(np.mean([rollout(env, agents, seed=s).metrics[name] for s in range(150)]))

    always_wrong = {"tpr": 0.0, "tnr": 1.0, "help_quality": 0.9}
    discriminating = {"tpr": 0.9, "tnr": 0.9, "help_quality": 0.1}
    assert mean("reward_refine_only", always_wrong) > mean("reward_refine_only", discriminating)
    assert mean("reward_stage2", always_wrong) < mean("reward_stage2", discriminating)
    assert mean("reward_stage1", always_wrong) < mean("reward_stage1", discriminating)


def test_make_agent_names() -> None:
    assert type(make_agent("critic")).__name__ == "ScriptedCritic"
    with pytest.raises(ValueError, match="tpr"):
        make_agent("scripted_critic", tpr=1.5)


# ------------------------------------------------------------------- prompts filled by joining
def test_prompt_templates_filled_by_joining_read_as_format_would() -> None:
    from feedbackgym.envs.core.text import fill_template as _fill, template_parts as _template_parts

    critique_parts = _template_parts(PROMPTS["critic"]["critique"], "question", "solution")
    refine_parts = _template_parts(PROMPTS["actor"]["refine"], "critique")
    assert critique_parts is not None and refine_parts is not None  # the shipped prompts take the fast path
    for question, solution in [("Compute 2 + 2.", "Step 1: 2 + 2 = 4"), ("{odd} braces }{", ""), ("é\n\tx", "{solution}")]:
        expected = PROMPTS["critic"]["critique"].format(question=question, solution=solution)
        assert _fill(PROMPTS["critic"]["critique"], critique_parts, question, solution, question=question, solution=solution) == expected
    assert _fill(PROMPTS["actor"]["refine"], refine_parts, "Step sentence: x", critique="Step sentence: x") == PROMPTS["actor"]["refine"].format(critique="Step sentence: x")
    # Anything but a plain template with exactly those fields, and any value but a str, goes to format().
    assert _template_parts("{question} {{literal}} {solution}", "question", "solution") is None
    assert _template_parts("{solution} {question}", "question", "solution") is None
    assert _template_parts("{question!r} {solution}", "question", "solution") is None
    parts = _template_parts("Q: {question}", "question")
    assert parts == ("Q: ", "") and _fill("Q: {question}", parts, 7, question=7) == "Q: 7"


def test_make_attempt_is_the_env_attempt_for_the_same_stream() -> None:
    env = make("Critic-v0", task="knowledge_mcq")
    for seed in range(30):
        env.reset(seed=seed)
        base = env.unwrapped
        rng = np.random.default_rng(seed)
        task = base.task_source.sample(rng)
        correct = bool(rng.random() < base.actor_pool_correct_frac)
        assert make_attempt(task, correct, rng) == base.attempt


@pytest.mark.parametrize("knobs", [{}, {"difficulty": 1}, {"difficulty": 5, "allow_negative": True}, {"difficulty": 4, "operations": "-/"}, {"difficulty": 3, "operations": "*"}])
def test_an_arithmetic_task_s_solution_lines_read_from_its_metadata_are_the_parsed_ones(knobs: dict[str, Any]) -> None:
    from feedbackgym.envs.critic import _arithmetic_solution_lines, _solution_lines

    source = make_task_source("arithmetic", **knobs)
    rng = np.random.default_rng(7)
    for _ in range(300):
        task = source.sample(rng)
        assert _arithmetic_solution_lines(task) == _solution_lines(task)


def test_only_a_task_arithmetic_tasks_drew_takes_the_metadata_shortcut() -> None:
    # A task passed in (whatever its metadata says) has its solution parsed.
    odd = Task(id="t/odd", prompt="Compute 2 + 3.", answer="5", kind="numeric", solution="Step 1: 2 + 3 = 5\n\nAnswer: 5",
               metadata={"intermediate_values": (2, 99)})
    env = make("Critic-v0")
    env.reset(seed=0, options={"task": odd, "attempt_correct": True})
    assert env.unwrapped.attempt.steps == ("Step 1: 2 + 3 = 5", "The answer is 5.")


def test_the_scripted_actor_reseeds_only_when_it_draws_and_then_draws_the_seed_s_stream() -> None:
    infos = [
        {"critique": {"verdict": "wrong"}, "latent": {"gold": "39", "attempt_correct": correct, "error_located": located},
         "attempt": {"answer": "39" if correct else "41"}, "task": {"base": 10}}
        for correct in (True, False) for located in (True, False)
    ]
    for seed in range(40):
        lazy = make_agent("scripted_actor", p_break=0.5, p_fix_unlocated=0.5, seed=1)
        lazy.reset(seed=seed)
        assert lazy.__dict__["_pending_seed"] == seed  # no generator built at reset
        lazy.act({}, {"critique": {"verdict": "correct"}, "attempt": {"answer": "3"}})  # no draw: still pending
        assert lazy.__dict__["_pending_seed"] == seed
        eager = make_agent("scripted_actor", p_break=0.5, p_fix_unlocated=0.5, seed=seed)
        assert [lazy.act({}, info) for info in infos] == [eager.act({}, info) for info in infos]
