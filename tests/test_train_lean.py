"""Lean runs: LoRA policies whose reference is the base with adapters off, no reference copy on disk when
it equals the starting weights, safetensors checkpoints, --keep-checkpoints, and the exported HF folder."""
import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file
from test_train import DOCS, Killed, _tiny_cfg
from test_train_resume import assert_same_run

from agents.train import build
from agents.train.loop import train
from zerosearch_gym.backends.retrieval import BM25Backend

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def backend():
    return BM25Backend.from_documents(DOCS)


def _scores(scorer, ids):
    mask = torch.zeros_like(ids)
    mask[:, 5:] = 1
    with torch.no_grad():
        return scorer.score(ids, torch.ones_like(ids), mask)[0]


def test_lora_reference_is_the_base_with_adapters_off_not_a_copy():
    cfg = dataclasses.replace(_tiny_cfg("unused"), lora_rank=4)
    policy = build.build_policy(cfg, CPU)
    base, _ = __import__("zerosearch_gym.llm.models", fromlist=["tiny_model"]).tiny_model("llama", seed=cfg.seed)
    with torch.no_grad():
        for name, p in policy.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.2)  # the adapters now change the policy
    ref = build.build_reference(cfg, policy, None)
    ids = torch.randint(0, 5000, (2, 12), generator=torch.Generator().manual_seed(0))
    plain = build.Policy(base, policy.tokenizer)
    assert torch.allclose(_scores(ref, ids), _scores(plain, ids), atol=1e-6)
    assert not torch.allclose(_scores(policy, ids), _scores(plain, ids), atol=1e-3)
    assert ref.policy is policy and not isinstance(ref, torch.nn.Module)  # no second set of weights
    assert all("lora_" in n or n.startswith("value_head") for n in policy.trainable_state())


def test_lora_run_stores_only_adapters_resumes_exactly_and_exports_a_loadable_hf_folder(tmp_path, backend):
    from transformers import AutoModelForCausalLM

    from agents.train.checkpoint import load_checkpoint
    from agents.train.export import export_run

    kw = {"lora_rank": 4, "warmstart_steps": 1, "export": True, "lr": 1e-2}
    train(_tiny_cfg(tmp_path / "a", **kw), backend=backend, log=lambda m: None)

    def kill_in_step_3(message):
        if message.startswith("step 3/"):
            raise Killed

    with pytest.raises(Killed):
        train(_tiny_cfg(tmp_path / "b", **kw), backend=backend, log=kill_in_step_3)
    train(_tiny_cfg(tmp_path / "b", resume=True, **{**kw, "export": False}), backend=backend, log=lambda m: None)
    assert_same_run(tmp_path / "a", tmp_path / "b")
    run = tmp_path / "a"
    # every episode of every step, with its turns, for the viewer; the resumed run rewrote the same lines
    episodes = [json.loads(x) for x in (run / "episodes.jsonl").read_text().splitlines()]
    assert [e["step"] for e in episodes] == [s for s in range(3) for _ in range(4)]
    assert all(e["steps"] and e["question"] and e["golden_answers"] for e in episodes)
    assert (run / "episodes.jsonl").read_text() == (tmp_path / "b" / "episodes.jsonl").read_text()
    from agents.evaluate.viewer import render_html

    assert "step 2" in render_html(episodes)
    assert not (run / "reference.safetensors").exists()  # the reference is the base with adapters off
    saved = load_file(run / "checkpoint/model.safetensors")
    assert saved and all("lora_" in k for k in saved)
    assert (run / "warmstart.safetensors").stat().st_size < 2_000_000
    # the exported folder loads with transformers and computes the trained policy's logits
    cfg = _tiny_cfg(run, resume=True, **kw)
    policy = build.build_policy(cfg, CPU)
    build.redo_warm_start(policy, cfg, run)
    trained = torch.nn.ModuleDict({"policy": policy})
    load_checkpoint(run, trained, build.make_optimizer(cfg, policy, None), dataclasses.asdict(cfg))
    ids = torch.randint(0, 5000, (2, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = policy.model(input_ids=ids).logits
    for folder in (run / "final", export_run(run, tmp_path / "exported")):
        model = AutoModelForCausalLM.from_pretrained(folder)
        with torch.no_grad():
            assert torch.allclose(model(input_ids=ids).logits, want, atol=1e-4)
        assert (folder / "generation_config.json").is_file() and (folder / "tokenizer.json").is_file()
        assert json.loads((folder / "generation_config.json").read_text())["top_p"] == cfg.top_p
    # without final/ (the default), eval rebuilds the same policy from the checkpoint, in memory
    from agents.evaluate.policies import load_model_policy, resolve_policy

    assert resolve_policy(str(tmp_path / "b")) == ("checkpoint", str(tmp_path / "b"))
    rebuilt = load_model_policy(*resolve_policy(str(tmp_path / "b")))
    with torch.no_grad():
        assert torch.allclose(rebuilt.model(input_ids=ids).logits, want, atol=1e-4)


def test_full_finetune_keeps_no_reference_copy_and_only_k_checkpoints(tmp_path, backend):
    messages = []
    train(_tiny_cfg(tmp_path, keep_checkpoints=2, save_episodes=True), backend=backend, log=messages.append)
    summary = messages[-1]  # the run ends on what was learned, what it cost and where everything is
    for expected in ("done: 3 steps of grpo", "reward ", "valid actions ", "searches per episode ", "noise p ",
                     f"checkpoint {tmp_path / 'checkpoint'}", "peak memory ", "disk written ",
                     f"zerosearch view {tmp_path / 'episodes.jsonl'}", f"zerosearch eval --policy {tmp_path} ",
                     f"zerosearch export {tmp_path} {tmp_path / 'final'}"):
        assert expected in summary, summary
    assert not (tmp_path / "final").exists()  # no merged copy unless --export: the checkpoint rebuilds it
    assert not list(tmp_path.glob("reference*"))  # the reference is the model id, rebuilt on resume
    assert sorted(p.name for p in tmp_path.glob("checkpoint*")) == ["checkpoint", "checkpoint-step000002"]
    assert {p.name for p in (tmp_path / "checkpoint").iterdir()} == {
        "model.safetensors", "optimizer.safetensors", "state.json", "manifest.json"}


def test_export_of_a_folder_that_is_not_a_run_is_a_clear_error(tmp_path):
    from agents.train.export import main

    with pytest.raises(FileNotFoundError, match="expected a training run folder"):
        main([str(tmp_path), str(tmp_path / "out")])


def test_steps_zero_exports_the_warm_started_policy_without_rl(tmp_path, backend):
    """``--steps 0``: the warm start only (the "no RL" arm of a learning comparison), exported as a HF folder
    equal to the warm-started weights; without a warm start there is nothing to train and it is refused."""
    from transformers import AutoModelForCausalLM

    from agents.train.config import TrainConfig

    messages = []
    kw = {"lora_rank": 4, "warmstart_steps": 2, "export": False, "lr": 1e-2}  # exported all the same
    train(_tiny_cfg(tmp_path, steps=0, **kw), backend=backend, log=messages.append)
    assert [json.loads(x)["warmstart_step"] for x in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [0, 1]
    assert not (tmp_path / "checkpoint").exists() and "warm start only" in messages[-1]
    cfg = _tiny_cfg(tmp_path, steps=0, resume=True, **kw)
    policy = build.build_policy(cfg, CPU)
    build.redo_warm_start(policy, cfg, tmp_path)  # base + the saved warm-start adapter, merged
    ids = torch.randint(0, 5000, (2, 16), generator=torch.Generator().manual_seed(1))
    base = build.build_policy(dataclasses.replace(cfg, lora_rank=0), CPU)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "final")
    with torch.no_grad():
        want = policy.model(input_ids=ids).logits
        assert torch.allclose(model(input_ids=ids).logits, want, atol=1e-4)
        assert not torch.allclose(base.model(input_ids=ids).logits, want, atol=1e-3)  # the SFT changed it
    with pytest.raises(ValueError, match="--steps"):
        TrainConfig(steps=0, warmstart="build", warmstart_steps=0).validate()
    with pytest.raises(ValueError, match="--steps"):
        TrainConfig(steps=0, warmstart="none").validate()


def test_limit_heap_sets_glibcs_mmap_threshold_and_one_arena_unless_the_user_chose(monkeypatch):
    """The training memory fix (agents/train/memory.py): on glibc the calls succeed; a user's own
    MALLOC_MMAP_THRESHOLD_ / MALLOC_ARENA_MAX is left alone; trim() is safe to call at any point."""
    import platform

    from agents.train import memory

    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert memory.limit_heap() is True

    class Recorder:  # which mallopt calls each environment leads to (the real effect is process-wide)
        def __init__(self):
            self.calls = []

        def mallopt(self, option, value):
            self.calls.append((option, value))
            return 1

    for env, want in [({}, [(-3, 8 << 20), (-8, 1)]), ({"MALLOC_MMAP_THRESHOLD_": "1048576"}, [(-8, 1)]),
                      ({"MALLOC_ARENA_MAX": "4"}, [(-3, 8 << 20)]),
                      ({"MALLOC_MMAP_THRESHOLD_": "1048576", "MALLOC_ARENA_MAX": "4"}, [])]:
        libc = Recorder()
        monkeypatch.setattr(memory, "_libc", libc)
        for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_ARENA_MAX"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert memory.limit_heap() is bool(want) and libc.calls == want, env
    monkeypatch.setattr(memory, "_libc", None)
    memory.trim()
