"""Same seed, same episode, in any process: no dependence on set order or PYTHONHASHSEED.

Two subprocesses with different hash seeds play every registered environment with its scripted
cast (``feedbackgym.agents.scripted.casts``) over the same seeds, and their transcripts must agree
exactly (a digest of each episode's transcript, metrics and returns is compared).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from feedbackgym.envs import registered_envs

# Seeds per environment: many where episodes are cheap (the RoundTable tie-break showed in about one
# seed in sixteen), few where they are long (a negotiation series is hundreds of moves).
SEEDS = {"Negotiation": 3}
DEFAULT_SEEDS = 40

CHILD = r"""
import hashlib, json, sys
import feedbackgym
from feedbackgym.agents.scripted.casts import scripted_cast
from feedbackgym.envs import registered_envs

plan = json.loads(sys.argv[1])
digests = {}
for env_id in registered_envs():
    env = feedbackgym.make(env_id)
    cast = scripted_cast(env)
    for seed in range(plan.get(env_id.split("-")[0], plan["default"])):
        result = feedbackgym.rollout(env, cast, seed=seed)
        assert result.error is None, (env_id, seed, result.error)
        record = {"transcript": result.transcript, "metrics": result.metrics, "returns": result.returns}
        digests[f"{env_id}/{seed}"] = hashlib.sha256(json.dumps(record, sort_keys=True, default=repr).encode("utf-8", "surrogatepass")).hexdigest()
print(json.dumps(digests))
"""


def _digests(hash_seed: str) -> dict[str, str]:
    plan = json.dumps({"default": DEFAULT_SEEDS, **SEEDS})
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run([sys.executable, "-c", CHILD, plan], env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_env_and_scripted_cast_plays_the_same_episode_under_two_hash_seeds() -> None:
    first, second = _digests("1"), _digests("2024")
    assert first.keys() == second.keys()
    assert {env_id.split("/")[0] for env_id in first} == set(registered_envs())
    differing = sorted(key for key in first if first[key] != second[key])
    assert not differing, f"{len(differing)} episodes differ between PYTHONHASHSEED=1 and 2024: {differing[:20]}"


def test_masking_overlapping_aliases_of_equal_length_does_not_depend_on_the_hash_seed() -> None:
    code = "from feedbackgym.envs.core.parsing import mask_gold; print(mask_gold('so 1 2 3 it is', ['2 3', '1 2'])[0])"
    outputs = set()
    for hash_seed in ("1", "2", "3", "4", "5", "6"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
        outputs.add(done.stdout.strip())
    assert outputs == {"so [masked] 3 it is"}
