"""PPO from RLlib on ZeroSearch-v0, token by token: a tiny causal LM policy, BM25 search, 2 env runners.

    python examples/rllib_ppo.py --iterations 3 --env-runners 2

The env runners build the token view of ZeroSearch-v0 from ``env_config``; the policy is a small random Llama
(pass ``--model PATH`` for a checkpoint on the same tokenizer) that samples inside the RLModule; the noise
curriculum follows the training iteration. Needs ``pip install 'zerosearch-gym[rllib,train,offline]'``.
"""
from __future__ import annotations

import argparse
import json
import time

from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.tune import register_env

from agents.integrations.ray_tools import init_ray
from agents.integrations.rllib import CausalLMModule, CurriculumCallback, env_creator

ENV_NAME = "zerosearch-token"


def build_config(env_runners: int = 2, envs_per_runner: int = 2, batch: int = 128, model: str | None = None,
                 env_config: dict | None = None, hidden_size: int = 64, env: str = ENV_NAME) -> PPOConfig:
    """A small PPO config on the token view (short turns and episodes so that a CPU sees many of them).

    ``env``: the ``register_env`` name (seeds distinct per worker) or ``"zerosearch_gym:ZeroSearchToken-v0"``.
    """
    register_env(ENV_NAME, env_creator)
    env_config = {"backend": "bm25", "max_turns": 1, "max_turn_tokens": 8, "context_len": 64, "seed": 0,
                  **(env_config or {})}
    return (
        PPOConfig()
        .environment(env, env_config=env_config)
        .env_runners(num_env_runners=env_runners, num_envs_per_env_runner=envs_per_runner,
                     num_cpus_per_env_runner=0.5, rollout_fragment_length="auto")
        .learners(num_learners=0)
        .training(train_batch_size_per_learner=batch, minibatch_size=batch // 2, num_epochs=1, lr=1e-4,
                  use_kl_loss=False)
        .rl_module(rl_module_spec=RLModuleSpec(module_class=CausalLMModule,
                                               model_config={"model": model, "hidden_size": hidden_size}))
        .callbacks(CurriculumCallback.with_total_steps(203))
    )


def summary(result: dict) -> dict:
    """The few numbers worth printing from an RLlib result dict."""
    learner = result.get("learners", {}).get("default_policy", {})
    runners = result.get("env_runners", {})
    return {"iteration": result.get("training_iteration"), "curriculum_step": result.get("curriculum_step"),
            "curriculum_envs": result.get("curriculum_envs"),
            "env_steps": runners.get("num_env_steps_sampled"),
            "episode_return_mean": runners.get("episode_return_mean"),
            "policy_loss": learner.get("policy_loss"), "vf_loss": learner.get("vf_loss")}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--env-runners", type=int, default=2)
    parser.add_argument("--envs-per-runner", type=int, default=2)
    parser.add_argument("--batch", type=int, default=128, help="env steps (tokens) per training iteration")
    parser.add_argument("--model", default=None, help="a causal LM folder on the SmolLM2 tokenizer (default: tiny random)")
    parser.add_argument("--address", default=None, help="a running Ray cluster (default: start a local one)")
    args = parser.parse_args(argv)
    init_ray(args.address, num_cpus=None if args.address else 2)
    algo = build_config(args.env_runners, args.envs_per_runner, args.batch, args.model).build_algo()
    rows = []
    try:
        for _ in range(args.iterations):
            start = time.perf_counter()
            row = dict(summary(algo.train()), seconds=round(time.perf_counter() - start, 2))
            print(json.dumps(row, default=float), flush=True)
            rows.append(row)
    finally:
        algo.stop()
    return rows


if __name__ == "__main__":
    main()
