"""Seeded episodes are the same as when the golden file was written (``tests/envs/golden.py``).

Speed work on the environments and scripted agents must not change any episode: its transcript,
metrics, returns, or anything an agent was shown (observations, chat view, and in the broad file every
info whole, over non-default configurations with hostile replies mixed in). An intended change of
behaviour regenerates the file with ``python tests/envs/golden.py`` in the same commit.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from feedbackgym.envs import registered_envs

_spec = importlib.util.spec_from_file_location("feedbackgym_golden", Path(__file__).with_name("golden.py"))
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)
GOLDEN_PATH, play = golden.GOLDEN_PATH, golden.play

GOLDEN = json.loads(GOLDEN_PATH.read_text(encoding="utf-8"))
BROAD = json.loads(golden.BROAD_PATH.read_text(encoding="utf-8"))
CONFIGURATIONS = golden.broad_configurations()


def test_the_golden_file_covers_every_registered_environment() -> None:
    assert {key.rsplit("/", 1)[0] for key in GOLDEN} == set(registered_envs())


@pytest.mark.parametrize("key", sorted(GOLDEN))
def test_seeded_episode_matches_the_golden_digest(key: str) -> None:
    env_id, seed = key.rsplit("/", 1)
    assert play(env_id, int(seed)) == GOLDEN[key]


def test_the_broad_golden_file_covers_every_configuration() -> None:
    assert sorted(BROAD) == [golden.broad_key(index, env_id) for index, (env_id, _, _) in enumerate(CONFIGURATIONS)]


@pytest.mark.parametrize("index", range(len(CONFIGURATIONS)))
def test_episodes_of_other_configurations_and_hostile_replies_match_their_digests(index: int) -> None:
    """Non-default settings of every family, hostile replies mixed in, every info digested whole."""
    import warnings

    env_id, kwargs, wrappers = CONFIGURATIONS[index]
    expected = BROAD[golden.broad_key(index, env_id)]
    seeds = len(expected) // 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        played = [golden.play_broad(env_id, kwargs, wrappers, seed, rate) for seed in range(seeds) for rate in (0.0, 0.3)]
    assert played == expected, (env_id, kwargs, wrappers)
