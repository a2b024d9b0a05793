"""Kill-safety of training: a run killed anywhere (SIGKILL) and resumed equals an uninterrupted run."""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from agents.train.checkpoint import CheckpointError, recover_checkpoint, truncate_metrics, verify_checkpoint

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--preset", "tiny", "--model", "tiny:llama", "--steps", "5", "--save-every", "1", "--warmstart-steps", "1",
        "--questions-per-step", "2", "--rollouts-per-question", "2", "--max-new-tokens", "4", "--kl-coef", "0.01",
        "--lr", "1e-3", "--backend", "bm25", "--dataset", "sample:in-wiki"]
TIMING = ("rollout_s", "update_s", "tokens_per_s")


def start(out: Path, resume: bool) -> subprocess.Popen:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    log = open(out.parent / f"{out.name}.log", "a")
    cmd = [sys.executable, "-m", "agents.train", *ARGS, "--output-dir", str(out)] + (["--resume"] if resume else [])
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def has_checkpoint(out: Path) -> bool:
    return (out / "checkpoint" / "manifest.json").is_file() or (out / ".checkpoint-old").is_dir()


def run_with_kills(out: Path, kills: int, train_s: float, rng: random.Random) -> list[str]:
    """Start, SIGKILL at a random moment of the training part, resume; ``kills`` times, then finish."""
    survived = []
    for _ in range(kills):
        proc = start(out, resume=has_checkpoint(out))
        log = out.parent / f"{out.name}.log"
        size = log.stat().st_size if log.exists() else 0
        deadline = time.time() + 600
        while proc.poll() is None and time.time() < deadline and (not log.exists() or log.stat().st_size == size):
            time.sleep(0.05)  # until the process has loaded and printed its first line
        time.sleep(rng.uniform(0.0, train_s))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = out / "checkpoint" / "state.json"
        step = json.loads(state.read_text())["step"] if state.is_file() else None
        survived.append(f"checkpoint step {step}" + (" (.checkpoint-old)" if (out / ".checkpoint-old").exists() else ""))
        print(f"kill {len(survived)}: {survived[-1]}", flush=True)
    proc = start(out, resume=has_checkpoint(out))
    assert proc.wait(timeout=1800) == 0, (out.parent / f"{out.name}.log").read_text()[-3000:]
    return survived


def rows(out: Path) -> list[dict]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(x).items() if k not in TIMING} for x in lines]


def assert_same_run(a: Path, b: Path) -> None:
    for name in ("model.safetensors", "optimizer.safetensors"):
        ta, tb = load_file(a / "checkpoint" / name), load_file(b / "checkpoint" / name)
        assert ta.keys() == tb.keys() and all((ta[k] == tb[k]).all() for k in ta), name
    sa, sb = (json.loads((p / "checkpoint/state.json").read_text()) for p in (a, b))
    for key in ("step", "curriculum_step", "data_position", "rng", "optimizer"):
        assert sa[key] == sb[key], key
    assert rows(a) == rows(b)


def _kill_resume(tmp_path, kills: int, seed: int) -> list[str]:
    t0 = time.time()
    first = start(tmp_path / "full", resume=False)
    assert first.wait(timeout=1800) == 0, (tmp_path / "full.log").read_text()[-3000:]
    total = time.time() - t0
    train_s = max(total - 8.0, total / 2)  # roughly the part after the imports
    survived = run_with_kills(tmp_path / "killed", kills, train_s, random.Random(seed))
    assert_same_run(tmp_path / "full", tmp_path / "killed")
    return survived


@pytest.mark.slow  # ~90 s of subprocess training; the kill between the two renames stays in the fast suite
def test_one_sigkill_and_resume_equals_an_uninterrupted_run(tmp_path):
    _kill_resume(tmp_path, kills=1, seed=1)


@pytest.mark.slow
def test_ten_random_sigkills_and_resumes_equal_an_uninterrupted_run(tmp_path):
    survived = _kill_resume(tmp_path, kills=10, seed=2026)
    print("kill points survived:", survived)


def test_a_kill_between_the_two_renames_resumes_from_checkpoint_old(tmp_path, monkeypatch):
    from test_train import DOCS, _tiny_cfg

    from agents.train import checkpoint
    from agents.train.loop import train
    from zerosearch_gym.backends.retrieval import BM25Backend

    backend = BM25Backend.from_documents(DOCS)
    full = train(_tiny_cfg(tmp_path / "a"), backend=backend, log=lambda m: None)
    real_rename = os.rename

    def killed_at_second_rename(src, dst):
        if Path(src).name.startswith(".checkpoint-tmp-") and (tmp_path / "b/.checkpoint-old").exists():
            raise KeyboardInterrupt  # the process dies after checkpoint -> .checkpoint-old
        return real_rename(src, dst)

    monkeypatch.setattr(checkpoint.os, "rename", killed_at_second_rename)
    with pytest.raises(KeyboardInterrupt):
        train(_tiny_cfg(tmp_path / "b"), backend=backend, log=lambda m: None)
    monkeypatch.setattr(checkpoint.os, "rename", real_rename)
    assert not (tmp_path / "b/checkpoint").exists() and (tmp_path / "b/.checkpoint-old/state.json").is_file()
    resumed = train(_tiny_cfg(tmp_path / "b", resume=True), backend=backend, log=lambda m: None)
    assert [r["step"] for r in resumed] == [1, 2]
    assert resumed[-1]["seq_tokens"] == full[-1]["seq_tokens"]
    assert_same_run(tmp_path / "a", tmp_path / "b")


@pytest.mark.parametrize("content", ["[1, 2]", '"text"', "42", '{"model.safetensors": 3}'])
def test_a_manifest_that_is_not_an_object_of_entries_is_a_checkpoint_error(tmp_path, content):
    (tmp_path / "checkpoint").mkdir()
    (tmp_path / "checkpoint/manifest.json").write_text(content)
    with pytest.raises(CheckpointError, match="expected .*manifest.json to hold a JSON object"):
        verify_checkpoint(tmp_path, {})


def test_metrics_are_cut_back_to_the_checkpoint_and_leftovers_recovered(tmp_path):
    lines = [{"warmstart_step": 0}, {"step": 0}, {"step": 1}, {"step": 2}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines) + '{"step": 3, "rew')
    truncate_metrics(tmp_path / "metrics.jsonl", 2)
    assert [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()] == lines[:3]
    (tmp_path / ".checkpoint-old").mkdir()
    (tmp_path / ".checkpoint-tmp-x").mkdir()
    recover_checkpoint(tmp_path)
    assert (tmp_path / "checkpoint").is_dir() and not (tmp_path / ".checkpoint-tmp-x").exists()
