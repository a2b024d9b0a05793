"""Training health: per-step signs of a run going wrong, and warnings on collapse.

Search-R1 users report collapse as their top problem: the entropy or the response length falls to almost
nothing, or the KL to the reference explodes, and the reward follows a few steps later. Each step logs the
signals below; :func:`collapse_warnings` compares the latest step with the first ones.
"""
from __future__ import annotations

import torch

HEALTH_KEYS = ("entropy", "kl_ref", "response_tokens", "valid_action_rate", "searches", "zero_adv_groups")


def zero_advantage_share(rewards: torch.Tensor, group_ids: torch.Tensor) -> float:
    """Share of groups whose rollouts all got the same reward (a GRPO group with nothing to learn from).

    >>> zero_advantage_share(torch.tensor([1.0, 1.0, 0.0, 0.5]), torch.tensor([0, 0, 1, 1]))
    0.5
    """
    groups = torch.unique(group_ids)
    same = sum(bool((rewards[group_ids == g] == rewards[group_ids == g][0]).all()) for g in groups)
    return same / max(len(groups), 1)


def collapse_warnings(history: list[dict], window: int = 3) -> list[str]:
    """Warnings for the newest row of ``history`` against the mean of its first ``window`` rows."""
    if len(history) <= window:
        return []
    first, last = history[:window], history[-1]

    def base(key):
        vals = [r[key] for r in first if key in r]
        return sum(vals) / len(vals) if vals else None

    out = []
    for key, what in (("entropy", "entropy"), ("response_tokens", "response length")):
        start = base(key)
        if start and key in last and last[key] < 0.2 * start:
            out.append(f"{what} collapsed to {last[key]:.3g} (from {start:.3g} in the first steps): lower the lr, "
                       "raise --entropy-coef or --kl-coef")
    kl = last.get("kl_ref")
    if kl is not None and kl > 1.0:
        out.append(f"KL to the reference exploded to {kl:.3g} nats/token: lower the lr or raise --kl-coef")
    return out
