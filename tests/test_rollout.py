"""Invariants of agents/rollout.py: exact sampled ids, masks, observation cuts, reward placement."""
import gymnasium
import pytest
import torch

import zerosearch_gym
from agents.policy import Policy, Turn
from agents.train.rollout import RolloutConfig, collect_rollouts
from zerosearch_gym import QAExample
from zerosearch_gym.backends.retrieval import BM25Backend

EXAMPLES = [QAExample("q1", "Who wrote Hamlet?", ("William Shakespeare",), "demo"),
            QAExample("q2", "What is the capital of France?", ("Paris",), "demo")]
DOCS = [{"title": "Hamlet", "text": "Hamlet is a tragedy written by William Shakespeare around 1600."},
        {"title": "Paris", "text": "Paris is the capital and largest city of France."},
        {"title": "Berlin", "text": "Berlin is the capital of Germany."}]


@pytest.fixture(scope="module")
def policy():
    from zerosearch_gym.llm.models import tiny_model

    model, tokenizer = tiny_model("llama", seed=1)
    return Policy(model, tokenizer)


def make_envs(n, max_turns=2):
    return gymnasium.make_vec("ZeroSearch-v0", num_envs=n, vectorization_mode="vector_entry_point",
                              backend=BM25Backend.from_documents(DOCS), dataset=EXAMPLES, max_turns=max_turns,
                              top_k=2, format_reward=True)


def script(texts_by_turn, tokenizer):
    """An actor writing the given turn texts (turn index -> text), tokenized."""
    calls = {"n": 0}

    def actor(indices, contexts, transcripts):
        text = texts_by_turn[min(calls["n"], len(texts_by_turn) - 1)]
        calls["n"] += 1
        return [Turn(tokenizer(text, add_special_tokens=False)["input_ids"], text, "stop") for _ in indices]

    return actor


def check_invariants(batch, policy):
    for row in range(len(batch)):
        ids, mask = batch.input_ids[row], batch.loss_mask[row]
        covered = torch.zeros_like(mask)
        for (start, end), sampled in zip(batch.turn_spans[row], batch.sampled_ids[row]):
            assert ids[start:end].tolist() == sampled  # the exact sampled ids, not re-tokenized text
            assert mask[start:end].eq(1).all()
            covered[start:end] = 1
        assert mask.eq(covered).all()  # no prompt / observation / padding token has mask 1
        prompt_len = batch.turn_spans[row][0][0]
        assert mask[:prompt_len].eq(0).all()
        assert (batch.attention_mask[row] >= batch.loss_mask[row]).all()


def test_sampled_rollouts_keep_exact_ids_and_masks(policy):
    envs = make_envs(4)
    cfg = RolloutConfig(max_new_tokens=6, max_obs_tokens=24, max_seq_len=1024)
    batch = collect_rollouts(envs, policy, EXAMPLES, 2, cfg, seed=0)
    assert batch.input_ids.shape[0] == 4 and batch.group_ids.tolist() == [0, 0, 1, 1]
    check_invariants(batch, policy)
    # a random model writes no valid action: every episode runs to max_turns + 1 turns, then truncates
    assert all(len(s) == 3 for s in batch.turn_spans) and batch.stats["truncated"] == 1.0


def test_search_then_answer_rewards_the_last_policy_token_and_masks_documents(policy):
    envs = make_envs(4)
    actor = script(["<search> Hamlet author </search>", "<answer> William Shakespeare </answer>"],
                   policy.tokenizer)
    cfg = RolloutConfig(max_new_tokens=6, max_obs_tokens=12, max_seq_len=1024)
    batch = collect_rollouts(envs, policy, EXAMPLES, 2, cfg, seed=0, actor=actor)
    check_invariants(batch, policy)
    assert batch.rewards.tolist() == pytest.approx([1.0, 1.0, 0.2, 0.2])  # F1 / format reward for Paris
    assert batch.stats["searches"] == 1.0 and batch.stats["valid_action_rate"] == 1.0
    tr = batch.token_rewards()
    for row in range(4):
        last = batch.turn_spans[row][-1][1] - 1
        assert tr[row, last] == batch.rewards[row]
        assert tr[row].sum() == pytest.approx(batch.rewards[row].item())
        # the observation between the two turns is cut to max_obs_tokens and carries mask 0
        gap = batch.turn_spans[row][1][0] - batch.turn_spans[row][0][1]
        assert gap == 12


def test_context_overflow_ends_the_episode_as_truncated_with_zero_reward(policy):
    envs = make_envs(2)
    actor = script(["<search> Hamlet </search>", "<answer> William Shakespeare </answer>"], policy.tokenizer)
    prompt_len = len(policy.prompt_ids(zerosearch_gym.protocol.policy_prompt(EXAMPLES[0].question)))
    cfg = RolloutConfig(max_new_tokens=6, max_obs_tokens=40, max_seq_len=prompt_len + 30)
    batch = collect_rollouts(envs, policy, EXAMPLES[:1], 2, cfg, seed=0, actor=actor)
    assert batch.stats["overflow"] == 1.0 and batch.rewards.tolist() == [0.0, 0.0]
    check_invariants(batch, policy)


def test_env_count_must_match_questions_times_group(policy):
    with pytest.raises(ValueError, match="expected a vector env with 4 envs"):
        collect_rollouts(make_envs(3), policy, EXAMPLES, 2, RolloutConfig())


def test_curriculum_reaches_the_envs(policy, backend):  # backend: no real engine, so the env draws noise
    envs = gymnasium.make_vec("ZeroSearch-v0", num_envs=2, vectorization_mode="vector_entry_point",
                              backend=backend, dataset=EXAMPLES, max_turns=1,
                              noise=zerosearch_gym.NoiseSchedule(p_start=0.0, p_end=0.5, total_steps=10))
    actor = script(["<answer> x </answer>"], policy.tokenizer)
    envs.unwrapped.call("set_curriculum_step", 0)
    first = collect_rollouts(envs, policy, EXAMPLES[:1], 2, RolloutConfig(), actor=actor)
    envs.unwrapped.call("set_curriculum_step", 9)
    last = collect_rollouts(envs, policy, EXAMPLES[:1], 2, RolloutConfig(), actor=actor)
    assert first.stats["noise_p"] == 0.0 and last.stats["noise_p"] > 0.4
    again = collect_rollouts(envs, policy, EXAMPLES[:1], 2, RolloutConfig(), actor=actor)
    assert again.stats["noise_p"] == last.stats["noise_p"]  # collecting never moves the schedule


def test_answer_leaks_reach_the_rollout_metrics(policy):
    class Leaky:  # writes the gold answer into noisy documents of the first question only
        def search(self, requests):
            return [[f"the answer is {r.answers[0]}" if r.answers[0] == "William Shakespeare" else "nothing"]
                    * r.top_k for r in requests]

    envs = gymnasium.make_vec("ZeroSearch-v0", num_envs=4, vectorization_mode="vector_entry_point",
                              backend=Leaky(), dataset=EXAMPLES, max_turns=2, top_k=2, noise=1.0)
    actor = script(["<search> Hamlet author </search>", "<answer> x </answer>"], policy.tokenizer)
    batch = collect_rollouts(envs, policy, EXAMPLES, 2, RolloutConfig(max_new_tokens=6), seed=0, actor=actor)
    assert batch.stats["noisy_search_frac"] == 1.0
    assert batch.stats["answer_in_noisy_docs"] == 0.5 and batch.stats["answer_in_useful_docs"] == 0.0
