"""PPO for discrete actions, written the CleanRL way (``ppo.py``), trained on feedbackgym's numeric views.

Read it top to bottom: the arguments, the network, then :func:`train`, which collects ``num_steps``
steps from each of ``num_envs`` vectorised environments, computes advantages with GAE, and makes
``update_epochs`` passes of clipped-objective minibatch updates. Differences from CleanRL's script,
each for a reason:

- ``train`` is a function taking environment thunks (not a script making Atari/classic-control
  envs), so the single-agent trainer, self-play and the tests share one loop; it can continue an
  existing ``Agent`` and optimiser (self-play trains each learner in turns).
- The vector env resets sub-environments in the same step (``AutoresetMode.SAME_STEP``), as
  Gymnasium 0.x did, so no transition in the batch is a reset placeholder.
- Episode statistics come from the loop itself (return, length) and from the environment's
  episode metrics (``info["metrics"]`` of a ``NumericView(slim_info=True)``), logged as
  ``metrics/<name>`` beside CleanRL's tags.
- The policy is an MLP over history features (the numeric view's one-hots of earlier answers and
  what feedback ruled out), which is what lets a memoryless network use its extra turns.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import numpy as np
import torch
from torch import nn
from torch.distributions.categorical import Categorical

from feedbackgym.envs.core.checks import require_int


@dataclass
class Args:
    seed: int = 1
    """seed of the run: torch's generator, and the vectorised envs' first resets (seed + i)"""
    total_timesteps: int = 50_000
    """learner steps to train for, summed over all environments"""
    learning_rate: float = 2.5e-4
    """the optimiser's learning rate"""
    num_envs: int = 8
    """the number of environments stepped in parallel (SyncVectorEnv)"""
    num_steps: int = 128
    """steps per environment per rollout"""
    anneal_lr: bool = True
    """anneal the learning rate linearly to 0 over the run"""
    gamma: float = 0.99
    """the discount factor"""
    gae_lambda: float = 0.95
    """the lambda of generalised advantage estimation"""
    num_minibatches: int = 4
    """minibatches per update epoch"""
    update_epochs: int = 4
    """passes over each rollout"""
    norm_adv: bool = True
    """normalise advantages within each minibatch"""
    clip_coef: float = 0.2
    """the surrogate clipping coefficient"""
    clip_vloss: bool = True
    """clip the value loss as in the PPO paper"""
    ent_coef: float = 0.01
    """the entropy bonus coefficient"""
    vf_coef: float = 0.5
    """the value loss coefficient"""
    max_grad_norm: float = 0.5
    """the gradient clipping norm"""
    target_kl: float | None = None
    """stop an update early when the approximate KL passes this (None: never)"""
    hidden_size: int = 64
    """width of the two hidden layers of actor and critic"""
    torch_threads: int = 1
    """torch's intra-op threads: networks this small run fastest on one"""

    # filled in by train()
    batch_size: int = 0
    """num_envs * num_steps"""
    minibatch_size: int = 0
    """batch_size // num_minibatches"""
    num_iterations: int = 0
    """total_timesteps // batch_size (at least 1)"""


def layer_init(layer: nn.Linear, std: float = math.sqrt(2), bias_const: float = 0.0) -> nn.Linear:
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    """Separate actor and critic MLPs over the flat numeric observation (CleanRL's ppo.py network)."""

    def __init__(self, obs_size: int, n_actions: int, hidden_size: int = 64) -> None:
        super().__init__()
        # Plain ints (a numpy int from a space's shape would make the checkpoint unloadable with weights_only).
        obs_size = require_int("obs_size", obs_size, 1, 10_000_000)
        n_actions = require_int("n_actions", n_actions, 1, 10_000_000)
        hidden_size = require_int("hidden_size", hidden_size, 1, 100_000)
        self.obs_size, self.n_actions, self.hidden_size = obs_size, n_actions, hidden_size
        self.critic = nn.Sequential(
            layer_init(nn.Linear(obs_size, hidden_size)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden_size, hidden_size)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden_size, 1), std=1.0),
        )
        self.actor = nn.Sequential(
            layer_init(nn.Linear(obs_size, hidden_size)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden_size, hidden_size)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden_size, n_actions), std=0.01),
        )

    def get_value(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x)

    def get_action_and_value(
        self, x: torch.Tensor, action: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        logits = self.actor(x)
        probs = Categorical(logits=logits)
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.critic(x)

    def model_config(self) -> dict[str, int]:
        """What rebuilds this network around a saved state_dict."""
        return {"obs_size": self.obs_size, "n_actions": self.n_actions, "hidden_size": self.hidden_size}


@dataclass
class TrainResult:
    agent: Agent
    optimizer: torch.optim.Optimizer
    global_step: int
    history: list[dict[str, float]] = field(default_factory=list)  # one row per update (the CSV's rows)
    episodes: list[dict[str, float]] = field(default_factory=list)  # return, length and metrics of every finished episode


def train(
    args: Args,
    env_fns: Sequence[Callable[[], gymnasium.Env]],
    *,
    agent: Agent | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    global_step: int = 0,
    log: Callable[[dict[str, float]], None] | None = None,
    tag: str = "",
) -> TrainResult:
    """Train ``agent`` (a new one if None) with PPO on ``SyncVectorEnv(env_fns)``; ``len(env_fns)`` is ``num_envs``.

    Each thunk must build an env with a flat ``Box`` observation and a ``Discrete`` action (a
    ``NumericView(flatten=True)``). ``log`` gets one row per update (CleanRL's tags, plus
    ``global_step``, ``iteration`` and ``metrics/*``); ``tag`` prefixes the row's keys for self-play
    (``"seller_0/"``). ``global_step`` continues a count from an earlier call.
    """
    args.num_envs = len(env_fns)
    args.batch_size = int(args.num_envs * args.num_steps)
    args.minibatch_size = max(1, args.batch_size // args.num_minibatches)
    args.num_iterations = max(1, args.total_timesteps // args.batch_size)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.torch_threads)
    device = torch.device("cpu")

    # env setup
    envs = gymnasium.vector.SyncVectorEnv(env_fns, autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP)
    assert isinstance(envs.single_action_space, gymnasium.spaces.Discrete), "only discrete action space is supported"
    obs_shape = envs.single_observation_space.shape
    assert obs_shape is not None and len(obs_shape) == 1, "observations must be flat vectors: use NumericView(flatten=True)"

    if agent is None:
        agent = Agent(obs_shape[0], int(envs.single_action_space.n), args.hidden_size).to(device)
    if optimizer is None:
        optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)

    # storage
    obs = torch.zeros((args.num_steps, args.num_envs, *obs_shape)).to(device)
    actions = torch.zeros((args.num_steps, args.num_envs), dtype=torch.long).to(device)
    logprobs = torch.zeros((args.num_steps, args.num_envs)).to(device)
    rewards = torch.zeros((args.num_steps, args.num_envs)).to(device)
    dones = torch.zeros((args.num_steps, args.num_envs)).to(device)
    values = torch.zeros((args.num_steps, args.num_envs)).to(device)

    # start the game
    start_time = time.time()
    start_step = global_step
    history: list[dict[str, float]] = []
    episodes: list[dict[str, float]] = []
    next_obs_np, _ = envs.reset(seed=args.seed)
    next_obs = torch.as_tensor(next_obs_np, dtype=torch.float32, device=device)
    next_done = torch.zeros(args.num_envs).to(device)
    episode_return = np.zeros(args.num_envs)
    episode_length = np.zeros(args.num_envs, dtype=int)

    for iteration in range(1, args.num_iterations + 1):
        # annealing the rate if instructed to do so
        if args.anneal_lr:
            frac = 1.0 - (iteration - 1.0) / args.num_iterations
            optimizer.param_groups[0]["lr"] = frac * args.learning_rate
        finished: list[dict[str, float]] = []

        for step in range(args.num_steps):
            global_step += args.num_envs
            obs[step] = next_obs
            dones[step] = next_done

            # action logic
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
                values[step] = value.flatten()
            actions[step] = action
            logprobs[step] = logprob

            # execute the game and log data
            next_obs_np, reward, terminations, truncations, infos = envs.step(action.cpu().numpy())
            next_done_np = np.logical_or(terminations, truncations)
            rewards[step] = torch.as_tensor(reward, dtype=torch.float32, device=device)
            next_obs = torch.as_tensor(next_obs_np, dtype=torch.float32, device=device)
            next_done = torch.as_tensor(next_done_np, dtype=torch.float32, device=device)

            episode_return += reward
            episode_length += 1
            for i in np.flatnonzero(next_done_np):
                record = {"episodic_return": float(episode_return[i]), "episodic_length": float(episode_length[i])}
                record.update(_final_metrics(infos, int(i)))
                finished.append(record)
                episode_return[i], episode_length[i] = 0.0, 0

        # bootstrap value if not done
        with torch.no_grad():
            next_value = agent.get_value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards).to(device)
            lastgaelam = torch.zeros(args.num_envs).to(device)
            for t in reversed(range(args.num_steps)):
                if t == args.num_steps - 1:
                    nextnonterminal = 1.0 - next_done
                    nextvalues = next_value
                else:
                    nextnonterminal = 1.0 - dones[t + 1]
                    nextvalues = values[t + 1]
                delta = rewards[t] + args.gamma * nextvalues * nextnonterminal - values[t]
                advantages[t] = lastgaelam = delta + args.gamma * args.gae_lambda * nextnonterminal * lastgaelam
            returns = advantages + values

        # flatten the batch
        b_obs = obs.reshape((-1, *obs_shape))
        b_logprobs = logprobs.reshape(-1)
        b_actions = actions.reshape(-1)
        b_advantages = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        b_values = values.reshape(-1)

        # optimizing the policy and value network
        b_inds = np.arange(args.batch_size)
        clipfracs = []
        for epoch in range(args.update_epochs):
            np.random.default_rng(args.seed * 100_003 + iteration * 101 + epoch).shuffle(b_inds)
            for start in range(0, args.batch_size, args.minibatch_size):
                end = start + args.minibatch_size
                mb_inds = b_inds[start:end]

                _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs[mb_inds], b_actions[mb_inds])
                logratio = newlogprob - b_logprobs[mb_inds]
                ratio = logratio.exp()

                with torch.no_grad():
                    # calculate approx_kl http://joschu.net/blog/kl-approx.html
                    old_approx_kl = (-logratio).mean()
                    approx_kl = ((ratio - 1) - logratio).mean()
                    clipfracs += [((ratio - 1.0).abs() > args.clip_coef).float().mean().item()]

                mb_advantages = b_advantages[mb_inds]
                if args.norm_adv and len(mb_inds) > 1:
                    mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)

                # Policy loss
                pg_loss1 = -mb_advantages * ratio
                pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef)
                pg_loss = torch.max(pg_loss1, pg_loss2).mean()

                # Value loss
                newvalue = newvalue.view(-1)
                if args.clip_vloss:
                    v_loss_unclipped = (newvalue - b_returns[mb_inds]) ** 2
                    v_clipped = b_values[mb_inds] + torch.clamp(newvalue - b_values[mb_inds], -args.clip_coef, args.clip_coef)
                    v_loss_clipped = (v_clipped - b_returns[mb_inds]) ** 2
                    v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()
                else:
                    v_loss = 0.5 * ((newvalue - b_returns[mb_inds]) ** 2).mean()

                entropy_loss = entropy.mean()
                loss = pg_loss - args.ent_coef * entropy_loss + v_loss * args.vf_coef

                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()

            if args.target_kl is not None and approx_kl > args.target_kl:
                break

        y_pred, y_true = b_values.cpu().numpy(), b_returns.cpu().numpy()
        var_y = np.var(y_true)
        explained_var = np.nan if var_y == 0 else 1 - np.var(y_true - y_pred) / var_y

        row: dict[str, float] = {
            "global_step": global_step,
            "iteration": iteration,
            "charts/learning_rate": float(optimizer.param_groups[0]["lr"]),
            "losses/value_loss": v_loss.item(),
            "losses/policy_loss": pg_loss.item(),
            "losses/entropy": entropy_loss.item(),
            "losses/old_approx_kl": old_approx_kl.item(),
            "losses/approx_kl": approx_kl.item(),
            "losses/clipfrac": float(np.mean(clipfracs)),
            "losses/explained_variance": float(explained_var),
            "charts/SPS": float(int((global_step - start_step) / max(time.time() - start_time, 1e-9))),
            "charts/episodes": float(len(finished)),
        }
        if finished:
            row["charts/episodic_return"] = float(np.mean([e["episodic_return"] for e in finished]))
            row["charts/episodic_length"] = float(np.mean([e["episodic_length"] for e in finished]))
            for key in sorted({k for e in finished for k in e if k.startswith("metrics/")}):
                row[key] = float(np.mean([e[key] for e in finished if key in e]))
        episodes.extend(finished)
        history.append(row)
        if log is not None:
            log({(f"{tag}{key}" if key not in ("global_step", "iteration") else key): value for key, value in row.items()})

    envs.close()
    return TrainResult(agent, optimizer, global_step, history, episodes)


def _final_metrics(infos: dict[str, Any], index: int) -> dict[str, float]:
    """The finished episode's metrics: ``infos["final_info"]["metrics"]`` of a slim ``NumericView``, entry ``index``."""
    final = infos.get("final_info") or {}
    metrics = final.get("metrics") or {}
    mask = final.get("_metrics")
    if mask is not None and not mask[index]:
        return {}
    out: dict[str, float] = {}
    for key, values in metrics.items():
        if key.startswith("_"):
            continue
        present = metrics.get(f"_{key}")
        if present is not None and not present[index]:
            continue
        value = float(values[index])
        if math.isfinite(value):
            out[f"metrics/{key}"] = value
    return out
