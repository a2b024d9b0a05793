"""Rebuild the shipped tuned simulator (``zerosearch_gym/data/simulator-smollm2-lora/``) from offline assets.

    HF_HUB_OFFLINE=1 python scripts/build_simulator.py [--out DIR] [--steps N]

1. ``build-data --source corpus``: cloze questions from the offline Wikipedia summaries (the first 200 of the
   seeded order are held out for ``report``), useful = the summary window holding the answer among four
   BM25 neighbours, noisy = five BM25 neighbours without the answer, each trimmed to 30 words. The rows'
   prompts are ``sft-blind``: the noisy prompt does not hold the answer.
2. ``tune``: LoRA (r=8, q/k/v/o of all 30 layers) on SmolLM2-135M-Instruct, 500 steps of 2 rows, CPU,
   1 thread (the other core stays free), seed 0, deterministic torch: about 70 minutes on a quiet machine.

Same machine type, torch version and settings → the same adapter bytes (checked by comparing
``adapter_model.safetensors`` sha256 with the committed one; the tuning meta in ``zerosearch_base.json``
holds the wall time, which differs).
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHIPPED = ROOT / "zerosearch_gym" / "data" / "simulator-smollm2-lora"
DATA_ITEMS, SEED = 1000, 0
MODE = "sft-blind"
TUNE = ["--preset", "cpu", "--batch", "2", "--lr", "2e-3", "--rank", "8", "--top-layers", "0",
        "--threads", "1", "--seed", str(SEED), "--checkpoint-every", "25"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(SHIPPED), help="adapter folder to write")
    p.add_argument("--work", default=str(ROOT / "runs" / "simulator"), help="folder for the data file")
    p.add_argument("--steps", type=int, default=500, help="tuning steps")
    p.add_argument("--resume", action="store_true", help="continue an interrupted tuning run (its checkpoint "
                   "is in OUT/checkpoint until the run ends)")
    args = p.parse_args(argv)
    from agents.simulator import main as simulator

    data = Path(args.work) / "corpus_rows.jsonl"
    simulator(["build-data", "--source", "corpus", "--count", str(DATA_ITEMS), "--seed", str(SEED),
               "--holdout", "200", "--mode", MODE, "--out", str(data)])
    simulator(["tune", "--data", str(data), "--out", args.out, "--steps", str(args.steps), *TUNE,
               *(["--resume"] if args.resume else [])])
    shutil.rmtree(Path(args.out) / "checkpoint", ignore_errors=True)
    (Path(args.out) / "README.md").write_text((SHIPPED / "README.md").read_text())  # not peft's blank card
    digest = hashlib.sha256((Path(args.out) / "adapter_model.safetensors").read_bytes()).hexdigest()
    print(f"adapter_model.safetensors sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
