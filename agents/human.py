"""A human at the terminal plays any role: the observation is printed, the reply is typed."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from feedbackgym.agents.base import Agent, AgentConfigurationError
from feedbackgym.agents.registration import register_agent
from feedbackgym.envs.core.checks import fail, require_bool


@register_agent("human")
class HumanAgent(Agent):
    """Prints the observation text and reads one reply; end a multi-line reply with a line ``.``.

    When the input ends (Ctrl-D, or piped replies that ran out) the agent raises
    :class:`~feedbackgym.agents.base.AgentConfigurationError`, which stops a run at once.

    ``input_fn`` and ``output`` are injectable so the agent can be scripted in tests.
    """

    def __init__(
        self,
        multiline: bool = False,
        input_fn: Callable[[str], str] = input,
        output: TextIO | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        self.multiline = require_bool("multiline", multiline)
        if not callable(input_fn):
            raise fail("input_fn", "a callable taking the prompt and returning the reply", input_fn)
        if output is not None and not callable(getattr(output, "write", None)):
            raise fail("output", "a text stream with write() (or None for stdout)", output)
        self.input_fn = input_fn
        self.output = output

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        out = self.output or sys.stdout
        print("\n" + "=" * 72 + "\n" + str(observation.get("text", "") if isinstance(observation, Mapping) else (observation or "")), file=out)
        if not self.multiline:
            return self._read()
        lines: list[str] = []
        while True:
            line = self._read()
            if line == ".":
                return "\n".join(lines)
            lines.append(line)

    def _read(self) -> str:
        try:
            return self.input_fn("> ")
        except EOFError:
            # No one is left at the terminal (Ctrl-D, or piped input that ran out): every later episode would
            # fail alike, so the run stops here instead of recording one errored episode after another.
            raise AgentConfigurationError(
                "the human player's input ended (end of file): no one is left to type replies, so the run stops"
            ) from None
