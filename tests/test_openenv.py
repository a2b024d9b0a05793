"""``zerosearch serve``: ZeroSearch-v0 as an OpenEnv server on 127.0.0.1 (a real server process, real clients)."""
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytest.importorskip("openenv.core.env_server")
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from agents.integrations.openenv_client import SearchAction, ZeroSearchClient  # noqa: E402
from zerosearch_gym import ZeroSearchEnv  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOCS = [{"id": "1", "title": "Hamlet", "text": "Hamlet is a tragedy written by William Shakespeare."},
        {"id": "2", "title": "Paris", "text": "Paris is the capital and largest city of France."},
        {"id": "3", "title": "Jupiter", "text": "Jupiter is the largest planet of the Solar System."}]
TURNS = ["<think>?</think><search> Hamlet tragedy </search>", "no tags here", "<answer> Shakespeare </answer>"]


def start(tmp_path, *flags):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "agents.cli", "serve", "--port", str(port), "--backend", f"bm25:{corpus}",
           "--max-turns", "2", "--top-k", "2", *flags]
    log = open(tmp_path / "server.log", "w")  # a file, not a pipe: a full pipe would block the server
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, HF_HUB_OFFLINE="1"), stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url, corpus
        except httpx.HTTPError:
            time.sleep(0.1)
        if proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"the server did not start: {(tmp_path / 'server.log').read_text()[-2000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve")
    proc, url, corpus = start(folder, "--max-sessions", "8", "--max-body-bytes", "65536")
    yield url, corpus
    proc.terminate()
    proc.wait(timeout=10)
    print((folder / "server.log").read_text()[-3000:])


def in_process(corpus, seed, options):
    env = ZeroSearchEnv(backend=f"bm25:{corpus}", max_turns=2, top_k=2)
    out = [env.reset(seed=seed, options=options)]
    return out + [env.step(t) for t in TURNS]


@pytest.mark.parametrize("seed, options", [(0, {}), (3, {"noise_probability": 0.5}),
                                           (7, {"example": 2, "curriculum_step": 100, "total_steps": 203})])
def test_the_server_and_in_process_play_the_same_episode(server, seed, options):
    url, corpus = server
    expected = in_process(corpus, seed, options)
    with ZeroSearchClient(base_url=url).sync() as env:
        first = env.reset(seed=seed, **options)
        assert first.observation.text == expected[0][0] and first.observation.info == expected[0][1]
        for turn, (obs, reward, terminated, truncated, info) in zip(TURNS, expected[1:]):
            result = env.step(SearchAction(text=turn, episode_id=first.observation.episode_id))
            assert (result.observation.text, result.reward, result.done) == (obs, reward, terminated or truncated)
            assert {k: result.observation.info[k] for k in ("action", "query", "noisy", "f1", "searches")} == \
                   {k: info[k] for k in ("action", "query", "noisy", "f1", "searches")}
        state = env.state()
        assert (state.done, state.turn, state.searches, state.episode_id) == (True, 3, 1, first.observation.episode_id)


def test_concurrent_sessions_each_play_their_own_episode(server):
    url, _ = server

    async def episode(i):
        async with ZeroSearchClient(base_url=url) as env:
            first = await env.reset(seed=i, example={"question": f"Who wrote play {i}?", "golden_answers": [f"a{i}"]})
            await asyncio.sleep(0.01 * (i % 3))
            searched = await env.step(f"<search>q{i} Hamlet</search>")
            answered = await env.step(f"<answer>a{i}</answer>")
            return first.observation.text, searched.observation.info["query"], answered.reward

    async def main():
        return await asyncio.gather(*(episode(i) for i in range(8)))

    for i, (prompt, query, reward) in enumerate(asyncio.run(main())):
        assert prompt.endswith(f"Question: Who wrote play {i}?\n") and query == f"q{i} Hamlet" and reward == 1.0


def test_tool_call_sessions_get_the_schema_and_tool_messages(tmp_path):
    proc, url, _ = start(tmp_path, "--action-format", "tool_call")
    try:
        with ZeroSearchClient(base_url=url).sync() as env:
            first = env.reset(seed=0)
            assert first.observation.tools[0]["function"]["name"] == "search"
            result = env.step('<tool_call>{"name": "search", "arguments": {"query": "Jupiter"}}</tool_call>')
            assert result.observation.role == "tool" and result.observation.text.startswith("Doc 1: (Title: Jupiter)")
            result = env.step('<tool_call>{"name": "search", "arguments": {"query": "Jupiter"}</tool_call>')
            assert result.observation.role == "user" and "malformed JSON" in result.observation.info["invalid_reason"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def ws(url):
    return connect(url.replace("http", "ws") + "/ws", open_timeout=10)


def send(sock, message):
    sock.send(message if isinstance(message, str) else json.dumps(message))
    return json.loads(sock.recv(timeout=10))


def test_a_hostile_client_gets_clear_errors_and_never_harms_another_episode(server):
    url, _ = server
    with ZeroSearchClient(base_url=url).sync() as good:
        first = good.reset(seed=1, example=0)
        with ws(url) as bad:
            assert send(bad, "{not json")["data"]["code"] == "INVALID_JSON"
            assert send(bad, {"type": "step", "data": {"text": "<answer>x</answer>"}})["data"]["message"] == \
                "call reset() before step()"
            send(bad, {"type": "reset", "data": {"seed": 0}})
            reply = send(bad, {"type": "step", "data": {"text": "<answer>x</answer>", "episode_id": "nope"}})
            assert reply["data"]["message"].startswith("expected episode_id '") and reply["data"]["message"].endswith(
                "(this session's episode), got 'nope'")
            assert send(bad, {"type": "step", "data": {"txt": "x"}})["data"]["code"] == "VALIDATION_ERROR"
            assert "unknown reset options ['nope']" in send(bad, {"type": "reset", "data": {"nope": 1}})["data"]["message"]
        with ws(url) as huge, pytest.raises(ConnectionClosed) as closed:
            huge.send(json.dumps({"type": "step", "data": {"text": "x" * 100_000}}))
            huge.recv(timeout=10)
        assert closed.value.rcvd.code == 1009  # message too big
        for _ in range(10):  # connections dropped mid-step free their sessions (8 at most on this server)
            with ws(url) as dropped:
                send(dropped, {"type": "reset", "data": {"seed": 0}})
                dropped.send(json.dumps({"type": "step", "data": {"text": "<search>Paris</search>"}}))
        result = good.step(SearchAction(text="<search>Paris</search>", episode_id=first.observation.episode_id))
        assert result.observation.info["searches"] == 1 and result.observation.info["turn"] == 1
    response = httpx.post(url + "/step", content=b"{" + b" " * 100_000 + b"}",
                          headers={"content-type": "application/json"})
    assert response.status_code == 413 and "at most 65536 bytes" in response.json()["detail"]
    response = httpx.post(url + "/step", json={"action": {"text": "<answer>x</answer>"}})
    assert response.status_code == 400 and "call reset() before step()" in response.json()["detail"]


def test_serve_refuses_bad_flags():
    proc = subprocess.run([sys.executable, "-m", "agents.cli", "serve", "--port", "0"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "expected --port in 1..65535, got 0" in proc.stderr


def test_the_example_plays_concurrent_episodes(server):
    url, _ = server
    proc = subprocess.run([sys.executable, "examples/openenv_client.py", "--url", url, "--episodes", "6",
                           "--concurrency", "3"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["episodes"] == 6 and summary["searches"] >= 6 and 0.0 <= summary["mean_reward"] <= 1.0
