"""Time one full training step of agents.train.update (rollout excluded) on Qwen2.5-shaped models.

Builds Qwen2.5-0.5B / 3B shaped models from config (random weights: no download), a synthetic rollout
batch (prompt tokens mask 0, then policy turns mask 1 interleaved with observation tokens mask 0), and
times ``update()``: old log-probs, reference log-probs, advantages, then the masked clipped loss + KL,
backward over micro-batches and one AdamW step. Reports tokens/s and MFU = 6 * params * tokens/s / peak.

    python benchmarks/gpu_train_step.py                      # both shapes on CUDA
    python benchmarks/gpu_train_step.py --shapes 0.5b --batch 64 --prompt-len 160 --response-len 256
    python benchmarks/gpu_train_step.py --smoke              # tiny config on CPU (seconds)

MFU counts training FLOPs only (6 * params * tokens); the no-grad old / reference forwards are extra
work the step does, so they lower the reported MFU (``--kl-coef 0`` skips the reference model).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.policy import Policy
from agents.train.build import build_reference
from agents.train.config import TrainConfig
from agents.train.loop import update
from agents.train.rollout import RolloutBatch

PEAK_FLOPS = 790e12  # H100 SXM dense bf16 figure used across this project's benchmarks
SHAPES = {
    "0.5b": {"hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
             "num_attention_heads": 14,
                 "num_key_value_heads": 2, "vocab_size": 151936, "tie_word_embeddings": True},
    "3b": {"hidden_size": 2048, "intermediate_size": 11008, "num_hidden_layers": 36,
           "num_attention_heads": 16,
               "num_key_value_heads": 2, "vocab_size": 151936, "tie_word_embeddings": True},
    "smoke": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                  "num_key_value_heads": 2, "vocab_size": 1000, "tie_word_embeddings": True},
}


def build_policy(shape: str, device: torch.device, grad_ckpt: bool, value_head: bool) -> Policy:
    from transformers import AutoModelForCausalLM, Qwen2Config

    config = Qwen2Config(**SHAPES[shape], max_position_embeddings=32768, attn_implementation="sdpa")
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)  # fp32 master weights
    if grad_ckpt:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    tokenizer = SimpleNamespace(pad_token_id=0, eos_token="<eos>", eos_token_id=0)
    return Policy(model, tokenizer, value_head=value_head)


def synthetic_batch(batch: int, prompt_len: int, response_len: int, vocab: int, group: int) -> RolloutBatch:
    """Prompt (mask 0) + response of 64-token policy turns (mask 1) and 64-token observations (mask 0)."""
    length = prompt_len + response_len
    ids = torch.randint(1, vocab, (batch, length))
    mask = torch.zeros(batch, length, dtype=torch.long)
    for start in range(prompt_len, length, 128):
        mask[:, start:start + 64] = 1
    rewards = torch.rand(batch)
    return RolloutBatch(ids, torch.ones_like(ids), mask, rewards, torch.arange(batch) // group, [], [])


def params_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def bench(shape: str, args, device: torch.device) -> dict:
    cfg = dataclasses.replace(TrainConfig(), algo=args.algo, micro_batch_size=args.micro_batch,
                              kl_coef=args.kl_coef, logprob_chunk=args.chunk, rollouts_per_question=5,
                              device=device.type)
    policy = build_policy(shape, device, args.grad_ckpt, value_head=args.algo == "ppo")
    policy.autocast_dtype = torch.bfloat16 if device.type == "cuda" else None
    ref = build_reference(dataclasses.replace(cfg, warmstart_steps=0), policy, Path("."))  # bf16 copy on CUDA
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-6, fused=device.type == "cuda")
    batch = synthetic_batch(args.batch, args.prompt_len, args.response_len, SHAPES[shape]["vocab_size"], 5)
    times = []
    for i in range(args.warmup + args.iters):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        update(policy, ref, batch, optimizer, cfg, device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    step_s = sorted(times)[len(times) // 2]
    tokens = batch.input_ids.numel()
    n_params = params_count(policy.model)
    tok_s = tokens / step_s
    result = {"shape": shape, "params": n_params, "algo": args.algo, "batch": args.batch,
              "seq_len": batch.input_ids.shape[1], "policy_tokens": int(batch.loss_mask.sum()),
              "micro_batch": args.micro_batch, "grad_ckpt": args.grad_ckpt, "kl_ref": bool(args.kl_coef),
              "step_s": round(step_s, 4), "tokens_per_s": round(tok_s, 1),
              "mfu": round(6 * n_params * tok_s / PEAK_FLOPS, 4), "device": _device_name(device)}
    if device.type == "cuda":
        result["peak_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    del policy, ref, optimizer
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    return result


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default="0.5b,3b", help="comma-separated: 0.5b, 3b")
    parser.add_argument("--algo", default="grpo", choices=["grpo", "ppo", "reinforce_pp"])
    parser.add_argument("--batch", type=int, default=64, help="sequences per step")
    parser.add_argument("--prompt-len", type=int, default=160)
    parser.add_argument("--response-len", type=int, default=256)
    parser.add_argument("--micro-batch", type=int, default=16, help="sequences per forward/backward")
    parser.add_argument("--chunk", type=int, default=4096, help="policy tokens per log-prob chunk")
    parser.add_argument("--kl-coef", type=float, default=0.001, help="0 = no reference model")
    parser.add_argument("--grad-ckpt", action="store_true", help="activation checkpointing in the LM")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="tiny config on CPU, one timed step")
    parser.add_argument("--json", help="append results as JSON lines to this file")
    args = parser.parse_args(argv)
    if args.smoke:
        shapes, device = ["smoke"], torch.device("cpu")
        args.batch, args.prompt_len, args.response_len, args.micro_batch = 4, 16, 32, 2
        args.warmup, args.iters = 1, 1
    else:
        if not torch.cuda.is_available():
            print("expected a CUDA GPU, got none; run with --smoke for a CPU check", file=sys.stderr)
            return 2
        shapes, device = args.shapes.split(","), torch.device("cuda")
        torch.backends.cuda.matmul.allow_tf32 = True
    for shape in shapes:
        result = bench(shape.strip(), args, device)
        print(json.dumps(result), flush=True)
        if args.json:
            with open(args.json, "a") as handle:
                handle.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
