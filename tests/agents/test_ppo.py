"""The PPO trainer learns, its checkpoints round-trip, and the ``ppo`` agent plays in rollouts like in training."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from feedbackgym.agents import make_agent  # noqa: E402
from feedbackgym.agents.torch import Agent, Args, PPOAgent, load_checkpoint, save_checkpoint, train  # noqa: E402
from feedbackgym.agents.torch.logger import MetricLogger, read_curve  # noqa: E402
from feedbackgym.agents.torch.ppo_agent import frozen_copy  # noqa: E402
from feedbackgym.experiments.runner import rollout  # noqa: E402
from feedbackgym.wrappers import make_numeric  # noqa: E402

TEACHER = {"teacher_0": "scripted_teacher"}


def bandit_view(knowledge: float = 3.0):
    """One attempt at a 4-option question with a strong prior: the right action is (nearly always) the top-scored option."""
    return make_numeric("SolverFeedback-v0", "solver_0", TEACHER, encoder={"kind": "solver", "n_choices": 4, "knowledge": knowledge},
                        flatten=True, slim_info=True, task="knowledge_mcq", max_turns=1, feedback_level="unary")


def success_rate(agent: PPOAgent, episodes: int = 100, first_seed: int = 50_000) -> float:
    solved = 0
    for seed in range(first_seed, first_seed + episodes):
        result = rollout("SolverFeedback-v0", {"solver_0": agent, "teacher_0": "scripted_teacher"}, seed=seed,
                         task="knowledge_mcq", max_turns=1, feedback_level="unary")
        solved += int(result.metrics["solved"])
    return solved / episodes


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, float]], Agent]:
    """A tiny PPO run on the bandit view: 8 envs x 64 steps x 8 updates."""
    directory = tmp_path_factory.mktemp("ppo")
    logger = MetricLogger(directory / "solver_0.csv")
    args = Args(seed=1, total_timesteps=4096, num_envs=8, num_steps=64, learning_rate=1e-2, ent_coef=0.0)
    result = train(args, [bandit_view] * 8, log=logger)
    encoder = bandit_view().encoder
    path = save_checkpoint(directory / "solver_0.pt", result.agent, encoder, env_id="SolverFeedback-v0")
    return path, result.history, result.agent


def test_ppo_learns_a_trivially_learnable_task(trained) -> None:
    path, history, _ = trained
    untrained = PPOAgent(network=Agent(30 + 4, 4), encoder=bandit_view().encoder, seed=0)
    before = success_rate(untrained)
    after = success_rate(make_agent("ppo", checkpoint=str(path), deterministic=True))
    assert before < 0.4, before  # chance is 0.25
    assert after > 0.8, (before, after)  # the prior's top option is right about 95% of the time
    assert history[-1]["metrics/solved"] > history[0]["metrics/solved"] + 0.3


def test_training_logs_cleanrl_tags(trained, tmp_path: Path) -> None:
    path, history, _ = trained
    for tag in ("charts/episodic_return", "charts/episodic_length", "charts/SPS", "charts/learning_rate", "losses/value_loss",
                "losses/policy_loss", "losses/entropy", "losses/approx_kl", "losses/clipfrac", "losses/explained_variance"):
        assert tag in history[-1], tag
    steps, solved = read_curve(path.with_suffix(".csv"), "metrics/solved")
    assert steps == [512.0 * i for i in range(1, 9)] and len(solved) == 8
    assert history[-1]["losses/entropy"] < history[0]["losses/entropy"]


def test_checkpoint_round_trip(trained) -> None:
    path, _, network = trained
    loaded, encoder, extra = load_checkpoint(path)
    assert extra["env_id"] == "SolverFeedback-v0"
    assert encoder.config() == bandit_view().encoder.config()
    for key, value in network.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    # the same actions after loading, for a live network and the file, sampling with the same seeds
    live = PPOAgent(network=network, encoder=bandit_view().encoder)
    from_file = PPOAgent(checkpoint=str(path))
    view = bandit_view()
    for seed in range(20):
        _, info = view.reset(seed=seed)
        observation = view.env.env.observe("solver_0")
        live.reset(seed=seed)
        from_file.reset(seed=seed)
        assert live.act(observation, info) == from_file.act(observation, info)
    # weights_only loading: the file holds plain data and tensors only
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "feedbackgym-ppo/1" and payload["model"] == {"obs_size": 34, "n_actions": 4, "hidden_size": 64}


def test_the_agent_sees_what_the_training_view_saw() -> None:
    """The same episode played through the numeric view and through the runner gives the same replies."""
    network = Agent(5 + 4 * 4 + 4 + 4 + 1 + 4, 4)
    encoder_config = {"kind": "solver", "n_choices": 4, "knowledge": 1.0}
    env_kwargs = {"task": "knowledge_mcq", "max_turns": 5, "feedback_level": "unary"}
    view = make_numeric("SolverFeedback-v0", "solver_0", TEACHER, encoder=encoder_config, flatten=True, **env_kwargs)
    for seed in (3, 4, 5):
        policy = PPOAgent(network=network, encoder=view.encoder.config(), deterministic=True)
        played = rollout("SolverFeedback-v0", {"solver_0": policy, "teacher_0": "scripted_teacher"}, seed=seed, **env_kwargs)
        replies = [m["text"] for m in played.transcript if m["sender"] == "solver_0"]
        observation, info = view.reset(seed=seed)
        through_view = []
        done = False
        while not done:
            with torch.no_grad():
                action = int(torch.argmax(network.actor(torch.as_tensor(observation)[None])[0]))
            observation, _, terminated, truncated, info = view.step(action)
            through_view.append(info["reply"])
            done = terminated or truncated
        assert replies == through_view


def test_frozen_copies_do_not_follow_updates(trained) -> None:
    _, _, network = trained
    copy = frozen_copy(network)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.add_(1.0)
    assert not torch.equal(next(copy.parameters()), next(network.parameters()))
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.sub_(1.0)


def test_the_ppo_agent_says_what_it_needs(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="checkpoint="):
        make_agent("ppo")
    with pytest.raises(FileNotFoundError, match="feedbackgym train"):
        make_agent("ppo", checkpoint=str(tmp_path / "missing.pt"))
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a feedbackgym PPO checkpoint"):
        make_agent("ppo", checkpoint=str(tmp_path / "other.pt"))


def test_importing_the_agents_does_not_import_torch() -> None:
    code = "import sys, feedbackgym.agents; from feedbackgym.agents import registered_agents; " \
           "assert 'ppo' in registered_agents(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_training_is_deterministic() -> None:
    def run() -> list[float]:
        args = Args(seed=7, total_timesteps=128, num_envs=2, num_steps=32, learning_rate=1e-2)
        result = train(args, [bandit_view] * 2)
        return [row["losses/value_loss"] for row in result.history] + [float(np.sum([p.sum().item() for p in result.agent.parameters()]))]

    assert run() == run()
