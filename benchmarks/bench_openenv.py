"""The OpenEnv server's overhead per step: a WebSocket round trip on 127.0.0.1 vs stepping the env in process,
with an instant backend (so only the server's cost shows), at 1 and 64 concurrent episodes.

Run: ``pytest benchmarks/bench_openenv.py -o addopts="" -s`` in a venv with ``zerosearch-gym[openenv]``.
Prints µs per step for each case and its ratio against in-process stepping.
"""
import asyncio
import socket
import threading
import time

import pytest

pytest.importorskip("openenv.core.env_server")
import uvicorn  # noqa: E402

from agents.integrations.openenv_client import SearchAction, ZeroSearchClient  # noqa: E402
from agents.integrations.openenv_env import make_app  # noqa: E402
from zerosearch_gym import QAExample, ZeroSearchEnv  # noqa: E402

EXAMPLES = [QAExample(str(i), f"Question number {i}?", (f"answer {i}",)) for i in range(100)]
TURNS = ["<think>look</think><search>alpha beta</search>", "<think>more</think><search>gamma</search>",
         "<think>done</think><answer>answer 7</answer>"]
EPISODES = 40  # per client
RESULTS: dict = {}


class Instant:
    def search(self, requests):
        return [["document text"] * r.top_k for r in requests]


@pytest.fixture(scope="module")
def url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_app(Instant(), EXAMPLES, max_sessions=64), host="127.0.0.1",
                                           port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)  # the server's event loop, in its own thread
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_in_process_steps():
    env = ZeroSearchEnv(backend=Instant(), dataset=EXAMPLES)
    start = time.perf_counter()
    for seed in range(EPISODES * 10):
        env.reset(seed=seed)
        for turn in TURNS:
            env.step(turn)
    RESULTS["in_process"] = (time.perf_counter() - start) / (EPISODES * 10 * len(TURNS)) * 1e6
    print(f"\nin process: {RESULTS['in_process']:.1f} µs/step")


async def _client(url: str, seed0: int) -> int:
    async with ZeroSearchClient(base_url=url) as env:
        for seed in range(seed0, seed0 + EPISODES):
            await env.reset(seed=seed)
            for turn in TURNS:
                await env.step(SearchAction(text=turn))
    return EPISODES * len(TURNS)


@pytest.mark.parametrize("clients", [1, 64])
def test_server_round_trips(url, clients):
    async def run():
        return sum(await asyncio.gather(*(_client(url, 1000 * c) for c in range(clients))))

    start = time.perf_counter()
    steps = asyncio.run(run())
    seconds = time.perf_counter() - start
    per_step = seconds / steps * 1e6  # wall time per step, all clients together
    RESULTS[f"server_{clients}"] = per_step
    base = RESULTS.get("in_process")
    ratio = f", {per_step / base:.0f}x in process" if base else ""
    print(f"\nserver, {clients} concurrent episode(s): {per_step:.0f} µs/step wall ({steps / seconds:.0f} steps/s"
          f"{ratio}); a reset counts as a round trip too, not as a step")
