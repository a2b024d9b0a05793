"""Trainer corrections: independent seeds per step and env, per-request vLLM seeds, the critic's own lr
and optional model, lr warmup, KL in the reward, truncated importance sampling, per-micro-batch metrics,
training-health signals."""
import dataclasses

import gymnasium
import pytest
import torch
from test_train import DOCS, EXAMPLES, good_and_bad_actor, tiny_policy

from agents.train import build
from agents.train.algorithms import compute_advantages
from agents.train.config import TrainConfig
from agents.train.health import collapse_warnings, zero_advantage_share
from agents.train.loop import step_seeds
from agents.train.rollout import RolloutConfig, collect_rollouts
from agents.train.update import update
from agents.train.vllm_engine import request_params
from zerosearch_gym.backends.retrieval import BM25Backend

CPU = torch.device("cpu")


def test_env_i_at_step_s_plus_1_does_not_replay_env_i_plus_1_at_step_s():
    seeds = {s: step_seeds(0, s, 8) for s in range(20)}
    for s in range(19):
        assert all(seeds[s + 1][0][i] != seeds[s][0][i + 1] for i in range(7))
    every = [x for s in seeds for x in seeds[s][0]] + [seeds[s][1] for s in seeds]
    assert len(set(every)) == len(every)  # no two envs, steps or sampling streams share a seed
    assert step_seeds(0, 3, 8) == step_seeds(0, 3, 8) != step_seeds(1, 3, 8)
    # the old rule (reset seed seed * 100003 + step, env i -> + i) made exactly these two collide
    assert (0 * 100_003 + 1) + 0 == (0 * 100_003 + 0) + 1


def test_vllm_requests_get_one_seed_each_and_ask_for_logprobs():
    params = request_params(6, max_new_tokens=8, temperature=1.0, top_p=0.95, stop_strings=("</search>",),
                            seed=7)
    assert len({p["seed"] for p in params}) == 6  # a GRPO group's samples differ
    assert [p["seed"] for p in params] == [p["seed"] for p in request_params(6, max_new_tokens=8, seed=7)]
    assert [p["seed"] for p in params] != [p["seed"] for p in request_params(6, max_new_tokens=8, seed=8)]
    assert all(p["logprobs"] == 0 and p["stop"] == ["</search>"] and p["top_p"] == 0.95 for p in params)
    assert {p["seed"] for p in request_params(3, max_new_tokens=8, seed=None)} == {None}


def test_lora_weights_reach_vllm_merged_under_base_names():
    from agents.train.vllm_engine import hf_weights

    cfg = dataclasses.replace(TrainConfig(warmstart="none"), model="tiny:llama", lora_rank=4, algo="grpo")
    policy = build.build_policy(cfg, CPU)
    with torch.no_grad():
        for name, p in policy.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)
    got = dict(hf_weights(policy.model))
    plain = dict(tiny_policy().model.state_dict())
    assert got.keys() == plain.keys()
    changed = [k for k in got if not torch.equal(got[k], plain[k])]
    assert changed and all("proj" in k for k in changed)


def _batch_and_envs(policy):
    envs = gymnasium.make_vec("ZeroSearch-v0", num_envs=4, vectorization_mode="vector_entry_point",
                              backend=BM25Backend.from_documents(DOCS), dataset=EXAMPLES, max_turns=1)
    return collect_rollouts(envs, policy, EXAMPLES, 2, RolloutConfig(), actor=good_and_bad_actor(policy.tokenizer))


def test_ppo_critic_has_its_own_learning_rate_and_warmup():
    cfg = dataclasses.replace(TrainConfig(warmstart="none"), algo="ppo", lr=1e-6, critic_lr=1e-5, warmup_ratio=0.5,
                              critic_warmup_ratio=0.0, steps=4, micro_batch_size=2)
    policy = tiny_policy(value_head=True)
    optimizer = build.make_optimizer(cfg, policy, None)
    groups = {g["name"]: g for g in optimizer.param_groups}
    assert {id(p) for p in groups["critic"]["params"]} == {id(p) for p in policy.value_head.parameters()}
    assert not {id(p) for p in groups["actor"]["params"]} & {id(p) for p in policy.value_head.parameters()}
    build.set_learning_rates(optimizer, cfg, step=0)
    assert (groups["actor"]["lr"], groups["critic"]["lr"]) == (pytest.approx(0.5e-6), 1e-5)
    build.set_learning_rates(optimizer, cfg, step=3)
    assert groups["actor"]["lr"] == 1e-6
    before = policy.value_head.weight.detach().clone()
    stats = update(policy, None, _batch_and_envs(policy), optimizer, cfg, CPU)
    assert "value_loss" in stats and not torch.equal(before, policy.value_head.weight)


def test_ppo_with_a_separate_critic_model_trains_it_with_the_critic_lr():
    cfg = dataclasses.replace(TrainConfig(warmstart="none"), algo="ppo", critic_model="tiny:llama", lora_rank=0,
                              micro_batch_size=2, critic_lr=1e-3)
    policy = build.build_policy(dataclasses.replace(cfg, model="tiny:llama"), CPU)
    critic = build.build_critic(cfg, CPU, policy.tokenizer)
    assert policy.value_head is None and critic.value_head is not None
    optimizer = build.make_optimizer(cfg, policy, critic)
    critic_group = [g for g in optimizer.param_groups if g["name"] == "critic"][0]
    assert critic_group["lr"] == 1e-3 and len(critic_group["params"]) == len(list(critic.parameters()))
    before = critic.value_head.weight.detach().clone()
    update(policy, None, _batch_and_envs(policy), optimizer, cfg, CPU, critic=critic)
    assert not torch.equal(before, critic.value_head.weight)


def test_kl_in_the_reward_lowers_ppo_returns_by_the_kl_still_to_come():
    mask = torch.tensor([[0.0, 1.0, 1.0, 1.0]])
    kl = torch.tensor([[0.0, 0.5, 0.25, 1.0]])
    _, plain = compute_advantages("ppo", torch.tensor([1.0]), torch.tensor([0]), mask, values=torch.zeros(1, 4))
    _, with_kl = compute_advantages("ppo", torch.tensor([1.0]), torch.tensor([0]), mask, values=torch.zeros(1, 4),
                                    kl=kl, kl_coef=0.1)
    assert (plain - with_kl)[0].tolist() == pytest.approx([0.0, 0.175, 0.125, 0.1])
    with pytest.raises(ValueError, match="kl-in-reward"):
        TrainConfig(kl_in_reward=True, algo="grpo").validate()


def test_truncated_importance_sampling_uses_the_samplers_logprobs():
    policy = tiny_policy()
    envs = gymnasium.make_vec("ZeroSearch-v0", num_envs=4, vectorization_mode="vector_entry_point",
                              backend=BM25Backend.from_documents(DOCS), dataset=EXAMPLES, max_turns=1)
    batch = collect_rollouts(envs, policy, EXAMPLES, 2, RolloutConfig(max_new_tokens=6, sampler_logprobs=True),
                             seed=[1, 2, 3, 4], sample_seed=5)
    assert batch.sampler_logprobs is not None
    assert (batch.sampler_logprobs[batch.loss_mask == 0] == 0).all()
    cfg = dataclasses.replace(TrainConfig(warmstart="none"), tis_cap=2.0, micro_batch_size=2, kl_coef=0.0)
    stats = update(policy, None, batch, torch.optim.AdamW(policy.parameters(), lr=0.0), cfg, CPU)
    assert abs(stats["sampler_log_ratio"]) < 1e-3 and stats["tis_weight"] == pytest.approx(1.0, abs=1e-3)
    batch.sampler_logprobs = batch.sampler_logprobs - 5.0 * batch.loss_mask  # a sampler far less likely
    stats = update(policy, None, batch, torch.optim.AdamW(policy.parameters(), lr=0.0), cfg, CPU)
    assert stats["tis_weight"] == pytest.approx(2.0)  # capped


def test_update_metrics_average_every_micro_batch():
    policy = tiny_policy()
    batch = _batch_and_envs(policy)
    stats = {}
    for micro in (1, 4):
        cfg = dataclasses.replace(TrainConfig(warmstart="none"), micro_batch_size=micro, kl_coef=0.0)
        stats[micro] = update(policy, None, batch, torch.optim.SGD(policy.parameters(), lr=0.0), cfg, CPU)
    assert stats[1]["pg_loss"] == pytest.approx(stats[4]["pg_loss"], abs=1e-6)
    assert stats[1]["entropy"] == pytest.approx(stats[4]["entropy"], rel=1e-5) and stats[1]["entropy"] > 0


def test_health_signals_and_collapse_warnings():
    assert zero_advantage_share(torch.tensor([1.0, 1.0, 0.0, 0.0]), torch.tensor([0, 0, 1, 1])) == 1.0
    rows = [{"entropy": 2.0, "response_tokens": 30, "kl_ref": 0.01}] * 3
    assert collapse_warnings(rows + [{"entropy": 1.8, "response_tokens": 28, "kl_ref": 0.02}]) == []
    warned = collapse_warnings(rows + [{"entropy": 0.1, "response_tokens": 2, "kl_ref": 3.0}])
    assert len(warned) == 3 and "entropy collapsed" in warned[0] and "KL" in warned[2]


@pytest.mark.parametrize("kind, expected", [("exponential", [0.0, 0.5]), ("fixed", [0.0, 0.0]), ("random", None)])
def test_noise_kind_reaches_the_training_envs(kind, expected, backend):
    """--noise-kind picks the arm: ZeroSearch's curriculum, a fixed p (--noise-end) or a random p per episode
    (``backend``: a simulator stand-in; over a real engine such as BM25 the env draws no noise)."""
    cfg = dataclasses.replace(TrainConfig(warmstart="none"), steps=4, questions_per_step=2, rollouts_per_question=2,
                              noise_kind=kind, noise_end=0.0 if kind == "fixed" else 0.5).validate()
    envs = build.make_envs(cfg, EXAMPLES, backend=backend)
    seen = []
    for step in (0, 4):
        envs.unwrapped.call("set_curriculum_step", step)
        _, infos = envs.reset(seed=list(range(envs.num_envs)))
        seen.append(sorted(set(infos["noise_probability"].round(6))))
    if expected is not None:
        assert seen == [[p] for p in expected]
    else:  # one draw per episode in [0, 0.5], not one per step
        assert len(seen[0]) == envs.num_envs and all(0.0 <= p <= 0.5 for p in seen[0] + seen[1])
    with pytest.raises(ValueError, match="--noise-kind"):
        dataclasses.replace(cfg, noise_kind="linear").validate()
    with pytest.raises(ValueError, match="--noise-end"):
        dataclasses.replace(cfg, noise_end=1.5).validate()
