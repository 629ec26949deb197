"""The environment benchmark runs end to end on tiny settings and reports every figure it promises.

Speed itself is never asserted here (timings belong to the benchmark's own report); this checks that
the script measures what it says: every family, sane and finite figures, and replays that reproduce
the recorded episodes.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_env.py"


def _load_bench():
    spec = importlib.util.spec_from_file_location("feedbackgym_bench_env", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_env_reports_every_family_and_figure(tmp_path: Path, capsys) -> None:
    bench = _load_bench()
    out = tmp_path / "bench.json"
    argv = ["--rounds", "1", "--seconds", "0.02", "--reps", "2", "--max-turns", "200", "--late-turn", "100",
            "--split-episodes", "6", "--split-reps", "1", "--out", str(out)]
    assert bench.main(argv) == 0
    results = json.loads(out.read_text(encoding="utf-8"))
    families = [env_id for env_id, _ in bench.FAMILIES]
    assert list(results["throughput"]["by_env"]) == families
    for figures in results["throughput"]["by_env"].values():
        assert math.isfinite(figures["median_ratio"]) and figures["median_ratio"] > 0
        assert figures["agent_steps_per_episode"] >= 1
    assert list(results["split"]["by_env"]) == families
    for env_id, figures in results["split"]["by_env"].items():
        assert figures["agent_steps"] >= figures["episodes"] >= 4, env_id
        assert figures["env_us"] > 0 and figures["full_us"] > 0, env_id
        assert math.isclose(figures["agents_us"], figures["full_us"] - figures["env_us"])
    assert results["split"]["rps_us"] > 0 and results["split"]["two_move_floor_us"] > 0
    assert results["slowdown"]["slowdown"] > 0 and results["slowdown"]["late_turn"] == 100
    printed = capsys.readouterr().out
    assert "(c) CPU µs per agent-step" in printed and all(env_id in printed for env_id in families)


def test_the_split_replay_refuses_episodes_that_do_not_replay(monkeypatch) -> None:
    bench = _load_bench()
    loop_class = bench.FeedbackgymLoop

    class Drifting(loop_class):
        """A loop whose env shortens every episode after the recording pass: a replay must notice."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            env, calls = self.env, {"resets": 0}
            reset = env.reset

            def drifting_reset(*a, **k):
                calls["resets"] += 1
                reset(*a, **k)
                if calls["resets"] > 4:
                    env.unwrapped.max_turns = 1

            env.reset = drifting_reset

    monkeypatch.setattr(bench, "FeedbackgymLoop", Drifting)
    try:
        bench.measure_split((("SolverFeedback-v0", {"feedback_level": "binary"}),), 4, 1, 0)
    except RuntimeError as error:
        assert "differs from the recorded one" in str(error)
    else:
        raise AssertionError("a replay of different episodes went unnoticed")
