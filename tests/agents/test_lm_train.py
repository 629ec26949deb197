"""The language-model trainer (experiments/lm_train.py) with the tiny random Llama: it learns a
trivially learnable reply, masks environment tokens, credits each reward to its turn, trains two
roles at once, saves checkpoints the hf agent plays, and reproduces a run from its seed."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

pytest.importorskip("transformers")
import numpy as np  # noqa: E402
import torch  # noqa: E402
from pettingzoo import AECEnv  # noqa: E402

from feedbackgym.experiments.lm_train import (  # noqa: E402
    Args,
    LMTrainer,
    _pad,
    clipped_policy_loss,
    args_from,
    check_args,
    group_advantages,
    sequences_of,
    token_logprobs,
    turn_returns,
)

torch.set_num_threads(1)
REWARDED = "e"


class PickEnv(AECEnv):
    """Every role replies ``turns`` times in round robin; a reply containing ``rewarded`` earns its role 1
    (or ``turn_rewards[t]`` at turn t). The smallest environment a policy gradient can learn from."""

    metadata = {"name": "pick_v0"}

    def __init__(self, roles: tuple[str, ...] = ("speaker_0",), turns: int = 1, rewarded: str = REWARDED, turn_rewards: list[float] | None = None) -> None:
        super().__init__()
        self.possible_agents = list(roles)
        self.turns = turns
        self.rewarded = rewarded
        self.turn_rewards = turn_rewards

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        self.agents = list(self.possible_agents)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {a: {} for a in self.agents}
        self.turn = 0
        self.index = 0
        self.history = {a: [{"role": "system", "content": f"You are {a}."}, {"role": "user", "content": "Reply with one word."}] for a in self.agents}
        self.agent_selection = self.agents[0]
        self._refresh_info()

    def _refresh_info(self) -> None:
        for agent in self.agents:
            self.infos[agent] = {"messages": list(self.history[agent]), "turn": self.turn}

    def observe(self, agent: str) -> dict[str, Any]:
        return {"text": self.history[agent][-1]["content"]}

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._cumulative_rewards[agent] = 0.0
        self.rewards = dict.fromkeys(self.agents, 0.0)
        hit = self.rewarded in str(action)
        self.rewards[agent] = (self.turn_rewards[self.turn] if self.turn_rewards else 1.0) if hit else 0.0
        self.history[agent] += [{"role": "assistant", "content": str(action)}, {"role": "user", "content": "Again."}]
        self.index += 1
        if self.index == len(self.agents):
            self.index, self.turn = 0, self.turn + 1
            if self.turn >= self.turns:
                self.terminations = dict.fromkeys(self.agents, True)
        self.agent_selection = self.agents[self.index]
        self._refresh_info()
        self._accumulate_rewards()


def rewarded_mass(model: Any, tokenizer: Any, context: list[int]) -> float:
    """Probability that the next token after ``context`` is a rewarded reply."""
    rewarded = [i for i in range(len(tokenizer)) if REWARDED in tokenizer.decode([i], skip_special_tokens=True)]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([context])).logits[0, -1].float()
    return float(torch.softmax(logits, -1)[rewarded].sum())


def small_args(**overrides: Any) -> Args:
    values = {"updates": 3, "groups_per_update": 2, "group_size": 6, "concurrency": 4, "max_new_tokens": 1, "learning_rate": 3e-3,
              "micro_batch_size": 6, "eval_episodes": 2, "seed": 3, **overrides}
    return Args(**values)


def fresh(tiny_lm: tuple[Any, Any]) -> tuple[Any, Any]:
    model, tokenizer = tiny_lm
    return copy.deepcopy(model), tokenizer


# ------------------------------------------------------------------------------ credit and advantages
def test_turn_returns_put_each_reward_on_its_turn():
    assert turn_returns([0.0, 0.0, 1.0], gamma=1.0) == [1.0, 1.0, 1.0]
    assert turn_returns([1.0, 0.0, 0.0], gamma=0.5) == [1.0, 0.0, 0.0]  # a reward never flows to later turns
    assert turn_returns([0.0, 0.25, -0.5], gamma=0.5) == pytest.approx([0.5 * 0.25 + 0.25 * -0.5, 0.25 + 0.5 * -0.5, -0.5])
    assert turn_returns([1.0, 2.0], gamma=0.9) == pytest.approx([2.8, 2.0])
    assert turn_returns([], gamma=0.9) == []


def test_group_advantages_per_turn_position_and_per_episode():
    returns = [[1.0, 0.5], [0.0], [0.0, 1.5]]
    by_turn = group_advantages(returns, "turn", scale=False)
    assert by_turn[0][0] == pytest.approx(1 - 1 / 3) and by_turn[1][0] == pytest.approx(-1 / 3)
    assert by_turn[0][1] == pytest.approx(-0.5) and by_turn[2][1] == pytest.approx(0.5)  # only episodes that reached turn 1
    lone = group_advantages([[1.0, 2.0], [0.0]], "turn")
    assert lone[0][1] == 0.0  # no comparison at a position only one episode reached
    by_episode = group_advantages(returns, "episode", scale=False)
    assert by_episode[0] == [pytest.approx(2 / 3)] * 2 and by_episode[1] == [pytest.approx(-1 / 3)]
    with pytest.raises(ValueError, match="advantage must be one of turn, episode"):
        group_advantages(returns, "token")


def test_bad_args_name_the_field():
    with pytest.raises(ValueError, match="lm.group_size must be a positive integer"):
        args_from({"group_size": 0})
    with pytest.raises(ValueError, match="lm has unknown settings \\['groupsize'\\]"):
        args_from({"groupsize": 4})
    with pytest.raises(ValueError, match="lm.advantage must be one of turn, episode"):
        args_from({"advantage": "gae"})


# ---------------------------------------------------------------------------------------- learning
def test_a_few_updates_raise_the_probability_of_the_rewarded_reply(tiny_lm):
    model, tokenizer = fresh(tiny_lm)
    trainer = LMTrainer(small_args(updates=6, group_size=8, learning_rate=0.1), PickEnv, {"speaker_0": {}}, model=model, tokenizer=tokenizer)
    records = trainer.play([0], 1, temperature=1.0, sample_base=0)
    context = records[0]["tokens"]["speaker_0"].turns[0].context_ids
    before = rewarded_mass(model, tokenizer, context)
    history = trainer.train()
    after = rewarded_mass(model, tokenizer, context)
    assert 0.02 < before < 0.9
    assert after > before + 0.3, (before, after, [row["reward"] for row in history])
    assert history[-1]["model_tokens"] > 0 and np.isfinite(history[-1]["entropy"])


def test_half_precision_models_train_float32_master_weights_under_autocast(tiny_lm):
    model, tokenizer = fresh(tiny_lm)
    trainer = LMTrainer(small_args(updates=15, group_size=8, learning_rate=0.1), PickEnv, {"speaker_0": {}},
                        model=model.to(torch.bfloat16), tokenizer=tokenizer)
    policy = trainer.policies["shared"]
    # the weights and the optimizer's state are float32; generation and the loss run in bfloat16
    assert {p.dtype for p in policy.parameters()} == {torch.float32} and policy.feedbackgym_autocast is torch.bfloat16
    records = trainer.play([0], 1, temperature=1.0, sample_base=0)
    context = records[0]["tokens"]["speaker_0"].turns[0].context_ids
    before = rewarded_mass(policy, tokenizer, context)
    history = trainer.train()
    after = rewarded_mass(policy, tokenizer, context)
    assert {p.dtype for p in policy.parameters()} == {torch.float32}
    assert next(iter(trainer.optimizers["shared"].state.values()))["exp_avg"].dtype is torch.float32
    assert after > before + 0.3, (before, after, [row["reward"] for row in history])


@pytest.mark.parametrize("master_weights", [True, False])
def test_small_updates_survive_only_with_master_weights(tiny_lm, master_weights):
    # Adam moves every weight by about the learning rate: 1e-5 is far below a bfloat16 weight's last
    # bit (about 1e-4 for a weight of 0.02), so without float32 master weights the update is lost.
    model, tokenizer = fresh(tiny_lm)
    trainer = LMTrainer(small_args(updates=2, group_size=8, learning_rate=1e-5, master_weights=master_weights), PickEnv, {"speaker_0": {}},
                        model=model.to(torch.bfloat16), tokenizer=tokenizer)
    policy = trainer.policies["shared"]
    start = [p.detach().float().clone() for p in policy.parameters()]
    history = trainer.train()
    assert sum(row["optimizer_steps"] for row in history) >= 1 and any(row["grad_norm"] > 0 for row in history)
    changed = sum(int((p.detach().float() != q).sum()) for p, q in zip(policy.parameters(), start))
    total = sum(q.numel() for q in start)
    if master_weights:
        assert changed > total // 2
    else:
        assert {p.dtype for p in policy.parameters()} == {torch.bfloat16} and not hasattr(policy, "feedbackgym_autocast")
        assert changed < total // 10  # the few that move are weights near zero, where bfloat16 is fine-grained


def test_bool_knobs_must_be_bools():
    with pytest.raises(ValueError, match="lm.master_weights must be true or false"):
        check_args(Args(master_weights="yes"))


def test_environment_tokens_get_no_gradient(tiny_lm):
    model, tokenizer = fresh(tiny_lm)
    trainer = LMTrainer(small_args(max_new_tokens=2), lambda: PickEnv(turns=2), {"speaker_0": {}}, model=model, tokenizer=tokenizer)
    records = trainer.play([5], 2, temperature=1.0, sample_base=0)
    (sequence, *_) = trainer.sequences(records)
    tokens = records[0]["tokens"]["speaker_0"]
    own = {len(t.context_ids) + k for t in tokens.turns for k in range(len(t.completion_ids))}
    assert {i for i, m in enumerate(sequence.mask) if m} == own  # exactly the model's own positions
    # the loss's gradient at the logits of each position: nonzero exactly where the next token is the model's,
    # even with huge advantages and arbitrary old log-probabilities planted at the environment's positions
    batch = _pad([sequence], trainer.pad_id, trainer.device)
    env_positions = batch["mask"] == 0
    batch["advantages"][env_positions] = 1e3
    batch["old"][env_positions] = -5.0
    probe: dict[str, Any] = {}

    def hook(_module: Any, _inputs: Any, output: Any) -> None:
        output.retain_grad()
        probe["logits"] = output

    handle = model.lm_head.register_forward_hook(hook)
    new, _ = token_logprobs(model, batch["ids"], batch["attention"], 1.0, batch["start"])
    handle.remove()
    loss, _, _ = clipped_policy_loss(new, batch["old"], batch["advantages"] + 0.5, batch["mask"], 0.2, 0.2)
    loss.backward()
    start = batch["start"]
    assert start == sequence.mask.index(1)  # no logits are computed before the first model token
    grads = probe["logits"].grad[0, :-1].abs().sum(-1)  # row j predicts the token at start + j
    for row in range(len(sequence.ids) - start):
        if sequence.mask[start + row]:
            assert grads[row] > 0, row
        else:
            assert grads[row] == 0, row


def test_rewards_reach_the_right_turns_through_the_runner(tiny_lm):
    model, tokenizer = fresh(tiny_lm)
    env = lambda: PickEnv(turns=3, rewarded="", turn_rewards=[0.0, 0.0, 1.0])  # noqa: E731 (every reply "hits")
    trainer = LMTrainer(small_args(gamma=0.5, advantage="turn"), env, {"speaker_0": {}}, model=model, tokenizer=tokenizer)
    records = trainer.play([1], 1, temperature=1.0, sample_base=0)
    turns = records[0]["tokens"]["speaker_0"].turns
    assert [t.reward for t in turns] == [0.0, 0.0, 1.0]
    assert turn_returns([t.reward for t in turns], 0.5) == [0.25, 0.5, 1.0]


def test_two_learners_both_update(tiny_lm):
    for share in (True, False):
        model, tokenizer = fresh(tiny_lm)
        env = lambda: PickEnv(roles=("buyer_0", "seller_0"))  # noqa: E731
        trainer = LMTrainer(small_args(updates=1, share_policy=share), env, {"buyer_0": {}, "seller_0": {"system_prompt": "You sell."}},
                            model=model, tokenizer=tokenizer)
        starting = {name: [p.detach().clone() for p in net.parameters()] for name, net in trainer.policies.items()}
        history = trainer.train()
        assert len(trainer.policies) == (1 if share else 2)
        for name, network in trainer.policies.items():
            changed = any(not torch.equal(a, b) for a, b in zip(starting[name], network.parameters()))
            assert changed, name
        assert {"reward/buyer_0", "reward/seller_0"} <= set(history[-1])


def test_checkpoint_round_trip_into_the_hf_agent(tiny_lm, tmp_path):
    from feedbackgym.agents import make_agent
    from feedbackgym.agents.hf.loading import clear_cache

    model, tokenizer = fresh(tiny_lm)
    trainer = LMTrainer(small_args(updates=1, max_new_tokens=3), PickEnv, {"speaker_0": {}}, model=model, tokenizer=tokenizer)
    trainer.train()
    saved = trainer.save(tmp_path / "checkpoint")
    assert saved["speaker_0"] == tmp_path / "checkpoint"
    agent = make_agent("hf", model=str(saved["speaker_0"]), device="cpu", temperature=0.0, max_new_tokens=3)
    try:
        loaded = agent.loaded.model
        for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
            assert torch.equal(a, b), name
        env = PickEnv()
        env.reset(seed=0)
        observation, _, _, _, info = env.last()
        played = agent.act(observation, info)
        ours = make_agent("hf", model=model, tokenizer=tokenizer, temperature=0.0, max_new_tokens=3)
        assert played == ours.act(observation, info)
    finally:
        clear_cache()


def test_reproducible_from_a_seed(tiny_lm):
    runs = []
    for _ in range(2):
        model, tokenizer = fresh(tiny_lm)
        trainer = LMTrainer(small_args(updates=2, concurrency=1), PickEnv, {"speaker_0": {}}, model=model, tokenizer=tokenizer)
        history = trainer.train()
        runs.append(([row["loss"] for row in history], [p.detach().clone() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


def test_sequences_refuse_corrupt_records(tiny_lm):
    from feedbackgym.agents.hf.records import EpisodeTokens, TurnRecord

    tokens = EpisodeTokens(turns=[TurnRecord(0, 0, [1, 2], [0, 0], [3], [-0.1]), TurnRecord(1, 1, [1, 2, 9, 4], [0, 0, 1, 0], [5], [-0.2])])
    with pytest.raises(ValueError, match="corrupt"):
        sequences_of("speaker_0", tokens, [0.0, 0.0])


# ----------------------------------------------------------------------------- feedbackgym train
def compose_train(*overrides: str) -> Any:
    from hydra import compose, initialize_config_module

    with initialize_config_module(config_module="feedbackgym.conf.train", version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


@pytest.mark.parametrize("overlay", ["lm_single_turn", "lm_try_again", "lm_selfplay_negotiation"])
def test_lm_overlays_compose_and_check(overlay):
    from feedbackgym.experiments.lm_train import check_lm_config
    from feedbackgym.experiments.train import _plain

    plan = check_lm_config(_plain(compose_train(f"training={overlay}")))
    assert plan["runs"] and all(args_by_seed for _, _, args_by_seed in plan["runs"].values())


def test_bad_lm_config_is_a_configuration_error(tmp_path):
    from feedbackgym.experiments.configuration import ConfigError
    from feedbackgym.experiments.train import run_training

    with pytest.raises(ConfigError, match="lm.group_size must be a positive integer"):
        run_training(compose_train("training=lm_single_turn", "lm.group_size=0"), tmp_path)
    with pytest.raises(ConfigError, match="learners \\['judge_0'\\] are not agents of SolverFeedback-v0"):
        run_training(compose_train("training=lm_single_turn", "+learners.judge_0={}"), tmp_path)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("learners.solver_0.reply_prefix=3", "learners.solver_0: reply_prefix must be"),
        ("learners.solver_0.max_new_tokens=abc", "learners.solver_0: max_new_tokens must be"),
        ("learners.solver_0.max_new_tokens=0", "learners.solver_0: max_new_tokens must be"),
        ("+learners.solver_0.prompt=ufo_solverr", "learners.solver_0: prompt must name a prompt template"),
        ("+learners.solver_0.system_prompt=[1,2]", "learners.solver_0: system_prompt must be"),
        ("+learners.solver_0.temperature=2", "learners.solver_0 has unknown settings ['temperature']"),
    ],
)
def test_bad_learner_settings_are_named_before_any_model_loads(tmp_path, override, expected):
    from feedbackgym.experiments.configuration import ConfigError
    from feedbackgym.experiments.train import run_training

    # the model does not exist: the check must come first
    cfg = compose_train("training=lm_try_again", f"lm.model={tmp_path / 'no-such-model'}", override)
    with pytest.raises(ConfigError, match=re.escape(expected)):
        run_training(cfg, tmp_path / "out")


def test_feedbackgym_train_runs_an_lm_overlay_end_to_end(tiny_lm, tmp_path):
    """Before/after evaluation, CSV, curve, checkpoint that the hf agent loads, with the tiny model from a folder."""
    import csv

    from feedbackgym.agents.hf.loading import clear_cache
    from feedbackgym.experiments.train import run_training

    model, tokenizer = fresh(tiny_lm)
    folder = tmp_path / "tiny"
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    cfg = compose_train("training=lm_try_again", f"lm.model={folder}", "lm.device=cpu", "lm.updates=2", "lm.groups_per_update=1",
                        "lm.group_size=2", "lm.max_new_tokens=3", "learners.solver_0.max_new_tokens=3", "lm.concurrency=2",
                        "train.eval_episodes=2", "train.tensorboard=false", "~train.conditions.single_turn",
                        "train.conditions.multi_turn.train.max_turns=2")
    try:
        rows = run_training(cfg, tmp_path / "out")
    finally:
        clear_cache()
    (row,) = rows
    run_dir = tmp_path / "out" / "multi_turn" / "seed1"
    with (run_dir / "updates.csv").open() as handle:
        updates = list(csv.DictReader(handle))
    assert [float(u["update"]) for u in updates] == [1.0, 2.0]
    assert {"reward", "success", "approx_kl", "kl_ref", "entropy", "tokens_per_s", "seconds"} <= set(updates[0])
    assert (run_dir / "learning_curve.png").stat().st_size > 0
    assert (run_dir / "checkpoint" / "config.json").exists()
    assert len((run_dir / "eval_before.jsonl").read_text().splitlines()) == 2
    assert len((run_dir / "eval_after.jsonl").read_text().splitlines()) == 2
    assert "before/acc@1" in row and "after/acc@2" in row  # the runner's aggregate of the evaluation episodes
    assert "before/reward" in row and "after/reward" in row and (tmp_path / "out" / "results.csv").exists()
    with (tmp_path / "out" / "results.csv").open() as handle:
        (mean,) = list(csv.DictReader(handle))  # one condition: its mean over the (one) seed
    assert mean["condition"] == "multi_turn" and mean["seeds"] == "1" and float(mean["after/reward"]) == pytest.approx(row["after/reward"])
    assert (tmp_path / "out" / "results_by_seed.csv").exists()
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")  # the report, with both evaluations' episodes
    assert "multi_turn (before training)" in page and "multi_turn (after training)" in page and "after/acc@1" in page


def test_kl_to_the_frozen_reference_is_measured_and_penalised(tiny_lm):
    model, tokenizer = fresh(tiny_lm)
    starting = [p.detach().clone() for p in model.parameters()]
    trainer = LMTrainer(small_args(updates=2, kl_coef=0.5), PickEnv, {"speaker_0": {}}, model=model, tokenizer=tokenizer)
    assert trainer.reference is not None and all(torch.equal(a, b) for a, b in zip(starting, trainer.reference.parameters()))
    history = trainer.train()
    assert history[0]["kl_ref"] == pytest.approx(0.0, abs=1e-6)  # the first update starts at the reference
    assert history[1]["kl_ref"] > 0  # after one step the policy has moved away from it
    assert all(torch.equal(a, b) for a, b in zip(starting, trainer.reference.parameters()))  # the reference stays frozen


def test_lora_adapters_per_role_train_and_merge_into_checkpoints(tiny_lm, tmp_path):
    pytest.importorskip("peft")
    from feedbackgym.agents import make_agent
    from feedbackgym.agents.hf.loading import clear_cache

    model, tokenizer = fresh(tiny_lm)
    base = [p.detach().clone() for p in model.parameters()]
    env = lambda: PickEnv(roles=("buyer_0", "seller_0"))  # noqa: E731
    trainer = LMTrainer(small_args(updates=2, lora=True, lora_r=4, share_policy=False, kl_coef=0.1), env, {"buyer_0": {}, "seller_0": {}},
                        model=model, tokenizer=tokenizer)
    assert trainer.reference is None  # with LoRA the base (adapter disabled) is the reference
    history = trainer.train()
    assert np.isfinite(history[-1]["kl_ref"])
    saved = trainer.save(tmp_path / "ckpt")
    assert saved["buyer_0"] != saved["seller_0"] and (saved["buyer_0"] / "adapter").is_dir()
    try:
        for role, folder in saved.items():
            loaded = make_agent("hf", model=str(folder), device="cpu").loaded.model
            merged = [p for p in loaded.parameters()]
            assert len(merged) == len(base)
            assert any(not torch.allclose(a, b) for a, b in zip(base, merged)), role  # the trained adapter is merged in
    finally:
        clear_cache()
