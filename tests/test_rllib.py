"""RLlib glue: the env creator (EnvContext, vector envs, bad keys), the causal-LM RLModule, one PPO iteration."""
import os
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("ray.rllib")
from ray.rllib.core.columns import Columns  # noqa: E402
from ray.rllib.env.env_context import EnvContext  # noqa: E402

from agents.integrations.rllib import CausalLMModule, env_creator  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
GYM_ID = "zerosearch_gym:ZeroSearchToken-v0"  # RLlib's gymnasium-id route; the creator is tested above
SMALL = {"backend": "bm25", "max_turns": 1, "max_turn_tokens": 4, "context_len": 16, "seed": 7}


def test_creator_seeds_each_worker_and_sub_env_differently():
    one = env_creator(EnvContext(SMALL, worker_index=1, vector_index=0))
    two = env_creator(EnvContext(SMALL, worker_index=2, vector_index=0))
    again = env_creator(EnvContext(SMALL, worker_index=1, vector_index=0))
    first = [one.reset()[1]["question_id"] for _ in range(3)]
    assert first == [again.reset()[1]["question_id"] for _ in range(3)]  # same worker, same seed
    assert first != [two.reset()[1]["question_id"] for _ in range(3)]
    envs = env_creator(dict(SMALL, num_envs=3))
    assert isinstance(envs, gym.vector.VectorEnv) and envs.num_envs == 3
    obs, _ = envs.reset()
    assert obs["ids"].shape == (3, 16) and obs["mask"].dtype == np.int8
    assert len(envs.call("set_curriculum_step", 50, 203)) == 3


def test_creator_rejects_unknown_env_options():
    with pytest.raises(ValueError, match=r"unknown ZeroSearchToken-v0 options \['noise_level'\]"):
        env_creator(EnvContext(dict(SMALL, noise_level=0.3), worker_index=0))
    with pytest.raises(ValueError, match=r"unknown ZeroSearchToken-v0 options \['noise_level'\]"):
        gym.make("ZeroSearchToken-v0", noise_level=0.3)


def test_module_samples_inside_and_trains_on_full_logits():
    import torch

    env = env_creator(dict(SMALL))
    module = CausalLMModule(observation_space=env.observation_space, action_space=env.action_space,
                            model_config={"hidden_size": 32, "num_layers": 1})
    obs, _ = env.reset(seed=0)
    batch = {Columns.OBS: {k: torch.as_tensor(np.stack([v, v])) for k, v in obs.items()}}
    out = module.forward_exploration(batch)
    assert out[Columns.ACTIONS].shape == (2,) and out[Columns.ACTION_DIST_INPUTS].shape == (2, 1)
    assert (out[Columns.ACTION_LOGP] <= 0).all()
    train = module.forward_train(batch)
    assert train[Columns.ACTION_DIST_INPUTS].shape == (2, env.action_space.n)
    assert module.compute_values(batch, train[Columns.EMBEDDINGS]).shape == (2,)
    greedy = module.forward_inference(batch)[Columns.ACTIONS]
    assert greedy.tolist() == train[Columns.ACTION_DIST_INPUTS].argmax(-1).tolist()


def test_ppo_iteration_on_the_registered_id_with_two_env_runners_and_the_curriculum():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray
    from rllib_ppo import build_config, summary

    from agents.integrations.ray_tools import init_ray

    init_ray(num_cpus=2)
    try:
        config = build_config(env_runners=2, envs_per_runner=1, batch=32, hidden_size=32, env=GYM_ID,
                              env_config={"max_turn_tokens": 4, "context_len": 16})
        algo = config.build_algo()
        try:
            row = summary(algo.train())
        finally:
            algo.stop()
    finally:
        ray.shutdown()
    assert row["iteration"] == 1 and row["env_steps"] >= 32
    assert row["curriculum_step"] == 1 and row["curriculum_envs"] == 2  # one env on each of the 2 runners
    assert np.isfinite(row["policy_loss"]) and np.isfinite(row["vf_loss"])
