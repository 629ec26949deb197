"""Importing the environments stays cheap: no torch, no litellm."""

from __future__ import annotations

import subprocess
import sys

import feedbackgym


def test_envs_import_pulls_neither_torch_nor_litellm() -> None:
    code = "import sys, feedbackgym, feedbackgym.envs, feedbackgym.wrappers; " \
           "print(sorted(m for m in ('torch', 'litellm') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_facade() -> None:
    assert feedbackgym.__version__
    env = feedbackgym.make("SolverFeedback-v0", max_turns=2)
    env.reset(seed=0)
    assert env.agent_selection == "solver_0"
    agent = feedbackgym.make_agent("random", seed=0)
    result = feedbackgym.rollout("SolverFeedback-v0", {"solver_0": agent, "teacher_0": "scripted_teacher"}, seed=1, max_turns=2)
    assert result.error is None and result.metrics["attempts"] >= 1
