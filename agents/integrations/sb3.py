"""stable-baselines3 glue: a features extractor that runs a (tiny) causal LM over the token view.

SB3's ``MultiInputPolicy`` would feed token ids to an MLP as float magnitudes; :class:`CausalLMExtractor`
embeds them with a causal LM instead and returns the last position's hidden state (the token view is
left-padded, so that is the newest token). SB3 puts its own action head (``Discrete(vocab)``) and value head
on top. Good for small models and quick baselines; there is no KV cache across steps.
"""
from __future__ import annotations

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor


class CausalLMExtractor(BaseFeaturesExtractor):
    """Features = the causal LM's last hidden state at the newest token of the ``{"ids", "mask"}`` window.

    Args:
        observation_space: the token view's Dict space.
        model: a checkpoint folder; ``None`` builds a random Llama of ``hidden_size`` and ``num_layers`` on the
            observation's vocabulary.
    """

    def __init__(self, observation_space: gym.spaces.Dict, model: str | None = None, hidden_size: int = 64,
                 num_layers: int = 2):
        from transformers import AutoModelForCausalLM, LlamaConfig

        if not isinstance(observation_space, gym.spaces.Dict) or set(observation_space.spaces) != {"ids", "mask"}:
            raise ValueError(f"expected the token view's Dict(ids, mask) observation space, got {observation_space}")
        vocab = int(observation_space["ids"].high.max()) + 1
        if model:
            lm = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
        else:
            lm = AutoModelForCausalLM.from_config(LlamaConfig(
                vocab_size=vocab, hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                num_hidden_layers=num_layers, num_attention_heads=4, num_key_value_heads=2,
                max_position_embeddings=4096, bos_token_id=0, eos_token_id=0, pad_token_id=0))
        super().__init__(observation_space, features_dim=lm.config.hidden_size)
        self.body = lm.get_decoder()  # the transformer without its LM head: SB3 adds the action head

    def forward(self, observations: dict) -> torch.Tensor:
        ids, mask = observations["ids"].long(), observations["mask"].long()  # SB3 hands ids over as floats
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.body(input_ids=ids, attention_mask=mask, position_ids=positions)
        return out.last_hidden_state[:, -1, :]


def ppo_policy_kwargs(model: str | None = None, hidden_size: int = 64, num_layers: int = 2) -> dict:
    """``policy_kwargs`` for ``PPO("MultiInputPolicy", token_env, policy_kwargs=...)``."""
    return {"features_extractor_class": CausalLMExtractor, "net_arch": [],
            "features_extractor_kwargs": {"model": model, "hidden_size": hidden_size, "num_layers": num_layers}}
