"""SkyRL-gym: ZeroSearch-v0 as a registered ``BaseTextEnv`` (``skyrl_gym.make("zerosearch", ...)``), real BM25."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

skyrl_gym = pytest.importorskip("skyrl_gym")
from skyrl_gym.envs.base_text_env import BaseTextEnv  # noqa: E402

from agents.integrations.skyrl import ZeroSearchTextEnv, dataset_rows  # noqa: E402
from zerosearch_gym import QAExample, ZeroSearchEnv  # noqa: E402
from zerosearch_gym.backends.retrieval import BM25Backend  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOCS = [{"title": "Hamlet", "text": "Hamlet is a tragedy written by William Shakespeare."},
        {"title": "Paris", "text": "Paris is the capital and largest city of France."}]
EXAMPLE = QAExample("q1", "Who wrote Hamlet?", ("William Shakespeare",), "demo")


@pytest.fixture(scope="module")
def backend():
    return BM25Backend.from_documents(DOCS)


def make(backend, **config):
    row = dataset_rows([EXAMPLE])[0]
    extras = {k: v for k, v in row.items() if k != "prompt"}
    return skyrl_gym.make("zerosearch", env_config={"backend": backend, "top_k": 2, "max_turns": 2, **config},
                          extras=extras), row["prompt"]


def test_the_registered_env_plays_the_same_episode_as_the_text_env(backend):
    env, prompt = make(backend)
    assert isinstance(env, BaseTextEnv) and isinstance(env, ZeroSearchTextEnv) and env.max_turns == 3
    messages, info = env.init(prompt)
    reference = ZeroSearchEnv(backend=backend, dataset=[EXAMPLE], top_k=2, max_turns=2)
    text, _ = reference.reset(options={"example": 0})
    assert messages == [{"role": "user", "content": text}] and info == {"noise_probability": 0.0}
    out = env.step("<think>?</think><search> Hamlet </search>")
    expected = reference.step("<think>?</think><search> Hamlet </search>")[0]
    assert out["observations"] == [{"role": "user", "content": expected}] and not out["done"]
    assert out["reward"] == 0.0 and out["metadata"]["query"] == "Hamlet"
    out = env.step("<answer> William Shakespeare </answer>")
    assert out["done"] and out["reward"] == 1.0 and out["observations"] == []
    assert env.get_metrics() == {"f1": 1.0, "em": 1.0, "searches": 1, "noise_probability": 0.0, "turns": 2}


def test_tool_calls_return_tool_messages_and_a_system_message_with_the_schema(backend):
    env, prompt = make(backend, action_format="tool_call")
    messages, _ = env.init(prompt)
    assert messages[0]["role"] == "system" and '"name": "search"' in messages[0]["content"]
    out = env.step('<tool_call>{"name": "search", "arguments": {"query": "Paris"}}</tool_call>')
    assert out["observations"][0]["role"] == "tool" and out["observations"][0]["content"].startswith("Doc 1:")
    out = env.step("<tool_call>{oops}</tool_call>")
    assert out["observations"][0]["role"] == "user" and "malformed JSON" in out["metadata"]["invalid_reason"]


def test_rows_carry_the_curriculum_and_bad_rows_are_clear_errors(backend):
    from conftest import RecordingBackend  # a simulator stand-in: over BM25, a real engine, p is always 0

    extras = {"reward_spec": {"ground_truth": ["Paris"]},
              "extra_info": {"question": "Capital of France", "noise_probability": 1.0, "seed": 3}}
    for engine, p in ((RecordingBackend(), 1.0), (backend, 0.0)):
        env = skyrl_gym.make("zerosearch", env_config={"backend": engine}, extras=extras)
        _, info = env.init([{"role": "user", "content": "ignored"}])
        assert info == {"noise_probability": p} and env.step("<search>x</search>")["metadata"]["noisy"] == (p == 1.0)
    with pytest.raises(ValueError, match=r"expected extras\['reward_spec'\]\['ground_truth'\] to hold the gold"):
        skyrl_gym.make("zerosearch", env_config={"backend": backend}, extras={"reward_spec": {}})


def test_the_example_runs(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    dataset = tmp_path / "qa.jsonl"
    dataset.write_text("".join(json.dumps({"id": f"q{i}", "question": q, "golden_answers": [a]}) + "\n" for i, (q, a)
                               in enumerate([("Who wrote Hamlet?", "William Shakespeare"),
                                             ("What is the capital of France?", "Paris"),
                                             ("Which city is the capital of France?", "Paris")])))
    proc = subprocess.run([sys.executable, "examples/skyrl_zerosearch.py", "--episodes", "3", "--dataset",
                           str(dataset), "--backend", f"bm25:{corpus}", "--out", str(tmp_path / "train.jsonl")], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["episodes"] == 3 and summary["rows"] == 3 and summary["mean_reward"] > 0.5
    row = json.loads((tmp_path / "train.jsonl").read_text().splitlines()[0])
    assert row["env_class"] == "zerosearch" and row["reward_spec"]["ground_truth"]["target"]
