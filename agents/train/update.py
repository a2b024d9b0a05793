"""One policy update on a rollout batch: score it once without grad, compute advantages, then
``ppo_epochs`` x ``mini_batches`` optimizer steps with micro-batch gradient accumulation. GRPO with one
epoch and one mini-batch (the default) skips the no-grad pass: its old log-probs are the gradient pass's own.

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

    def cut(self, width: int) -> Targets:
        """The first ``width`` positions (a micro-batch trimmed of its right padding)."""
        tensors = (getattr(self, f.name) for f in fields(self))
        return Targets(*(None if x is None else x[:, :width] for x in tensors))


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
    outs, full = [], batch.input_ids.shape[1]
    for s in range(0, len(batch), cfg.micro_batch_size):
        sl = slice(s, s + cfg.micro_batch_size)
        width = int(batch.attention_mask[sl].sum(1).max())  # right padding: nothing to score past it
        parts = scorer.score(batch.input_ids[sl, :width].to(device), batch.attention_mask[sl, :width].to(device),
                             batch.loss_mask[sl, :width].to(device), cfg.temperature, cfg.logprob_chunk,
                             entropy=entropy, values=values)
        outs.append([None if x is None else torch.nn.functional.pad(x, (0, full - width)) for x in parts])
        trim()
    return [torch.cat(parts) if parts[0] is not None else None for parts in zip(*outs)]


def update(policy, ref, batch, optimizer, cfg: TrainConfig, device, *, critic=None) -> dict:
    """Advantages + ``ppo_epochs`` x ``mini_batches`` optimizer steps over ``batch``; returns mean stats.

    ``ref`` is anything with ``.score`` (a frozen Policy, or the LoRA policy with adapters off) or None;
    ``critic`` a separate value model for PPO (else the policy's value head)."""
    mask = batch.loss_mask.to(device).float()
    ppo = cfg.algo == "ppo"
    sampler_lp = getattr(batch, "sampler_logprobs", None)
    if one_pass(cfg, sampler_lp):  # the gradient pass's own log-probs are the old ones: no extra scoring pass
        return single_update(policy, ref, batch, optimizer, cfg, device)
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
    if sampler_lp is not None:  # the rollout engine's own log-probs: measure (and optionally correct) drift
        sampler_lp = sampler_lp.to(device)
        ratio = torch.exp(old_lp - sampler_lp) * mask
        meter.add({"sampler_log_ratio": float(masked_mean(old_lp - sampler_lp, mask))}, 1.0)
        if cfg.tis_cap > 0:
            targets.is_weights = ratio.clamp(max=cfg.tis_cap).detach()
            meter.add({"tis_weight": float(masked_mean(targets.is_weights, mask))}, 1.0)
    for _ in range(cfg.ppo_epochs):
        for mb in torch.randperm(len(batch)).chunk(cfg.mini_batches):
            optimizer_step(policy, critic, batch, mb, targets, optimizer, meter, cfg)
    return meter.means()


def one_pass(cfg: TrainConfig, sampler_lp) -> bool:
    """GRPO with one epoch and one mini-batch, without the sampler's log-probs: the weights do not change
    before the only gradient pass, so the old log-probs equal that pass's own (RESULTS 2c: the separate
    no-grad pass was 19 % of an update)."""
    return cfg.algo == "grpo" and cfg.ppo_epochs == 1 and cfg.mini_batches == 1 and sampler_lp is None


def single_update(policy, ref, batch, optimizer, cfg: TrainConfig, device) -> dict:
    """:func:`update` in one gradient pass (see :func:`one_pass`); entropy and KL come from that pass."""
    mask = batch.loss_mask.to(device).float()
    ref_lp = score_batch(ref, batch, device, cfg)[0] if ref is not None else None
    adv, _ = compute_advantages(cfg.algo, batch.rewards.to(device), batch.group_ids.to(device), mask)
    targets = Targets(mask, None, adv, ref_lp)
    meter = Meter()
    optimizer_step(policy, None, batch, torch.randperm(len(batch)), targets, optimizer, meter, cfg)
    return meter.means()


def loss_config(cfg: TrainConfig) -> LossConfig:
    """The loss settings; the KL goes into the loss unless REINFORCE++ / PPO with --kl-in-reward put it
    into the reward."""
    kl_reward = cfg.algo == "reinforce_pp" or (cfg.algo == "ppo" and cfg.kl_in_reward)
    return LossConfig(cfg.clip_eps, cfg.kl_coef, cfg.kl_estimator, cfg.entropy_coef, value_coef=cfg.value_coef,
                      kl_in_loss=not kl_reward)


def optimizer_step(policy, critic, batch, rows: torch.Tensor, targets: Targets, optimizer, meter: Meter,
                   cfg: TrainConfig) -> None:
    """One optimizer step over the batch ``rows``, accumulated over micro-batches; stats into ``meter``."""
    device, mask = targets.mask.device, targets.mask
    tokens = mask[rows].sum().item()
    policy.train()
    optimizer.zero_grad(set_to_none=True)
    for micro in rows.split(cfg.micro_batch_size):
        inputs = [x[micro].to(device) for x in (batch.input_ids, batch.attention_mask, batch.loss_mask)]
        width = int(inputs[1].sum(1).max())  # right padding: nothing to compute past the longest row
        inputs = [x[:, :width] for x in inputs]
        stats = micro_step(policy, critic, inputs, targets.rows(micro).cut(width), cfg, tokens)
        meter.add(stats, mask[micro].sum().item())
        trim()
    for group in optimizer.param_groups:
        norm = torch.nn.utils.clip_grad_norm_(group["params"], cfg.max_grad_norm)
        meter.add({f"grad_norm_{group.get('name', 'actor')}": float(norm)}, 1.0)
    optimizer.step()


def micro_step(policy, critic, inputs: list[torch.Tensor], t: Targets, cfg: TrainConfig, num_tokens: float) -> dict:
    """Forward + backward of one micro-batch (``inputs``: its ids, attention mask and loss mask on the device;
    ``t``: its rows of the targets); returns its stats (means over its tokens). Without ``t.old_logprobs``
    (:func:`single_update`) the pass's own detached log-probs are the old ones, and its entropy and KL to the
    reference are reported."""
    ppo, single = cfg.algo == "ppo", t.old_logprobs is None
    lp, ent, v = policy.score(*inputs, cfg.temperature, cfg.logprob_chunk, entropy=cfg.entropy_coef > 0 or single,
                              values=ppo and critic is None)
    if ppo and critic is not None:
        v = critic.score(*inputs, cfg.temperature, cfg.logprob_chunk, values=True)[2]
    old, loss_cfg = lp.detach() if single else t.old_logprobs, loss_config(cfg)
    loss, stats = policy_loss(lp, old, t.advantages, t.mask, loss_cfg,
                              LossTerms(t.ref_logprobs, ent, t.is_weights), num_tokens)
    if single:
        stats["entropy"] = float(masked_mean(ent.detach(), t.mask))
        if t.ref_logprobs is not None:
            stats["kl_ref"] = float(masked_mean(kl_penalty(old, t.ref_logprobs, cfg.kl_estimator), t.mask))
    if v is not None:
        vl = value_loss(v, t.old_values, t.returns, t.mask, loss_cfg, num_tokens)
        loss = loss + vl
        stats["value_loss"] = vl.item() * num_tokens / max(t.mask.sum().item(), 1.0)
    loss.backward()
    return stats
