"""One whole RL step of the CPU default at 16 episodes, split into policy generation, simulator and update,
before and after the step's speed changes, side by side in one run (the companion of bench_train_speed.py,
which times the parts against plain baselines).

    HF_HUB_OFFLINE=1 python benchmarks/bench_train_step.py [--steps 1] [--variants before,prefix,after]

Each variant runs in a fresh process, from the same starting point (``zerosearch train``'s default policy:
SmolLM2-135M-Instruct + the shipped warm start + fresh LoRA r16), the same seeds and the default config except
4 questions x 4 rollouts per step (the learning arms' size; the curriculum counts 40 steps):

- ``before``: the step as it was: rollouts through the unmerged LoRA adapters, every prompt prefilled in full
  (no shared prefix), GRPO's separate no-grad pass for the old log-probs.
- ``prefix``: rollouts through the merged weights, the instruction prefix every prompt of a generate call
  shares computed once (policy and simulator), old log-probs from the gradient pass (the first "after").
- ``after``: the default now: ``prefix`` plus the simulator stopping once it wrote the ``top_k`` documents a
  search keeps (the templates ask for five; the same documents, fewer tokens).

Split: policy = ``Policy.generate_turns``; simulator = the rest of the rollout phase (the tuned SmolLM2
simulator with verification, and the env); update = ``update()``. Wall and process CPU time, peak RSS of the
process. Run it alone on the machine; ``ZS_BENCH_THREADS`` sets torch threads (default 2).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def before() -> None:
    """Switch the first three changes off."""
    from agents.policy import Policy
    from agents.train import update
    from zerosearch_gym.llm import hf_path

    Policy.merged = lambda self: contextlib.nullcontext()
    hf_path.MIN_SHARED_PREFIX = 10**9
    update.one_pass = lambda cfg, sampler_lp: False


def full_documents() -> None:
    """The simulator writes all five documents (no early stop)."""
    from zerosearch_gym.backends.hf import HFSimulatorBackend

    HFSimulatorBackend.stops_early = False


def run(variant: str, steps: int) -> dict:
    import torch

    from agents.train import loop
    from agents.train.config import TrainConfig

    torch.set_num_threads(int(os.environ.get("ZS_BENCH_THREADS", "2")))
    if variant == "before":
        before()
    if variant in ("before", "prefix"):
        full_documents()
    out = tempfile.mkdtemp(prefix="bench-step-")
    cfg = TrainConfig(questions_per_step=4, rollouts_per_question=4, steps=40, output_dir=out, device="cpu",
                      progress=False, plot=False, save_episodes=False, eval_ends=False)
    run_, envs, examples, _ = loop.setup(cfg, lambda m: None, None)
    policy_time = [0.0, 0.0]
    generate = run_.policy.generate_turns

    def timed(*args, **kwargs):
        t, c = time.perf_counter(), time.process_time()
        try:
            return generate(*args, **kwargs)
        finally:
            policy_time[0] += time.perf_counter() - t
            policy_time[1] += time.process_time() - c

    run_.policy.generate_turns = timed
    rows = []
    rcfg = loop.RolloutConfig(cfg.max_new_tokens, cfg.max_obs_tokens, cfg.max_seq_len, cfg.temperature, cfg.top_p)
    for step in range(steps):
        policy_time[:] = [0.0, 0.0]
        c0 = time.process_time()
        row, batch = loop.iteration(run_, envs, examples, step, rcfg)
        rows.append({"step": step, "policy_s": policy_time[0], "simulator_s": row["rollout_s"] - policy_time[0],
                     "update_s": row["update_s"], "total_s": row["rollout_s"] + row["update_s"],
                     "cpu_s": time.process_time() - c0, "policy_cpu_s": policy_time[1],
                     "gen_tokens": row["gen_tokens"], "seq_tokens": row["seq_tokens"],
                     "searches": row["searches"], "reward": row["reward"],
                     "verify_resamples": row.get("verify_resamples_per_search")})
    envs.close()
    return {"variant": variant, "rows": rows, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=1)
    p.add_argument("--variants", default="before,prefix,after")
    p.add_argument("--one", help=argparse.SUPPRESS)  # a variant in this process (the subprocess entry)
    args = p.parse_args()
    if args.one:
        print(json.dumps(run(args.one, args.steps)))
        return 0
    results = {}
    for variant in args.variants.split(","):
        proc = subprocess.run([sys.executable, __file__, "--one", variant, "--steps", str(args.steps)],
                              capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
        if proc.returncode:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        results[variant] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(json.dumps(results[variant]), flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f}; mean per step (s): policy / simulator / update / total; CPU-s; peak")
    mean = {}
    for variant, r in results.items():
        keys = ("policy_s", "simulator_s", "update_s", "total_s", "cpu_s")
        mean[variant] = {k: sum(row[k] for row in r["rows"]) / len(r["rows"]) for k in keys}
        m = mean[variant]
        print(f"{variant:8s} {m['policy_s']:7.1f} {m['simulator_s']:7.1f} {m['update_s']:7.1f} {m['total_s']:7.1f}"
              f"   {m['cpu_s']:7.1f}   {r['peak_mib']:6.0f} MiB")
    for new, old in (("prefix", "before"), ("after", "prefix"), ("after", "before")):
        if {new, old} <= set(mean):
            b, a = mean[old], mean[new]
            print(f"{new} / {old}: " + ", ".join(f"{k[:-2]} {a[k] / b[k]:.2f}x" for k in b))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
