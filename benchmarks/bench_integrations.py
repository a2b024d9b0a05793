"""Integration throughput: the token view vs the text env, RLlib sampling with 1 vs 2 env runners, and the
``ray:`` backend with 1 vs 2 replicas of a CPU simulator.

Run: ``pytest benchmarks/bench_integrations.py -o addopts="" -s``. Each test prints its figure and its ratio
against the baseline of the same run.
"""
import os
import sys
import time
from pathlib import Path

import gymnasium as gym
import pytest

import zerosearch_gym  # noqa: F401
from zerosearch_gym import QAExample, SearchRequest
from zerosearch_gym.wrappers import ZeroSearchTokenEnv

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
EXAMPLES = [QAExample(str(i), f"Question number {i}?", (f"answer {i}",)) for i in range(100)]
TURNS = ["<think>look</think><search>alpha beta</search>", "<think>more</think><search>gamma</search>",
         "<think>done</think><answer>answer 7</answer>"]
RESULTS: dict = {}
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))


class Instant:
    def search(self, requests):
        return [["document text"] * r.top_k for r in requests]


@pytest.fixture(scope="module")
def tokenizer():
    from zerosearch_gym.llm import smollm2_tokenizer

    return smollm2_tokenizer()


def _text_turns(turns: int) -> None:
    env = gym.make("ZeroSearch-v0", backend=Instant(), dataset=EXAMPLES)
    env.reset(seed=0)
    for i in range(turns):
        if any(env.step(TURNS[i % 3])[2:4]):
            env.reset()


def _token_steps(env: ZeroSearchTokenEnv, turn_ids: list, turns: int) -> int:
    env.reset(seed=0)
    steps = 0
    for i in range(turns):
        for token in turn_ids[i % 3]:
            out = env.step(token)
            steps += 1
        if out[2] or out[3]:
            env.reset()
    return steps


def test_text_env_turns(benchmark):
    turns = 1500
    benchmark.pedantic(_text_turns, args=(turns,), rounds=3, iterations=1)
    RESULTS["text"] = turns / benchmark.stats["mean"]
    print(f"\ntext env: {RESULTS['text']:,.0f} turns/s")


def test_token_view_steps(benchmark, tokenizer):
    env = ZeroSearchTokenEnv(gym.make("ZeroSearch-v0", backend=Instant(), dataset=EXAMPLES), tokenizer,
                             context_len=256, max_turn_tokens=64)
    turn_ids = [tokenizer.encode(t, add_special_tokens=False) for t in TURNS]
    turns = 150
    steps = _token_steps(env, turn_ids, turns)
    benchmark.pedantic(_token_steps, args=(env, turn_ids, turns), rounds=3, iterations=1)
    rate, per_turn = steps / benchmark.stats["mean"], steps / turns
    base = RESULTS.get("text")
    ratio = f"; {rate / per_turn / base:.3f}x the text env's turns/s per turn" if base else ""
    print(f"\ntoken view: {rate:,.0f} token-steps/s, {per_turn:.1f} tokens per turn, "
          f"{rate / per_turn:,.0f} turns/s{ratio}")


def _sample_rate(env_runners: int, steps_per_runner: int = 128) -> float:
    import ray
    from rllib_ppo import build_config

    from agents.integrations.ray_tools import init_ray

    init_ray(num_cpus=2)
    algo = build_config(env_runners=env_runners, envs_per_runner=1, batch=64, hidden_size=32,
                        env_config={"backend": "bm25", "max_turn_tokens": 8}).build_algo()
    try:
        sample = lambda er: len(er.sample(num_timesteps=steps_per_runner, random_actions=False))  # noqa: E731
        algo.env_runner_group.foreach_env_runner(sample, local_env_runner=False)  # warm up
        start = time.perf_counter()
        algo.env_runner_group.foreach_env_runner(sample, local_env_runner=False)
        return env_runners * steps_per_runner / (time.perf_counter() - start)
    finally:
        algo.stop()
        ray.shutdown()


@pytest.mark.parametrize("env_runners", [1, 2])
def test_rllib_sample_throughput(env_runners):
    pytest.importorskip("ray.rllib")
    rate = _sample_rate(env_runners)
    RESULTS["rllib", env_runners] = rate
    base = RESULTS.get(("rllib", 1))
    print(f"\nRLlib, {env_runners} env runner(s): {rate:,.0f} env-steps/s"
          + (f" ({rate / base:.2f}x one runner)" if base and env_runners > 1 else ""))


@pytest.mark.parametrize("replicas", [1, 2])
def test_ray_backend_replicas(replicas, tmp_path_factory):
    pytest.importorskip("ray")
    import ray

    from zerosearch_gym.backends.ray_pool import RayPoolBackend, init_ray
    from zerosearch_gym.llm import tiny_model

    folder = tmp_path_factory.getbasetemp() / "tiny-simulator"
    if not (folder / "config.json").exists():
        model, tok = tiny_model()
        model.save_pretrained(folder)
        tok.save_pretrained(folder)
    init_ray(num_cpus=2)
    pool = RayPoolBackend(f"hf:{folder}?max_new_tokens=48&device=cpu", replicas=replicas, num_cpus=1)
    batch = [SearchRequest(f"query {i}", f"question {i}", ("a",), True, seed=i) for i in range(16)]
    try:
        pool.search(batch)  # warm up
        times = []
        for _ in range(3):
            start = time.perf_counter()
            pool.search(batch)
            times.append(time.perf_counter() - start)
    finally:
        pool.close()
        ray.shutdown()
    rate = len(batch) / min(times)
    RESULTS["ray", replicas] = rate
    base = RESULTS.get(("ray", 1))
    print(f"\nray: backend, {replicas} replica(s) of a tiny hf simulator: {rate:,.1f} searches/s"
          + (f" ({rate / base:.2f}x one replica, ideal 2x)" if base and replicas > 1 else ""))
