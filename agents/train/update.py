"""One policy update on a rollout batch: score it once without grad, compute advantages, then
``ppo_epochs`` x ``mini_batches`` optimizer steps with micro-batch gradient accumulation.

Metrics aggregate every micro-batch (token-weighted means), not only the last one.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from .algorithms import (
    LossConfig,
    LossTerms,
    compute_advantages,
    kl_penalty,
    masked_mean,
    policy_loss,
    value_loss,
)
from .config import TrainConfig
from .memory import trim


@dataclass
class Targets:
    """Per-token tensors every micro-batch's loss reads, computed once per rollout batch (no grad)."""

    mask: torch.Tensor
    old_logprobs: torch.Tensor
    advantages: torch.Tensor
    ref_logprobs: torch.Tensor | None = None
    old_values: torch.Tensor | None = None
    returns: torch.Tensor | None = None
    is_weights: torch.Tensor | None = None

    def rows(self, idx: torch.Tensor) -> Targets:
        """The targets of the batch rows ``idx`` (one micro-batch)."""
        tensors = (getattr(self, f.name) for f in fields(self))
        return Targets(*(None if x is None else x[idx] for x in tensors))


class Meter:
    """Token-weighted running means of named values."""

    def __init__(self):
        self.sums: dict[str, float] = {}
        self.weights: dict[str, float] = {}

    def add(self, stats: dict[str, float], weight: float) -> None:
        for key, value in stats.items():
            self.sums[key] = self.sums.get(key, 0.0) + value * weight
            self.weights[key] = self.weights.get(key, 0.0) + weight

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / max(self.weights[k], 1e-12) for k in self.sums}


@torch.no_grad()
def score_batch(scorer, batch, device, cfg: TrainConfig, values: bool = False, entropy: bool = False):
    """Log-probs (and entropy / values) of the whole batch without grad, micro-batch by micro-batch."""
    outs = []
    for s in range(0, len(batch), cfg.micro_batch_size):
        sl = slice(s, s + cfg.micro_batch_size)
        outs.append(scorer.score(batch.input_ids[sl].to(device), batch.attention_mask[sl].to(device),
                                 batch.loss_mask[sl].to(device), cfg.temperature, cfg.logprob_chunk,
                                 entropy=entropy, values=values))
        trim()
    return [torch.cat(parts) if parts[0] is not None else None for parts in zip(*outs)]


def update(policy, ref, batch, optimizer, cfg: TrainConfig, device, *, critic=None) -> dict:
    """Advantages + ``ppo_epochs`` x ``mini_batches`` optimizer steps over ``batch``; returns mean stats.

    ``ref`` is anything with ``.score`` (a frozen Policy, or the LoRA policy with adapters off) or None;
    ``critic`` a separate value model for PPO (else the policy's value head)."""
    mask = batch.loss_mask.to(device).float()
    ppo = cfg.algo == "ppo"
    old_lp, entropy, values = score_batch(policy, batch, device, cfg, values=ppo and critic is None, entropy=True)
    if ppo and critic is not None:
        values = score_batch(critic, batch, device, cfg, values=True)[2]
    ref_lp = score_batch(ref, batch, device, cfg)[0] if ref is not None else None
    kl_reward = ref_lp is not None and (cfg.algo == "reinforce_pp" or (ppo and cfg.kl_in_reward))
    kl = kl_penalty(old_lp, ref_lp, "k1") * mask if kl_reward else None
    adv, returns = compute_advantages(cfg.algo, batch.rewards.to(device), batch.group_ids.to(device), mask,
                                      values=values, kl=kl, kl_coef=cfg.kl_coef)
    targets = Targets(mask, old_lp, adv, ref_lp, values, returns)
    meter = Meter()
    meter.add({"entropy": float(masked_mean(entropy, mask))}, 1.0)
    if ref_lp is not None:
        meter.add({"kl_ref": float(masked_mean(kl_penalty(old_lp, ref_lp, cfg.kl_estimator), mask))}, 1.0)
    sampler_lp = getattr(batch, "sampler_logprobs", None)
    if sampler_lp is not None:  # the rollout engine's own log-probs: measure (and optionally correct) drift
        sampler_lp = sampler_lp.to(device)
        ratio = torch.exp(old_lp - sampler_lp) * mask
        meter.add({"sampler_log_ratio": float(masked_mean(old_lp - sampler_lp, mask))}, 1.0)
        if cfg.tis_cap > 0:
            targets.is_weights = ratio.clamp(max=cfg.tis_cap).detach()
            meter.add({"tis_weight": float(masked_mean(targets.is_weights, mask))}, 1.0)
    loss_cfg = LossConfig(cfg.clip_eps, cfg.kl_coef, cfg.kl_estimator, cfg.entropy_coef,
                          value_coef=cfg.value_coef, kl_in_loss=not kl_reward)
    policy.train()
    for _ in range(cfg.ppo_epochs):
        for mb in torch.randperm(len(batch)).chunk(cfg.mini_batches):
            mb_tokens = mask[mb].sum().item()
            optimizer.zero_grad(set_to_none=True)
            for micro in mb.split(cfg.micro_batch_size):
                inputs = [x[micro].to(device) for x in (batch.input_ids, batch.attention_mask, batch.loss_mask)]
                stats = micro_step(policy, critic, inputs, targets.rows(micro), loss_cfg, cfg, mb_tokens)
                meter.add(stats, mask[micro].sum().item())
                trim()
            for group in optimizer.param_groups:
                norm = torch.nn.utils.clip_grad_norm_(group["params"], cfg.max_grad_norm)
                meter.add({f"grad_norm_{group.get('name', 'actor')}": float(norm)}, 1.0)
            optimizer.step()
    return meter.means()


def micro_step(policy, critic, inputs: list[torch.Tensor], t: Targets, loss_cfg: LossConfig, cfg: TrainConfig,
               num_tokens: float) -> dict:
    """Forward + backward of one micro-batch (``inputs``: its ids, attention mask and loss mask on the device;
    ``t``: its rows of the targets); returns its stats (means over its tokens)."""
    ppo = cfg.algo == "ppo"
    lp, ent, v = policy.score(*inputs, cfg.temperature, cfg.logprob_chunk, entropy=cfg.entropy_coef > 0,
                              values=ppo and critic is None)
    if ppo and critic is not None:
        v = critic.score(*inputs, cfg.temperature, cfg.logprob_chunk, values=True)[2]
    loss, stats = policy_loss(lp, t.old_logprobs, t.advantages, t.mask, loss_cfg,
                              LossTerms(t.ref_logprobs, ent, t.is_weights), num_tokens)
    if v is not None:
        vl = value_loss(v, t.old_values, t.returns, t.mask, loss_cfg, num_tokens)
        loss = loss + vl
        stats["value_loss"] = vl.item() * num_tokens / max(t.mask.sum().item(), 1.0)
    loss.backward()
    return stats
