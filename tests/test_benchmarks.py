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
        assert math.isfinite(figures["median_ratio_same_length"]) and figures["median_ratio_same_length"] > 0
        assert figures["median_rps_same_length_over_rps"] > 0
        assert figures["rps_same_length_max_cycles"] >= 1
    for row in results["throughput"]["rounds"]:
        # The same-length rps plays whole rounds of two agent-steps, never fewer than the environment's mean episode.
        cycles = row["rps_same_length_max_cycles"]
        assert math.isclose(row["ratio_same_length"], row["feedbackgym_steps_per_s"] / row["rps_same_length_steps_per_s"])
        assert math.isclose(row["rps_same_length_over_rps"], row["rps_same_length_steps_per_s"] / row["rps_steps_per_s"])
        assert cycles >= 1
    assert list(results["split"]["by_env"]) == families
    for env_id, figures in results["split"]["by_env"].items():
        assert figures["agent_steps"] >= figures["episodes"] >= 4, env_id
        assert figures["env_us"] > 0 and figures["full_us"] > 0, env_id
        assert math.isclose(figures["agents_us"], figures["full_us"] - figures["env_us"])
        assert math.isclose(figures["env_us_per_episode"], figures["env_us"] * figures["agent_steps"] / figures["episodes"])
        assert figures["rps_same_length_us_per_episode"] > 0
        # rps plays whole rounds of two agent-steps: the fewest at least as long as the mean episode.
        mean_length = figures["agent_steps"] / figures["episodes"]
        assert 2 * figures["rps_same_length_max_cycles"] >= mean_length > 2 * (figures["rps_same_length_max_cycles"] - 1)
    assert results["split"]["rps_us"] > 0 and results["split"]["two_move_floor_us"] > 0
    assert results["slowdown"]["slowdown"] > 0 and results["slowdown"]["late_turn"] == 100
    printed = capsys.readouterr().out
    assert "same-length rps/s" in printed
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


def test_the_same_length_rps_plays_episodes_of_the_length_it_names() -> None:
    bench = _load_bench()
    # Twice in one process (the main benchmark stubs it too): the second call must see the first's stub.
    assert bench.stub_pygame_if_missing() == bench.stub_pygame_if_missing()
    for cycles in (1, 3, 48):
        loop = bench.RpsLoop(0, cycles)
        steps, episodes, _ = loop.run(0.05)
        assert episodes >= 1 and steps == 2 * cycles * episodes, cycles
        assert loop.play(3) == 6 * cycles
        assert f"max_cycles={cycles}" in loop.name
    default = bench.RpsLoop(0)
    steps, episodes, _ = default.run(0.05)
    assert steps == 30 * episodes  # PettingZoo's default: 15 rounds of two agent-steps
