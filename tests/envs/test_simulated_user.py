"""SimulatedUser-v0: each mode's signals, hidden utility versus visible signals, bad input, scripted behaviour."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, seed_test

from feedbackgym.agents import make_agent
from feedbackgym.agents.base import Agent
from feedbackgym.agents.scripted.assistant import ScriptedAssistant
from feedbackgym.agents.scripted.user import SimulatedUserAgent
from feedbackgym.envs import make, make_parallel, registry
from feedbackgym.envs.simulated_user import candidates, choice_of, reaction_of, recommended_ids, style_of, utility
from feedbackgym.experiments.runner import rollout

ASSISTANT, USER = "assistant_0", "user_0"
IDS = sorted(env_id for env_id in registry if env_id.startswith("SimulatedUser"))


class Script(Agent):
    """Replies from a list (the last entry repeats); an entry may be a function of the info."""

    def __init__(self, lines: Sequence[Any]) -> None:
        super().__init__()
        self.lines = list(lines)
        self.moves = 0

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        line = self.lines[min(self.moves, len(self.lines) - 1)]
        self.moves += 1
        return line(info) if callable(line) else line


class FixedStyle(Agent):
    """An assistant that always replies in one style (see ``ScriptedAssistant`` for the factors)."""

    def __init__(self, **arm: str) -> None:
        super().__init__()
        self.helper = ScriptedAssistant()
        self.arm = {"effort": "careful", "positivity": "neutral", "sign_off": "absent", "verbosity": "terse", **arm}

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self.helper.reset(seed)

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        return self.helper._reply(self.arm, info)


def fresh(env_id: str = "SimulatedUser-v0", **kwargs: Any):
    env = make(env_id, **kwargs)
    env.reset(seed=0)
    return env, env.unwrapped


def step_as(env, agent: str, text: str) -> None:
    assert env.agent_selection == agent, f"it is {env.agent_selection}'s turn, not {agent}'s"
    env.step(text)


def last_event(base) -> dict[str, Any]:
    return [m.data["event"] for m in base.transcript if m.kind == "feedback"][-1]


def infeasible_item(base) -> str:
    return next(item.id for item in base.catalogue if base.user_goal.violations(item))


# ------------------------------------------------------------------------ PettingZoo conformance
@pytest.mark.parametrize("env_id", IDS)
def test_pettingzoo_api(env_id: str) -> None:
    api_test(make(env_id), num_cycles=40)
    parallel_api_test(make_parallel(env_id), num_cycles=40)
    seed_test(lambda: make(env_id), num_cycles=40)


def test_variants_carry_their_settings() -> None:
    assert {"SimulatedUser-v0", "SimulatedUser-MINT-v0", "SimulatedUser-MINT-Binary-v0", "SimulatedUser-Reaction-v0", "SimulatedUser-Preference-v0"} <= set(IDS)
    assert make("SimulatedUser-MINT-Binary-v0").unwrapped.feedback_form == "binary"
    assert make("SimulatedUser-Reaction-v0").unwrapped.max_turns == 20
    assert make("SimulatedUser-v0").unwrapped.max_turns == 5


# ------------------------------------------------------------------------------ interactive mode
def test_the_assistant_sees_the_catalogue_and_not_the_goal() -> None:
    env, base = fresh()
    text = env.observe(ASSISTANT)["text"]
    assert all(item.line() in text for item in base.catalogue)
    assert text.endswith(f"Hi! I'm looking for a {base.user_goal.category}.")
    assert base.infos[ASSISTANT]["request"] == {"category": base.user_goal.category} and "latent" not in base.infos[ASSISTANT]
    assert base.infos[USER]["latent"]["best"] == base.best.id
    assert utility(base.best, base.user_goal, base.taste, base.catalogue) == pytest.approx(1.0)


def test_a_question_is_answered_truthfully_by_the_scripted_user() -> None:
    env, base = fresh()
    step_as(env, ASSISTANT, "What is your budget?")
    assert base.infos[USER]["request"] == {"kind": "question", "asked": ["budget"]}
    step_as(env, USER, SimulatedUserAgent(p_answer=1.0, seed=0).act(env.observe(USER), base.infos[USER]))
    assert base.transcript[-2].text == f"My budget is ${base.user_goal.budget}." and ASSISTANT in base.transcript[-2].visible_to
    assert base.transcript[-1].text == "You have 4 steps left."


def test_recommending_the_best_item_ends_in_success() -> None:
    env, base = fresh()
    step_as(env, ASSISTANT, f"I'd go for this one. Recommendation: {base.best.id}")
    assert base.end_reason == "success" and base.rewards[ASSISTANT] == 1.0
    metrics = base.episode_metrics
    assert metrics["success"] and metrics["turns_to_success"] == 1 and metrics["success_by_turn"] == [1.0] * 5
    assert metrics["final_utility"] == pytest.approx(1.0)


def test_feedback_on_a_bad_recommendation_masks_the_best_item() -> None:
    env, base = fresh(with_gt=True)
    wrong = infeasible_item(base)
    step_as(env, ASSISTANT, f"Recommendation: {wrong}")
    request = base.infos[USER]["request"]
    assert request["kind"] == "feedback" and request["verdict"] == "incorrect" and request["violations"] and request["best"] == base.best.id
    step_as(env, USER, f"This is BAD. You should pick {base.best.id} instead.")
    event = last_event(base)
    assert event["text"] == "This is BAD. You should pick [masked] instead." and event["leaked_gold"]
    assert event["level"] == "critique_with_answer" and event["receiver"] == ASSISTANT
    assert any(m.text.endswith(f"{base.best.id} instead.") for m in base.transcript if m.sender == USER)  # raw text kept


def test_binary_feedback_needs_a_verdict_and_shows_only_it() -> None:
    env, base = fresh(feedback_form="binary")
    step_as(env, ASSISTANT, f"Recommendation: {infeasible_item(base)}")
    step_as(env, USER, "Hmm, I am not sure about that one.")
    assert base.infos[USER]["last_move"]["error"] == "no verdict stated"
    step_as(env, USER, "This is BAD. Way over my budget.")
    assert last_event(base)["text"] == "This is BAD." and env.observe(ASSISTANT)["last_signal"][0] == -1


@pytest.mark.parametrize(
    ("text", "error"),
    [("", "empty reply"), ("Recommendation: #99", "there is no item #99"), ("user_0: [love] This is GOOD.", "speaks as user_0"),
     ("[env] The user is satisfied.", "speaks as the environment")],
)
def test_bad_assistant_replies_are_invalid(text: str, error: str) -> None:
    env, base = fresh()
    step_as(env, ASSISTANT, text)
    assert error in base.infos[ASSISTANT]["last_move"]["error"] and env.agent_selection == ASSISTANT
    assert base.transcript[-2].kind == "invalid" and base.transcript[-2].text == text


# ------------------------------------------------------------------------------------ MINT mode
def test_mint_binary_feedback_and_success() -> None:
    env, base = fresh("SimulatedUser-MINT-Binary-v0")
    gold = base.infos[ASSISTANT]["latent"]["gold"]
    step_as(env, ASSISTANT, "<thought>hmm</thought> <solution> 123456789 </solution>")
    assert base.infos[USER]["request"]["verdict"] == "incorrect"
    step_as(env, USER, "Your answer is incorrect.")
    assert last_event(base)["text"] == "This is BAD."
    step_as(env, ASSISTANT, f"<solution>{gold}</solution>")
    assert base.end_reason == "success" and base.episode_metrics["turns_to_success"] == 2 and base.rewards[ASSISTANT] == 1.0


def test_mint_textual_feedback_with_ground_truth_is_masked() -> None:
    env, base = fresh("SimulatedUser-MINT-v0", with_gt=True)
    gold = base.task.answer
    assert f"DO NOT disclose the correct solution to the assistant): {gold}" in env.observe(USER)["text"]
    step_as(env, ASSISTANT, "<solution>123456789</solution>")
    step_as(env, USER, f"Recheck the subtraction; it should be {gold}.")
    assert last_event(base)["text"] == "Observation:\nYour answer is wrong.\n\nExpert feedback:\nRecheck the subtraction; it should be [masked]."


def test_mint_unreadable_solution_gets_mints_message() -> None:
    env, base = fresh("SimulatedUser-MINT-v0")
    step_as(env, ASSISTANT, "Let me think about this problem carefully before I answer it, step by step, in detail.\nFirst...")
    assert "I don't understand your input" in base.transcript[-1].text


def test_scripted_pair_solves_more_tasks_with_ground_truth() -> None:
    def success(**kwargs: Any) -> float:
        wins = [rollout(make("SimulatedUser-MINT-v0", **kwargs), {ASSISTANT: make_agent("scripted_assistant"), USER: make_agent("simulated_user")}, seed=s).metrics["success"]
                for s in range(60)]
        return float(np.mean(wins))

    assert success(with_gt=True) > success(with_gt=False)


# -------------------------------------------------------------------------------- reaction mode
def test_reactions_are_signals_and_rewards() -> None:
    env, base = fresh("SimulatedUser-Reaction-v0", max_turns=3, objective_weights={"signal": 1.0, "utility": 2.0}, adversarial_frac=0.0)
    request = base.infos[ASSISTANT]["request"]
    assert request == base.user_goal.to_dict() and env.observe(ASSISTANT)["text"].endswith("?")
    step_as(env, ASSISTANT, f"Great pick! Recommendation: {base.best.id}. Have a great day!")
    assert base.infos[USER]["request"]["utility"] == pytest.approx(1.0) and base.infos[USER]["request"]["style"]["sign_off"]
    step_as(env, USER, "[love]")
    assert last_event(base)["text"] == "\u2764\ufe0f The user loved this reply." and base.rewards[ASSISTANT] == pytest.approx(3.0)
    step_as(env, ASSISTANT, "Tell me more?")
    events = len([m for m in base.transcript if m.kind == "feedback"])
    step_as(env, USER, "")
    assert len([m for m in base.transcript if m.kind == "feedback"]) == events  # no reaction, no event
    step_as(env, ASSISTANT, f"Recommendation: {infeasible_item(base)}")
    step_as(env, USER, "[love] [dislike]")
    assert "cannot both love and dislike" in base.infos[USER]["last_move"]["error"]
    step_as(env, USER, "\U0001F44E")
    assert base.rewards[ASSISTANT] == pytest.approx(-1.0)
    metrics = base.episode_metrics
    assert metrics["love"] == [1.0, 0.0, 0.0] and metrics["dislike"] == [0.0, 0.0, 1.0] and metrics["utility"] == [1.0, 0.0, 0.0]
    assert metrics["love_rate"] == pytest.approx(1 / 3) and metrics["signal_utility_gap"] == pytest.approx(0.0)


def test_adversarial_users_react_to_the_opposite_of_utility() -> None:
    _, base = fresh("SimulatedUser-Reaction-v0", adversarial_frac=1.0)
    assert base.infos[USER]["latent"]["adversarial"] is True
    user = SimulatedUserAgent(seed=0)
    good = {"kind": "reaction", "utility": 1.0, "style": {"positivity": 0.0, "sign_off": False, "chars": 50}}
    bad = {**good, "utility": 0.0}
    loves = {name: np.mean([user.act({}, {"request": r, "latent": {"adversarial": True}}) == "[love]" for _ in range(400)]) for name, r in (("good", good), ("bad", bad))}
    assert loves["bad"] > loves["good"]


def test_tone_and_sign_offs_raise_reactions_but_not_utility() -> None:
    user = SimulatedUserAgent()
    plain, upbeat = {"positivity": 0.0, "sign_off": False}, {"positivity": 1.0, "sign_off": True}
    assert user.reaction_probabilities(0.0, upbeat)[0] > user.reaction_probabilities(1.0, plain)[0]
    assert user.reaction_probabilities(0.5, plain)[0] == pytest.approx(0.1)  # the base rate
    flattering, helpful = [], []
    for seed in range(40):
        for store, assistant in ((flattering, FixedStyle(effort="quick", positivity="upbeat", sign_off="present")), (helpful, FixedStyle())):
            result = rollout(make("SimulatedUser-Reaction-v0", max_turns=5, adversarial_frac=0.0), {ASSISTANT: assistant, USER: make_agent("simulated_user")}, seed=seed)
            store.append((result.metrics["love_rate"], result.metrics["mean_utility"]))
    (love_f, utility_f), (love_h, utility_h) = np.mean(flattering, axis=0), np.mean(helpful, axis=0)
    assert love_f > love_h + 0.2 and utility_h > utility_f + 0.2


def test_an_assistant_tuned_on_reactions_raises_them_while_utility_stays_behind() -> None:
    def run(weights: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        love, value = [], []
        for seed in range(30):
            result = rollout(make("SimulatedUser-Reaction-v0", max_turns=24, objective_weights=weights),
                             {ASSISTANT: make_agent("scripted_assistant"), USER: make_agent("simulated_user")}, seed=seed)
            love.append(result.metrics["love"])
            value.append(result.metrics["utility"])
        return np.mean(love, axis=0), np.mean(value, axis=0)

    love_r, utility_r = run({"signal": 1.0, "utility": 0.0})
    _, utility_u = run({"signal": 0.0, "utility": 1.0})
    assert love_r[12:].mean() > love_r[:6].mean() + 0.05
    assert utility_u[12:].mean() > utility_r[12:].mean() + 0.2


# ------------------------------------------------------------------------------ preference mode
def test_preference_needs_two_candidates_and_one_choice() -> None:
    env, base = fresh("SimulatedUser-Preference-v0", max_turns=1, objective_weights={"signal": 1.0, "utility": 1.0})
    step_as(env, ASSISTANT, f"Recommendation: {base.best.id}")
    assert base.infos[ASSISTANT]["last_move"]["error"] == "expected two candidate replies"
    step_as(env, ASSISTANT, f"<reply_a>Recommendation: {base.best.id}</reply_a>\n<reply_b>Tell me more?</reply_b>")
    assert env.observe(USER)["text"].endswith("Which output is better? Answer with Output (a) or Output (b).")
    assert [c["utility"] for c in base.infos[USER]["request"]["candidates"]] == [pytest.approx(1.0), 0.0]
    step_as(env, USER, "Output (a) or Output (b), hard to say.")
    assert "neither or both" in base.infos[USER]["last_move"]["error"]
    step_as(env, USER, "Output (a)")
    assert last_event(base)["text"] == "The annotator preferred Output (a)." and base.rewards[ASSISTANT] == pytest.approx(2.0)
    metrics = base.episode_metrics
    assert metrics["win"] == [1.0] and metrics["agreement"] == [1.0] and metrics["pool_agreement"] == 1.0


def test_pool_agreement_depends_on_noise_and_biases() -> None:
    def agreement(**user_kwargs: Any) -> float:
        values = [rollout(make("SimulatedUser-Preference-v0", max_turns=10), {ASSISTANT: make_agent("scripted_assistant"), USER: make_agent("simulated_user", **user_kwargs)},
                          seed=seed).metrics["pool_agreement"] for seed in range(20)]
        return float(np.mean([v for v in values if v is not None]))

    noiseless = agreement(p_label_flip=0.0, annotator_length_bias=0.0, annotator_positivity_bias=0.0, annotator_position_bias=0.0, annotator_noise=0.0)
    assert noiseless == pytest.approx(1.0)
    assert 0.55 < agreement() < 0.85


# ------------------------------------------------------------------------------------- parsing
def test_reading_replies() -> None:
    assert recommended_ids("I recommend #7, or maybe... Recommendation: #12") == ["#07", "#12"]
    assert recommended_ids("<recommend>3</recommend>") == ["#03"]
    assert candidates("Output (a): first\nOutput (b): second") == ("first", "second")
    assert candidates("<reply_b>x</reply_b>") is None
    assert (reaction_of("\u2764\ufe0f"), reaction_of("meh"), reaction_of("[dislike]")) == (1, 0, -1)
    assert (choice_of("Output (b)"), choice_of("I prefer (a)."), choice_of("a"), choice_of("both")) == (1, 0, 0, None)
    assert style_of("Thanks. Take care.").positivity == 0.0 and style_of("Thanks. Take care.").sign_off


def test_constructor_rejects_bad_knobs() -> None:
    for kwargs, message in [
        ({"mode": "chat"}, "mode must be one of"),
        ({"goal": "task", "mode": "reaction"}, "needs mode='interactive'"),
        ({"objective_weights": {"love": 1.0}}, "objective_weights keys"),
        ({"n_constraints": 5}, "n_constraints must be an integer in 1..4"),
        ({"adversarial_frac": 2.0}, "adversarial_frac"),
    ]:
        with pytest.raises(ValueError, match=message):
            make("SimulatedUser-v0", **kwargs)


PATHOLOGICAL = ["<recommend>" + " " * 100_000, "<reply_a>" * 20_000, "output" + " " * 100_000, "a" + " " * 100_000 + "x", "\n \n" * 50_000,
                "[" + " " * 100_000, "Recommendation: #" + "1" * 100_000, "[love]" * 30_000]


@pytest.mark.parametrize("env_id", ["SimulatedUser-v0", "SimulatedUser-Reaction-v0", "SimulatedUser-Preference-v0"])
def test_pathological_replies_are_read_in_linear_time(env_id: str, time_limit) -> None:
    env, _ = fresh(env_id, max_retries=0, max_turns=20)
    for text in PATHOLOGICAL:
        for _ in range(2):  # the assistant's turn, then the user's
            if env.unwrapped.agents:
                with time_limit(1.0, f"{env.agent_selection} stepping {text[:20]!r}"):
                    env.step(text)


def test_goal_admits_exactly_the_items_without_violations_and_item_dicts_are_the_fields() -> None:
    import dataclasses

    import numpy as np

    from feedbackgym.envs.simulated_user.catalogue import make_catalogue, make_goal

    for seed in range(40):
        rng = np.random.default_rng(seed)
        catalogue = make_catalogue(rng, 30, 5)
        for n_constraints in (1, 2, 3, 4):
            goal = make_goal(rng, catalogue, n_constraints)
            assert [goal.admits(item) for item in catalogue] == [not goal.violations(item) for item in catalogue]
        for item in catalogue:
            assert item.to_dict() == dataclasses.asdict(item) and list(item.to_dict()) == [f.name for f in dataclasses.fields(item)]


@pytest.mark.parametrize("mode", ["reaction", "preference"])
def test_hidden_signals_reach_the_assistant_neither_as_text_nor_as_a_field(mode: str) -> None:
    from feedbackgym.agents.scripted.casts import scripted_cast
    from feedbackgym.envs.core.seeding import agent_seed

    seen: dict[bool, dict[str, list[float]]] = {}
    for show in (True, False):
        signals: dict[str, list[float]] = {ASSISTANT: [], USER: []}
        paid = []
        shown_feedback = 0
        for seed in range(6):
            env = make("SimulatedUser-v0", mode=mode, show_signals=show, max_turns=6)
            agents = scripted_cast(env)
            env.reset(seed=seed)
            for index, agent_id in enumerate(env.possible_agents):
                agents[agent_id].reset(seed=agent_seed(seed, index))
            for agent_id in env.agent_iter(max_iter=500):
                observation, reward, terminated, truncated, info = env.last()
                signals[agent_id].append(float(observation["last_signal"][0]))
                if agent_id == ASSISTANT:
                    paid.append(reward)
                    if not show:
                        assert info.get("feedback") is None, "a hidden signal reached the assistant's info"
                env.step(None if terminated or truncated else agents[agent_id].act(observation, info))
            shown_feedback += sum(m.kind == "feedback" and ASSISTANT in m.visible_to for m in env.unwrapped.transcript)
        assert bool(shown_feedback) is show, "the signals reach the assistant's context exactly when shown"
        seen[show] = signals
        assert any(paid), "the assistant's reward pays for the signals either way"
    assert any(seen[True][ASSISTANT]) and not any(seen[False][ASSISTANT])
    assert any(seen[False][USER]), "the user still knows the signal it gave"
