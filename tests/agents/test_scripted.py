"""Scripted agents: the friction solver's ladder, its knobs, the scripted teacher, and the random agent."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from feedbackgym.agents import make_agent, registered_agents
from feedbackgym.agents.scripted import FrictionSolver, RandomAgent, ScriptedTeacher
from feedbackgym.envs import make, registry
from feedbackgym.experiments.runner import play_episode, rollout

SOLVER, TEACHER = "solver_0", "teacher_0"


def run_many(episodes: int, solver: FrictionSolver, teacher=None, *, env_id: str = "SolverFeedback-v0", **env_kwargs) -> list[dict]:
    """Metrics of ``episodes`` seeded episodes (seeds 0..episodes-1: common random numbers across conditions)."""
    env = make(env_id, **env_kwargs)
    agents = {SOLVER: solver, TEACHER: teacher or ScriptedTeacher()}

    async def play_all() -> list[dict]:
        results = [await play_episode(env, agents, seed=seed) for seed in range(episodes)]
        assert all(r.error is None for r in results)
        return [r.metrics for r in results]

    return asyncio.run(play_all())


def test_registered_names() -> None:
    names = set(registered_agents())
    assert {"friction_solver", "scripted_teacher", "random"} <= names
    assert isinstance(make_agent("scripted_solver"), FrictionSolver)
    assert isinstance(make_agent("teacher"), ScriptedTeacher)
    with pytest.raises(KeyError, match="Did you mean `friction_solver`"):
        make_agent("friction_solvr")
    with pytest.raises(TypeError, match="Did you mean `stickiness`"):
        make_agent("friction_solver", stickyness=1.0)


# ---------------------------------------------------------------------------- the ladder
LADDER = ["unary", "binary", "critique_with_answer", "critique_with_solution"]


@pytest.fixture(scope="module")
def ladder() -> dict[str, list[dict]]:
    return {level: run_many(300, FrictionSolver(), feedback_level=level, max_turns=5) for level in LADDER}


def success_rate(metrics: list[dict]) -> float:
    return float(np.mean([m["solved"] for m in metrics]))


def test_friction_solver_reproduces_the_ladder(ladder) -> None:
    rate = {level: success_rate(ladder[level]) for level in LADDER}
    assert rate["critique_with_solution"] > rate["critique_with_answer"] > rate["binary"], rate
    assert rate["binary"] >= rate["unary"] - 0.03, rate


@pytest.mark.parametrize("level", LADDER)
def test_cumulative_accuracy_rises_and_stays_below_one(ladder, level) -> None:
    accuracy = np.mean([m["cumulative_accuracy"] for m in ladder[level]], axis=0)
    assert len(accuracy) == 5
    assert np.all(np.diff(accuracy) >= 0)
    assert accuracy[-1] > accuracy[0]  # feedback helps some
    assert accuracy[-1] < 1.0  # friction: never everyone


def test_first_attempt_does_not_depend_on_the_level(ladder) -> None:
    # Same seeds, same tasks, same first draw: only feedback makes the levels differ.
    first = {level: [m["cumulative_accuracy"][0] for m in ladder[level]] for level in LADDER}
    assert all(first[level] == first["unary"] for level in LADDER)


# ----------------------------------------------------------------------------- the knobs
def test_reject_previous_raises_the_unique_answer_ratio() -> None:
    def ratios(**kwargs) -> list[float]:
        metrics = run_many(150, FrictionSolver(**kwargs), feedback_level="binary", max_turns=5)
        return [m["unique_answer_ratio"] for m in metrics]

    plain, rejecting = ratios(), ratios(reject_previous=True)
    assert np.mean(rejecting) > np.mean(plain)
    # Without stickiness it never repeats itself at all (5 attempts, 5 candidates).
    assert set(ratios(reject_previous=True, stickiness=0.0)) == {1.0}


def test_full_stickiness_with_unary_feedback_repeats_one_answer() -> None:
    metrics = run_many(150, FrictionSolver(stickiness=1.0), env_id="SolverFeedback-UFO-v0")
    failures = [m for m in metrics if not m["solved"]]
    assert len(failures) >= 10
    assert all(m["repeated_one_answer"] is True for m in failures)
    assert all(m["repeated_one_answer"] is None for m in metrics if m["solved"])
    loose = run_many(150, FrictionSolver(stickiness=0.0), env_id="SolverFeedback-UFO-v0")
    assert not any(m["repeated_one_answer"] for m in loose)


def test_no_friction_and_full_informativeness_take_the_hint() -> None:
    solver = FrictionSolver(friction=0.0, rho=0.0, informativeness={"critique_with_answer": 1.0})
    metrics = run_many(50, solver, feedback_level="critique_with_answer", max_turns=2)
    assert all(m["solved"] for m in metrics)


def test_told_correct_it_keeps_its_answer() -> None:
    env = make("SolverFeedback-v0", max_turns=4, feedback_level="binary", terminate_on_success=False)
    for seed in range(20):
        result = rollout(env, {SOLVER: FrictionSolver(), TEACHER: ScriptedTeacher()}, seed=seed)
        answers, correct = env.unwrapped.answers, env.unwrapped.correct
        for i in range(len(answers) - 1):
            if correct[i]:
                assert answers[i + 1] == answers[i], (seed, answers)
        assert result.error is None


@pytest.mark.parametrize("task", ["arithmetic", "multiplication", "hex_multiplication", "knowledge_mcq"])
def test_friction_solver_answers_every_task_kind_validly(task) -> None:
    metrics = run_many(20, FrictionSolver(), task=task, max_turns=3)
    assert all(m["invalid_moves"] == 0 for m in metrics)


def test_friction_solver_plays_without_the_latent_gold() -> None:
    metrics = run_many(30, FrictionSolver(), expose_latent=False, max_turns=3, feedback_level="critique_with_answer")
    assert all(m["invalid_moves"] == 0 for m in metrics)


def test_friction_solver_is_reproducible_from_its_seed() -> None:
    def answers(seed: int) -> list:
        env = make("SolverFeedback-v0", max_turns=5, feedback_level="none")
        rollout(env, {SOLVER: FrictionSolver(), TEACHER: ScriptedTeacher()}, seed=seed)
        return env.unwrapped.answers

    assert answers(4) == answers(4)
    assert len({tuple(answers(seed)) for seed in range(8)}) > 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"friction": 1.5}, "friction"),
        ({"stickiness": -0.1}, "stickiness"),
        ({"competence_alpha": 0}, "competence_alpha"),
        ({"temperature": 0}, "temperature"),
        ({"informativeness": {"binary": 2.0}}, "informativeness"),
        ({"informativeness": {"medium": 0.5}}, "informativeness keys must be feedback levels"),
    ],
)
def test_friction_solver_checks_its_knobs(kwargs, field) -> None:
    with pytest.raises(ValueError, match=field):
        FrictionSolver(**kwargs)


# --------------------------------------------------------------------------- the teacher
@pytest.mark.parametrize("level", ["unary", "binary"])
@pytest.mark.parametrize(("verdict", "opposite"), [("incorrect", "correct"), ("correct", "incorrect")])
def test_teacher_always_wrong_states_the_opposite_verdict(level, verdict, opposite) -> None:
    teacher = ScriptedTeacher(p_wrong_feedback=1.0)
    reply = teacher.act({"text": ""}, {"request": {"level": level, "verdict": verdict, "answer": "3"}})
    assert reply == f"Your answer is {opposite}."


def test_misleading_teacher_misleads_the_solver_through_the_env() -> None:
    env = make("SolverFeedback-v0", max_turns=3, feedback_level="binary", terminate_on_success=False)
    for seed in range(10):
        rollout(env, {SOLVER: FrictionSolver(), TEACHER: ScriptedTeacher(p_wrong_feedback=1.0)}, seed=seed)
        events = [m.data["event"] for m in env.unwrapped.transcript if m.kind == "feedback"]
        assert len(events) == 2
        for attempt, event in enumerate(events):
            told = "correct" if not env.unwrapped.correct[attempt] else "incorrect"
            assert event["verdict"] == told and event["deceptive"] is True
            assert event["text"] == ("Your answer was correct." if told == "correct" else
                                     "Your answer was incorrect. Please answer the question again.")


def test_honest_teacher_states_the_graders_verdict() -> None:
    teacher = ScriptedTeacher(p_wrong_feedback=0.0)
    for verdict in ("correct", "incorrect"):
        reply = teacher.act({"text": ""}, {"request": {"level": "binary", "verdict": verdict, "answer": "3"}})
        assert reply == f"Your answer is {verdict}."


def test_teacher_hint_points_the_right_way() -> None:
    teacher = ScriptedTeacher(p_leak=0.0)

    def hint(answer: str, gold: str, base: int = 10) -> str:
        request = {"level": "critique_with_answer", "verdict": "incorrect", "answer": answer, "gold": gold}
        return teacher.act({}, {"task": {"base": base, "choices": []}, "request": request})

    high, low = hint("120", "100"), hint("80", "100")
    assert "120 is too large" in high and "80 is too small" in low
    assert "100" not in high + low
    assert "FF is too large" in hint("FF", "1A", base=16)


def test_teacher_at_solution_level_walks_through_the_solution() -> None:
    teacher = ScriptedTeacher(p_leak=0.0)
    request = {"level": "critique_with_solution", "verdict": "incorrect", "answer": "5", "gold": "7", "solution": "3 + 4 = 7"}
    assert "3 + 4 = 7" in teacher.act({}, {"task": {"base": 10}, "request": request})


def test_leaking_teacher_is_masked_and_counted() -> None:
    metrics = run_many(
        20, FrictionSolver(friction=1.0), ScriptedTeacher(p_leak=1.0), feedback_level="critique_with_answer", max_turns=3
    )
    assert sum(m["gold_leaks"] for m in metrics) > 0
    env = make("SolverFeedback-v0", feedback_level="critique_with_answer", max_turns=3)
    rollout(env, {SOLVER: FrictionSolver(friction=1.0), TEACHER: ScriptedTeacher(p_leak=1.0)}, seed=1)
    feedback = [m for m in env.unwrapped.transcript if m.kind == "feedback"]
    assert feedback and all("The correct answer is [masked]." in m.text for m in feedback)


@pytest.mark.parametrize("kwargs", [{"p_wrong_feedback": 1.5}, {"p_leak": -0.1}])
def test_teacher_checks_its_knobs(kwargs) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ScriptedTeacher(**kwargs)


# ---------------------------------------------------------------------------- random agent
@pytest.mark.parametrize("env_id", sorted(registry))
def test_random_agents_never_crash_the_env(env_id: str) -> None:
    env = make(env_id)
    agents = {agent: RandomAgent(p_valid=0.5) for agent in env.unwrapped.possible_agents}
    for seed in range(40):
        result = rollout(env, agents, seed=seed)
        assert result.error is None and isinstance(result.metrics.get("end_reason"), str)
        assert not env.unwrapped.agents


def test_random_agent_moves() -> None:
    agent = RandomAgent(p_valid=1.0, seed=0)
    assert agent.act({}, {"task": {"choices": ["x", "y"]}}) in ("\\boxed{A}", "\\boxed{B}")
    assert agent.act({}, {"request": {"level": "binary"}}) in ("Your answer is correct.", "Your answer is incorrect.")
    assert agent.act({}, {"task": {"choices": []}}).startswith("\\boxed{")
    noise = RandomAgent(p_valid=0.0, max_noise_chars=5, seed=0)
    assert all(len(noise.act({}, {})) <= 5 for _ in range(50))
    with pytest.raises(ValueError, match="p_valid"):
        RandomAgent(p_valid=1.5)


def test_human_agent_reads_the_observation_and_types_a_reply() -> None:
    import io

    from feedbackgym.agents.human import HumanAgent

    typed = iter(["\\boxed{7}", "line one", "line two", "."])
    shown = io.StringIO()
    agent = HumanAgent(input_fn=lambda prompt: next(typed), output=shown)
    assert agent.act({"text": "Compute 3 + 4."}, {}) == "\\boxed{7}"
    assert "Compute 3 + 4." in shown.getvalue()
    agent.multiline = True
    assert agent.act({"text": "again"}, {}) == "line one\nline two"


@pytest.mark.parametrize("multiline", [False, True])
def test_a_human_whose_input_ends_stops_the_run_instead_of_failing_every_episode(multiline: bool) -> None:
    import asyncio
    import io

    from feedbackgym.agents.base import AgentConfigurationError
    from feedbackgym.agents.human import HumanAgent
    from feedbackgym.envs import make
    from feedbackgym.experiments.runner import EpisodeJob, run_episodes

    typed = iter(["partial"] if multiline else [])

    def read(prompt: str) -> str:
        try:
            return next(typed)
        except StopIteration:
            raise EOFError from None

    human = HumanAgent(multiline=multiline, input_fn=read, output=io.StringIO())
    with pytest.raises(AgentConfigurationError, match="input ended"):
        asyncio.run(run_episodes([EpisodeJob(str(i), i) for i in range(5)], lambda c: make("SolverFeedback-v0"),
                                 lambda c: {"solver_0": human, "teacher_0": "scripted_teacher"}, concurrency=1))


@pytest.mark.parametrize(("name", "env_id"), [("friction_solver", "SolverFeedback-v0"), ("susceptible_solver", "DeceptiveJudge-v0")])
def test_solvers_start_a_task_without_an_id_after_someone_else_tried(name: str, env_id: str) -> None:
    env = make(env_id)
    env.reset(seed=0)
    observation, *_, info = env.last()
    # A task source without ids, and an answer tried before this agent took the role.
    info = {**info, "task": {k: v for k, v in info["task"].items() if k != "id"}, "tried_answers": ["7"]}
    agent = make_agent(name)
    agent.reset(seed=0)
    assert isinstance(agent.act(observation, info), str)


def test_random_agent_answers_a_task_of_many_options_and_any_info() -> None:
    agent = RandomAgent(p_valid=1.0, seed=0)
    choices = [f"option {i}" for i in range(14)]
    answers = {agent.act({}, {"task": {"choices": choices}}) for _ in range(200)}
    assert answers == {f"\\boxed{{{letter}}}" for letter in "ABCDEFGHIJKLMN"}
    for info in (None, {"task": "not a mapping"}, {"task": {"choices": 5}}):
        assert agent.act({}, info).startswith("\\boxed{")


def test_human_agent_shows_an_observation_that_is_not_a_mapping() -> None:
    import io

    from feedbackgym.agents.human import HumanAgent

    shown = io.StringIO()
    agent = HumanAgent(input_fn=lambda prompt: "ok", output=shown)
    assert agent.act(None, None) == "ok" and agent.act("plain text", {}) == "ok"
    assert "plain text" in shown.getvalue()


def test_friction_solver_reads_feedback_without_a_level_or_verdict() -> None:
    env = make("SolverFeedback-v0")
    env.reset(seed=0)
    observation, *_, info = env.last()
    solver = FrictionSolver(seed=0)
    solver.act(observation, info)  # the first attempt
    tried = {**info, "turn": 1, "tried_answers": ["7"]}
    for feedback in ({"turn": 1, "text": "Try again."}, {"turn": 1, "text": "Hm.", "level": "a_level_of_my_own", "verdict": None},
                     {"turn": 1, "text": "x", "level": ["not", "a", "name"]}, "not a mapping"):
        assert solver.act(observation, {**tried, "feedback": feedback}).startswith("The answer is")
