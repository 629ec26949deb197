"""An agent that replies at random: a floor for any role, and a fuzzer for environments."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sized
from typing import Any

from feedbackgym.agents.base import Agent
from feedbackgym.agents.registration import register_agent
from feedbackgym.envs.core.checks import require_int, require_probability
from feedbackgym.envs.tasks.answers import LETTERS

_NOISE = string.ascii_letters + string.digits + " .,!?"


@register_agent("random")
class RandomAgent(Agent):
    """With probability ``p_valid`` a well-formed random move for the role, otherwise random characters.

    A well-formed move is a random choice letter or number in ``\\boxed{}`` when the info shows a task
    to answer, or a random verdict when the info carries a feedback request.
    """

    def __init__(self, p_valid: float = 0.8, max_noise_chars: int = 40, seed: int | None = None) -> None:
        super().__init__(seed)
        self.p_valid = require_probability("p_valid", p_valid)
        self.max_noise_chars = require_int("max_noise_chars", max_noise_chars, 0, 10_000)

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        if self.np_random.random() >= self.p_valid:
            length = int(self.np_random.integers(0, self.max_noise_chars + 1))
            return "".join(self.np_random.choice(list(_NOISE), size=length))
        info = info if isinstance(info, Mapping) else {}  # it plays any role: read what is there, fail on nothing
        if "request" in info:
            return "Your answer is " + ("correct." if self.np_random.random() < 0.5 else "incorrect.")
        task = info.get("task")
        choices = task.get("choices") if isinstance(task, Mapping) else None
        if isinstance(choices, Sized) and not isinstance(choices, (str, bytes)) and len(choices):
            # Option letters as multiple-choice tasks name them (A, B, ...), for any number of options.
            letters = LETTERS[: len(choices)]
            return f"\\boxed{{{letters[int(self.np_random.integers(len(letters)))]}}}"
        return f"\\boxed{{{int(self.np_random.integers(0, 1000))}}}"
