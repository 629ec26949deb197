"""Seeds derived from an episode's seed, so every participant's randomness is reproducible."""

from __future__ import annotations

import numpy as np


def agent_seed(seed: int | None, index: int) -> int | None:
    """The seed of the agent at ``index`` of ``possible_agents`` in an episode seeded with ``seed``.

    The runner and ``SingleAgent`` both use it, so an episode played either way is the same episode.
    """
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
