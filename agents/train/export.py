"""``zerosearch export RUN_DIR OUT_DIR``: a training run's policy as a standard Hugging Face folder.

The folder holds ``save_pretrained`` weights (LoRA adapters merged into the base), the tokenizer and a
generation config with the run's sampling settings, so ``transformers``, ``vllm serve OUT_DIR`` and
``zerosearch eval --policy OUT_DIR`` load it directly. A run's checkpoint is enough to rebuild its policy
(``zerosearch eval --policy RUN_DIR`` does so in memory), so ``zerosearch train`` writes ``output_dir/final``
only with ``--export`` (or ``--steps 0``); this command converts the checkpoint of any run.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def export_policy(policy, out_dir: str | Path, cfg) -> int:
    """Write ``policy`` (merging LoRA adapters into its weights, in place) to ``out_dir``; returns bytes."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    policy.merge_lora()
    model = policy.model
    gen = model.generation_config
    gen.do_sample, gen.temperature, gen.top_p = True, cfg.temperature, cfg.top_p
    gen.max_new_tokens = cfg.max_new_tokens
    gen.pad_token_id = policy.tokenizer.pad_token_id
    if gen.eos_token_id is None:
        gen.eos_token_id = policy.tokenizer.eos_token_id
    model.save_pretrained(out_dir)
    policy.tokenizer.save_pretrained(out_dir)
    return sum(f.stat().st_size for f in out_dir.rglob("*") if f.is_file())


def rebuild_policy(run_dir: str | Path, device: str = "cpu"):
    """The policy of training run ``run_dir`` (:func:`.checkpoint.load_run`), LoRA adapters merged; returns
    ``(policy, cfg)``."""
    from .checkpoint import load_run

    run = load_run(run_dir, device=device)
    run.policy.merge_lora()
    return run.policy, run.cfg


def export_run(run_dir: str | Path, out_dir: str | Path, device: str = "cpu") -> Path:
    """:func:`rebuild_policy` of ``run_dir``, then :func:`export_policy` it to ``out_dir``."""
    policy, cfg = rebuild_policy(run_dir, device)
    export_policy(policy, out_dir, cfg)
    return Path(out_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zerosearch export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="the --output-dir of a zerosearch train run")
    parser.add_argument("out_dir", help="where to write the Hugging Face folder")
    parser.add_argument("--device", default="cpu", help="device to rebuild the policy on (default: cpu)")
    args = parser.parse_args(argv)
    path = export_run(args.run_dir, args.out_dir, args.device)
    print(f"[zerosearch export] wrote {path} (load with AutoModelForCausalLM.from_pretrained or vllm serve)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
