"""TorchRL trains on a feedbackgym numeric view: its own PPO (``ClipPPOLoss``, ``GAE``, its ``Collector``).

The view is a plain Gymnasium env (``NumericView(flatten=True)``: one float32 ``Box``, a ``Discrete``
action), so TorchRL's ``GymWrapper`` takes it as it is; nothing here is specific to feedbackgym but
the env. The default task is the try-again setting: ``SolverFeedback-v0``, 4-option questions, unary
feedback, 5 turns, a prior that knows the answer about half the time (reward 1 when solved).

Needs the ``interop`` extra (TorchRL and tensordict; they install next to the CPU build of torch
without replacing it)::

    pip install -e '.[interop]'
    python -m feedbackgym.experiments.interop_torchrl --frames 20000

It prints one line per batch: frames, mean reward per step, success rate of finished episodes.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

try:
    import torch
    from tensordict.nn import TensorDictModule
    from torch import nn
    try:
        from torchrl.collectors import Collector  # TorchRL >= 0.14
    except ImportError:  # older releases call the single-process collector SyncDataCollector
        from torchrl.collectors import SyncDataCollector as Collector
    from torchrl.data import LazyTensorStorage, ReplayBuffer, SamplerWithoutReplacement
    from torchrl.envs import GymWrapper, SerialEnv, StepCounter, TransformedEnv
    from torchrl.modules import ProbabilisticActor, ValueOperator
    from torchrl.objectives import ClipPPOLoss
    from torchrl.objectives.value import GAE
except ImportError as error:  # pragma: no cover - the message is the point
    raise ImportError(f"this example needs TorchRL: pip install -e '.[interop]' ({error})") from error

from feedbackgym.wrappers import make_numeric

DEFAULT_VIEW: dict[str, Any] = {
    "env": "SolverFeedback-v0",
    "learner": "solver_0",
    "others": {"teacher_0": "scripted_teacher"},
    "encoder": {"kind": "solver", "n_choices": 4, "knowledge": 1.0},
    # reward 1 when solved, else 0: the last reward of an episode says whether it was solved
    "env_kwargs": {"task": "knowledge_mcq", "max_turns": 5, "feedback_level": "unary", "reward_scheme": "success"},
}


def make_env(view: Mapping[str, Any] = DEFAULT_VIEW, seed: int = 0) -> GymWrapper:
    """The numeric view wrapped for TorchRL: integer actions (not one-hot), one observation vector."""
    gym_env = make_numeric(view["env"], view["learner"], view["others"], encoder=view["encoder"], flatten=True,
                           slim_info=True, **view["env_kwargs"])
    env = GymWrapper(gym_env, categorical_action_encoding=True)
    env.set_seed(seed)
    return env


def train(frames: int = 20_000, num_envs: int = 4, frames_per_batch: int = 512, lr: float = 2.5e-3, seed: int = 0,
          view: Mapping[str, Any] = DEFAULT_VIEW, verbose: bool = True) -> list[dict[str, float]]:
    """TorchRL's PPO recipe on the view; returns one row per batch (frames, reward, episodes, success)."""
    torch.manual_seed(seed)
    env = TransformedEnv(SerialEnv(num_envs, lambda: make_env(view, seed)), StepCounter())
    env.set_seed(seed)
    obs_size = env.observation_spec["observation"].shape[-1]
    n_actions = int(env.action_spec.space.n)

    def mlp(out: int) -> nn.Sequential:
        return nn.Sequential(nn.Linear(obs_size, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, out))

    actor = ProbabilisticActor(
        TensorDictModule(mlp(n_actions), in_keys=["observation"], out_keys=["logits"]),
        in_keys=["logits"],
        spec=env.action_spec,
        distribution_class=torch.distributions.Categorical,
        return_log_prob=True,
    )
    critic = ValueOperator(mlp(1), in_keys=["observation"])
    collector = Collector(env, actor, frames_per_batch=frames_per_batch, total_frames=frames, **_quiet_collector())
    buffer = ReplayBuffer(storage=LazyTensorStorage(frames_per_batch), sampler=SamplerWithoutReplacement())
    advantage = GAE(gamma=0.99, lmbda=0.95, value_network=critic, average_gae=True)
    loss_module = ClipPPOLoss(actor, critic, clip_epsilon=0.2, entropy_coeff=0.01)
    optimizer = torch.optim.Adam(loss_module.parameters(), lr=lr)

    rows: list[dict[str, float]] = []
    seen = 0
    for batch in collector:
        seen += batch.numel()
        for _ in range(4):  # epochs
            with torch.no_grad():
                advantage(batch)
            buffer.extend(batch.reshape(-1))
            for _ in range(frames_per_batch // 128):
                losses = loss_module(buffer.sample(128))
                loss = losses["loss_objective"] + losses["loss_critic"] + losses["loss_entropy"]
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(loss_module.parameters(), 0.5)
                optimizer.step()
        done = batch["next", "done"].squeeze(-1)
        rewards = batch["next", "reward"].squeeze(-1)
        finished = rewards[done]  # reward_scheme=success: 1 for a solved episode, 0 otherwise
        row = {"frames": float(seen), "reward": rewards.mean().item(), "episodes": float(done.sum().item()),
               "success": float((finished > 0).float().mean().item()) if finished.numel() else float("nan")}
        rows.append(row)
        if verbose:
            print(f"frames {seen:6d}  reward/step {row['reward']:+.3f}  episodes {int(row['episodes']):4d}  success {row['success']:.3f}", flush=True)
    collector.shutdown()
    return rows


def _quiet_collector() -> dict[str, Any]:
    """TorchRL 0.14 warns that a collector will soon add the policy's transforms itself; this policy needs none."""
    import inspect

    accepted = inspect.signature(Collector.__init__).parameters
    return {"auto_register_policy_transforms": False} if "auto_register_policy_transforms" in accepted else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--num-envs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    train(frames=args.frames, num_envs=args.num_envs, seed=args.seed)


if __name__ == "__main__":
    main()
