"""Warm start for small policies: a short SFT on trajectories a scripted policy plays against the same env.

SmolLM2-135M-Instruct writes a valid ``<search>``/``<answer>`` action in 0 of 48 samples with the paper's
prompt, so RL alone has no reward to follow. A few SFT steps on scripted trajectories (think -> search the
question -> answer from the documents), with the loss on the scripted turns only (observations masked,
exactly as in RL), teach the format; RL then optimises the content.
"""
from __future__ import annotations

import numpy as np
import torch

from ..policy import Turn
from ..scripted import ScriptedPolicy
from .memory import trim
from .rollout import RolloutBatch, RolloutConfig, _pad, collect_rollouts


def scripted_actor(policy):
    """An actor for :func:`collect_rollouts` that plays scripted turns (tokenized text, not sampled)."""
    act = ScriptedPolicy().act
    eos = policy.tokenizer.eos_token_id

    def actor(indices, contexts, transcripts):
        turns = []
        for text in transcripts:
            turn_text = act(text)
            ids = policy.tokenizer(turn_text, add_special_tokens=False)["input_ids"]
            if "</answer>" in turn_text and eos is not None:
                ids = ids + [eos]  # teach the model to stop after answering
            turns.append(Turn(ids, turn_text, "stop"))
        return turns

    return actor


def sft_step(policy, optimizer, batch, micro_batch_size: int, device, chunk: int = 512) -> float:
    """One optimizer step of mean token NLL over the batch's masked (scripted-turn) tokens."""
    ids, attn, mask = (t.to(device) for t in (batch.input_ids, batch.attention_mask, batch.loss_mask))
    total = mask.sum().clamp(min=1)
    optimizer.zero_grad(set_to_none=True)
    loss_sum = 0.0
    for start in range(0, len(batch), micro_batch_size):
        sl = slice(start, start + micro_batch_size)
        width = int(attn[sl].sum(1).max())  # right padding: no compute on the batch's longer rows' pads
        logp, _, _ = policy.score(ids[sl, :width], attn[sl, :width], mask[sl, :width], chunk=chunk)
        loss = -(logp * mask[sl, :width]).sum() / total
        loss.backward()
        loss_sum += loss.item()
        trim()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
    optimizer.step()
    return loss_sum


def warm_start(policy, envs, examples, cfg, device, log=print) -> list[dict]:
    """``cfg.warmstart_steps`` SFT steps on scripted trajectories; returns per-step stats."""
    if cfg.warmstart_steps <= 0:
        return []
    optimizer = torch.optim.AdamW([p for p in policy.parameters() if p.requires_grad], lr=cfg.warmstart_lr)
    rcfg = RolloutConfig(cfg.max_new_tokens * 2, cfg.max_obs_tokens, cfg.max_seq_len)
    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(2**31,)))  # not a step's stream
    actor = scripted_actor(policy)
    history = []
    policy.train()
    from tqdm import tqdm

    bar = tqdm(total=cfg.warmstart_steps, desc="warm start", disable=not cfg.progress)  # with an ETA
    for step in range(cfg.warmstart_steps):
        picks = rng.choice(len(examples), size=envs.num_envs, replace=len(examples) < envs.num_envs)
        seeds = [int(s) for s in rng.integers(0, 2**32, envs.num_envs)]
        batch = collect_rollouts(envs, policy, [examples[i] for i in picks], 1, rcfg, seed=seeds, actor=actor)
        loss = sft_step(policy, optimizer, batch, cfg.micro_batch_size, device, cfg.logprob_chunk)
        history.append({"warmstart_step": step, "sft_loss": loss, "scripted_reward": batch.stats["reward"]})
        bar.update(1)
        bar.set_postfix(sft_loss=f"{loss:.3f}", scripted_reward=f"{batch.stats['reward']:.3f}")
        if not cfg.progress:
            log(f"warm start {step + 1}/{cfg.warmstart_steps}: sft loss {loss:.3f}, "
                f"scripted reward {batch.stats['reward']:.3f}")
    bar.close()
    return history


# -- the shipped warm start: SFT over a whole dataset of scripted trajectories (scripts/build_warmstart.py) --
def scripted_trajectories(policy, envs, examples, rcfg: RolloutConfig, seed: int, log=print) -> list:
    """One scripted episode per example, played ``envs.num_envs`` at a time: (Episode, record) pairs."""
    from ..episodes import TokenActor, play

    out = []
    for start in range(0, len(examples), envs.num_envs):
        chunk = list(examples[start:start + envs.num_envs])
        chunk += chunk[:envs.num_envs - len(chunk)] if len(chunk) < envs.num_envs else []
        episodes = play(envs, TokenActor(policy, rcfg, scripted_actor(policy)), chunk, seed=seed + start)
        out.extend((e, e.record()) for e in episodes[:len(examples) - start])
        log(f"scripted trajectories: {len(out)}/{len(examples)}")
    return out


def sft_batch(episodes, pad_id: int) -> RolloutBatch:
    """Right-padded ids and masks of scripted episodes (the rollout's own layout)."""
    return _pad(list(episodes), 1, pad_id)


def linear_lr(base: float, step: int, total: int, warmup: int) -> float:
    """Linear warmup over ``warmup`` steps, then linear decay to 0 at ``total``."""
    if step < warmup:
        return base * (step + 1) / warmup
    return base * max(0.0, (total - step) / max(total - warmup, 1))
