"""``zerosearch simulator tune``: SFT of a causal LM on simulator rows, loss on the document tokens only.

Each row becomes the chat the ``hf:`` backend sends (empty system message + the ``sft`` prompt as the user
message, generation prompt added) followed by the target documents and EOS; prompt tokens are masked out of
the loss. LoRA (peft, default) or a full fine-tune; presets:

- ``cpu`` (default): LoRA r=8 on the attention projections, lr 1e-3, batch 4, 300 steps;
- ``paper``: ZeroSearch's recipe, full fine-tune, lr 1e-6, batch 2, 1,000 steps.

Output ``--out``: a peft adapter (``adapter_model.safetensors``) plus ``zerosearch_base.json`` (the base
model's shape, checked when the adapter is loaded), or with ``--merge`` / full tuning a plain HF folder
(what ``vllm serve`` and ``hf:PATH`` take). ``--checkpoint-every`` writes ``out/checkpoint`` atomically;
``--resume`` continues from it (e.g. with a larger ``--steps``). Fixed seed + ``--threads`` + deterministic torch → the same bytes each run.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from .rows import read_rows

PRESETS = {
    "cpu": dict(lora=True, lr=1e-3, batch=4, steps=300),
    "paper": dict(lora=False, lr=1e-6, batch=2, steps=1000),
}
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
BASE_FIELDS = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size",
               "intermediate_size")  # the shape an adapter's base must match (checked by the hf backend)


def base_signature(config) -> dict:
    """The fields of a model config that an adapter must match."""
    return {f: getattr(config, f, None) for f in BASE_FIELDS}


def load_base(path: str | None, device: str = "cpu"):
    """(model, tokenizer) of a causal-LM folder (default: the offline SmolLM2), with a clear error otherwise."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if not path:
        from zerosearch_gym.llm.models import smollm2_path

        path = str(smollm2_path())
    if not os.path.isdir(path):
        raise FileNotFoundError(f"expected a base model folder, got {path!r} (no such folder)")
    try:
        config = AutoConfig.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device)
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"expected a causal-LM checkpoint folder at {path!r}, got {type(exc).__name__}: {exc}") \
            from None
    del config
    return model, AutoTokenizer.from_pretrained(path), path


def encode(row: dict, tokenizer, max_len: int) -> tuple[list[int], int]:
    """(ids, prompt length) of a row: chat prompt + target + EOS, cut to ``max_len`` tokens."""
    messages = [{"role": "system", "content": ""}, {"role": "user", "content": row["prompt"]}]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    prompt = list(prompt["input_ids"] if hasattr(prompt, "keys") else prompt)
    target = tokenizer(row["target"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return (prompt + target)[:max_len], len(prompt)


def collate(examples, pad_id: int):
    """Right-padded ids, attention mask and labels (-100 on prompt and padding)."""
    width = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), width), pad_id)
    labels = torch.full((len(examples), width), -100)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, (seq, plen) in enumerate(examples):
        ids[i, : len(seq)] = torch.tensor(seq)
        labels[i, plen: len(seq)] = torch.tensor(seq[plen:])
        mask[i, : len(seq)] = 1
    return ids, mask, labels


def parse_args(argv):
    p = argparse.ArgumentParser(prog="zerosearch simulator tune", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="rows from build-data (.jsonl or .parquet)")
    p.add_argument("--out", required=True, help="output folder (adapter or merged model)")
    p.add_argument("--base", default="", help="base causal-LM folder (default: offline SmolLM2-135M-Instruct)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu", help="cpu (LoRA) or paper (full, lr 1e-6)")
    p.add_argument("--full", action="store_true", help="full fine-tune instead of LoRA")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the preset's)")
    p.add_argument("--batch", type=int, default=None, help="rows per step (default: the preset's)")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the preset's)")
    p.add_argument("--rank", type=int, default=8, help="LoRA rank")
    p.add_argument("--top-layers", type=int, default=0, help="LoRA on the last N layers only (0: all; "
                   "fewer layers = a cheaper backward pass)")
    p.add_argument("--max-len", type=int, default=384, help="tokens per row (prompt + documents)")
    p.add_argument("--seed", type=int, default=0, help="seed of initialisation and row order")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (fixed for bit-for-bit rebuilds)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--checkpoint-every", type=int, default=50, help="steps between checkpoints (0: none)")
    p.add_argument("--resume", action="store_true", help="continue from out/checkpoint")
    p.add_argument("--merge", action="store_true", help="write a merged HF folder instead of an adapter")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    preset = PRESETS[args.preset]
    lora = preset["lora"] and not args.full
    lr, batch, steps = (args.lr or preset["lr"], args.batch or preset["batch"], args.steps or preset["steps"])
    rows = read_rows(args.data)  # bad rows fail here, before any model is loaded
    mode = _rows_mode(rows)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    model, tokenizer, base_path = load_base(args.base, args.device)
    data = rows
    if lora:
        from peft import LoraConfig, get_peft_model

        n_layers = model.config.num_hidden_layers
        layers = list(range(max(0, n_layers - args.top_layers), n_layers)) if args.top_layers else None
        model = get_peft_model(model, LoraConfig(r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.0,
                                                 target_modules=list(LORA_TARGETS), layers_to_transform=layers,
                                                 task_type="CAUSAL_LM"))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    out, ckpt = Path(args.out), Path(args.out) / "checkpoint"
    step, order = 0, torch.randperm(len(data), generator=torch.Generator().manual_seed(args.seed)).tolist()
    before = 0.0  # tuning seconds of the segments a resumed run continues
    if args.resume:
        step, order, before = _resume(ckpt, params, optimizer)
    print(f"[simulator tune] {len(data)} rows, {f'LoRA r={args.rank}' if lora else 'full'}, lr {lr}, batch "
          f"{batch}, steps {step}->{steps}, {sum(p.numel() for p in params):,} trainable params", file=sys.stderr)
    from tqdm import tqdm

    model.train()
    start, bar = time.perf_counter(), tqdm(total=steps, initial=step, desc="tune", file=sys.stderr)
    while step < steps:
        picks = [order[(step * batch + j) % len(order)] for j in range(batch)]
        ids, mask, labels = (t.to(args.device) for t in collate([encode(data[i], tokenizer, args.max_len) for i in picks],
                                                           tokenizer.pad_token_id))
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if args.checkpoint_every and (step % args.checkpoint_every == 0 or step == steps):
            _checkpoint(ckpt, params, optimizer, step, order, before + time.perf_counter() - start)
    bar.close()
    model.eval()
    _save(model, tokenizer, out, lora and not args.merge, base_path, dict(
        lr=lr, batch=batch, steps=steps, rank=args.rank if lora else None, rows=len(data), seed=args.seed,
        top_layers=args.top_layers if lora else None, max_len=args.max_len, threads=args.threads,
        seconds=round(before + time.perf_counter() - start, 1), data=os.path.basename(args.data)), mode)
    print(f"[simulator tune] wrote {out} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0


def _rows_mode(rows: list[dict]) -> str:
    """The one simulator prompt mode the rows were built in (the adapter's ``mode``; rows without one: sft)."""
    modes = {row.get("mode", "sft") for row in rows}
    if len(modes) != 1:
        raise ValueError(f"expected rows of one simulator prompt mode, got {sorted(modes)}")
    return modes.pop()


def _resume(ckpt: Path, params, optimizer) -> tuple[int, list[int], float]:
    """Load ``ckpt/state.pt`` into ``params`` and ``optimizer`` and the RNG; (step, row order, seconds so far)."""
    if not (ckpt / "state.pt").is_file():
        raise FileNotFoundError(f"expected a checkpoint to resume at {ckpt}/state.pt, got none")
    state = torch.load(ckpt / "state.pt", weights_only=False)
    for p, saved in zip(params, state["params"]):
        p.data.copy_(saved)
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    return state["step"], state["order"], state.get("seconds", 0.0)


def _checkpoint(ckpt: Path, params, optimizer, step: int, order: list[int], seconds: float) -> None:
    """Write the trainable weights, optimizer, step, RNG and tuning seconds so far atomically (temp file, then
    rename)."""
    ckpt.mkdir(parents=True, exist_ok=True)
    state = {"params": [p.detach().clone() for p in params], "optimizer": optimizer.state_dict(), "step": step,
             "order": order, "rng": torch.get_rng_state(), "seconds": seconds}
    torch.save(state, ckpt / "state.pt.tmp")
    os.replace(ckpt / "state.pt.tmp", ckpt / "state.pt")


def _save(model, tokenizer, out: Path, adapter: bool, base_path: str, meta: dict, mode: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    base = model.get_base_model() if adapter else model
    if adapter:
        model.save_pretrained(out)
        _strip_base_path(out / "adapter_config.json")
    else:
        if hasattr(model, "merge_and_unload"):
            model = model.merge_and_unload()
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
    signature = {**base_signature(base.config), "base": os.path.basename(base_path.rstrip("/")), "mode": mode,
                 "tuning": meta}
    (out / "zerosearch_base.json").write_text(json.dumps(signature, indent=1, sort_keys=True) + "\n")


def _strip_base_path(config_path: Path) -> None:
    """Drop the machine-local base path from adapter_config.json (the base is checked by its shape)."""
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = None
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
