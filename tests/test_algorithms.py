"""Hand-computed checks of the advantage estimators and the masked losses in agents/algorithms.py."""
import dataclasses
import math

import pytest
import torch

from agents.train.algorithms import (
    LossConfig,
    LossTerms,
    compute_advantages,
    gae_advantages,
    grpo_advantages,
    kl_penalty,
    last_token_rewards,
    masked_mean,
    policy_loss,
    reinforce_pp_advantages,
    value_loss,
)

# Two sequences: prompt(0) turn(1 1) obs(0 0) turn(1) pad(0)
MASK = torch.tensor([[0, 1, 1, 0, 0, 1, 0],
                     [0, 1, 0, 0, 1, 1, 0]], dtype=torch.float32)


def test_last_token_rewards_sits_on_last_policy_token():
    out = last_token_rewards(torch.tensor([0.5, 1.0]), MASK)
    assert out[0].tolist() == [0, 0, 0, 0, 0, 0.5, 0]
    assert out[1].tolist() == [0, 0, 0, 0, 0, 1.0, 0]


def test_last_token_rewards_empty_mask_row_gets_nothing():
    out = last_token_rewards(torch.tensor([2.0]), torch.zeros(1, 3))
    assert out.abs().sum() == 0


def test_gae_gamma_lambda_one_is_return_minus_value_and_skips_observation_tokens():
    values = torch.tensor([[9.0, 0.1, 0.2, 7.0, 7.0, 0.3, 9.0]])
    rewards = last_token_rewards(torch.tensor([1.0]), MASK[:1])
    adv, ret = gae_advantages(rewards, values, MASK[:1])
    expected = [0, 0.9, 0.8, 0, 0, 0.7, 0]
    assert adv[0].tolist() == pytest.approx(expected)
    assert ret[0].tolist() == pytest.approx([0, 1, 1, 0, 0, 1, 0])


def test_gae_with_lambda_below_one_bootstraps_over_the_gap():
    # tokens 1, 2, 5 with values .1 .2 .3, reward 1 on token 5, gamma = 1, lam = .5
    values = torch.tensor([[0.0, 0.1, 0.2, 5.0, 5.0, 0.3, 0.0]])
    rewards = last_token_rewards(torch.tensor([1.0]), MASK[:1])
    adv, _ = gae_advantages(rewards, values, MASK[:1], gamma=1.0, lam=0.5)
    d5 = 1.0 - 0.3
    d2 = 0.3 - 0.2
    d1 = 0.2 - 0.1
    assert adv[0, 5].item() == pytest.approx(d5)
    assert adv[0, 2].item() == pytest.approx(d2 + 0.5 * d5)
    assert adv[0, 1].item() == pytest.approx(d1 + 0.5 * (d2 + 0.5 * d5))


def test_grpo_normalizes_within_each_group():
    rewards = torch.tensor([1.0, 0.0, 0.5, 0.5])
    groups = torch.tensor([0, 0, 1, 1])
    mask = torch.ones(4, 2)
    adv = grpo_advantages(rewards, groups, mask)
    s = torch.tensor([1.0, 0.0]).std().item()  # unbiased: 0.7071
    assert adv[0, 0].item() == pytest.approx(0.5 / (s + 1e-6))
    assert adv[1, 1].item() == pytest.approx(-0.5 / (s + 1e-6))
    assert adv[2:].abs().sum().item() == 0.0  # equal rewards in a group: no signal


def test_reinforce_pp_returns_then_batch_whitened():
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    token_rewards = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    adv = reinforce_pp_advantages(token_rewards, mask)
    # returns on masked tokens: 1, 1, 0 -> mean 2/3, std sqrt(2/9)
    mean, std = 2 / 3, math.sqrt(2 / 9)
    assert adv[0, 0].item() == pytest.approx((1 - mean) / std, rel=1e-5)
    assert adv[1, 0].item() == pytest.approx((0 - mean) / std, rel=1e-5)
    assert adv[0, 2].item() == 0.0


def test_reinforce_pp_kl_lowers_the_return_of_earlier_tokens():
    mask = torch.ones(1, 2)
    token_rewards = torch.tensor([[0.0, 1.0]])
    kl = torch.tensor([[0.0, 0.5]])
    plain = reinforce_pp_advantages(token_rewards, torch.cat([mask, mask]).clone()[:1], None, 0.0)
    with_kl = reinforce_pp_advantages(torch.cat([token_rewards, token_rewards]),
                                      torch.cat([mask, mask]), torch.cat([kl, kl * 0]), 1.0)
    # second row has no KL, so its tokens must end with a larger return than the first row's
    assert with_kl[1].sum() > with_kl[0].sum()
    assert plain.abs().sum() == 0  # equal returns everywhere -> whitened to 0


@pytest.mark.parametrize("estimator,expected", [("k1", -0.5), ("k3", math.exp(0.5) - 0.5 - 1)])
def test_kl_estimators(estimator, expected):
    assert kl_penalty(torch.tensor([-1.0]), torch.tensor([-0.5]), estimator).item() == pytest.approx(expected)


def test_kl_estimator_unknown_is_a_clear_error():
    with pytest.raises(ValueError, match="expected kl estimator 'k1' or 'k3'"):
        kl_penalty(torch.zeros(1), torch.zeros(1), "k2")


def test_policy_loss_clips_and_ignores_unmasked_tokens():
    cfg = LossConfig(clip_eps=0.2, kl_coef=0.0)
    logp = torch.log(torch.tensor([[1.5, 0.5, 3.0]]))  # ratio vs old (log 1 = 0)
    old = torch.zeros(1, 3)
    adv = torch.tensor([[1.0, -1.0, 100.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    loss, stats = policy_loss(logp, old, adv, mask, cfg)
    # token 0: A=1, ratio 1.5 -> min(1.5, 1.2) = 1.2 ; token 1: A=-1, ratio .5 -> max(-.5,-.8)... -(-1*.8)
    expected = (-1.2 + 0.8) / 2
    assert loss.item() == pytest.approx(expected)
    assert stats["clip_frac"] == pytest.approx(1.0)


def test_policy_loss_adds_kl_and_subtracts_entropy():
    cfg = LossConfig(kl_coef=0.5, kl_estimator="k1", entropy_coef=0.1)
    logp = torch.tensor([[-1.0, -2.0]])
    mask = torch.ones(1, 2)
    terms = LossTerms(ref_logprobs=torch.tensor([[-1.5, -2.5]]), entropy=torch.tensor([[2.0, 4.0]]))
    loss, stats = policy_loss(logp, logp.detach(), torch.zeros(1, 2), mask, cfg, terms)
    assert stats["kl"] == pytest.approx(0.5)
    assert loss.item() == pytest.approx(0.5 * 0.5 - 0.1 * 3.0)
    in_reward = dataclasses.replace(cfg, kl_in_loss=False)  # REINFORCE++ / kl_in_reward: the KL is not in the loss
    loss, stats = policy_loss(logp, logp.detach(), torch.zeros(1, 2), mask, in_reward, terms)
    assert "kl" not in stats and loss.item() == pytest.approx(-0.1 * 3.0)


def test_policy_loss_gradient_sign_raises_logprob_of_positive_advantage():
    logp = torch.tensor([[-1.0, -1.0]], requires_grad=True)
    loss, _ = policy_loss(logp, logp.detach(), torch.tensor([[1.0, -1.0]]), torch.ones(1, 2), LossConfig())
    loss.backward()
    assert logp.grad[0, 0] < 0 < logp.grad[0, 1]  # gradient descent raises token 0, lowers token 1


def test_num_tokens_denominator_makes_micro_batches_add_up():
    cfg = LossConfig(kl_coef=0.0)
    logp = torch.tensor([[-1.0, -2.0], [-0.5, -0.1]])
    adv = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    full, _ = policy_loss(logp, logp, adv, mask, cfg)
    parts = sum(policy_loss(logp[i:i + 1], logp[i:i + 1], adv[i:i + 1], mask[i:i + 1], cfg, num_tokens=3)[0]
                for i in range(2))
    assert parts.item() == pytest.approx(full.item())


def test_value_loss_clipped():
    cfg = LossConfig(value_clip=0.2, value_coef=1.0)
    v = torch.tensor([[1.0]])
    old = torch.tensor([[0.0]])
    ret = torch.tensor([[1.0]])
    # unclipped error 0, clipped value 0.2 -> error 0.64; max -> 0.64; * 0.5
    assert value_loss(v, old, ret, torch.ones(1, 1), cfg).item() == pytest.approx(0.32)


def test_compute_advantages_dispatch_and_errors():
    mask = torch.ones(2, 2)
    adv, ret = compute_advantages("grpo", torch.tensor([1.0, 0.0]), torch.tensor([0, 0]), mask)
    assert adv[0, 0] > 0 > adv[1, 0] and ret is None
    with pytest.raises(ValueError, match="expected values from the value head"):
        compute_advantages("ppo", torch.tensor([1.0, 0.0]), torch.tensor([0, 0]), mask)
    with pytest.raises(ValueError, match="expected algo in"):
        compute_advantages("a2c", torch.tensor([1.0, 0.0]), torch.tensor([0, 0]), mask)
    adv, ret = compute_advantages("ppo", torch.tensor([1.0, 0.0]), torch.tensor([0, 1]), mask,
                                  values=torch.zeros(2, 2))
    assert ret.tolist() == [[1.0, 1.0], [0.0, 0.0]]
    assert masked_mean(adv, mask).item() == pytest.approx(0.0, abs=1e-6)


def test_grpo_single_pass_update_equals_the_two_pass_update():
    """GRPO, one epoch, one mini-batch: the update skips the no-grad scoring pass (its old log-probs are the
    gradient pass's own). Forcing the two-pass path (a batch carrying sampler log-probs) gives the same step."""
    import copy

    from agents.policy import Policy
    from agents.train.build import build_reference, make_optimizer
    from agents.train.config import TrainConfig
    from agents.train.rollout import RolloutBatch
    from agents.train.update import update
    from zerosearch_gym.llm.models import tiny_model

    cfg = TrainConfig(model="tiny:llama", lora_rank=4, lora_alpha=8.0, micro_batch_size=2, kl_coef=0.1,
                      device="cpu")
    model, tokenizer = tiny_model("llama", seed=0)
    ids = torch.randint(5, 200, (4, 12))
    attn = torch.ones_like(ids)
    attn[1, 9:] = 0
    mask = torch.zeros_like(ids)
    mask[:, 6:9] = 1
    results = []
    for two_pass in (False, True):
        policy = Policy(copy.deepcopy(model), tokenizer)
        torch.manual_seed(0)
        policy.add_lora(4, 8.0)
        with torch.no_grad():
            for name, p in policy.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.1)
        batch = RolloutBatch(ids, attn, mask, torch.tensor([1.0, 0.0, 0.5, 0.0]), torch.tensor([0, 0, 1, 1]),
                             [], [], sampler_logprobs=torch.zeros(4, 12) if two_pass else None)
        optimizer = make_optimizer(cfg, policy, None)
        stats = update(policy, build_reference(cfg, policy, None), batch, optimizer, cfg, torch.device("cpu"))
        results.append((stats, {n: p.detach().clone() for n, p in policy.named_parameters() if p.requires_grad}))
    (fast, fast_params), (slow, slow_params) = results
    for name in fast_params:
        torch.testing.assert_close(fast_params[name], slow_params[name], atol=1e-6, rtol=1e-5)
    for key in ("entropy", "kl_ref", "pg_loss", "kl", "grad_norm_actor"):
        assert abs(fast[key] - slow[key]) < 1e-5, key
    assert fast["kl_ref"] > 0 and fast["grad_norm_actor"] > 0
