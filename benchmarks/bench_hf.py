"""The `hf` simulator backend (offline SmolLM2-135M-Instruct on this machine's device): one batched
generation call for 8 searches vs 8 calls of one. Prints documents/s, generated tokens/s and the ratio.

Run: ``pytest benchmarks/bench_hf.py -o addopts="" -s``.
"""
import pytest

from zerosearch_gym import SearchRequest, make_backend

N, NEW_TOKENS = 8, 64
RESULTS: dict = {}


@pytest.fixture(scope="module")
def backend():
    return make_backend(f"hf:?adapter=none&max_new_tokens={NEW_TOKENS}&seeding=batch")  # untuned; one call per batch


def _requests():
    return [SearchRequest(f"fact number {i} about Paris", f"Question {i} about Paris?", ("Paris",), useful=i % 2 == 0,
                          seed=i) for i in range(N)]


def _run(backend, batched: bool) -> tuple[int, int]:
    reqs = _requests()
    batches = [reqs] if batched else [[r] for r in reqs]
    docs = tokens = 0
    for batch in batches:
        results = backend.search(batch)
        docs += sum(len(r) for r in results if isinstance(r, list))
        tokens += backend.last_stats["generated_tokens"]
    return docs, tokens


@pytest.mark.parametrize("batched", [False, True], ids=["one-at-a-time", "batched"])
def test_hf_simulator(benchmark, backend, batched):
    docs, tokens = benchmark.pedantic(_run, args=(backend, batched), rounds=2, iterations=1, warmup_rounds=0)
    seconds = benchmark.stats["mean"]
    RESULTS[batched] = tokens / seconds
    print(f"\nhf SmolLM2 {'batched' if batched else 'one-at-a-time'}: {N / seconds:.2f} searches/s, "
          f"{docs / seconds:.2f} documents/s, {tokens / seconds:.1f} generated tokens/s")
    if batched and False in RESULTS:
        print(f"batched / one-at-a-time (tokens/s): {RESULTS[True] / RESULTS[False]:.2f}x")
