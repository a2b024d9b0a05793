"""agents/train.py: learning signal on a tiny model, config/CLI, checkpoints and resume."""
import dataclasses
import json

import gymnasium
import pytest
import torch
from safetensors.torch import load_file

import zerosearch_gym  # noqa: F401
from agents.policy import Policy, Turn
from agents.train.checkpoint import CheckpointError, verify_checkpoint
from agents.train.config import PRESETS, TrainConfig, build_parser, parse_config
from agents.train.loop import questions_for_step, train, update
from agents.train.rollout import RolloutConfig, collect_rollouts
from zerosearch_gym import QAExample
from zerosearch_gym.backends.retrieval import BM25Backend

EXAMPLES = [QAExample("q1", "Who wrote Hamlet?", ("William Shakespeare",), "demo"),
            QAExample("q2", "What is the capital of France?", ("Paris",), "demo")]
DOCS = [{"title": "Hamlet", "text": "Hamlet is a tragedy written by William Shakespeare."},
        {"title": "Paris", "text": "Paris is the capital of France."}]


@pytest.fixture(autouse=True, scope="module")
def cached_tokenizer():
    """Load the SmolLM2 tokenizer once for this module (every tiny model and train() run reuses it)."""
    import functools

    from zerosearch_gym.llm import models as offline

    original = offline.smollm2_tokenizer
    offline.smollm2_tokenizer = functools.lru_cache(maxsize=1)(original)
    yield
    offline.smollm2_tokenizer = original


def tiny_policy(value_head=False, seed=0):
    from zerosearch_gym.llm.models import tiny_model

    model, tokenizer = tiny_model("llama", seed=seed)
    return Policy(model, tokenizer, value_head=value_head)


def good_and_bad_actor(tokenizer):
    """Even envs answer correctly, odd envs wrongly: each group of 2 has one rewarded rollout."""
    texts = {0: "<answer> William Shakespeare </answer>", 1: "<answer> Lyon Berlin </answer>"}

    def actor(indices, contexts, transcripts):
        out = []
        for i in indices:
            text = texts[i % 2] if "Hamlet" in transcripts[indices.index(i)] else texts[i % 2].replace(
                "William Shakespeare", "Paris")
            out.append(Turn(tokenizer(text, add_special_tokens=False)["input_ids"], text, "stop"))
        return out

    return actor


def turn_logprob(policy, batch, rows):
    with torch.no_grad():
        lp, _, _ = policy.score(batch.input_ids, batch.attention_mask, batch.loss_mask)
    return torch.stack([lp[r].sum() for r in rows]).mean().item()


@pytest.mark.parametrize("algo", ["grpo", "reinforce_pp", "ppo"])
def test_a_few_updates_raise_the_probability_of_rewarded_turns(algo):
    policy = tiny_policy(value_head=algo == "ppo")
    envs = gymnasium.make_vec("ZeroSearch-v0", num_envs=4, vectorization_mode="vector_entry_point",
                              backend=BM25Backend.from_documents(DOCS), dataset=EXAMPLES, max_turns=1)
    actor = good_and_bad_actor(policy.tokenizer)
    batch = collect_rollouts(envs, policy, EXAMPLES, 2, RolloutConfig(), actor=actor)
    assert batch.rewards.tolist() == [1.0, 0.0, 1.0, 0.0]
    cfg = dataclasses.replace(TrainConfig(), algo=algo, micro_batch_size=2, kl_coef=0.001, lr=3e-3)
    ref = tiny_policy()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.lr)
    good, bad = [0, 2], [1, 3]
    before = turn_logprob(policy, batch, good) - turn_logprob(policy, batch, bad)
    for _ in range(4):
        update(policy, ref, batch, optimizer, cfg, torch.device("cpu"))
    after = turn_logprob(policy, batch, good) - turn_logprob(policy, batch, bad)
    assert after > before + 1.0, (before, after)


def test_questions_for_step_is_a_deterministic_epoch_permutation():
    first_epoch = [i for s in range(5) for i in questions_for_step(10, s, 2, seed=3)]
    assert sorted(first_epoch) == list(range(10))
    assert questions_for_step(10, 7, 2, 3) == questions_for_step(10, 7, 2, 3)


def test_cli_flags_presets_and_help():
    cfg = parse_config(["--preset", "paper", "--algo", "ppo", "--resume"])
    assert (cfg.lr, cfg.kl_coef, cfg.clip_eps, cfg.questions_per_step, cfg.rollouts_per_question, cfg.steps,
            cfg.top_p) == (1e-6, 0.001, 0.2, 64, 5, 203, 0.95)
    assert cfg.algo == "ppo" and cfg.resume is True and cfg.format_reward is False
    text = build_parser().format_help()
    for f in dataclasses.fields(TrainConfig):
        assert "--" + f.name.replace("_", "-") in text
    assert "questions per step" in text and set(PRESETS) >= {"paper", "cpu-demo", "tiny"}
    assert text.split("\n\n")[1].startswith("Train a policy LLM to search") and "``" not in text  # no RST
    assert all(f.metadata.get("help") for f in dataclasses.fields(TrainConfig))  # help from field metadata


@pytest.mark.parametrize("argv,match", [(["--algo", "a2c"], "expected --algo in"),
                                        (["--rollouts-per-question", "1"], "rollouts-per-question >= 2"),
                                        (["--steps", "0", "--warmstart", "none"], "expected --steps >= 1"),
                                        (["--steps", "0", "--warmstart", "build", "--warmstart-steps", "0"],
                                         "expected --steps >= 1")])
def test_bad_config_is_a_clear_error(argv, match):
    with pytest.raises(ValueError, match=match):
        parse_config(argv)


def test_dataset_without_answers_fails_before_work(tmp_path):
    bad = tmp_path / "qa.jsonl"
    bad.write_text(json.dumps({"question": "Who?", "golden_answers": []}) + "\n")
    cfg = parse_config(["--preset", "tiny", "--model", "tiny:llama", "--dataset", str(bad),
                        "--output-dir", str(tmp_path / "run")])
    with pytest.raises(ValueError, match="expected at least one gold answer"):
        train(cfg, backend=BM25Backend.from_documents(DOCS))
    assert not (tmp_path / "run").exists()


class Killed(Exception):
    pass


def _tiny_cfg(out, **kw):
    base = {"preset": "tiny", "model": "tiny:llama", "steps": 3, "output_dir": str(out), "save_every": 1,
            "warmstart_steps": 0, "kl_coef": 0.01, "lr": 1e-3, "max_new_tokens": 4, "questions_per_step": 2,
            "rollouts_per_question": 2}
    base.update(kw)
    argv = []
    for k, v in base.items():
        argv += ["--" + k.replace("_", "-"), str(v)]
    return parse_config(argv)


def test_resume_continues_a_killed_run_at_the_same_step_and_curriculum(tmp_path, backend):
    # backend: a simulator stand-in (over a real engine such as BM25 the env draws no noise: p would be 0)
    full = train(_tiny_cfg(tmp_path / "a", plot=True), backend=backend, log=lambda m: None)

    def kill_after_step_2(message):
        if message.startswith("step 3/"):  # step 3 logged, its checkpoint not yet written
            raise Killed

    with pytest.raises(Killed):
        train(_tiny_cfg(tmp_path / "b"), backend=backend, log=kill_after_step_2)
    assert json.loads((tmp_path / "b/checkpoint/state.json").read_text())["step"] == 2
    resumed = train(_tiny_cfg(tmp_path / "b", resume=True), backend=backend, log=lambda m: None)
    assert [r["step"] for r in resumed] == [2]
    assert resumed[0]["noise_p"] == full[2]["noise_p"] > 0
    assert resumed[0]["seq_tokens"] == full[2]["seq_tokens"]
    a = load_file(tmp_path / "a/checkpoint/model.safetensors")
    b = load_file(tmp_path / "b/checkpoint/model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    rows = [json.loads(x) for x in (tmp_path / "b/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "step" in r] == [0, 1, 2]
    assert (tmp_path / "a/reward.png").stat().st_size > 1000  # the plot of the finished run


def test_corrupt_or_mismatched_checkpoint_is_refused_before_work(tmp_path):
    backend = BM25Backend.from_documents(DOCS)
    train(_tiny_cfg(tmp_path, steps=1), backend=backend, log=lambda m: None)
    config = dataclasses.asdict(_tiny_cfg(tmp_path, steps=1))
    verify_checkpoint(tmp_path, config)
    with pytest.raises(CheckpointError, match="expected the same configuration"):
        train(_tiny_cfg(tmp_path, steps=1, algo="reinforce_pp", resume=True), backend=backend)
    model = tmp_path / "checkpoint/model.safetensors"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])  # truncated on disk
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        train(_tiny_cfg(tmp_path, steps=1, resume=True), backend=backend)
    with pytest.raises(CheckpointError, match="expected a checkpoint at"):
        train(_tiny_cfg(tmp_path / "empty", steps=1, resume=True), backend=backend)


def test_warm_start_sft_lowers_the_loss_on_scripted_turns():
    from agents.train.warmstart import warm_start

    policy = tiny_policy()
    envs = gymnasium.make_vec("ZeroSearch-v0", num_envs=2, vectorization_mode="vector_entry_point",
                              backend=BM25Backend.from_documents(DOCS), dataset=EXAMPLES, max_turns=1,
                              format_reward=True)
    cfg = dataclasses.replace(TrainConfig(), warmstart_steps=4, warmstart_lr=1e-2, micro_batch_size=2)
    history = warm_start(policy, envs, EXAMPLES, cfg, torch.device("cpu"), log=lambda m: None)
    assert len(history) == 4 and history[-1]["sft_loss"] < history[0]["sft_loss"] - 1.0
    assert all(h["scripted_reward"] > 0 for h in history)  # the scripted trajectories are well-formed


def test_cli_main_trains_against_the_offline_bm25_backend_and_plots(tmp_path, capsys):
    from agents.train_command import main

    argv = ["--preset", "tiny", "--model", "tiny:llama", "--steps", "1", "--warmstart-steps", "1",
            "--questions-per-step", "1", "--max-new-tokens", "4", "--plot", "--output-dir", str(tmp_path)]
    assert main(argv) == 0
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r.get("step") for r in rows] == [None, 0]  # one warm-start row, one training row
    assert {"reward", "f1", "noise_p", "searches", "tokens_per_s", "valid_action_rate"} <= set(rows[1])
    assert (tmp_path / "reward.png").stat().st_size > 1000
    assert (tmp_path / "checkpoint" / "manifest.json").is_file()
