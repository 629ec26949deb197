"""The agent interface: a reply string from an observation and info, optionally async."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from feedbackgym.envs.core.checks import fail, is_int
from feedbackgym.envs.core.seeding import generator


class AgentConfigurationError(RuntimeError):
    """An agent cannot work as configured: a missing or rejected key, an unknown model, an endpoint
    that does not answer its first call. Every episode would fail alike, so the runner stops the run
    at once with this cause instead of recording one errored episode after another."""


class Agent:
    """Maps what an environment shows one role to a reply string.

    Subclasses implement :meth:`act`. An agent that waits on I/O (an LLM call) overrides
    :meth:`aact` so the runner can keep many requests in flight; the default runs :meth:`act`
    inline, which is right for fast scripted agents. :meth:`reset` is called before every episode
    with a seed derived from the episode's seed, so an agent's randomness is reproducible too.

    ``plays`` says which roles the agent is made for, as ``"Family/role"`` strings: the family is
    the environment class's name without ``Env`` (``SolverFeedback``, ``Negotiation``, ...), the
    role an agent id without its number (``solver`` for ``solver_0``). Empty (the default, and
    what LLM, random, human and PPO agents have) means any role of any environment. Mounting an
    agent on a role it does not play is an error (see ``feedbackgym.envs.core.roles``).
    """

    plays: ClassVar[tuple[str, ...]] = ()

    def __init__(self, seed: int | None = None) -> None:
        self.np_random = np.random.default_rng(require_agent_seed(seed))

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            # default_rng(seed)'s stream, reseeding in place a generator made here (cheap; see envs.core.seeding).
            own = getattr(self, "_own_random", None)
            if type(seed) is int and seed >= 0:
                self.np_random = self._own_random = generator(seed, own if own is not None and own is self.np_random else None)
            else:
                self.np_random = np.random.default_rng(seed)

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        raise NotImplementedError

    async def aact(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        return self.act(observation, info)

    def __call__(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        return self.act(observation, info)

    def stats(self) -> dict[str, Any]:
        """Per-episode accounting the runner stores with the transcript (tokens, cost, ...)."""
        return {}


def require_agent_seed(seed: Any) -> Any:
    """An agent's ``seed``: None, a non-negative integer, or a numpy SeedSequence."""
    if seed is None or isinstance(seed, np.random.SeedSequence) or (is_int(seed) and seed >= 0):
        return seed
    raise fail("seed", "None or an integer >= 0", seed)


_NO_TASK_YET = object()  # a task id no task has: the first call after a reset starts a task


class TaskAgent(Agent):
    """An agent with per-task latent state (a behaviour model's competence, a peer's belief).

    :meth:`new_task` tells, from the info of a step, whether a new task began (another task id, or
    nothing tried yet), remembering the task so that the next call says no.
    """

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(seed)
        self._task_id: Any = _NO_TASK_YET

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._task_id = _NO_TASK_YET

    def new_task(self, info: dict[str, Any], *, tried: list[str] | None = None) -> bool:
        task = info.get("task") if isinstance(info, Mapping) else None
        task_id = task.get("id") if isinstance(task, Mapping) else None
        # The first call after a reset is always a new task, also when the task has no id (a task
        # source without ids) and something was tried before this agent took the role.
        fresh = task_id != self._task_id or (tried is not None and not tried)
        self._task_id = task_id
        return fresh
