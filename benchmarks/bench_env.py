"""Env overhead per step with an instant in-process backend: single env vs vector env at N = 1, 16, 256, 1024.

Run: ``pytest benchmarks/bench_env.py -o addopts=""``. Each round runs episodes of search, search, answer
(two searches and one answer per episode, so 1/3 of the steps end an episode). The printed figure is
env-steps per second (sub-env steps, i.e. N per vector step) and the ratio to the single env of the same run.
"""
import re
import time

import numpy as np
import pytest

from agents.episodes import PLAY_INFO_KEYS
from zerosearch_gym import QAExample, ZeroSearchEnv, ZeroSearchVectorEnv, parse_action

EXAMPLES = [QAExample(str(i), f"Question number {i}?", (f"answer {i}",)) for i in range(100)]
TURNS = ["<think>look</think><search>alpha beta</search>", "<think>more</think><search>gamma</search>",
         "<think>done</think><answer>answer 7</answer>"]
RESULTS: dict = {}


class Instant:
    def search(self, requests):
        return [["document text"] * r.top_k for r in requests]


def _single(steps: int) -> None:
    env = ZeroSearchEnv(backend=Instant(), dataset=EXAMPLES)
    env.reset(seed=0)
    for i in range(steps):
        if any(env.step(TURNS[i % 3])[2:4]):
            env.reset()


def _vector(envs: ZeroSearchVectorEnv, rounds: int) -> None:
    n = envs.num_envs
    for i in range(rounds):
        envs.step_active([TURNS[i % 3]] * n, np.ones(n, dtype=bool))
        if i % 3 == 2:
            envs.reset()


def test_single_env(benchmark):
    steps = 3000
    benchmark.pedantic(_single, args=(steps,), rounds=5, iterations=1)
    RESULTS[1, "single"] = steps / benchmark.stats["mean"]
    print(f"\nsingle env: {RESULTS[1, 'single']:,.0f} env-steps/s")


@pytest.mark.parametrize("lean", [True, False], ids=["lean-infos", "all-infos"])
@pytest.mark.parametrize("n", [1, 16, 256, 1024])
def test_vector_env(benchmark, n, lean):
    """``lean`` (the trainers' path): the info keys ``agents.episodes.play`` reads; else every key."""
    keys = PLAY_INFO_KEYS if lean else None
    envs = ZeroSearchVectorEnv(num_envs=n, backend=Instant(), dataset=EXAMPLES, info_keys=keys)
    envs.reset(seed=0)
    rounds = max(3, 3000 // n // 3 * 3)
    benchmark.pedantic(_vector, args=(envs, rounds), rounds=5, iterations=1)
    rate = rounds * n / benchmark.stats["mean"]
    RESULTS[n, "vector", lean] = rate
    base = RESULTS.get((1, "single"))
    ratio = f" ({rate / base:.2f}x the single env)" if base else ""
    print(f"\nvector env N={n}{' lean infos' if lean else ''}: {rate:,.0f} env-steps/s{ratio}")


def test_single_env_bm25(benchmark):
    """A full env step with the real BM25 backend over the 10,033 offline summaries (search turns only)."""
    env = ZeroSearchEnv(backend="bm25", max_turns=1000)
    env.reset(seed=0)
    steps = 300
    turns = [f"<search>{q}</search>" for q in ("capital of France", "Shakespeare plays", "largest planet")]

    def run():
        for i in range(steps):
            env.step(turns[i % 3])

    benchmark.pedantic(run, rounds=3, iterations=1)
    print(f"\nsingle env, bm25 search steps: {steps / benchmark.stats['mean']:,.0f} steps/s "
          f"({benchmark.stats['mean'] / steps * 1e3:.2f} ms/step)")


REFERENCE_ACTION_RE = re.compile(r"<(search|answer)>(.*?)</\1>", re.DOTALL)  # ZeroSearch's rule, quadratic


@pytest.mark.parametrize("chars", [8_000, 64_000, 200_000])
def test_parse_unclosed_searches(benchmark, chars):
    """A turn of repeated unclosed ``<search>`` tags: linear parsing vs the plain regex (run at 8k only)."""
    turn = "<search>" * (chars // 8)
    benchmark.pedantic(parse_action, args=(turn,), rounds=5, iterations=1)
    ours = benchmark.stats["median"]
    line = f"\nparse {chars:,} chars of unclosed <search>: {ours * 1e3:.2f} ms"
    if chars == 8_000:
        start = time.perf_counter()
        REFERENCE_ACTION_RE.search(turn)
        regex = time.perf_counter() - start
        line += f" (plain regex: {regex * 1e3:.1f} ms, {regex / ours:.0f}x slower)"
    print(line)
