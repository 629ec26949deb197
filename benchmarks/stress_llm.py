"""Fault-schedule stress of the LLM path: random faults, slow single-slot servers, secrets echoed back.

Every registered environment is played with an ``LLMAgent`` in every role against the local fake
server following a seeded random fault schedule (429 with and without Retry-After, 500s, 500s that
echo the request's headers, hangs, dropped connections, malformed JSON, empty ``choices``, lone
surrogates, huge replies, replies that echo the headers with the API key), through the runner with
the response cache on, then replayed from the cache read-only. Phases:

- ``faults``: a server that serves every request at once, ``--fault-rate`` of requests faulty;
- ``single-slot``: a slow server that serves one request at a time (llama.cpp), concurrency 8, a
  timeout shorter than 8 queued requests take, fewer faults; the endpoint limit adapts on its own;
- ``single-slot-naive`` (``--compare-naive``): the same without the adaptive limit, for comparison.

Printed per phase: episodes, requests, faults injected, completed, errored (with cause), lost
(missing, duplicated or errored without a cause), leaks (the key or a prefix of it of 8 characters
in any output file, stdout or log), cache integrity and bad rows, requests sent by the replay and
transcripts it reproduced. Exit status 1 when an episode is lost, a secret leaks or the cache is
inconsistent (the naive phase only reports).

    python benchmarks/stress_llm.py                      # 6 episodes per environment and phase
    python benchmarks/stress_llm.py --episodes 2 --seeds 0 1 2 --compare-naive
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from feedbackgym.agents.llm.fault_schedule import stress  # noqa: E402

PHASES = {
    "faults": {"fault_rate": 0.25, "slots": None, "latency": 0.0, "timeout": 1.0},
    "single-slot": {"fault_rate": 0.08, "slots": 1, "latency": 0.03, "timeout": 0.25},
    "single-slot-naive": {"fault_rate": 0.08, "slots": 1, "latency": 0.03, "timeout": 0.25, "adaptive": False},
}
COLUMNS = ["episodes", "requests", "faults_injected", "completed", "errored", "lost", "leaks", "cache_rows", "cache_bad_rows", "replay_requests", "replay_identical", "seconds"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=6, help="episodes per environment, seed and phase")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="fault-schedule seeds")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--fault-rate", type=float, default=None, help="override the faults phase's rate")
    parser.add_argument("--compare-naive", action="store_true", help="also run the single-slot phase without the adaptive limit")
    parser.add_argument("--keep", type=Path, default=None, help="keep the outputs in this folder")
    args = parser.parse_args()
    phases = ["faults", "single-slot"] + (["single-slot-naive"] if args.compare_naive else [])
    root = args.keep or Path(tempfile.mkdtemp(prefix="stress_llm_"))
    totals: dict[str, dict[str, float]] = {}
    failed = False
    for phase in phases:
        options = dict(PHASES[phase])
        if phase == "faults" and args.fault_rate is not None:
            options["fault_rate"] = args.fault_rate
        for seed in args.seeds:
            workdir = root / f"{phase}-{seed}"
            shutil.rmtree(workdir, ignore_errors=True)
            figures = stress(workdir, seed=seed, episodes_per_env=args.episodes, concurrency=args.concurrency, **options)
            print(f"{phase} seed {seed}: " + json.dumps({k: figures[k] for k in ("faults_by_kind", "errored_causes", "cache_integrity", "leak_files")}), flush=True)
            total = totals.setdefault(phase, dict.fromkeys(COLUMNS, 0.0))
            for column in COLUMNS:
                total[column] += figures[column] or 0
            if phase != "single-slot-naive":
                failed |= bool(figures["lost"] or figures["leaks"] or figures["cache_bad_rows"] or figures["cache_integrity"] != "ok")
                failed |= bool(figures["replay_requests"] or figures["replay_identical"] != figures["completed"])
    print()
    print("phase".ljust(18) + "".join(column.rjust(17) for column in COLUMNS))
    for phase, total in totals.items():
        print(phase.ljust(18) + "".join(f"{total[column]:>17g}" for column in COLUMNS))
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)
    print("\nFAILED: an episode was lost, a secret leaked or the cache is inconsistent" if failed else "\nall invariants held")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
