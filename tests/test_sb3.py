"""stable-baselines3 PPO on the token view, features from a tiny causal LM."""
import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("stable_baselines3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))


def test_ppo_trains_a_few_hundred_steps_with_finite_losses():
    from sb3_ppo import train

    agent, log = train(steps=256, n_envs=2, n_steps=64, hidden_size=32, max_turn_tokens=6, context_len=32)
    assert agent.num_timesteps >= 256
    assert len(log.updates) >= 1
    for row in log.updates:
        for key in ("train/policy_gradient_loss", "train/value_loss", "train/entropy_loss", "train/loss"):
            assert math.isfinite(row[key]), (key, row)
    vocab = agent.action_space.n
    assert vocab == agent.policy.action_net.out_features  # one logit per token of the vocabulary


def test_extractor_rejects_a_non_token_space():
    import gymnasium as gym

    from agents.integrations.sb3 import CausalLMExtractor

    with pytest.raises(ValueError, match="token view's Dict"):
        CausalLMExtractor(gym.spaces.Box(0, 1, (4,)))
