"""Agents that do not fit their role are refused when mounted, with a message naming both sides."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path

import pytest

from feedbackgym.agents import make_agent
from feedbackgym.agents.registration import build_agents
from feedbackgym.envs import make
from feedbackgym.experiments.runner import play_episode, rollout
from feedbackgym.wrappers import SingleAgent, make_numeric
from feedbackgym.wrappers.encoding import NumericAEC, resolve_encoder

SOLVER_FEEDBACK = {"solver_0": "friction_solver", "teacher_0": "scripted_teacher"}


class Echo:
    """An agent object without ``plays``: it may play any role."""

    def act(self, observation, info):  # type: ignore[no-untyped-def]
        return "\\boxed{1}"

    async def aact(self, observation, info):  # type: ignore[no-untyped-def]
        return self.act(observation, info)

    def reset(self, seed=None):  # type: ignore[no-untyped-def]
        pass

    def stats(self):  # type: ignore[no-untyped-def]
        return {}


# ------------------------------------------------------------------------------ roles the env lacks
def test_a_role_the_environment_lacks_is_an_error_naming_its_roles() -> None:
    env = make("SolverFeedback-v0")
    with pytest.raises(ValueError, match=r"\['buyer_0'\], which is not a role of SolverFeedback-v0.*\['solver_0', 'teacher_0'\]"):
        build_agents({**SOLVER_FEEDBACK, "buyer_0": "random"}, env)
    with pytest.raises(ValueError, match="its roles are"):
        rollout("SolverFeedback-v0", {**SOLVER_FEEDBACK, "judge_0": "random"}, seed=0)


# ------------------------------------------------------------------------------ another family
@pytest.mark.parametrize(
    ("env_id", "agents", "role", "made_for"),
    [
        ("SolverFeedback-v0", {"solver_0": "concession_negotiator", "teacher_0": "scripted_teacher"}, "solver_0", "Negotiation seller"),
        ("DeceptiveJudge-v0", {"solver_0": "susceptible_solver", "judge_0": "friction_solver"}, "judge_0", "SolverFeedback solver"),
        ("Negotiation-v0", {"seller_0": "concession_negotiator", "buyer_0": "concession_negotiator", "critic_0": "scripted_critic"},
         "critic_0", "Critic critic"),
        ("Critic-v0", {"actor_0": "scripted_actor", "critic_0": "critic_coach"}, "critic_0", "Negotiation critic"),
        ("JudgeProtocol-v0", {"generator_0": "scripted_generator", "generator_1": "scripted_generator", "judge_0": "intent_judge"},
         "judge_0", "DeceptiveJudge judge"),
    ],
)
def test_an_agent_of_another_family_is_refused(env_id: str, agents: dict, role: str, made_for: str) -> None:
    with pytest.raises(ValueError, match=rf"agents\['{role}'\]: \w+ plays {made_for}.*not '{role}' of {env_id}"):
        rollout(env_id, agents, seed=0)


def test_the_runner_and_single_agent_check_fit_too() -> None:
    negotiator = make_agent("concession_negotiator")
    env = make("SolverFeedback-v0")
    with pytest.raises(ValueError, match="concession_negotiator plays Negotiation seller, Negotiation buyer"):
        asyncio.run(play_episode(env, {"solver_0": negotiator, "teacher_0": make_agent("scripted_teacher")}, seed=0))
    with pytest.raises(ValueError, match="not 'teacher_0' of SolverFeedback-v0"):
        SingleAgent("SolverFeedback-v0", "solver_0", {"teacher_0": "critic_coach"})
    with pytest.raises(ValueError, match="not 'teacher_0'"):  # objects are checked too, without the registry
        SingleAgent("SolverFeedback-v0", "solver_0", {"teacher_0": make_agent("scripted_critic")})


def test_generic_agents_and_plain_objects_play_any_role() -> None:
    for env_id in ("SolverFeedback-v0", "Negotiation-v0", "JudgeProtocol-v0"):
        roles = make(env_id).possible_agents
        result = rollout(env_id, {role: "random" for role in roles}, seed=0)
        assert result.error is None
    llm = make_agent("llm", mock_response="\\boxed{1}")
    human = make_agent("human", input_fn=lambda prompt: "Your answer is incorrect.", output=open("/dev/null", "w"))
    assert rollout("SolverFeedback-v0", {"solver_0": llm, "teacher_0": human}, seed=0, max_turns=2).error is None
    assert rollout("Critic-v0", {"actor_0": Echo(), "critic_0": "random"}, seed=0).error is None


def test_a_susceptible_solver_also_sits_in_solver_feedback() -> None:
    """Declared roles cover the documented pairings (the deceptive teacher over SolverFeedback)."""
    result = rollout("SolverFeedback-Deceptive-v0", {"solver_0": "susceptible_solver", "teacher_0": "scripted_teacher"}, seed=0)
    assert result.error is None


# ------------------------------------------------------------------------------ numeric encoders
def test_an_encoder_of_another_family_is_refused() -> None:
    with pytest.raises(ValueError, match=r"'negotiator' encoder is made for NegotiationEnv seller.*not for 'solver_0' of SolverFeedbackEnv"):
        make_numeric("SolverFeedback-v0", "solver_0", {"teacher_0": "scripted_teacher"}, encoder={"kind": "negotiator"})
    with pytest.raises(ValueError, match="'critic' encoder .* not for 'judge_0' of DeceptiveJudgeEnv, which takes the judge encoder"):
        make("DeceptiveJudge-v0", wrappers=[("numeric_view", {"encoders": {"judge_0": "critic"}})])
    with pytest.raises(ValueError, match="which takes no default encoder"):
        resolve_encoder(make("JudgeProtocol-v0"), "judge_0", "judge")
    # the fitting encoders still work
    env = NumericAEC(make("DeceptiveJudge-v0"), {"judge_0": "judge", "solver_0": {"kind": "judged_solver"}})
    assert env.action_space("judge_0").n == 6


# ------------------------------------------------------------------------------ PPO checkpoints
torch = pytest.importorskip("torch")


@pytest.fixture()
def mcq_checkpoint(tmp_path: Path) -> Path:
    """An untrained policy saved as the trainer saves it: env id, env kwargs and role recorded."""
    from feedbackgym.agents.torch import Agent, save_checkpoint

    torch.set_num_threads(1)
    kwargs = {"task": "knowledge_mcq", "max_turns": 2}
    view = make_numeric("SolverFeedback-v0", "solver_0", {"teacher_0": "scripted_teacher"}, flatten=True, **kwargs)
    network = Agent(view.observation_space.shape[0], view.action_space.n)
    return save_checkpoint(tmp_path / "solver_0.pt", network, view.encoder, role="solver_0",
                           env_id="SolverFeedback-v0", env_kwargs=kwargs)


def test_a_checkpoint_records_what_it_was_trained_for(mcq_checkpoint: Path) -> None:
    from feedbackgym.agents.torch import load_checkpoint

    record = load_checkpoint(mcq_checkpoint)[2]["trained_for"]
    assert record["env_id"] == "SolverFeedback-v0" and record["family"] == "SolverFeedback" and record["role"] == "solver_0"
    assert record["task"]["name"] == "knowledge_mcq" and record["task"]["n_choices"] == 4
    policy = make_agent("ppo", checkpoint=str(mcq_checkpoint))
    assert rollout("SolverFeedback-v0", {"solver_0": policy, "teacher_0": "scripted_teacher"}, seed=0,
                   task="knowledge_mcq", max_turns=2).error is None


def test_a_checkpoint_refuses_another_task_family_or_role(mcq_checkpoint: Path) -> None:
    policy = make_agent("ppo", checkpoint=str(mcq_checkpoint))
    with pytest.raises(ValueError, match=r"trained on SolverFeedback-v0, solver_0, task 'knowledge_mcq'.*cannot play "
                                         r"'solver_0' of SolverFeedback-v0 \(SolverFeedback\) with task 'arithmetic'"):
        rollout("SolverFeedback-v0", {"solver_0": policy, "teacher_0": "scripted_teacher"}, seed=0)
    with pytest.raises(ValueError, match="plays SolverFeedback solver, not 'judge_0' of DeceptiveJudge-v0"):
        rollout("DeceptiveJudge-v0", {"solver_0": "susceptible_solver", "judge_0": policy}, seed=0)
    with pytest.raises(ValueError, match="not 'teacher_0'"):
        rollout("SolverFeedback-v0", {"solver_0": "friction_solver", "teacher_0": policy}, seed=0, task="knowledge_mcq")


def test_an_old_checkpoint_loads_with_a_warning_and_its_encoder_is_still_checked(mcq_checkpoint: Path, tmp_path: Path) -> None:
    payload = torch.load(mcq_checkpoint, weights_only=True)
    del payload["trained_for"]
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    with pytest.warns(UserWarning, match="records no environment, role or task"):
        policy = make_agent("ppo", checkpoint=str(old))
    # its 4-option encoder cannot answer arithmetic: refused, not 30 turns of \boxed{B}
    with pytest.raises(ValueError, match="answers one of 4 options, but the task has numeric answers"):
        rollout("SolverFeedback-v0", {"solver_0": policy, "teacher_0": "scripted_teacher"}, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        policy = make_agent("ppo", checkpoint=str(old))
    assert rollout("SolverFeedback-v0", {"solver_0": policy, "teacher_0": "scripted_teacher"}, seed=0,
                   task="knowledge_mcq", max_turns=2).error is None


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ({"name": "friction_solver", "kwargs": [1, 2]}, "kwargs"),
        ({"name": "friction_solver", "kwargs": "rho=2"}, "kwargs"),
        ({"name": "friction_solver", 5: 1.0}, "argument names"),
        ({"name": ["friction_solver"]}, "agent name"),
    ],
)
def test_odd_agent_specs_are_refused_naming_the_field(spec: dict, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        build_agents({"solver_0": spec, "teacher_0": "scripted_teacher"}, make("SolverFeedback-v0"))
