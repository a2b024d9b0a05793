"""``zerosearch train --report-to``: a run folder's metrics.jsonl rows and sample episodes reach TensorBoard event
files and an offline W&B run (real writers, real episodes from the runner)."""
import json
import struct
from pathlib import Path

import gymnasium as gym
import pytest

import zerosearch_gym  # noqa: F401
from agents.episodes import play
from agents.scripted import ScriptedActor
from agents.train.report_to import RunReporter, follow_run
from agents.train_command import main as train_main
from zerosearch_gym import QAExample
from zerosearch_gym.backends.retrieval import BM25Backend

ROWS = [{"warmstart_step": 0, "sft_loss": 2.3, "scripted_reward": 0.33},
        {"val_start": True, "val_f1": 0.2, "val_em": 0.1},
        {"step": 0, "reward": 0.34, "f1": 0.25, "entropy": 1.5, "kl_ref": 0.0, "valid_action_rate": 0.75},
        {"step": 1, "reward": 0.5, "f1": 0.4, "entropy": 1.4, "kl_ref": 0.01, "valid_action_rate": 0.9}]


def episodes(step):
    """Real episode records: the scripted actor on BM25, as the trainer writes them (with their step)."""
    docs = [{"title": "Paris", "text": "Paris is the capital and largest city of France."}]
    examples = [QAExample("q1", "What is the capital of France?", ("Paris",)),
                QAExample("q2", "Which city is the capital of France?", ("Paris",))]
    envs = gym.make_vec("ZeroSearch-v0", num_envs=2, vectorization_mode="vector_entry_point",
                        backend=BM25Backend.from_documents(docs), dataset=examples)
    return [dict(e.record(), step=step) for e in play(envs, ScriptedActor(), examples, seed=0)]


def write(path: Path, rows, mode="a"):
    with open(path, mode) as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)


def read_events(folder: Path) -> list:
    from tensorboardX.proto import event_pb2

    events = []
    for file in sorted(folder.glob("events.out.tfevents.*")):
        data, i = file.read_bytes(), 0
        while i < len(data):  # TFRecord: length, its CRC, the event, its CRC
            (n,) = struct.unpack("<Q", data[i:i + 8])
            event = event_pb2.Event()
            event.ParseFromString(data[i + 12:i + 12 + n])
            events.append(event)
            i += 12 + n + 4
    return events


def scalars(folder: Path) -> dict:
    return {(v.tag, e.step): round(v.simple_value, 4) for e in read_events(folder) for v in e.summary.value
            if v.HasField("simple_value")}


def test_tensorboard_gets_every_row_and_sample_episodes(tmp_path):
    pytest.importorskip("tensorboardX")
    write(tmp_path / "metrics.jsonl", [{"step": 9, "reward": 0.9}])  # an earlier run's rows: not logged
    reporter = RunReporter("tensorboard", tmp_path, {"algo": "grpo"}, samples=1)
    write(tmp_path / "metrics.jsonl", ROWS[:2], mode="w")  # the new run rewrites the file (warm start)
    write(tmp_path / "episodes.jsonl", episodes(0))
    assert reporter.poll() == 2
    write(tmp_path / "metrics.jsonl", ROWS[2:])
    assert reporter.poll() == 2 and reporter.poll() == 0
    reporter.close()
    logged = scalars(tmp_path / "tensorboard")
    assert logged == {("warmstart/sft_loss", 0): 2.3, ("warmstart/scripted_reward", 0): 0.33,
                      ("val/f1", 0): 0.2, ("val/em", 0): 0.1,
                      ("train/reward", 0): 0.34, ("train/f1", 0): 0.25, ("health/entropy", 0): 1.5,
                      ("health/kl_ref", 0): 0.0, ("health/valid_action_rate", 0): 0.75,
                      ("train/reward", 1): 0.5, ("train/f1", 1): 0.4, ("health/entropy", 1): 1.4,
                      ("health/kl_ref", 1): 0.01, ("health/valid_action_rate", 1): 0.9}
    texts = [v.tensor.string_val[0].decode() for e in read_events(tmp_path / "tensorboard") for v in e.summary.value
             if v.tag.startswith("episodes")]
    assert len(texts) == 1 and texts[0].startswith("**What is the capital of France?** (gold: Paris;")
    assert "1. search `What is the capital of France?` (useful)" in texts[0] and "2. answer `Paris`" in texts[0]


def test_follow_run_polls_while_the_block_runs(tmp_path):
    pytest.importorskip("tensorboardX")
    with follow_run("tensorboard", tmp_path, every_s=0.05) as reporter:
        write(tmp_path / "metrics.jsonl", ROWS[2:3])
        for _ in range(100):
            if reporter._offsets["metrics.jsonl"]:
                break
            import time

            time.sleep(0.05)
        write(tmp_path / "metrics.jsonl", [{"step": 1, "reward": 0.5, "f1": 0.4}], mode="a")
    assert ("train/reward", 1) in scalars(tmp_path / "tensorboard")  # the last row: the final poll
    with follow_run("none", tmp_path) as nothing:
        assert nothing is None


def wandb_history(run_file: Path) -> list[dict]:
    """The history rows of an offline W&B run file (a LevelDB-style log of ``Record`` protos)."""
    from wandb.proto import wandb_internal_pb2

    data, i, records, part = run_file.read_bytes(), 7, [], b""  # 7: the ":W&B" header
    while i + 7 <= len(data):
        if 32768 - i % 32768 < 7:  # a block's tail too short for a record header is padding
            i += 32768 - i % 32768
            continue
        _, n, kind = struct.unpack("<IHB", data[i:i + 7])
        part, i = part + data[i + 7:i + 7 + n], i + 7 + n
        if kind in (1, 4):  # a full record, or the last piece of one
            records.append(part)
            part = b""
    rows = []
    for raw in records:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        if record.WhichOneof("record_type") == "history":
            rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                         for item in record.history.item})
    return rows


def test_wandb_offline_needs_no_account(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    reporter = RunReporter("wandb", tmp_path, {"algo": "grpo"})
    write(tmp_path / "metrics.jsonl", ROWS)
    write(tmp_path / "episodes.jsonl", episodes(0))
    assert reporter.poll() == 4
    reporter.close()
    rows = wandb_history(next(tmp_path.glob("wandb/offline-run-*/run-*.wandb")))
    assert [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows[:4]] == [
        {"warmstart/sft_loss": 2.3, "warmstart/scripted_reward": 0.33, "warmstart/step": 0},
        {"val/f1": 0.2, "val/em": 0.1, "train/step": 0},
        {"train/reward": 0.34, "train/f1": 0.25, "health/entropy": 1.5, "health/kl_ref": 0.0,
         "health/valid_action_rate": 0.75, "train/step": 0},
        {"train/reward": 0.5, "train/f1": 0.4, "health/entropy": 1.4, "health/kl_ref": 0.01,
         "health/valid_action_rate": 0.9, "train/step": 1}]
    assert [r["episodes/_type"] for r in rows[4:]] == ["html-file", "html-file"]  # two sample episodes as text
    page = next(tmp_path.glob("wandb/offline-run-*/files")) / rows[4]["episodes/path"]
    assert "<pre>**What is the capital of France?** (gold: Paris;" in page.read_text()


def test_a_bad_dashboard_name_fails_before_training():
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="expected --report-to tensorboard, wandb or none, got 'mlflow'"):
        train_main(["--report-to", "mlflow", "--steps", "1"])
