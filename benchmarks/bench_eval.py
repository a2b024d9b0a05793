"""Evaluation throughput: SmolLM2-135M-Instruct as a search policy over the shipped sample with BM25,
all episodes stepped together (one generate call and one backend call per turn) vs the same episodes one
at a time. Prints episodes/s, generated tokens/s and the ratio.

Run: ``pytest benchmarks/bench_eval.py -o addopts="" -s``.
"""
import pytest

from agents.evaluate import Decoding, evaluate_policy, load_eval_sets
from zerosearch_gym import make_backend

N, NEW_TOKENS = 8, 32
RESULTS: dict = {}


@pytest.fixture(scope="module")
def setup():
    from agents.policy import Policy

    policy = Policy.load("")  # the offline SmolLM2-135M-Instruct
    return policy, load_eval_sets(["sample:in-wiki"], limit=N), make_backend("bm25")


@pytest.mark.parametrize("batch_size", [1, N], ids=["one-at-a-time", "batched"])
def test_eval_throughput(benchmark, setup, batch_size):
    policy, sets, backend = setup
    decoding = Decoding(max_new_tokens=NEW_TOKENS, max_turns=1, batch_size=batch_size)
    result = benchmark.pedantic(evaluate_policy, args=(policy, sets, backend, decoding),
                                kwargs={"progress": False}, rounds=1, iterations=1, warmup_rounds=0)
    row = result["sets"]["sample:in-wiki"]
    seconds = benchmark.stats["mean"]
    tokens = row["tokens"] * row["n"]
    RESULTS[batch_size] = (row["n"] / seconds, tokens / seconds, row)
    print(f"\neval SmolLM2 + bm25, batch {batch_size}: {row['n'] / seconds:.3f} episodes/s, "
          f"{tokens / seconds:.1f} generated tokens/s ({tokens:.0f} tokens, F1 {row['f1']:.3f}, "
          f"valid actions {row['valid_action_rate']:.2f})")
    if batch_size == N and 1 in RESULTS:
        print(f"batched / one-at-a-time: {RESULTS[N][0] / RESULTS[1][0]:.2f}x episodes/s, "
              f"{RESULTS[N][1] / RESULTS[1][1]:.2f}x tokens/s")
