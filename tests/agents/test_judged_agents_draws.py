"""The scripted judged solver's plain-Python draws are numpy's, bit for bit, and leave the stream where numpy does."""

from __future__ import annotations

import numpy as np
import pytest

from feedbackgym.agents.scripted import judged_solver
from feedbackgym.agents.scripted.judged_solver import SusceptibleSolver, dirichlet_ones
from feedbackgym.envs.core.draws import weighted_index


@pytest.mark.parametrize("k", [1, 2, 3, 4, 7, 12])
def test_dirichlet_ones_is_numpys_flat_dirichlet(k: int) -> None:
    for seed in range(200):
        expected_rng, rng = np.random.default_rng(seed), np.random.default_rng(seed)
        expected_rng.random(), rng.random()  # not at the stream's start
        assert dirichlet_ones(rng, k) == expected_rng.dirichlet(np.ones(k)).tolist()
        assert rng.bit_generator.state == expected_rng.bit_generator.state


def test_dirichlet_ones_falls_back_to_numpy_when_the_check_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    assert judged_solver._flat_dirichlet_matches.__wrapped__()  # the real check passes on this numpy
    monkeypatch.setattr(judged_solver, "_flat_dirichlet_matches", lambda: False)
    rng, expected_rng = np.random.default_rng(5), np.random.default_rng(5)
    assert dirichlet_ones(rng, 4) == expected_rng.dirichlet(np.ones(4)).tolist()
    assert rng.bit_generator.state == expected_rng.bit_generator.state


def _numpy_belief(solver: SusceptibleSolver, rng: np.random.Generator, wrong: list[str], gold: str | None) -> tuple[list[str], list[float]]:
    """The belief as the solver built it with numpy arrays (its original arithmetic)."""
    c = float(rng.beta(solver.params["competence_alpha"], solver.params["competence_beta"]))
    float(rng.beta(2.0, 2.0))
    shares = rng.dirichlet(np.ones(len(wrong))) if wrong else np.zeros(0)
    gold_weight = [c] if gold is not None else []
    weights = np.asarray(gold_weight + list((1.0 - sum(gold_weight)) * shares), dtype=float)
    return ([gold] if gold is not None else []) + wrong, weights.tolist()


@pytest.mark.parametrize("n_choices", [2, 4, 10, 26])
def test_the_belief_and_its_draws_are_the_numpy_ones(n_choices: int) -> None:
    letters = [chr(65 + i) for i in range(n_choices)]
    for seed in range(60):
        solver = SusceptibleSolver(seed=seed)
        gold = letters[seed % n_choices]
        solver._new_task({"choices": [f"option {x}" for x in letters]}, {"gold": gold})
        candidates, weights = _numpy_belief(solver, np.random.default_rng(seed), [x for x in letters if x != gold], gold)
        assert solver.candidates == candidates and solver.weights == weights
        rng = np.random.default_rng(seed)
        rng.bit_generator.state = solver.np_random.bit_generator.state
        for exclude in [(), (gold,), tuple(letters[:2]), tuple(letters)]:
            keep = [i for i, c in enumerate(candidates) if c not in exclude] or list(range(len(candidates)))
            kept = np.maximum(np.asarray(weights)[keep], 1e-12)
            expected = candidates[keep[weighted_index(rng, kept / kept.sum())]]
            assert solver._draw(exclude) == expected
        assert solver.np_random.bit_generator.state == rng.bit_generator.state


def test_the_intent_judge_reseeds_only_when_it_draws_and_then_draws_the_seed_s_stream() -> None:
    from feedbackgym.agents import make_agent

    def info(intent: str, answer: str) -> dict:
        return {"request": {"intent": intent, "knowledge": "parametric", "answer": answer, "gold": "B", "alternative": "C",
                            "choices": ["w", "x", "y", "z"]}, "task": {"choices": ["w", "x", "y", "z"], "base": 10}}

    drawing = [info("constructive", "A"), info("hypercritical", "B"), info("hypercritical", "D"), info("constructive", "C")]
    for seed in range(40):
        lazy = make_agent("intent_judge", p_detect=0.5, seed=1)
        lazy.reset(seed=seed)
        assert lazy.__dict__["_pending_seed"] == seed  # no generator built at reset
        lazy.act({}, info("malicious", "B"))  # a malicious judge never draws: still pending
        lazy.act({}, info("constructive", "B"))  # nor a constructive one on a right answer
        assert lazy.__dict__["_pending_seed"] == seed
        eager = make_agent("intent_judge", p_detect=0.5, seed=seed)
        assert [lazy.act({}, i) for i in drawing] == [eager.act({}, i) for i in drawing]
