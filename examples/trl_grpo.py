"""TRL's GRPOTrainer on ZeroSearch-v0: multi-turn rollouts with batched searches, F1 reward.

    python examples/trl_grpo.py --steps 2                       # tiny random model, CPU
    python examples/trl_grpo.py --model smollm2 --steps 10      # the offline SmolLM2-135M-Instruct
    accelerate launch --multi_gpu --num_processes 2 examples/trl_grpo.py --steps 1   # 2 processes (gloo on CPU)

Under ``accelerate`` every process plays its own slice of each batch against its own env (and backend);
(``--multi_gpu`` is what makes accelerate start 2 processes; without CUDA they use gloo on the CPU.)
``--report DIR`` writes what each process saw to ``DIR/rank{N}.json``. Needs
``pip install 'zerosearch-gym[trl,train,offline]'``.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")


def build_trainer(model: str = "tiny", steps: int = 1, batch: int = 2, generations: int = 2, max_turns: int = 1,
                  max_new_tokens: int = 16, output_dir: str = "runs/trl_grpo", backend: str = "bm25", seed: int = 0):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from agents.integrations.trl import ZeroSearchRollout, f1_reward
    from zerosearch_gym.llm import smollm2_path, tiny_model

    if model == "tiny":
        policy, tokenizer = tiny_model(seed=seed)
        policy.train()
    else:
        path = smollm2_path() if model == "smollm2" else model
        policy, tokenizer = AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    rollout = ZeroSearchRollout(backend=backend, max_turns=max_turns, max_new_tokens=max_new_tokens,
                                max_obs_tokens=96, total_steps=max(steps, 1))
    args = GRPOConfig(output_dir=output_dir, max_steps=steps, per_device_train_batch_size=batch,
                      num_generations=generations, learning_rate=1e-6, beta=0.0, logging_steps=1, save_strategy="no",
                      report_to="none", use_cpu=not torch.cuda.is_available(), bf16=False, gradient_checkpointing=False, seed=seed,
                      max_completion_length=max_new_tokens * (max_turns + 1) + 96 * max_turns)
    trainer = GRPOTrainer(model=policy, reward_funcs=f1_reward, args=args, train_dataset=rollout.dataset(),
                          processing_class=tokenizer, rollout_func=rollout)
    return trainer, rollout


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="'tiny' (random, SmolLM2 tokenizer), 'smollm2', or a folder")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--batch", type=int, default=2, help="prompts per device per step (incl. repeats)")
    parser.add_argument("--generations", type=int, default=2, help="rollouts per question (GRPO group)")
    parser.add_argument("--max-turns", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--output-dir", default="runs/trl_grpo")
    parser.add_argument("--report", default=None, help="write what each process saw to DIR/rank{N}.json")
    args = parser.parse_args(argv)
    trainer, rollout = build_trainer(args.model, args.steps, args.batch, args.generations, args.max_turns,
                                     args.max_new_tokens, args.output_dir)
    result = trainer.train()
    rank = trainer.accelerator.process_index
    losses = [row["loss"] for row in trainer.state.log_history if "loss" in row]
    report = {"rank": rank, "world_size": trainer.accelerator.num_processes, "episodes": rollout.episodes,
              "searches": rollout.searches, "backend_calls": rollout.backend_calls,
              "global_step": trainer.state.global_step, "train_loss": result.training_loss, "losses": losses}
    print(json.dumps(report), flush=True)
    if args.report:
        Path(args.report).mkdir(parents=True, exist_ok=True)
        Path(args.report, f"rank{rank}.json").write_text(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
