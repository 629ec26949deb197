"""The hf agent with a tiny random Llama built in memory: every environment and role through the runner,
token-level records (masks, logprobs, append-only contexts, rewards), batching, seeding, bad input."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
from typing import Any

import pytest

pytest.importorskip("transformers")
import torch  # noqa: E402

from feedbackgym.agents import make_agent  # noqa: E402
from feedbackgym.agents.registration import build_agents  # noqa: E402
from feedbackgym.envs import make, registry  # noqa: E402
from feedbackgym.envs.core.registry import load_entry_point  # noqa: E402
from feedbackgym.experiments.runner import EpisodeJob, run_episodes  # noqa: E402

torch.set_num_threads(1)


def hf_agent(tiny_lm: tuple[Any, Any], **kwargs: Any) -> Any:
    model, tokenizer = tiny_lm
    options = {"max_new_tokens": 3, "temperature": 1.0, **kwargs}
    return make_agent("hf", model=model, tokenizer=tokenizer, **options)


def short_env(env_id: str, **kwargs: Any) -> Any:
    """The environment with at most two turns where it has a ``max_turns`` (the tiny model only ever makes invalid moves)."""
    spec = registry[env_id]
    entry = load_entry_point(spec.entry_point) if isinstance(spec.entry_point, str) else spec.entry_point
    if "max_turns" in inspect.signature(entry).parameters:
        kwargs.setdefault("max_turns", 2)
    return make(env_id, **kwargs)


def run(env_id: str, agents_for: Any, seeds: list[int], concurrency: int, **env_kwargs: Any) -> list[dict[str, Any]]:
    jobs = [EpisodeJob(str(seed), seed) for seed in seeds]
    return asyncio.run(run_episodes(jobs, lambda _c: short_env(env_id, **env_kwargs), lambda _c: build_agents(agents_for()), concurrency=concurrency))


def forward_logprobs(model: Any, context: list[int], completion: list[int], temperature: float) -> list[float]:
    with torch.inference_mode():
        ids = torch.tensor([context + completion])
        logits = model(input_ids=ids).logits[0, len(context) - 1 : -1].float()
    if temperature > 0:
        logits = logits / temperature
    logp = torch.log_softmax(logits, dim=-1)
    return [float(logp[i, token]) for i, token in enumerate(completion)]


def check_records(records: list[dict[str, Any]], model: Any, temperature: float, logprob_turns: int = 2) -> int:
    """Every invariant of the token records; returns how many turns were checked."""
    checked = 0
    for record in records:
        assert record["error"] is None, record["error"]
        for agent_id, tokens in record.get("tokens", {}).items():
            # rewards: every reward the agent got lands on a turn (or before its first), summing to its return
            assert tokens.total_reward == pytest.approx(record["returns"][agent_id], abs=1e-9)
            previous = None
            for turn in tokens.turns:
                assert len(turn.context_mask) == len(turn.context_ids)
                assert len(turn.logprobs) == len(turn.completion_ids) > 0
                assert all(lp <= 1e-6 for lp in turn.logprobs)
                if previous is not None and turn.segment == previous.segment:
                    # append-only: the previous context and completion, then the environment's new tokens
                    grown = previous.context_ids + previous.completion_ids
                    assert turn.context_ids[: len(grown)] == grown
                    assert len(turn.context_ids) > len(grown)
                    assert turn.rebuilt is None
                    expected_mask = previous.context_mask + [1] * len(previous.completion_ids)
                    assert turn.context_mask == expected_mask + [0] * (len(turn.context_ids) - len(grown))
                else:
                    assert turn.context_mask == [0] * len(turn.context_ids)
                    if previous is not None:
                        assert turn.rebuilt and turn.segment == previous.segment + 1
                previous = turn
            for turn in tokens.turns[:logprob_turns]:
                recomputed = forward_logprobs(model, turn.context_ids, turn.completion_ids, temperature)
                assert recomputed == pytest.approx(turn.logprobs, abs=2e-4)
                checked += 1
            # the TRL view: env_mask marks exactly the model's own tokens
            for rollout, segment in zip(tokens.rollouts(), tokens.segments()):
                assert len(rollout["completion_ids"]) == len(rollout["logprobs"]) == len(rollout["env_mask"])
                own = [t for turn in segment for t in turn.completion_ids]
                assert [t for t, m in zip(rollout["completion_ids"], rollout["env_mask"]) if m] == own
                last = segment[-1]
                assert rollout["prompt_ids"] + rollout["completion_ids"] == last.context_ids + last.completion_ids
    return checked


@pytest.mark.parametrize("env_id", sorted(registry))
def test_plays_every_environment_in_every_role(tiny_lm, env_id):
    from feedbackgym.agents.hf.agent import HFAgent

    class CountingAgent(HFAgent):
        async def aact(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
            self.asked += 1
            return await super().aact(observation, info)

    roles = make(env_id).unwrapped.possible_agents
    agents = {}
    for role in roles:
        agents[role] = CountingAgent(model=tiny_lm[0], tokenizer=tiny_lm[1], max_new_tokens=3, temperature=1.0)
        agents[role].asked = 0
    records = run(env_id, lambda: agents, seeds=[0], concurrency=1)
    (record,) = records
    assert record["error"] is None and record["steps"] > 0
    assert sum(agent.asked for agent in agents.values()) == record["steps"]
    # every role the environment asked to move was played by the model and recorded, turn by turn
    for role, agent in agents.items():
        turns = len(record["tokens"][role].turns) if role in record["tokens"] else 0
        assert turns == agent.asked, role
    assert check_records(records, tiny_lm[0], temperature=1.0) > 0


def test_records_hold_with_greedy_decoding_and_templates(tiny_lm):
    roles = ["solver_0", "teacher_0"]
    agents = lambda: {"solver_0": hf_agent(tiny_lm, temperature=0.0, prompt="ufo_solver"), "teacher_0": hf_agent(tiny_lm, temperature=0.0)}  # noqa: E731
    records = run("SolverFeedback-v0", agents, seeds=[3, 4], concurrency=2, max_turns=4)
    assert check_records(records, tiny_lm[0], temperature=0.0, logprob_turns=4) >= 4
    solver = records[0]["tokens"]["solver_0"]
    text = tiny_lm[1].decode(solver.turns[0].context_ids)
    assert "Only give the final answer between <answer>" in text and "Always output: <think>" in text
    assert {r for r in records[0]["tokens"]} == set(roles)


@pytest.mark.parametrize("prefix", ["Answer: (", "\u00c9tape 1 \u2014 ", "<answer>\n", " ", "\U0001f600 x\ty"])
def test_a_reply_prefix_starts_every_reply_and_is_never_the_models(tiny_lm, prefix):
    tokenizer = tiny_lm[1]
    prefix_ids = tokenizer(prefix, add_special_tokens=False)["input_ids"]
    agents = lambda: {"solver_0": hf_agent(tiny_lm, reply_prefix=prefix), "teacher_0": hf_agent(tiny_lm, reply_prefix=prefix)}  # noqa: E731
    records = run("SolverFeedback-v0", agents, seeds=[5, 6], concurrency=2, max_turns=3)
    assert check_records(records, tiny_lm[0], temperature=1.0, logprob_turns=3) >= 3
    moves = 0
    for record in records:
        replies = [entry["text"] for entry in record["transcript"] if entry["kind"] == "move"]
        for role, tokens in record["tokens"].items():
            for turn in tokens.turns:
                # the prefix sits right before the completion, as context (mask 0), and the reply sent is prefix + completion
                assert turn.context_ids[-len(prefix_ids):] == prefix_ids
                assert turn.context_mask[-len(prefix_ids):] == [0] * len(prefix_ids)
                assert turn.text == prefix + tokenizer.decode(turn.completion_ids, skip_special_tokens=True)
                assert turn.text.startswith(prefix)
                moves += 1
        assert all(reply.startswith(prefix.strip()) for reply in replies if reply.strip())
    assert moves >= 4


def test_rewards_land_on_the_turns_that_earned_them(tiny_lm):
    # The tiny model's replies are never parseable: every solver generation is an invalid move that
    # costs exactly the penalty, credited to that generation and no other.
    penalty = -0.25
    records = run("SolverFeedback-v0", lambda: {"solver_0": hf_agent(tiny_lm), "teacher_0": "scripted_teacher"}, seeds=[0], concurrency=1, invalid_move_penalty=penalty, max_turns=2)
    record = records[0]
    tokens = record["tokens"]["solver_0"]
    invalid = [m for m in record["transcript"] if m["sender"] == "solver_0" and m["kind"] == "invalid"]
    assert len(invalid) == len(tokens.turns) >= 2
    assert [turn.reward for turn in tokens.turns] == [penalty] * len(tokens.turns)
    assert tokens.reward_before_first_turn == 0.0
    assert record["returns"]["solver_0"] == pytest.approx(penalty * len(tokens.turns))
    assert "teacher_0" not in record["tokens"]  # a scripted agent keeps no token records


def test_batched_and_unbatched_runs_agree(tiny_lm):
    from feedbackgym.agents.hf.loading import wrap_model

    seeds = list(range(6))
    for temperature in (0.0, 1.0):
        agents = lambda: {"solver_0": hf_agent(tiny_lm, temperature=temperature), "teacher_0": "scripted_teacher"}  # noqa: E731
        queue = wrap_model(*tiny_lm).queue
        before = (queue.batches, queue.batched_requests)
        one_at_a_time = run("SolverFeedback-v0", agents, seeds, concurrency=1, max_turns=3)
        assert queue.batched_requests - before[1] == queue.batches - before[0]  # batches of one
        before = (queue.batches, queue.batched_requests)
        in_flight = run("SolverFeedback-v0", agents, seeds, concurrency=6, max_turns=3)
        assert queue.batched_requests - before[1] > 2 * (queue.batches - before[0])  # really batched
        for a, b in zip(one_at_a_time, in_flight):
            assert a["transcript"] == b["transcript"]
            ta, tb = a["tokens"]["solver_0"], b["tokens"]["solver_0"]
            assert [t.context_ids for t in ta.turns] == [t.context_ids for t in tb.turns]
            assert [t.completion_ids for t in ta.turns] == [t.completion_ids for t in tb.turns]
            for x, y in zip(ta.turns, tb.turns):
                assert x.logprobs == pytest.approx(y.logprobs, abs=1e-4)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
@pytest.mark.parametrize("concurrency", [1, 4])
def test_reusing_the_cache_across_turns_runs_only_new_tokens_and_changes_nothing(tiny_lm, temperature, concurrency):
    seeds = [11, 12, 13, 14]

    def play(reuse: bool) -> list[dict[str, Any]]:
        agents = lambda: {role: hf_agent(tiny_lm, temperature=temperature, reuse_cache=reuse, max_new_tokens=4) for role in ("solver_0", "teacher_0")}  # noqa: E731
        return run("SolverFeedback-v0", agents, seeds, concurrency=concurrency, max_turns=4)

    fresh, reused = play(False), play(True)
    assert check_records(reused, tiny_lm[0], temperature=temperature, logprob_turns=6) > 0
    for a, b in zip(fresh, reused):
        assert a["transcript"] == b["transcript"]
        for role in a["tokens"]:
            ta, tb = a["tokens"][role], b["tokens"][role]
            assert [t.context_ids for t in ta.turns] == [t.context_ids for t in tb.turns]
            assert [t.completion_ids for t in ta.turns] == [t.completion_ids for t in tb.turns]
            for x, y in zip(ta.turns, tb.turns):
                assert x.logprobs == pytest.approx(y.logprobs, abs=1e-4)
        for role, stats in b["agents"].items():
            turns = len(b["tokens"][role].turns)
            assert a["agents"][role]["reused_prompt_tokens"] == 0
            if turns > 1:
                # every later turn took its context's earlier tokens from the cache
                assert stats["reused_prompt_tokens"] >= sum(len(t.context_ids) for t in b["tokens"][role].turns[:-1])
            assert stats["reused_prompt_tokens"] < stats["prompt_tokens"]


def test_a_batch_mixing_reused_and_fresh_rows_generates_what_each_row_would_alone(tiny_lm):
    from feedbackgym.agents.hf.generation import GenerationRequest, generate_batch

    model = tiny_lm[0]
    rng = torch.Generator().manual_seed(0)
    contexts = [torch.randint(5, 200, (length,), generator=rng).tolist() for length in (9, 23, 4, 15)]
    extensions = [torch.randint(5, 200, (length,), generator=rng).tolist() for length in (3, 1, 12, 6)]

    def request(ids: list[int], **kwargs: Any) -> GenerationRequest:
        return GenerationRequest(prompt_ids=ids, max_new_tokens=5, generator=None, **kwargs)

    # first turns, each alone, keeping their caches
    firsts = [generate_batch(model, [request(ids, keep_cache=True)], 0)[0] for ids in contexts]
    grown = [c + f.token_ids + e for c, f, e in zip(contexts, firsts, extensions)]
    for first, context in zip(firsts, contexts):
        assert first.cache_length == len(context) + len(first.token_ids) - 1
    alone = [generate_batch(model, [request(ids)], 0)[0] for ids in grown]
    # second turns in one batch: rows 0 and 2 reuse their caches, rows 1 and 3 run from scratch
    mixed = [request(ids, past=f.cache, past_length=f.cache_length) if row % 2 == 0 else request(ids)
             for row, (ids, f) in enumerate(zip(grown, firsts))]
    together = generate_batch(model, mixed, 0)
    assert [o.reused for o in together] == [firsts[0].cache_length, 0, firsts[2].cache_length, 0]
    for a, b in zip(alone, together):
        assert a.token_ids == b.token_ids
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-4)


def test_a_rebuilt_context_does_not_reuse_the_cache(tiny_lm):
    # A window of 2 messages drops old ones: the context is rebuilt and that turn runs from scratch.
    agents = lambda: {"solver_0": hf_agent(tiny_lm, temperature=0.0), "teacher_0": "scripted_teacher"}  # noqa: E731
    records = run("SolverFeedback-v0", agents, [3], concurrency=1, max_turns=4, history_window=2)
    tokens = records[0]["tokens"]["solver_0"]
    assert any(turn.rebuilt for turn in tokens.turns)
    assert check_records(records, tiny_lm[0], temperature=0.0, logprob_turns=8) >= 2


def test_seeded_reruns_are_identical_and_sample_seed_varies_a_group(tiny_lm):
    def play(sample_seed: int) -> list[dict[str, Any]]:
        agents = lambda: {"solver_0": hf_agent(tiny_lm, temperature=1.0, max_new_tokens=6, sample_seed=sample_seed), "teacher_0": "scripted_teacher"}  # noqa: E731
        return run("SolverFeedback-v0", agents, [7, 8], concurrency=2, max_turns=2)

    first, again, other = play(0), play(0), play(1)
    completions = lambda records: [[t.completion_ids for t in r["tokens"]["solver_0"].turns] for r in records]  # noqa: E731
    assert completions(first) == completions(again)
    assert [r["transcript"] for r in first] == [r["transcript"] for r in again]
    assert completions(first) != completions(other)
    # same seed and task: one group, whatever the sample seed
    assert [r["tokens"]["solver_0"].group_id for r in first] == [r["tokens"]["solver_0"].group_id for r in other]
    assert first[0]["tokens"]["solver_0"].group_id != first[1]["tokens"]["solver_0"].group_id


def test_sync_act_matches_the_queue(tiny_lm):
    import feedbackgym

    env = short_env("SolverFeedback-v0")
    queued = feedbackgym.rollout(env, {"solver_0": hf_agent(tiny_lm, temperature=0.7), "teacher_0": "scripted_teacher"}, seed=5)
    agent = hf_agent(tiny_lm, temperature=0.7)
    env = short_env("SolverFeedback-v0")
    env.reset(seed=5)
    agent.reset(seed=queued.tokens["solver_0"].seed)
    observation, _, _, _, info = env.last()
    assert agent.act(observation, info) == queued.tokens["solver_0"].turns[0].text


def test_token_records_round_trip_through_a_file(tiny_lm, tmp_path):
    from feedbackgym.agents.hf.records import read_tokens, write_tokens

    records = run("SolverFeedback-v0", lambda: {"solver_0": hf_agent(tiny_lm), "teacher_0": "scripted_teacher"}, [1], concurrency=1)
    path = write_tokens(tmp_path / "tokens.jsonl", records)
    ((head, tokens),) = read_tokens(path)
    assert head == {"episode_id": "1", "condition": "default", "episode_seed": 1, "agent": "solver_0"}
    assert tokens == records[0]["tokens"]["solver_0"]
    assert tokens.rollout()["prompt_ids"] == tokens.turns[0].context_ids


def test_a_window_that_drops_messages_rebuilds_the_context_and_says_why(tiny_lm):
    from feedbackgym.agents.hf.context import TokenContext

    tokenizer = tiny_lm[1]
    context = TokenContext(tokenizer, lambda messages: [dict(m) for m in messages], suffix=None)
    system, question = {"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}
    assert context.prompt([system, question]) is None
    first = list(context.ids)
    reply = tokenizer("4", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    context.add_completion(reply, finished=True, end_token=tokenizer.eos_token_id)
    feedback = {"role": "user", "content": "Wrong."}
    assert context.prompt([system, question, {"role": "assistant", "content": "4"}, feedback]) is None
    assert context.ids[: len(first) + len(reply)] == first + reply
    # the appended part renders exactly what the chat template would (the end token is not doubled)
    assert tokenizer.decode(context.ids) == tokenizer.apply_chat_template(
        [system, question, {"role": "assistant", "content": "4"}, feedback], tokenize=False, add_generation_prompt=True
    )
    context.add_completion(reply, finished=True, end_token=tokenizer.eos_token_id)
    reason = context.prompt([system, {"role": "user", "content": "[3 earlier messages omitted]"}, {"role": "user", "content": "Again."}])
    assert reason is not None and "window" in reason
    assert context.segment == 1 and context.mask == [0] * len(context.ids)


def test_a_template_that_rewrites_earlier_turns_forces_a_rebuild(tiny_lm):
    from feedbackgym.agents.hf.context import TokenContext

    # A header that counts the messages changes the start of the text whenever a turn is added.
    counting = "<|im_start|>system\n{{ messages|length }} messages<|im_end|>\n" + tiny_lm[1].chat_template
    tokenizer = tiny_lm[1]
    context = TokenContext(tokenizer, lambda messages: [dict(m) for m in messages], suffix=None, chat_template=counting)
    question = {"role": "user", "content": "What is 2+2?"}
    context.prompt([question])
    context.add_completion([5, 6], finished=False, end_token=None)
    reason = context.prompt([question, {"role": "assistant", "content": "x"}, {"role": "user", "content": "Wrong."}])
    assert reason is not None and "renders earlier turns differently" in reason
    assert tokenizer.decode(context.ids).startswith("<|im_start|>system\n3 messages")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"temperature": -1}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_k": 0}, "top_k"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"max_batch": 0}, "max_batch"),
        ({"prompt": "ufo_solverr"}, "ufo_solver"),
        ({"temperature": float("nan")}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"max_new_tokens": 10**9}, "max_new_tokens"),
        ({"max_new_tokens": 2.5}, "max_new_tokens"),
        ({"record_tokens": "false"}, "record_tokens"),
        ({"batch_wait": float("inf")}, "batch_wait"),
        ({"system_prompt": "a\x00b"}, "system_prompt"),
        ({"sample_seed": -1}, "sample_seed"),
        ({"reply_prefix": "a\x00b"}, "reply_prefix"),
        ({"reply_prefix": 3}, "reply_prefix"),
        ({"reuse_cache": 1}, "reuse_cache"),
    ],
)
def test_bad_arguments_name_the_field(tiny_lm, kwargs, field):
    with pytest.raises((ValueError, KeyError), match=field):
        hf_agent(tiny_lm, **kwargs)


def test_bad_model_names_say_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="device must be one of"):
        make_agent("hf", model="smollm2-135m", device="tpu", home=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="feedbackgym models prepare smollm2-135m"):
        make_agent("hf", model="smollm2-135m", device="cpu", home=str(tmp_path))
    with pytest.raises(ValueError, match="dtype must be one of"):
        make_agent("hf", model="smollm2-135m", device="cpu", dtype="float8", home=str(tmp_path))
    with pytest.raises(TypeError, match="tokenizer"):
        make_agent("hf", model=torch.nn.Linear(2, 2))


def test_importing_agents_and_envs_loads_neither_torch_nor_transformers():
    code = (
        "import sys, feedbackgym, feedbackgym.envs, feedbackgym.agents, feedbackgym.agents.hf.records, feedbackgym.agents.hf.catalog\n"
        "from feedbackgym.agents import registered_agents\n"
        "assert 'hf' in registered_agents()\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_odd_observations_and_chat_messages_still_give_a_reply(tiny_lm):
    agent = hf_agent(tiny_lm, max_new_tokens=2)
    for observation, info in [(None, None), ({"text": None}, {"messages": "not a list", "turn": float("nan")}),
                              ({}, {"messages": [{"content": "no role"}, {"role": "tool", "content": 5}], "turn": "x"}),
                              ({}, {"messages": [{"role": None, "content": None}, "bare text"], "task": "not a mapping"})]:
        agent.reset(seed=0)
        assert isinstance(agent.act(observation, info), str)
