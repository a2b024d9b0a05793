"""The warm-start adapter (agents/warmstart_adapter.py): a saved adapter applies to a fresh policy exactly,
and a wrong base model or rank, a corrupt or missing file is one clear error before any model loads."""
import json
import shutil

import pytest
import torch

from agents.cli import main
from agents.policy import Policy
from agents.warmstart_adapter import (
    META,
    SHIPPED,
    WEIGHTS,
    AdapterError,
    apply_adapter,
    base_shape,
    check_adapter,
    save_adapter,
)
from zerosearch_gym.llm.models import tiny_model


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A tiny Llama saved as a model folder, and a rank-4 adapter trained (randomised) on it."""
    root = tmp_path_factory.mktemp("adapter")
    model, tokenizer = tiny_model("llama", seed=0)
    model.save_pretrained(root / "base")
    tokenizer.save_pretrained(root / "base")
    policy = Policy.load(str(root / "base"))
    policy.add_lora(4, 8.0)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in policy.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.2)
    ids = torch.randint(5, 500, (2, 10), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = policy.model(input_ids=ids).logits
    meta = save_adapter(policy, root / "adapter", {"base_model": str(root / "base"),
                                                   "base_shape": base_shape(str(root / "base")), "rank": 4,
                                                   "alpha": 8.0})
    return root, meta, ids, want


def test_a_saved_adapter_merges_into_a_fresh_policy(built):
    root, meta, ids, want = built
    checked = check_adapter(root / "adapter", str(root / "base"))
    assert checked["sha256"] == meta["sha256"] and checked["rank"] == 4
    fresh = Policy.load(str(root / "base"))
    with torch.no_grad():
        before = fresh.model(input_ids=ids).logits
    apply_adapter(fresh, root / "adapter", checked)
    assert not fresh.has_lora  # merged into the weights
    with torch.no_grad():
        got = fresh.model(input_ids=ids).logits
    assert (before - want).abs().max() > 1e-2  # the adapter changes the model ...
    torch.testing.assert_close(got, want, atol=2e-3, rtol=1e-3)  # ... and comes back (fp16 on disk)


def _copy(built, tmp_path):
    folder = tmp_path / "adapter"
    shutil.copytree(built[0] / "adapter", folder)
    return folder


def test_another_base_model_is_refused(built, tmp_path):
    root = built[0]
    config = json.loads((root / "base" / "config.json").read_text())
    (tmp_path / "other").mkdir()  # a wider model: only its config.json is read
    (tmp_path / "other" / "config.json").write_text(json.dumps({**config, "hidden_size": 2 * config["hidden_size"]}))
    with pytest.raises(AdapterError, match="base model"):
        check_adapter(root / "adapter", str(tmp_path / "other"))
    with pytest.raises(AdapterError, match="base model"):
        check_adapter(root / "adapter", "tiny:llama")


def test_a_meta_with_another_rank_is_refused(built, tmp_path):
    folder = _copy(built, tmp_path)
    meta = json.loads((folder / META).read_text())
    (folder / META).write_text(json.dumps({**meta, "rank": 8}))
    with pytest.raises(AdapterError, match="rank-8 LoRA matrices"):
        check_adapter(folder, str(built[0] / "base"))


def test_corrupt_or_missing_files_are_refused(built, tmp_path):
    folder = _copy(built, tmp_path)
    data = bytearray((folder / WEIGHTS).read_bytes())
    data[-100] ^= 0xFF
    (folder / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(AdapterError, match="sha256"):
        check_adapter(folder, str(built[0] / "base"))
    (folder / WEIGHTS).unlink()
    with pytest.raises(AdapterError, match="adapter.safetensors"):
        check_adapter(folder, str(built[0] / "base"))
    (folder / META).write_text("{not json")
    (folder / WEIGHTS).write_bytes(b"")
    with pytest.raises(AdapterError, match="base_model, rank and alpha"):
        check_adapter(folder, str(built[0] / "base"))


def test_train_refuses_a_bad_warm_start_in_one_line_before_any_model_loads(built, tmp_path, capsys):
    folder = _copy(built, tmp_path)
    (folder / WEIGHTS).write_bytes(b"corrupt")
    assert main(["train", "--warmstart", str(folder), "--output-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sha256" in err[0]
    assert main(["train", "--model", "tiny:llama", "--output-dir", str(tmp_path / "run")]) == 2
    assert "--warmstart build" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # nothing written


def test_the_shipped_adapter_fits_smollm2_and_is_small():
    meta = check_adapter(SHIPPED)
    assert meta["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert (SHIPPED / WEIGHTS).stat().st_size <= 10_000_000
    assert meta["steps"] * meta["sft"]["batch"] >= 1000  # SFT on >= 1,000 scripted trajectories


def test_resume_refuses_a_changed_adapter_and_old_runs_keep_their_in_run_warm_start(built, tmp_path):
    from agents.train import build
    from agents.train.checkpoint import CheckpointError, upgrade_config
    from agents.train.config import TrainConfig

    root = built[0]
    folder = _copy(built, tmp_path)
    cfg = TrainConfig(model=str(root / "base"), warmstart=str(folder))
    build.record_adapter(cfg, tmp_path)
    build.check_recorded_adapter(cfg, tmp_path)  # the same adapter: fine
    meta = json.loads((folder / META).read_text())
    data = bytearray((folder / WEIGHTS).read_bytes())
    data[-100] ^= 0xFF  # another adapter with a consistent meta
    (folder / WEIGHTS).write_bytes(bytes(data))
    import hashlib

    (folder / META).write_text(json.dumps({**meta, "sha256": hashlib.sha256(bytes(data)).hexdigest()}))
    with pytest.raises(CheckpointError, match="this run started from"):
        build.check_recorded_adapter(cfg, tmp_path)
    assert upgrade_config({"warmstart_steps": 4})["warmstart"] == "build"
    assert upgrade_config({"warmstart_steps": 0})["warmstart"] == "none"
    assert upgrade_config({"warmstart": "shipped"})["warmstart"] == "shipped"
