"""Scripted agents' draws stepped in Python (agents.scripted.streams) are numpy's, bit for bit, and the
generator is always where numpy's own calls would have left it."""

from __future__ import annotations

import numpy as np
import pytest

from feedbackgym.agents.base import Agent, TaskAgent
from feedbackgym.agents.scripted.critic_coach import numpy_mean
from feedbackgym.agents.scripted.streams import NumpyStream, Pcg64Stream, StreamedRandom, stream
from feedbackgym.envs.core.draws import emulation_matches_numpy


def _mixed_draws(source, rng_for_direct, program: np.random.Generator, count: int) -> list:
    """``count`` draws of every kind from ``source`` (a stream or a NumpyStream), some made by numpy directly."""
    out = []
    for _ in range(count):
        kind = int(program.integers(4))
        if kind == 0:
            n = [1, 2, 3, 4, 5, 7, 10, 2**31 + 1, 2**32 - 1][int(program.integers(9))]  # 2**31 + 1 rejects half the time
            out.append(source.integers(n))
        elif kind == 1:
            out.append(source.random())
        elif kind == 2:
            out.append(source.standard_normal())
        else:
            source.hand_back()
            out.append((float(rng_for_direct.random()), int(rng_for_direct.integers(3))))
            source = stream(rng_for_direct)
    return out


def test_stream_draws_are_numpys_including_slow_normals_and_rejections() -> None:
    assert emulation_matches_numpy()
    for seed in range(3):
        emulated_rng, plain_rng = np.random.default_rng(seed), np.random.default_rng(seed)
        emulated = stream(emulated_rng)
        assert isinstance(emulated, Pcg64Stream)
        got = _mixed_draws(emulated, emulated_rng, np.random.default_rng(100 + seed), 3000)
        expected = _mixed_draws(NumpyStream(plain_rng), plain_rng, np.random.default_rng(100 + seed), 3000)
        assert got == expected
        stream(emulated_rng).hand_back()  # a stream that drew nothing leaves the generator alone
        assert emulated_rng.bit_generator.state == plain_rng.bit_generator.state
    # Long runs of each kind: many blocks, normals off the ziggurat's fast path, rejected integers.
    for kind in range(3):
        rng, plain = np.random.default_rng(20 + kind), np.random.default_rng(20 + kind)
        emulated = stream(rng)
        if kind == 0:
            assert [emulated.integers(2**31 + 1) for _ in range(700)] == plain.integers(2**31 + 1, size=700).tolist()
        elif kind == 1:
            assert [emulated.random() for _ in range(700)] == plain.random(700).tolist()
        else:
            assert [emulated.standard_normal() for _ in range(5000)] == plain.standard_normal(5000).tolist()
        emulated.hand_back()
        assert rng.bit_generator.state == plain.bit_generator.state


def test_other_bit_generators_take_numpys_calls() -> None:
    rng = np.random.Generator(np.random.MT19937(3))
    assert isinstance(stream(rng), NumpyStream)


class Drawer(StreamedRandom, Agent):
    def act(self, observation, info) -> str:
        return str(self.draws().integers(4))


def test_np_random_read_between_draws_is_where_numpys_calls_leave_it() -> None:
    agent, plain = Drawer(seed=1), np.random.default_rng(1)
    for round_ in range(3):
        assert [agent.act({}, {}) for _ in range(5)] == [str(int(plain.integers(4))) for _ in range(5)]
        assert agent.np_random.bit_generator.state == plain.bit_generator.state  # reading it hands the stream back
        assert float(agent.np_random.random()) == float(plain.random())  # and drawing from it directly is fine
    agent.reset(seed=7)
    again = np.random.default_rng(7)
    assert [agent.act({}, {}) for _ in range(5)] == [str(int(again.integers(4))) for _ in range(5)]
    agent.np_random = np.random.default_rng(3)  # a new generator replaces the stream
    assert agent.act({}, {}) == str(int(np.random.default_rng(3).integers(4)))


@pytest.mark.parametrize("size", [*range(1, 20), 64, 127, 128, 129, 300])
def test_numpy_mean_is_numpys(size: int) -> None:
    rng = np.random.default_rng(size)
    for _ in range(20):
        values = (rng.random(size) * 10.0 ** rng.integers(-8, 8, size)).tolist()
        assert numpy_mean(values) == float(np.mean(values))
    assert numpy_mean([0.0] * size) == float(np.mean([0.0] * size))


def test_friction_solver_belief_is_numpys_dirichlet() -> None:
    from feedbackgym.agents.scripted.solver import FrictionSolver

    for seed in range(40):
        solver = FrictionSolver(seed=seed, n_distractors=1 + seed % 10)
        task = {"kind": "numeric", "base": 10, "choices": []}
        solver._new_task(task, {"gold": str(1234 + seed)})
        rng = np.random.default_rng(seed)  # the same draws, with numpy's dirichlet for the shares
        c = float(rng.beta(1.5, 3.0))
        rng.beta(2.0, 2.0)
        rng.integers(0, 4, size=4 * solver.n_distractors)
        rng.integers(1, 10, size=4 * solver.n_distractors)
        rng.random(4 * solver.n_distractors)
        wrong = len(solver.candidates) - 1
        expected = [c, *((1.0 - c) * rng.dirichlet(np.ones(wrong))).tolist()]
        assert solver.weights.tolist() == expected
        assert solver.np_random.bit_generator.state == rng.bit_generator.state


def test_lazily_seeded_agent_draws_the_seeds_stream_when_it_first_draws() -> None:
    from feedbackgym.agents.scripted.preference import ScriptedGenerator
    from feedbackgym.agents.scripted.streams import LazilySeeded

    agent = ScriptedGenerator(seed=3)
    for seed in (11, 12, 2**40):
        agent.reset(seed=seed)
        assert agent.__dict__["_pending_seed"] == seed  # nothing built yet
        assert float(agent.np_random.random()) == float(np.random.default_rng(seed).random())
    low = {"request": {"quality": 2}, "latent": {"gold": "120"}, "task": {"base": 10}}
    replies = []
    for _ in range(2):
        agent.reset(seed=5)
        agent.act({}, {"request": {"quality": 9}, "latent": {"gold": "120"}})  # no draw
        replies.append(agent.act({}, low))
    assert replies[0] == replies[1]
    with pytest.raises((TypeError, ValueError)):
        agent.reset(seed=-1)  # refused at once, as Agent.reset refuses it

    class Tasked(LazilySeeded, TaskAgent):
        def act(self, observation, info) -> str:
            return ""

    tasked = Tasked(seed=1)
    tasked.new_task({"task": {"id": "t1"}})
    tasked.reset(seed=4)
    assert tasked._task_id != "t1"  # the rest of the reset chain ran
    assert float(tasked.np_random.random()) == float(np.random.default_rng(4).random())
    assert tasked.new_task({"task": {"id": "t1"}}, tried=["x"])


def test_a_generator_given_to_a_streamed_agent_is_left_where_numpys_calls_would_leave_it() -> None:
    mine, reference = np.random.default_rng(8), np.random.default_rng(8)
    agent = Drawer()
    agent.np_random = mine
    assert [agent.act({}, {}) for _ in range(3)] == [str(int(reference.integers(4))) for _ in range(3)]
    agent.np_random = np.random.default_rng(1)  # replaced: the stream's block is handed back first
    assert mine.bit_generator.state == reference.bit_generator.state
    agent.np_random = mine
    agent.act({}, {})
    reference.integers(4)
    agent.reset(seed=3)  # not the agent's own generator: it is left as numpy would leave it, then replaced
    assert mine.bit_generator.state == reference.bit_generator.state
    assert agent.act({}, {}) == str(int(np.random.default_rng(3).integers(4)))
