"""Generation throughput: our decode engine vs transformers `generate`, against the memory-bandwidth roofline.

Random-init Qwen2.5-0.5B and -3B shapes in bf16 (no weights needed), 160-token prompts, 256 new tokens,
EOS ignored. Roofline: one decode step must read all weights plus the live KV cache once; bytes per step ÷
the device-to-device copy bandwidth measured in this run gives the fastest possible step.

    python benchmarks/gpu_generation.py                 # CUDA: full table, JSON to $OUT or /tmp
    python benchmarks/gpu_generation.py --smoke         # CPU: tiny config, checks the script end to end
    python benchmarks/gpu_generation.py --batches 1,256 --models 0.5B --json results.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, Qwen2Config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without installing
from zerosearch_gym.llm import DecodeEngine

COMMON = {"hidden_act": "silu", "max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": 1e6,
              "vocab_size": 151936, "bos_token_id": 151643, "eos_token_id": 151643, "use_sliding_window": False}
CONFIGS = {  # Qwen2.5 shapes (from the published config.json files)
    "0.5B": dict(COMMON, hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                 num_key_value_heads=2, tie_word_embeddings=True),
    "3B": dict(COMMON, hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
               num_key_value_heads=2, tie_word_embeddings=True),
    "tiny": dict(COMMON, vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True),
}


def copy_bandwidth(device) -> float:
    """Bytes/s of a large device-to-device copy (read + write)."""
    if device.type != "cuda":
        return 1e10  # nominal: CPU smoke runs only check the script
    x = torch.empty(1 << 30, dtype=torch.bfloat16, device=device)
    y = torch.empty_like(x)
    for _ in range(3):
        y.copy_(x)
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(20):
        y.copy_(x)
    torch.cuda.synchronize()
    bw = 20 * 2 * x.numel() * x.element_size() / (time.perf_counter() - t)
    del x, y
    torch.cuda.empty_cache()
    return bw


def build(name: str, device, dtype):
    config = Qwen2Config(**CONFIGS[name])
    config.eos_token_id = None  # ignore EOS
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype).eval()
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    return model


def roofline_tok_s(model, batch: int, prompt: int, new: int, bw: float) -> float:
    """Tokens/s if every decode step only streamed weights + the live KV cache at copy bandwidth."""
    cfg = model.config
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    kv_bytes_per_token = cfg.num_hidden_layers * 2 * cfg.num_key_value_heads * head_dim * model.dtype.itemsize
    step_bytes = weight_bytes + batch * (prompt + new / 2) * kv_bytes_per_token
    return batch * bw / step_bytes


def timed(fn, sync) -> float:
    sync()
    t = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t


def run_ours(engine, prompts, new, sync) -> tuple[float, float]:
    """(first call seconds incl. compile + capture, steady tok/s)."""
    call = lambda: engine.generate(prompts, max_new_tokens=new, temperature=1.0, seed=0)
    first = timed(call, sync)
    return first, len(prompts) * new / timed(call, sync)


def run_hf(model, prompts, new, sync) -> float:
    ids = torch.tensor(prompts, device=model.device)
    call = lambda: model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True,
                                  top_k=0, max_new_tokens=new, min_new_tokens=new, pad_token_id=0)
    with torch.no_grad():
        timed(lambda: model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=2,
                                     pad_token_id=0), sync)  # warm-up
        return len(prompts) * new / timed(call, sync)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny config on CPU (checks the script, no figures)")
    ap.add_argument("--models", default=None, help="comma list of 0.5B,3B (default both)")
    ap.add_argument("--batches", default=None, help="comma list of batch sizes (default 1,16,64,256)")
    ap.add_argument("--no-hf", action="store_true", help="skip the transformers baseline")
    ap.add_argument("--json", default=None, help="output path (default $OUT/gpu_generation.json or /tmp)")
    args = ap.parse_args()
    device = torch.device("cpu" if args.smoke or not torch.cuda.is_available() else "cuda")
    dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
    models = ["tiny"] if args.smoke else (args.models or "0.5B,3B").split(",")
    batches = [int(b) for b in (args.batches or ("2,4" if args.smoke else "1,16,64,256")).split(",")]
    prompt_len, new = (16, 8) if args.smoke else (160, 256)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    bw = copy_bandwidth(device)
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu (smoke)"
    print(f"device {name}, torch {torch.__version__}, copy bandwidth {bw / 1e12:.2f} TB/s", flush=True)
    rows = []
    for m in models:
        model = build(m, device, dtype)
        engine = DecodeEngine(model)
        gen = torch.Generator().manual_seed(0)
        for B in batches:
            prompts = torch.randint(1, model.config.vocab_size, (B, prompt_len), generator=gen).tolist()
            first_s, ours = run_ours(engine, prompts, new, sync)
            hf = None if args.no_hf else run_hf(model, prompts, new, sync)
            roof = roofline_tok_s(model, B, prompt_len, new, bw)
            row = {"model": m, "batch": B, "ours_tok_s": round(ours), "hf_tok_s": hf and round(hf), "roofline_tok_s": round(roof),
                       "ours_frac": round(ours / roof, 4), "hf_frac": hf and round(hf / roof, 4),
                       "speedup": hf and round(ours / hf, 2), "first_call_s": round(first_s, 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
        del model, engine
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print("\n| model | batch | ours tok/s | % roofline | HF tok/s | % roofline | speedup | first call s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        hf = f"{r['hf_tok_s']:,} | {100 * r['hf_frac']:.1f}" if r["hf_tok_s"] else "– | –"
        print(f"| {r['model']} | {r['batch']} | {r['ours_tok_s']:,} | {100 * r['ours_frac']:.1f} | {hf} | "
              f"{r['speedup'] or '–'} | {r['first_call_s']} |")
    path = args.json or os.path.join(os.environ.get("OUT", "/tmp"), "gpu_generation.json")
    with open(path, "w") as f:
        json.dump({"device": name, "torch": torch.__version__, "copy_bw": bw, "prompt": prompt_len, "new": new, "rows": rows}, f,
                  indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
