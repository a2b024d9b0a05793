"""Noise curriculum: the probability that a search call returns noisy documents, as training goes on.

ZeroSearch raises it exponentially, ``p_i = p_s + (b^(i/m) - 1)/(b - 1) * (p_e - p_s)`` for training step ``i``
of ``m``; ablations use a fixed ``p`` or a uniformly random one.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

KINDS = ("exponential", "fixed", "random")


@dataclass(frozen=True)
class NoiseSchedule:
    """Noise probability per training step.

    Args:
        kind: "exponential" (ZeroSearch), "fixed" (always ``p_end``) or "random" (uniform in [p_start, p_end]).
        p_start, p_end: probabilities at the first and last step (``p_s``, ``p_e``).
        total_steps: ``m``, the number of training steps.
        base: ``b`` of the exponential schedule (> 0, != 1).

    >>> s = NoiseSchedule(p_start=0.0, p_end=0.5, total_steps=203, base=4)
    >>> round(s(100), 3), round(s(202), 4)
    (0.163, 0.4955)
    """

    kind: str = "exponential"
    p_start: float = 0.0
    p_end: float = 0.5
    total_steps: int = 203
    base: float = 4.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"expected schedule kind in {KINDS}, got {self.kind!r}")
        for name in ("p_start", "p_end"):
            check_probability(getattr(self, name), name)
        if self.total_steps < 1:
            raise ValueError(f"expected total_steps >= 1, got {self.total_steps}")
        if self.base <= 0 or self.base == 1:
            raise ValueError(f"expected base > 0 and != 1, got {self.base}")

    @classmethod
    def fixed(cls, p: float) -> "NoiseSchedule":
        return cls(kind="fixed", p_start=p, p_end=p)

    def __call__(self, step: int, rng: np.random.Generator | None = None) -> float:
        """The noise probability at ``step`` (clipped to [0, total_steps]); "random" draws with ``rng``."""
        if self.kind == "fixed":
            return self.p_end
        if self.kind == "random":
            rng = rng if rng is not None else np.random.default_rng()
            return float(rng.uniform(self.p_start, self.p_end))
        frac = min(max(step, 0), self.total_steps) / self.total_steps
        return self.p_start + (self.base**frac - 1) / (self.base - 1) * (self.p_end - self.p_start)


def as_schedule(noise: "NoiseSchedule | float | None") -> NoiseSchedule:
    """The env's ``noise`` argument as a schedule: ``None`` is ZeroSearch's, a float a fixed probability."""
    if noise is None:
        return NoiseSchedule()
    if isinstance(noise, NoiseSchedule):
        return noise
    return NoiseSchedule.fixed(check_probability(noise))


def check_probability(value, name: str = "a noise probability") -> float:
    """``value`` as a float in [0, 1]; anything else (a bool, a non-number, NaN) is a ValueError that names it.

    The one check of a probability: the env's noise arguments, :class:`NoiseSchedule`, and the commands' options.

    >>> check_probability(1), check_probability(0.25, "--noise")
    (1.0, 0.25)
    >>> check_probability(2.0, "--noise")
    Traceback (most recent call last):
    ...
    ValueError: expected --noise in [0, 1], got 2.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"expected {name} in [0, 1], got {value!r}")
    return float(value)
