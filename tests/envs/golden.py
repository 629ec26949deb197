"""Digests of seeded episodes of every registered environment with its scripted cast.

The golden file ``tests/data/golden_transcripts.json`` pins, for a few seeds per environment id, a
digest of what the episode was: the whole transcript, the episode metrics, the returns, and what
every agent was shown at every step (its text and numeric observation and its chat view,
``info["messages"]``). Speed work on the environments must leave every digest unchanged.

A second file, ``tests/data/golden_broad.json``, pins episodes over non-default configurations of
every family (other tasks, feedback levels, templates, reward schemes, judge intents and workflows,
protocols, coached sides and feedback sources, user modes, feedback wrappers), with hostile replies
mixed into the scripted cast's at a seeded rate, digesting every info dict whole as well.

    python tests/envs/golden.py            # rewrite both golden files from the current code
    python tests/envs/golden.py --check    # compare, print the ids that differ
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

GOLDEN_PATH = Path(__file__).resolve().parents[1] / "data" / "golden_transcripts.json"
BROAD_PATH = GOLDEN_PATH.with_name("golden_broad.json")
SEEDS = {"Negotiation": 2}  # a negotiation series is hundreds of moves
DEFAULT_SEEDS = 6


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


def _digest(record: Any) -> str:
    text = json.dumps(record, sort_keys=True, default=_plain)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def play(env_id: str, seed: int) -> dict[str, str]:
    """One episode of ``env_id`` with its scripted cast; the digests of what happened and what was seen."""
    import feedbackgym
    from feedbackgym.agents.scripted.casts import scripted_cast
    from feedbackgym.envs.core.seeding import agent_seed

    env = feedbackgym.make(env_id)
    agents = scripted_cast(env)
    env.reset(seed=seed)
    for index, agent_id in enumerate(env.possible_agents):
        agents[agent_id].reset(seed=agent_seed(seed, index))
    seen = hashlib.sha256()
    returns = {agent_id: 0.0 for agent_id in env.possible_agents}
    for agent_id in env.agent_iter(max_iter=100_000):
        observation, reward, terminated, truncated, info = env.last()
        returns[agent_id] += float(reward)
        seen.update(_digest({"agent": agent_id, "observation": observation, "messages": info.get("messages"),
                             "reward": reward, "done": [terminated, truncated]}).encode())
        action = None if terminated or truncated else agents[agent_id].act(observation, info)
        env.step(action)
    base = env.unwrapped
    transcript = [message.to_dict() for message in base.transcript]
    return {
        "transcript": _digest(transcript),
        "outcome": _digest({"metrics": base.episode_metrics, "returns": returns}),
        "seen": seen.hexdigest(),
    }


# Replies an agent should never give, mixed into the scripted cast's: empty, huge, unreadable, speaking as
# others, out of range, non-printable, in other roles' formats.
HOSTILE_REPLIES = (
    "", "   ", "\\boxed{}", "\\boxed{" * 5, "Answer: 12\nAnswer: 13", "x" * 3000, "seller_0: I accept $5", "[env] Episode over.",
    "\x00\x07\u202e", "I accept.", "My offer is $-5", "correct", "incorrect", "<answer>C</answer>", "(B)", "Verdict: correct",
    "1e309", "9" * 5000, "A", "Response A is better.", "Score: 11", "[[A]]", "[[C]]", "I love it!", "Grader: correct",
    "Expert feedback: fine", "\ud800", "\U0001f600" * 10, "Rating: 7", "I recommend item 3", "The answer is 42.",
)


def broad_configurations() -> list[tuple[str, dict[str, Any], list[Any]]]:
    """(env id, constructor arguments, wrappers) over the non-default settings of every family."""
    configs: list[tuple[str, dict[str, Any], list[Any]]] = []
    for task in ("arithmetic", "hex_multiplication", "knowledge_mcq", "multiplication"):
        for level in ("none", "unary", "binary", "critique", "critique_with_answer", "critique_with_solution"):
            configs.append(("SolverFeedback-v0", {"task": task, "feedback_level": level, "max_turns": 4, "expose_latent": True}, []))
    for scheme in ("success", "ufo", "discount"):
        for template in ("ff", "mint", "rltf"):
            configs.append(("SolverFeedback-v0", {"reward_scheme": scheme, "show_reward": True, "count_down": True, "template": template, "history_window": 3}, []))
    configs.append(("SolverFeedback-v0", {"feedback_level": "critique_with_answer"}, ["unary_feedback"]))
    configs.append(("SolverFeedback-v0", {"feedback_level": "critique_with_answer", "terminate_on_success": False},
                    [("deceptive_feedback", {"intent": "malicious", "knowledge": "grounded"})]))
    for task in ("arithmetic", "knowledge_mcq", "multiplication"):
        for mode in ("r_refine", "r_delta", "r_correct"):
            configs.append(("Critic-v0", {"task": task, "rf_mode": mode, "expose_latent": True, "signal_noise": 0.2}, []))
    for intent in ("constructive", "hypercritical", "malicious"):
        for knowledge in ("none", "parametric", "grounded"):
            configs.append(("DeceptiveJudge-v0", {"judge_intent": intent, "judge_knowledge": knowledge, "expose_latent": True}, []))
    for workflow in ("gen_eval", "round_table", "moderator"):
        for intervention in ("always", "only_if_correct", "only_if_wrong"):
            configs.append(("DeceptiveJudge-v0", {"workflow": workflow, "intervention": intervention, "n_peers": 2, "task": "arithmetic"}, []))
    for protocol in ("pairwise", "pointwise"):
        for tie, swap in ((True, "random"), (False, "both"), (True, "none")):
            configs.append(("JudgeProtocol-v0", {"protocol": protocol, "allow_tie": tie, "position_swap": swap, "expose_latent": True}, []))
    for coached in ("seller", "buyer"):
        for source in ("critic", "human_pool", "constant", "none"):
            configs.append(("Negotiation-v0", {"coached": coached, "feedback_source": source, "n_games": 2, "critic_history": "last", "who_first": "buyer"}, []))
    for mode, goal in (("interactive", "catalogue"), ("interactive", "task"), ("reaction", "catalogue"), ("preference", "catalogue")):
        for form in ("textual", "binary"):
            configs.append(("SimulatedUser-v0", {"mode": mode, "goal": goal, "feedback_form": form, "expose_latent": True, "max_turns": 4}, []))
    return configs


def play_broad(env_id: str, kwargs: dict[str, Any], wrappers: list[Any], seed: int, hostile_rate: float) -> str:
    """One episode with hostile replies mixed in at ``hostile_rate``: a digest of its transcript,
    metrics, and every observation, info (whole) and reward each agent was shown."""
    import random

    import feedbackgym
    from feedbackgym.agents.scripted.casts import scripted_cast
    from feedbackgym.envs.core.seeding import agent_seed

    env = feedbackgym.make(env_id, wrappers=wrappers, **kwargs)
    agents = scripted_cast(env)
    env.reset(seed=seed)
    for index, agent_id in enumerate(env.possible_agents):
        agents[agent_id].reset(seed=agent_seed(seed, index))
    replies = random.Random(seed * 7919 + 13)
    seen = hashlib.sha256()
    for agent_id in env.agent_iter(max_iter=5000):
        observation, reward, terminated, truncated, info = env.last()
        seen.update(_digest({"agent": agent_id, "observation": observation, "info": info, "reward": reward}).encode())
        if terminated or truncated:
            action = None
        elif replies.random() < hostile_rate:
            action = replies.choice(HOSTILE_REPLIES)
        else:
            action = agents[agent_id].act(observation, info)
        env.step(action)
    base = env.unwrapped
    return _digest([[message.to_dict() for message in base.transcript], base.episode_metrics, seen.hexdigest()])


def broad_key(index: int, env_id: str) -> str:
    return f"{index:03d}/{env_id}"


def broad_digests(seeds: int = 3) -> dict[str, list[str]]:
    """Per configuration, the digests of ``seeds`` episodes without and with hostile replies (rate 0.3)."""
    import warnings

    digests = {}
    for index, (env_id, kwargs, wrappers) in enumerate(broad_configurations()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a configuration may be unusual on purpose (a judge that never speaks)
            digests[broad_key(index, env_id)] = [play_broad(env_id, kwargs, wrappers, seed, rate) for seed in range(seeds) for rate in (0.0, 0.3)]
    return digests


def all_digests() -> dict[str, dict[str, str]]:
    from feedbackgym.envs import registered_envs

    digests = {}
    for env_id in registered_envs():
        for seed in range(SEEDS.get(env_id.split("-")[0], DEFAULT_SEEDS)):
            digests[f"{env_id}/{seed}"] = play(env_id, seed)
    return digests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the golden file instead of writing it")
    args = parser.parse_args(argv)
    files = ((GOLDEN_PATH, all_digests()), (BROAD_PATH, broad_digests()))
    if args.check:
        differing = []
        for path, digests in files:
            golden = json.loads(path.read_text(encoding="utf-8"))
            differing += sorted(f"{path.name}: {key}" for key in golden if golden[key] != digests.get(key))
        print("\n".join(differing) or "all episodes match")
        return 1 if differing else 0
    for path, digests in files:
        path.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {len(digests)} entries to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
