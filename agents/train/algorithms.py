"""Advantages and masked losses for token-level policy optimisation: PPO, GRPO and REINFORCE++.

All tensors are ``[batch, seq]``; ``mask`` is 1 on tokens the policy sampled and 0 on prompt, observation
(simulator documents) and padding tokens. Every mean is over masked tokens only, so the simulator's text
never produces a gradient. Shapes follow the rollout: the outcome reward sits on the last policy token.

- **PPO**: a value head, GAE with gamma = lambda = 1 run over the masked tokens only (observation tokens are
  skipped, not treated as steps), clipped surrogate + clipped value loss.
- **GRPO**: one scalar advantage per sequence, ``(r - mean) / (std + eps)`` within the group of rollouts of
  the same question, broadcast to its tokens.
- **REINFORCE++**: token-level KL penalty folded into the per-token reward, return-to-go (gamma = 1), then
  normalised over all masked tokens of the batch.

The KL to the frozen reference model is *added* to the loss (``+ beta * KL``) for PPO and GRPO (ZeroSearch's
code subtracts it, a sign bug); REINFORCE++ puts ``-beta * KL`` into the reward instead (its paper's design).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

ALGORITHMS = ("ppo", "grpo", "reinforce_pp")


def masked_sum(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of ``x`` where ``mask`` is 1."""
    return (x * mask).sum()


def masked_mean(x: torch.Tensor, mask: torch.Tensor, num_tokens: float | None = None) -> torch.Tensor:
    """Mean of ``x`` over masked tokens; ``num_tokens`` overrides the denominator (gradient accumulation
    over micro-batches divides by the token count of the whole batch).

    >>> masked_mean(torch.tensor([[1.0, 2.0, 9.0]]), torch.tensor([[1.0, 1.0, 0.0]])).item()
    1.5
    """
    denom = mask.sum() if num_tokens is None else torch.as_tensor(num_tokens, dtype=x.dtype)
    return masked_sum(x, mask) / denom.clamp(min=1)


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``(x - mean) / (std + eps)`` with the statistics of the masked tokens; zero outside the mask."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    return (x - mean) / (var.sqrt() + eps) * mask


def kl_penalty(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, estimator: str = "k3") -> torch.Tensor:
    """Per-token estimate of KL(policy || reference) from log-probs of the sampled tokens.

    ``k1`` = log p - log q (unbiased, can be negative); ``k3`` = exp(q - p) - (q - p) - 1 (non-negative).

    >>> kl_penalty(torch.tensor([0.0]), torch.tensor([0.0]), "k3").item()
    0.0
    """
    log_ratio = logprobs - ref_logprobs
    if estimator == "k1":
        return log_ratio
    if estimator == "k3":
        return torch.exp(-log_ratio) + log_ratio - 1.0
    raise ValueError(f"expected kl estimator 'k1' or 'k3', got {estimator!r}")


def last_token_rewards(rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Place each sequence's scalar reward on its last masked token: ``[B] -> [B, T]``."""
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    last = torch.where(mask > 0, positions, torch.full_like(positions, -1)).max(dim=1).values
    out = torch.zeros(mask.shape, dtype=rewards.dtype, device=mask.device)
    has = last >= 0
    out[has.nonzero().squeeze(1), last[has]] = rewards[has]
    return out


def gae_advantages(token_rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor,
                   gamma: float = 1.0, lam: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE over the masked tokens of each sequence (unmasked tokens are skipped, so a search turn's
    last token bootstraps from the value of the next turn's first token). Returns (advantages, returns).

    With gamma = lambda = 1 and only an outcome reward this is ``A_t = R - V_t``.
    """
    batch, length = mask.shape
    advantages = torch.zeros_like(values)
    next_value = torch.zeros(batch, dtype=values.dtype, device=values.device)
    running = torch.zeros_like(next_value)
    for t in reversed(range(length)):
        m = mask[:, t]
        delta = token_rewards[:, t] + gamma * next_value - values[:, t]
        new_running = delta + gamma * lam * running
        advantages[:, t] = new_running * m
        running = torch.where(m > 0, new_running, running)
        next_value = torch.where(m > 0, values[:, t], next_value)
    returns = (advantages + values) * mask
    return advantages, returns


def grpo_advantages(rewards: torch.Tensor, group_ids: torch.Tensor, mask: torch.Tensor,
                    eps: float = 1e-6) -> torch.Tensor:
    """Group-relative advantage ``(r - mean_g) / (std_g + eps)`` (unbiased std as in GRPO), broadcast to
    every masked token of the sequence. A group whose rewards are all equal gets advantage 0."""
    adv = torch.zeros_like(rewards, dtype=torch.float32)
    for g in torch.unique(group_ids):
        idx = group_ids == g
        r = rewards[idx].float()
        std = r.std() if r.numel() > 1 else torch.tensor(0.0, device=r.device)
        adv[idx] = (r - r.mean()) / (std + eps)
    return adv[:, None] * mask


def reinforce_pp_advantages(token_rewards: torch.Tensor, mask: torch.Tensor, kl: torch.Tensor | None = None,
                            kl_coef: float = 0.0, gamma: float = 1.0) -> torch.Tensor:
    """REINFORCE++: per-token reward ``r_t - beta * KL_t``, return-to-go over masked tokens, then
    normalised over all masked tokens of the batch."""
    shaped = token_rewards * mask
    if kl is not None and kl_coef:
        shaped = shaped - kl_coef * kl * mask
    returns = torch.zeros_like(shaped)
    running = torch.zeros(shaped.shape[0], dtype=shaped.dtype, device=shaped.device)
    for t in reversed(range(shaped.shape[1])):
        running = shaped[:, t] + gamma * running
        returns[:, t] = running * mask[:, t]
    return masked_whiten(returns, mask)


@dataclass
class LossConfig:
    """Coefficients of the policy loss."""

    clip_eps: float = 0.2  # PPO ratio clip
    kl_coef: float = 0.001  # beta of the KL(policy || reference) term added to the loss
    kl_estimator: str = "k3"  # "k1" or "k3"
    entropy_coef: float = 0.0  # bonus on the policy's entropy (subtracted from the loss)
    value_clip: float = 0.2  # PPO value-loss clip
    value_coef: float = 0.5  # weight of the critic loss (PPO only)
    kl_in_loss: bool = True  # False when the KL is in the reward instead (REINFORCE++, PPO's kl_in_reward)


@dataclass(frozen=True)
class LossTerms:
    """The optional per-token tensors of :func:`policy_loss`, each ``[batch, seq]`` like its log-probs."""

    ref_logprobs: torch.Tensor | None = None  # the reference model's: the KL term (LossConfig.kl_coef)
    entropy: torch.Tensor | None = None  # the policy's entropy: the bonus (LossConfig.entropy_coef)
    is_weights: torch.Tensor | None = None  # truncated importance weights p_trainer / p_sampler


def policy_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                mask: torch.Tensor, cfg: LossConfig, terms: LossTerms | None = None,
                num_tokens: float | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Clipped surrogate ``max(-A * ratio, -A * clip(ratio))`` + ``beta * KL`` - ``c_ent * entropy``,
    each a token mean over ``mask`` (denominator ``num_tokens`` when given). ``terms.is_weights`` (truncated
    importance weights p_trainer / p_sampler) scale each token's surrogate. Returns (loss, stats); the
    stats are means over this call's masked tokens, so callers can average them weighted by token count."""
    terms = terms if terms is not None else LossTerms()
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - cfg.clip_eps, 1.0 + cfg.clip_eps)
    surrogate = torch.maximum(unclipped, clipped)
    if terms.is_weights is not None:
        surrogate = surrogate * terms.is_weights
    loss = masked_mean(surrogate, mask, num_tokens)
    stats = {"pg_loss": masked_mean(surrogate, mask).item(),
             "clip_frac": masked_mean((clipped > unclipped).float(), mask).item()}
    if terms.ref_logprobs is not None and cfg.kl_in_loss and cfg.kl_coef:
        kl = kl_penalty(logprobs, terms.ref_logprobs, cfg.kl_estimator)
        loss = loss + cfg.kl_coef * masked_mean(kl, mask, num_tokens)
        stats["kl"] = masked_mean(kl, mask).item()
    if terms.entropy is not None and cfg.entropy_coef:
        loss = loss - cfg.entropy_coef * masked_mean(terms.entropy, mask, num_tokens)
    return loss, stats


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
               cfg: LossConfig, num_tokens: float | None = None) -> torch.Tensor:
    """Clipped critic loss ``0.5 * max((V - R)^2, (clip(V) - R)^2)`` over masked tokens, times value_coef."""
    clipped = old_values + torch.clamp(values - old_values, -cfg.value_clip, cfg.value_clip)
    err = torch.maximum((values - returns) ** 2, (clipped - returns) ** 2)
    return cfg.value_coef * 0.5 * masked_mean(err, mask, num_tokens)


def compute_advantages(algo: str, rewards: torch.Tensor, group_ids: torch.Tensor, mask: torch.Tensor,
                       values: torch.Tensor | None = None, kl: torch.Tensor | None = None,
                       kl_coef: float = 0.0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Dispatch on ``algo``; returns (advantages [B, T], returns [B, T] for PPO's critic or None).

    ``kl`` (per-token, e.g. k1) with ``kl_coef`` is folded into the reward for REINFORCE++ and PPO."""
    mask = mask.float()
    if algo == "grpo":
        return grpo_advantages(rewards, group_ids, mask), None
    token_rewards = last_token_rewards(rewards.float(), mask)
    if algo == "reinforce_pp":
        return reinforce_pp_advantages(token_rewards, mask, kl, kl_coef), None
    if algo == "ppo":
        if values is None:
            raise ValueError("expected values from the value head for algo='ppo', got None")
        if kl is not None and kl_coef:  # ZeroSearch's PPO: -beta * KL in the per-token reward
            token_rewards = token_rewards - kl_coef * kl * mask
        adv, returns = gae_advantages(token_rewards, values.float(), mask)
        return masked_whiten(adv, mask), returns
    raise ValueError(f"expected algo in {ALGORITHMS}, got {algo!r}")
