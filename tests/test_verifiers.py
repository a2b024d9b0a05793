"""verifiers (0.4, v1): ZeroSearch-v0 as a verifiers environment, played against a local fake OpenAI-compatible
policy server (the scripted policy over HTTP) in process and through ``vf-eval``; real BM25, real harness."""
import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

vf = pytest.importorskip("verifiers.v1")
sys.path.insert(0, str(Path(__file__).parent))
from fake_policy import FakePolicyServer  # noqa: E402

from agents.integrations.verifiers_env import PLUGIN_ID, ZeroSearchVfEnv, load_environment  # noqa: E402

BIN = Path(sys.executable).parent
DOCS = [{"title": "Hamlet", "text": "Hamlet is a tragedy written by William Shakespeare."},
        {"title": "Paris", "text": "Paris is the capital and largest city of France."}]
QA = [{"id": "q1", "question": "Who wrote Hamlet?", "golden_answers": ["William Shakespeare"]},
      {"id": "q2", "question": "What is the capital of France?", "golden_answers": ["Paris"]}]
needs_uv = pytest.mark.skipif(shutil.which("uv", path=f"{BIN}{os.pathsep}{os.environ['PATH']}") is None,
                              reason="the null harness runs its chat program with uv (in the [verifiers] extra)")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vf")
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    (folder / "qa.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QA))
    return {"backend": f"bm25:{folder / 'corpus.jsonl'}", "dataset": str(folder / "qa.jsonl"), "max_turns": 2}


def test_load_environment_gives_the_taskset_of_questions(data):
    env = load_environment(**data)
    assert isinstance(env, ZeroSearchVfEnv) and env.config.env_id == PLUGIN_ID
    tasks = list(env.taskset)
    assert [t.data.id for t in tasks] == ["q1", "q2"]
    assert tasks[0].data.prompt.endswith("Question: Who wrote Hamlet?\n")
    assert tasks[1].data.info["golden_answers"] == ["Paris"]
    with pytest.raises(ValueError, match="action_format"):
        list(load_environment(**data, action_format="json").taskset)


@needs_uv
def test_an_episode_against_a_fake_openai_policy(data, monkeypatch):
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_KEY", "x")
    env = load_environment(**data)
    task = list(env.taskset)[0]

    async def play(url):
        ctx = vf.ModelContext(client=vf.EvalClientConfig(base_url=url, api_key_var="FAKE_KEY"), model="scripted")
        async with env.serving():
            return await env.run_episode(task, ctx)

    with FakePolicyServer() as server:
        episode = asyncio.run(play(server.url))
    assert episode.errors == [] and episode.ok
    (trace,) = episode.traces
    assert {k: (r.score, r.weight) for k, r in trace.rewards.items()} == {"f1": (1.0, 1.0), "em": (1.0, 0.0),
                                                                           "format": (1.0, 0.0)}
    assert trace.info["searches"] == 1 and len(server.requests) == 2  # a search turn, then the answer
    replies = [m["content"] for m in server.requests[1]["messages"] if m["role"] == "user"]
    assert replies[-1].startswith("\n\n<information>Doc 1: (Title: Hamlet)")  # our backend's documents


@needs_uv
def test_vf_eval_runs_it_by_its_plugin_id(data, tmp_path):
    with FakePolicyServer() as server:
        cmd = [str(BIN / "vf-eval"), PLUGIN_ID, "--env.taskset.backend", data["backend"], "--env.taskset.dataset",
               data["dataset"], "--env.taskset.max-turns", "2", "-m", "scripted", "--client.base-url", server.url,
               "--client.api-key-var", "FAKE_KEY", "-r", "1", "--no-push", "-o", str(tmp_path)]
        env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", FAKE_KEY="x", HF_HUB_OFFLINE="1")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    traces = [json.loads(line) for line in next(tmp_path.glob("*/traces.jsonl")).read_text().splitlines()]
    rewards = sorted((t["task"]["data"]["id"], t["traces"][0]["rewards"]["f1"]["score"]) for t in traces)
    assert rewards == [("q1", 1.0), ("q2", 1.0)]


@needs_uv
def test_the_example_evaluates_a_served_policy(data):
    with FakePolicyServer() as server:
        cmd = [sys.executable, "examples/verifiers_zerosearch.py", "--base-url", server.url, "--model", "scripted",
               "--api-key-var", "FAKE_KEY", "--backend", data["backend"], "--dataset", data["dataset"],
               "--max-turns", "2"]
        env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", FAKE_KEY="x", HF_HUB_OFFLINE="1",
                   PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env,
                              cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.splitlines()[-1]) == {"episodes": 2, "errors": 0, "f1": 1.0, "em": 1.0,
                                                       "format": 1.0}
