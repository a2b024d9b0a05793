"""The one way this project derives independent seeds: NumPy's SeedSequence, spawned under a key.

>>> spawn_seeds(0, 3, 5) == spawn_seeds(0, 3, 5), spawn_seeds(0, 1, 5) == spawn_seeds(0, 1, 6)
(True, False)
"""
from __future__ import annotations

import numpy as np


def spawn_seeds(seed: int, n: int, *key: int) -> list[int]:
    """``n`` independent 32-bit seeds from ``seed`` for the stream named by ``key`` (e.g. a training step, a
    worker and sub-env, a resample round): the same arguments always give the same seeds, other keys others."""
    children = np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in key)).spawn(n)
    return [int(c.generate_state(1, np.uint32)[0]) for c in children]
