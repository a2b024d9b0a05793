"""stable-baselines3 PPO on ZeroSearch-v0 token by token, features from a tiny causal LM, BM25 search.

    python examples/sb3_ppo.py --steps 512

Needs ``pip install 'zerosearch-gym[sb3,train,offline]'``.
"""
from __future__ import annotations

import argparse
import json

import gymnasium as gym
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

import zerosearch_gym  # noqa: F401
from agents.integrations.sb3 import ppo_policy_kwargs
from zerosearch_gym.llm import smollm2_tokenizer
from zerosearch_gym.wrappers import ZeroSearchTokenEnv


class LossLog(BaseCallback):
    """Keep the logger's train/* values after each PPO update."""

    def __init__(self):
        super().__init__()
        self.updates: list[dict] = []

    def _on_rollout_start(self) -> None:
        values = {k: float(v) for k, v in self.model.logger.name_to_value.items() if k.startswith("train/")}
        if values:
            self.updates.append(values)

    def _on_training_end(self) -> None:
        self._on_rollout_start()

    def _on_step(self) -> bool:
        return True


def make_env(backend="bm25", max_turns: int = 1, max_turn_tokens: int = 8, context_len: int = 64, tokenizer=None):
    tokenizer = tokenizer or smollm2_tokenizer()
    return lambda: ZeroSearchTokenEnv(gym.make("ZeroSearch-v0", backend=backend, max_turns=max_turns), tokenizer,
                                      context_len=context_len, max_turn_tokens=max_turn_tokens)


def train(steps: int = 512, n_envs: int = 2, n_steps: int = 64, model: str | None = None, hidden_size: int = 64,
          seed: int = 0, **env_kw) -> tuple[PPO, LossLog]:
    envs = make_vec_env(make_env(**env_kw), n_envs=n_envs, seed=seed)
    agent = PPO("MultiInputPolicy", envs, n_steps=n_steps, batch_size=n_steps, n_epochs=1, learning_rate=1e-4,
                policy_kwargs=ppo_policy_kwargs(model, hidden_size), seed=seed, verbose=0, device="cpu")
    log = LossLog()
    agent.learn(total_timesteps=steps, callback=log)
    return agent, log


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=512, help="env steps (tokens)")
    parser.add_argument("--envs", type=int, default=2)
    parser.add_argument("--model", default=None, help="a causal LM folder on the SmolLM2 tokenizer (default: tiny random)")
    args = parser.parse_args(argv)
    _, log = train(args.steps, args.envs, model=args.model)
    for row in log.updates:
        print(json.dumps(row), flush=True)
    return log.updates


if __name__ == "__main__":
    main()
