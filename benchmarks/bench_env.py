"""How fast feedbackgym's environments step, against PettingZoo's rock-paper-scissors, and whether long episodes slow down.

Two figures, printed as a table (nothing is written unless ``--out`` is given):

(a) throughput ratio: agent-steps per second of ``SolverFeedback-v0`` (``feedback_level=binary``,
    ``friction_solver`` + ``scripted_teacher``) through the plain AEC loop, divided by the same for
    PettingZoo's classic ``rps`` (``classic/rps-v2``) with random actions from seeded action
    spaces; and the same for one environment of every other family with its scripted cast
    (``feedbackgym.agents.scripted.casts``): ``Negotiation-v0``, ``SimulatedUser-v0``,
    ``DeceptiveJudge-v0``, ``Critic-v0``, ``JudgeProtocol-v0``. Every feature stays on (transcript,
    chat view in the infos, metrics). All loops run in this process, one after another in each of
    ``--rounds`` rounds of ``--seconds`` each (the order rotates); each environment's ratio is taken
    to rps in the same round, and the median over rounds is reported. Goal: >= 1.0.
    Alongside, each environment's ratio to rps played at (about) its own episode length: rps with the
    fewest rounds (``max_cycles``) whose episodes are at least as long as the environment's mean, in the
    same rounds. An rps episode pays a reset too, so PettingZoo's own game loses agent-steps/s as its
    episodes shorten; that rps's ratio to default rps is printed as well. Informative, no goal.
(b) long-episode slowdown: the cost of one agent-step in a window around turn ``--late-turn`` over
    the cost around turn ``--early-turn`` of a ``max_turns=2000`` episode that never succeeds (a
    solver that always answers ``\\boxed{-1}``, a teacher that always says "incorrect"), each the
    median over ``--reps`` episodes. Goal: <= 1.2.

(c) where the time goes (CPU time, ``time.process_time``, best of ``--split-reps``): per agent-step of each
    environment's loop above over ``--split-episodes`` fixed seeds, the same episodes with the environment
    alone (replaying the actions recorded from its cast, so the agents' work is left out), and the
    difference, the scripted agents' share (their ``reset`` and ``act``); rps's loop is timed alike, and
    so is the floor of the shared core: a game of two agents with one move each and nothing of its own
    (every per-step feature on), the least a two-step episode can cost; and, per episode, the
    environment alone beside a whole rps episode (random agents included) of at least its mean length.
    Informative, no goal.

An agent-step is one ``env.step`` with an action (the ``None`` steps of dead agents are timed but not
counted). Resets, and the agents' per-episode reseeding, are inside the timed loop in (a).

    python benchmarks/bench_env.py
    python benchmarks/bench_env.py --rounds 7 --seconds 2 --out bench.json
    python benchmarks/bench_env.py --profile 3      # also cProfile the feedbackgym loop for 3 s
    python benchmarks/bench_env.py --skip throughput --skip slowdown   # only (c)
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib.util
import json
import math
import platform
import pstats
import shlex
import statistics
import sys
import time
import types
from pathlib import Path
from typing import Any


from feedbackgym.agents import make_agent
from feedbackgym.envs import make
from feedbackgym.envs.core.seeding import agent_seed

GOAL_RATIO = 1.0
GOAL_SLOWDOWN = 1.2


# ------------------------------------------------------------------------------------ the loops
# One environment of every family, each with its scripted cast; the first is the headline figure.
FAMILIES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("SolverFeedback-v0", {"feedback_level": "binary"}),
    ("Negotiation-v0", {}),
    ("SimulatedUser-v0", {}),
    ("DeceptiveJudge-v0", {}),
    ("Critic-v0", {}),
    ("JudgeProtocol-v0", {}),
)


class FeedbackgymLoop:
    """A feedbackgym environment with its scripted cast, stepped with the plain AEC loop."""

    def __init__(self, seed: int, env_id: str = "SolverFeedback-v0", env_kwargs: dict[str, Any] | None = None) -> None:
        from feedbackgym.agents.scripted.casts import scripted_cast

        self.env = make(env_id, **(env_kwargs or {}))
        self.agents = scripted_cast(self.env)
        self.name = f"{env_id} ({' + '.join(type(agent).__name__ for agent in self.agents.values())})"
        self.env_id = env_id
        self.next_seed = seed

    def run(self, seconds: float) -> tuple[int, int, float]:
        """Play whole episodes for about ``seconds``; return (agent-steps, episodes, elapsed seconds)."""
        env, agents = self.env, self.agents
        steps = episodes = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            seed = self.next_seed
            self.next_seed += 1
            env.reset(seed=seed)
            for index, agent_id in enumerate(env.possible_agents):
                agents[agent_id].reset(seed=agent_seed(seed, index))
            for agent in env.agent_iter():
                observation, reward, terminated, truncated, info = env.last()
                action = None if terminated or truncated else agents[agent].act(observation, info)
                env.step(action)
                steps += action is not None
            episodes += 1
        return steps, episodes, time.perf_counter() - start


class RpsLoop:
    """PettingZoo's classic rock-paper-scissors with random actions from seeded action spaces.

    ``max_cycles`` rounds per episode (two agent-steps each); PettingZoo's default is 15.
    """

    def __init__(self, seed: int, max_cycles: int | None = None) -> None:
        import pettingzoo

        self.max_cycles = max_cycles
        self.name = "pettingzoo classic/rps-v2 (random actions" + (f", max_cycles={max_cycles})" if max_cycles else ")")
        self.env = pettingzoo.make("aec", "classic/rps-v2", **({"max_cycles": max_cycles} if max_cycles else {}))
        self.spaces = {agent: self.env.action_space(agent) for agent in self.env.possible_agents}
        for index, space in enumerate(self.spaces.values()):
            space.seed(agent_seed(seed, index))
        self.next_seed = seed

    def play(self, episodes: int) -> int:
        """Play ``episodes`` whole episodes; return the agent-steps."""
        env, spaces = self.env, self.spaces
        steps = 0
        for _ in range(episodes):
            env.reset(seed=self.next_seed)
            self.next_seed += 1
            for agent in env.agent_iter():
                observation, reward, terminated, truncated, info = env.last()
                action = None if terminated or truncated else spaces[agent].sample()
                env.step(action)
                steps += action is not None
        return steps

    def run(self, seconds: float) -> tuple[int, int, float]:
        steps = episodes = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            steps += self.play(1)
            episodes += 1
        return steps, episodes, time.perf_counter() - start


def rps_cycles_for(steps: int, episodes: int) -> int:
    """rps rounds (``max_cycles``, two agent-steps each) of an episode at least as long as ``steps / episodes``:
    the fewest such, so that the baseline is never handicapped by shorter episodes."""
    return max(1, math.ceil(steps / max(episodes, 1) / 2))


def stub_pygame_if_missing() -> bool:
    """rps imports pygame at module level but needs it only to render; stub it when it is absent."""
    if getattr(sys.modules.get("pygame"), "_feedbackgym_stub", False):
        return True  # stubbed already, by an earlier call in this process
    if importlib.util.find_spec("pygame") is not None:
        return False
    stub = types.ModuleType("pygame")
    stub._feedbackgym_stub = True  # type: ignore[attr-defined]
    stub.Surface = lambda size, *args, **kwargs: None  # rps makes one per reset, even without rendering
    sys.modules["pygame"] = stub
    return True


def measure_throughput(rounds: int, seconds: float, seed: int, families: tuple[tuple[str, dict[str, Any]], ...] = FAMILIES) -> dict[str, Any]:
    ours = [FeedbackgymLoop(seed, env_id, kwargs) for env_id, kwargs in families]
    theirs = RpsLoop(seed)
    # PettingZoo's own game slows down per agent-step as its episodes shorten (its reset is paid more
    # often), so each environment is also compared with rps at the same episode length: the fewest
    # whole rps rounds that are at least as long as the environment's mean episode (never shorter,
    # which would handicap the baseline).
    cycles_of: dict[Any, int] = {}
    for loop in ours:
        steps, episodes, _ = loop.run(min(seconds, 0.3))  # warm up caches, imports and lazy registries
        cycles_of[loop] = rps_cycles_for(steps, episodes)
    matched = {cycles: RpsLoop(seed, cycles) for cycles in sorted(set(cycles_of.values()))}
    for loop in [theirs, *matched.values()]:
        loop.run(min(seconds, 0.3))
    rows = []
    loops: list[Any] = [theirs, *ours, *matched.values()]
    for round_index in range(rounds):
        # Rotate the order so that slow drift of the machine favours no loop.
        shift = round_index % len(loops)
        measured = {}
        for loop in loops[shift:] + loops[:shift]:
            steps, episodes, elapsed = loop.run(seconds)
            measured[loop] = (steps / elapsed, steps, episodes)
        rps_rate = measured[theirs][0]
        for loop in ours:
            same_length = matched[cycles_of[loop]]
            rows.append(
                {
                    "round": round_index,
                    "env_id": loop.env_id,
                    "feedbackgym_steps_per_s": measured[loop][0],
                    "rps_steps_per_s": rps_rate,
                    "ratio": measured[loop][0] / rps_rate,
                    "rps_same_length_max_cycles": same_length.max_cycles,
                    "rps_same_length_steps_per_s": measured[same_length][0],
                    "ratio_same_length": measured[loop][0] / measured[same_length][0],
                    "rps_same_length_over_rps": measured[same_length][0] / rps_rate,
                    "feedbackgym_steps": measured[loop][1],
                    "feedbackgym_episodes": measured[loop][2],
                    "rps_steps": measured[theirs][1],
                    "rps_episodes": measured[theirs][2],
                }
            )
    by_env = {}
    for loop in ours:
        mine = [row for row in rows if row["env_id"] == loop.env_id]
        by_env[loop.env_id] = {
            "loop": loop.name,
            "median_ratio": statistics.median(r["ratio"] for r in mine),
            "rps_same_length_max_cycles": cycles_of[loop],
            "median_ratio_same_length": statistics.median(r["ratio_same_length"] for r in mine),
            "median_rps_same_length_over_rps": statistics.median(r["rps_same_length_over_rps"] for r in mine),
            "median_feedbackgym_steps_per_s": statistics.median(r["feedbackgym_steps_per_s"] for r in mine),
            "agent_steps_per_episode": sum(r["feedbackgym_steps"] for r in mine) / max(sum(r["feedbackgym_episodes"] for r in mine), 1),
        }
    headline = by_env[ours[0].env_id]
    return {
        "rounds": rows,
        "by_env": by_env,
        "median_ratio": headline["median_ratio"],
        "median_feedbackgym_steps_per_s": headline["median_feedbackgym_steps_per_s"],
        "median_rps_steps_per_s": statistics.median(r["rps_steps_per_s"] for r in rows),
    }


# ------------------------------------------------------------------------- where the time goes
def measure_split(families: tuple[tuple[str, dict[str, Any]], ...], episodes: int, reps: int, seed: int) -> dict[str, Any]:
    """CPU µs per agent-step: the whole loop, the environment alone replaying recorded actions, and the agents' share."""

    def best_of(run: Any) -> float:
        best = float("inf")
        for _ in range(reps):
            start = time.process_time()
            run()
            best = min(best, time.process_time() - start)
        return best

    by_env: dict[str, Any] = {}
    for env_id, kwargs in families:
        loop = FeedbackgymLoop(seed, env_id, kwargs)
        env, agents = loop.env, loop.agents
        # Long episodes (a negotiation series) get fewer of them, for about the same number of steps.
        count = max(4, episodes // 20) if env_id.startswith("Negotiation") else episodes
        recorded: list[list[Any]] = []

        def whole(record: bool = False) -> None:
            for episode_seed in range(seed, seed + count):
                env.reset(seed=episode_seed)
                for index, agent_id in enumerate(env.possible_agents):
                    agents[agent_id].reset(seed=agent_seed(episode_seed, index))
                actions = []
                for agent in env.agent_iter():
                    observation, _, terminated, truncated, info = env.last()
                    action = None if terminated or truncated else agents[agent].act(observation, info)
                    actions.append(action)
                    env.step(action)
                if record:
                    recorded.append(actions)

        def replay() -> None:
            for episode_seed, actions in zip(range(seed, seed + count), recorded):
                env.reset(seed=episode_seed)
                moves = iter(actions)
                for _agent in env.agent_iter():
                    _, _, terminated, truncated, _ = env.last()
                    action = next(moves, StopIteration)
                    if action is StopIteration or (action is not None and (terminated or truncated)):
                        raise RuntimeError(f"{env_id} seed {episode_seed}: the replayed episode differs from the recorded one")
                    env.step(action)
                if next(moves, StopIteration) is not StopIteration:
                    raise RuntimeError(f"{env_id} seed {episode_seed}: the replayed episode ended early; it differs from the recorded one")

        whole(record=True)
        steps = sum(action is not None for actions in recorded for action in actions)
        full_us = best_of(whole) / steps * 1e6
        env_us = best_of(replay) / steps * 1e6
        # A whole rps episode (its random agents included) of at least this environment's mean length, against
        # this environment's episode without its agents: how much of the gap is the game's own work.
        cycles = rps_cycles_for(steps, count)
        same_length = RpsLoop(seed, cycles)
        same_length.play(count)
        rps_episode_us = best_of(lambda: same_length.play(count)) / count * 1e6
        by_env[env_id] = {"episodes": count, "agent_steps": steps, "full_us": full_us, "env_us": env_us, "agents_us": full_us - env_us,
                          "env_us_per_episode": env_us * steps / count, "rps_same_length_max_cycles": cycles,
                          "rps_same_length_us_per_episode": rps_episode_us}
    rps = RpsLoop(seed)
    rps.run(0.1)
    start = time.process_time()
    steps, _, _ = rps.run(1.0)
    rps_us = (time.process_time() - start) / steps * 1e6
    floor_env = _two_move_env()
    _play_two_move_episodes(floor_env, seed, episodes)  # warm up, as the loops above were
    floor_us = best_of(lambda: _play_two_move_episodes(floor_env, seed, episodes)) / (2 * episodes) * 1e6
    return {"by_env": by_env, "rps_us": rps_us, "two_move_floor_us": floor_us}


def _two_move_env() -> Any:
    """The least a game on the shared core can be: two agents, one move each, one numeric field.

    Every per-step feature stays on (transcript, text and chat views, infos, the voice check, the
    observation's numeric row), with nothing of a real game's own: it measures the core alone.
    """
    from feedbackgym.envs.core.base import TurnBasedTextEnv
    from feedbackgym.envs.registration import FastOrderEnforcing

    class TwoMoveEnv(TurnBasedTextEnv):
        possible_agents = ["first_0", "second_0"]
        numeric_fields = {"turn": (0.0, 2.0)}

        def _start_episode(self, options: dict[str, Any]) -> None:
            for agent in self.possible_agents:
                self.instruct(agent, "Reply with one word.")
            self.pin("first_0", "Say something.")
            self.agent_selection = "first_0"

        def _play(self, agent: str, text: str) -> None:
            self.valid_move(agent)
            self.post(agent, text, tuple(self.possible_agents))
            self.turn += 1
            if agent == "second_0":
                self.end_episode("done")
            else:
                self.agent_selection = "second_0"

        def _numeric(self, agent: str) -> dict[str, float]:
            return {"turn": float(self.turn)}

    return FastOrderEnforcing(TwoMoveEnv())


def _play_two_move_episodes(env: Any, seed: int, episodes: int) -> None:
    for episode_seed in range(seed, seed + episodes):
        env.reset(seed=episode_seed)
        for _agent in env.agent_iter():
            _, _, terminated, truncated, _ = env.last()
            env.step(None if terminated or truncated else "ok")


# ------------------------------------------------------------------------------ long episodes
class Constant:
    """A trivial agent: always the same reply, so the measured cost is the environment's."""

    def __init__(self, reply: str) -> None:
        self.reply = reply

    def act(self, observation: Any, info: Any) -> str:
        return self.reply

    def reset(self, seed: int | None = None) -> None:
        pass


def measure_slowdown(reps: int, window: int, early_turn: int, late_turn: int, max_turns: int, seed: int) -> dict[str, Any]:
    if not early_turn < late_turn < max_turns - window:
        raise SystemExit(f"need early_turn < late_turn < max_turns - window, got {early_turn}, {late_turn}, {max_turns}, {window}")
    env = make("SolverFeedback-v0", max_turns=max_turns, terminate_on_success=False, feedback_level="binary")
    base = env.unwrapped
    agents = {"solver_0": Constant("\\boxed{-1}"), "teacher_0": Constant("Your answer is incorrect.")}

    def advance_to(turn: int) -> None:
        while base.turn < turn or env.agent_selection != "solver_0":
            agent = env.agent_selection
            observation, _, _, _, info = env.last()
            env.step(agents[agent].act(observation, info))

    def timed(n: int) -> int:
        start = time.perf_counter_ns()
        for _ in range(n):
            agent = env.agent_selection
            observation, reward, terminated, truncated, info = env.last()
            env.step(agents[agent].act(observation, info))
        return time.perf_counter_ns() - start

    early, late = [], []
    for rep in range(reps):
        env.reset(seed=seed + rep)
        advance_to(early_turn)
        early.append(timed(window) / window)
        advance_to(late_turn)
        late.append(timed(window) / window)
        if base.agents and any(base.terminations.values()):
            raise RuntimeError("the long episode ended early; the slowdown figure would be meaningless")
    invalid = sum(base.invalid_moves.values())
    if invalid:
        raise RuntimeError(f"the trivial agents made {invalid} invalid moves; fix the benchmark's replies")
    early_ns, late_ns = statistics.median(early), statistics.median(late)
    return {
        "early_turn": early_turn,
        "late_turn": late_turn,
        "window_agent_steps": window,
        "reps": reps,
        "early_ns_per_step": early_ns,
        "late_ns_per_step": late_ns,
        "slowdown": late_ns / early_ns,
        # The fastest window of each kind is the least disturbed by other processes on a busy machine.
        "slowdown_of_minimums": min(late) / min(early),
        "transcript_messages_at_late_turn": len(base.transcript),
    }


# ------------------------------------------------------------------------------------ profile
def profile(seconds: float, seed: int, top: int, env_id: str = "SolverFeedback-v0") -> str:
    kwargs = dict(FAMILIES).get(env_id, {})
    loop = FeedbackgymLoop(seed, env_id, kwargs)
    loop.run(0.2)
    profiler = cProfile.Profile()
    profiler.enable()
    steps, episodes, _ = loop.run(seconds)
    profiler.disable()
    lines = [f"cProfile of the {env_id} loop: {steps} agent-steps, {episodes} episodes"]
    for key in ("tottime", "cumulative"):
        stream = _Capture()
        pstats.Stats(profiler, stream=stream).strip_dirs().sort_stats(key).print_stats(top)
        lines.append(f"--- sorted by {key}\n{stream.text()}")
    return "\n".join(lines)


class _Capture:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def text(self) -> str:
        return "".join(self.parts)


# --------------------------------------------------------------------------------------- main
def table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("figure", "measured", "goal", "ok")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(4)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds for the throughput ratio")
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per loop per round")
    parser.add_argument("--reps", type=int, default=60, help="long episodes for the slowdown figure")
    parser.add_argument("--window", type=int, default=20, help="agent-steps in each timed window")
    parser.add_argument("--early-turn", type=int, default=10)
    parser.add_argument("--late-turn", type=int, default=1000)
    parser.add_argument("--max-turns", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-gc", action="store_true", help="disable the garbage collector while measuring")
    parser.add_argument("--profile", type=float, default=0.0, metavar="SECONDS", help="also cProfile the feedbackgym loop")
    parser.add_argument("--top", type=int, default=25, help="functions shown by --profile")
    parser.add_argument("--profile-env", default="SolverFeedback-v0", choices=[env_id for env_id, _ in FAMILIES], help="the loop --profile profiles")
    parser.add_argument("--only", choices=[env_id for env_id, _ in FAMILIES], action="append", help="measure only these environments (repeatable)")
    parser.add_argument("--split-episodes", type=int, default=300, help="episodes per environment for (c)")
    parser.add_argument("--split-reps", type=int, default=3, help="(c) keeps the best of this many passes")
    parser.add_argument("--skip", choices=("throughput", "slowdown", "split"), action="append", default=[])
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)

    command = shlex.join([Path(sys.executable).name, *sys.argv]) if argv is None else shlex.join(["bench_env.py", *argv])
    stubbed = stub_pygame_if_missing()
    if args.no_gc:
        gc.disable()
    results: dict[str, Any] = {
        "command": command,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "gc": not args.no_gc,
        "pygame_stubbed_for_rps": stubbed,
    }
    rows = []
    if "throughput" not in args.skip:
        families = tuple(family for family in FAMILIES if not args.only or family[0] in args.only)
        throughput = measure_throughput(args.rounds, args.seconds, args.seed, families)
        results["throughput"] = throughput
        print(f"(a) throughput, {args.rounds} alternating rounds of {args.seconds:g} s each")
        print(f"    {'round':>5}  {'environment':<20}  {'feedbackgym/s':>13}  {'rps/s':>9}  {'ratio':>6}  {'same-length rps/s':>17}  {'ratio':>6}")
        for row in throughput["rounds"]:
            print(f"    {row['round']:>5}  {row['env_id']:<20}  {row['feedbackgym_steps_per_s']:>13,.0f}  {row['rps_steps_per_s']:>9,.0f}  {row['ratio']:>6.3f}"
                  f"  {row['rps_same_length_steps_per_s']:>17,.0f}  {row['ratio_same_length']:>6.3f}")
        for env_id, figures in throughput["by_env"].items():
            ratio = figures["median_ratio"]
            rows.append((f"(a) {env_id} agent-steps/s ratio to rps (median)", f"{ratio:.3f}", f">= {GOAL_RATIO}", "yes" if ratio >= GOAL_RATIO else "NO"))
            rows.append((f"    {env_id} agent-steps/s (median)", f"{figures['median_feedbackgym_steps_per_s']:,.0f}", "", ""))
            cycles = figures["rps_same_length_max_cycles"]
            rows.append((f"    {env_id} ratio to rps of {2 * cycles} agent-steps an episode", f"{figures['median_ratio_same_length']:.3f}", "", ""))
            rows.append((f"    rps of {2 * cycles} agent-steps an episode, ratio to rps", f"{figures['median_rps_same_length_over_rps']:.3f}", "", ""))
        rows.append(("    rps agent-steps/s (median)", f"{throughput['median_rps_steps_per_s']:,.0f}", "", ""))
    if "slowdown" not in args.skip:
        slowdown = measure_slowdown(args.reps, args.window, args.early_turn, args.late_turn, args.max_turns, args.seed)
        results["slowdown"] = slowdown
        value = slowdown["slowdown"]
        rows.append(
            (f"(b) step cost at turn {args.late_turn} / turn {args.early_turn}", f"{value:.3f}", f"<= {GOAL_SLOWDOWN}", "yes" if value <= GOAL_SLOWDOWN else "NO")
        )
        rows.append(("    same, fastest window over fastest window", f"{slowdown['slowdown_of_minimums']:.3f}", "", ""))
        rows.append((f"    ns per agent-step at turn {args.early_turn} (median)", f"{slowdown['early_ns_per_step']:,.0f}", "", ""))
        rows.append((f"    ns per agent-step at turn {args.late_turn} (median)", f"{slowdown['late_ns_per_step']:,.0f}", "", ""))
    if "split" not in args.skip:
        families = tuple(family for family in FAMILIES if not args.only or family[0] in args.only)
        split = measure_split(families, args.split_episodes, args.split_reps, args.seed)
        results["split"] = split
        print(f"\n(c) CPU µs per agent-step, best of {args.split_reps}: whole loop = environment alone + scripted agents")
        print(f"    {'environment':<20}  {'episodes':>8}  {'agent-steps':>11}  {'whole':>7}  {'env':>7}  {'agents':>7}"
              f"  {'env µs/episode':>14}  {'rps µs/episode, same length':>27}")
        for env_id, figures in split["by_env"].items():
            same = f"{figures['rps_same_length_us_per_episode']:.1f} ({2 * figures['rps_same_length_max_cycles']} steps)"
            print(f"    {env_id:<20}  {figures['episodes']:>8}  {figures['agent_steps']:>11}  {figures['full_us']:>7.1f}  {figures['env_us']:>7.1f}  {figures['agents_us']:>7.1f}"
                  f"  {figures['env_us_per_episode']:>14.1f}  {same:>27}")
        print(f"    {'rps (random actions)':<20}  {'':>8}  {'':>11}  {split['rps_us']:>7.1f}")
        print(f"    {'two-move floor':<20}  {args.split_episodes:>8}  {2 * args.split_episodes:>11}  {split['two_move_floor_us']:>7.1f}"
              "  (a two-agent, one-move-each game on the shared core: its per-step features, no game)")
    print()
    print(table(rows))
    if stubbed:
        print("\nnote: pygame is not installed; rps was imported with a stub module (it needs pygame only to render)")
    if args.profile > 0:
        report = profile(args.profile, args.seed, args.top, args.profile_env)
        results["profile"] = report
        print()
        print(report)
    print(f"\ncommand: {command}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
