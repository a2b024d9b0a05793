"""Rebuild the shipped warm start (``agents/data/warmstart-smollm2-lora/``) from offline assets.

    HF_HUB_OFFLINE=1 python scripts/build_warmstart.py [--out DIR] [--steps N] [--resume]

1. Scripted episodes (think -> search the question -> answer from the documents, ``agents.scripted``) for
   the 1,000 ``wiki:train`` questions against BM25 over the offline Wikipedia summaries, with the trainer's
   default limits (one search turn, top 3 documents cut to 256 tokens, 768 tokens per episode). Episodes
   whose scripted answer scores F1 >= 0.5 are kept: the policy imitates the extractor where it is right.
2. SFT of SmolLM2-135M-Instruct with LoRA (r16, alpha 32, every linear layer), the loss on the scripted turns
   only (prompt and documents masked, as in RL), 64 steps of 16 episodes (1,024 trajectories: every kept one,
   then a second seeded pass), AdamW lr 5e-4 (10 warmup steps, then linear decay), seed 0, CPU: ~70 minutes
   on the 2 idle cores. A checkpoint every 10 steps in ``--work``; ``--resume`` continues from it.
3. The adapter (fp16) and ``warmstart.json`` (base model, rank, sha256, data, steps, time) go to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SFT = {"dataset": "wiki:train", "backend": "bm25", "min_f1": 0.5, "rank": 16, "alpha": 32.0, "lr": 5e-4,
       "batch": 16, "warmup": 10, "seed": 0, "micro_batch": 2, "max_new_tokens": 96, "max_obs_tokens": 256,
       "max_seq_len": 768, "top_k": 3, "max_turns": 1}


def main(argv: list[str] | None = None) -> int:
    from agents.warmstart_adapter import SHIPPED

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(SHIPPED), help="adapter folder to write")
    p.add_argument("--work", default=str(ROOT / "runs" / "warmstart-build"), help="checkpoints and logs")
    p.add_argument("--steps", type=int, default=64, help="SFT steps of 16 trajectories (new order per pass)")
    p.add_argument("--limit", type=int, default=0, help="questions used (0 = all; a smoke run uses a few)")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--resume", action="store_true", help="continue from --work/checkpoint")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(SFT["seed"])
    began = time.time()
    policy, kept, stats = trajectories(args.limit)
    config = {**SFT, "steps": args.steps, "limit": args.limit, "kept": len(kept)}
    history = train(policy, kept, config, Path(args.work), args.resume)
    meta = finish(policy, Path(args.out), config, stats, history, time.time() - began)
    print(f"{args.out}: {meta['bytes'] / 1e6:.1f} MB, sha256 {meta['sha256']}", flush=True)
    return 0


def trajectories(limit: int):
    """The policy (SmolLM2 + fresh LoRA) and the kept scripted episodes, with the data's stats."""
    import gymnasium
    import torch

    from agents.train.build import build_policy
    from agents.train.config import TrainConfig
    from agents.train.rollout import RolloutConfig
    from agents.train.warmstart import scripted_trajectories
    from zerosearch_gym import load_qa_dataset

    examples = load_qa_dataset(SFT["dataset"])[: limit or None]
    cfg = TrainConfig(lora_rank=SFT["rank"], lora_alpha=SFT["alpha"], activation_checkpointing=False,
                      seed=SFT["seed"], device="cpu", algo="grpo")
    policy = build_policy(cfg, torch.device("cpu"))
    envs = gymnasium.make_vec("ZeroSearch-v0", num_envs=SFT["batch"], vectorization_mode="vector_entry_point",
                              backend=SFT["backend"], dataset=examples, max_turns=SFT["max_turns"],
                              top_k=SFT["top_k"])
    rcfg = RolloutConfig(SFT["max_new_tokens"] * 2, SFT["max_obs_tokens"], SFT["max_seq_len"])
    played = scripted_trajectories(policy, envs, examples, rcfg, SFT["seed"], log=lambda m: None)
    envs.close()
    kept = [e for e, r in played if r["f1"] >= SFT["min_f1"] and not e.overflow]
    f1 = [r["f1"] for _, r in played]
    stats = {"played": len(played), "kept": len(kept), "scripted_f1": sum(f1) / max(len(f1), 1),
             "tokens": sum(len(e.ids) for e in kept), "policy_tokens": sum(sum(e.mask) for e in kept)}
    print(f"scripted trajectories: {stats}", flush=True)
    return policy, kept, stats


def train(policy, kept: list, config: dict, work: Path, resume: bool) -> list[dict]:
    """``config['steps']`` SFT steps over ``kept`` (a fresh seeded order per pass); resumable from
    ``work/checkpoint``."""
    import numpy as np
    import torch
    from tqdm import tqdm

    from agents.train.checkpoint import load_checkpoint, save_checkpoint, truncate_metrics
    from agents.train.warmstart import linear_lr, sft_batch, sft_step

    per_epoch = len(kept) // config["batch"]
    total = config["steps"]
    optimizer = torch.optim.AdamW([p for p in policy.parameters() if p.requires_grad], lr=config["lr"])
    start = 0
    if resume:
        state = load_checkpoint(work, policy, optimizer, {})
        if state["config"] != config:
            raise SystemExit(f"expected the checkpoint's SFT config {state['config']}, got {config}; use a new "
                             "--work or drop --resume")
        start = state["step"]
        truncate_metrics(work / "sft.jsonl", start)
    else:
        work.mkdir(parents=True, exist_ok=True)
        (work / "sft.jsonl").write_text("")
    pad = policy.tokenizer.pad_token_id
    policy.train()
    bar = tqdm(total=total, initial=start, desc="warm-start SFT")
    for step in range(start, total):
        epoch, pos = divmod(step, per_epoch)
        order = np.random.default_rng([config["seed"], epoch]).permutation(len(kept))
        picks = sorted(order[pos * config["batch"]:(pos + 1) * config["batch"]], key=lambda i: len(kept[i].ids))
        for group in optimizer.param_groups:
            group["lr"] = linear_lr(config["lr"], step, total, config["warmup"])
        t0 = time.perf_counter()
        loss = sft_step(policy, optimizer, sft_batch([kept[i] for i in picks], pad), config["micro_batch"],
                        torch.device("cpu"))
        row = {"step": step, "epoch": epoch, "sft_loss": loss, "lr": optimizer.param_groups[0]["lr"],
               "seconds": time.perf_counter() - t0}
        with open(work / "sft.jsonl", "a") as handle:
            handle.write(json.dumps(row) + "\n")
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}")
        if (step + 1) % 10 == 0 or step + 1 == total:
            params = {n: p for n, p in policy.named_parameters() if p.requires_grad}
            save_checkpoint(work, params, optimizer, {"step": step + 1, "config": config})
    bar.close()
    return [json.loads(line) for line in (work / "sft.jsonl").read_text().splitlines() if line.strip()]


def finish(policy, out: Path, config: dict, stats: dict, history: list[dict], seconds: float) -> dict:
    import torch

    from agents.warmstart_adapter import SMOLLM2, base_shape, save_adapter

    losses = [r["sft_loss"] for r in history]
    meta = {"base_model": SMOLLM2, "base_shape": base_shape(""), "rank": config["rank"],
            "alpha": config["alpha"], "built_by": "scripts/build_warmstart.py", "sft": config, "data": stats,
            "steps": len(history), "loss_first_last": [losses[0], losses[-1]] if losses else [],
            "wall_s": round(seconds), "threads": torch.get_num_threads()}
    return save_adapter(policy, out, meta)


if __name__ == "__main__":
    raise SystemExit(main())
