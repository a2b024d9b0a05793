"""BM25 backend throughput on the offline Wikipedia summaries: one batched call vs one query per call, and
top-k selection among the non-zero scores vs bm25s's full top-k (the previous implementation), same run.

Run: ``HF_HUB_OFFLINE=1 python -m pytest benchmarks/bench_bm25.py -o addopts="" -s``
(``-s`` shows the printed index build time and the batched/single ratio).
"""
import time

import numpy as np
import pytest

from zerosearch_gym.backends import SearchRequest
from zerosearch_gym.backends.retrieval import BM25Backend, _Index, read_corpus
from zerosearch_gym.data import load_qa_dataset
from zerosearch_gym.offline import wiki_corpus_path

N_QUERIES = 256


@pytest.fixture(scope="module")
def backend():
    return BM25Backend()


@pytest.fixture(scope="module")
def requests():
    examples = load_qa_dataset(limit=N_QUERIES)
    return [SearchRequest(e.question, e.question, e.golden_answers, useful=True, top_k=5) for e in examples]


def search_one_by_one(backend, requests):
    return [backend.search([r])[0] for r in requests]


def test_index_build(benchmark):
    documents = read_corpus(wiki_corpus_path())
    index = benchmark.pedantic(_Index, args=(documents,), rounds=3, iterations=1)
    assert len(index.docs) == 10_033
    print(f"\nindex build: {benchmark.stats.stats.mean:.2f} s for {len(documents)} documents")


def test_batched(benchmark, backend, requests):
    results = benchmark(backend.search, requests)
    assert len(results) == N_QUERIES
    print(f"\nbatched: {N_QUERIES / benchmark.stats.stats.mean:,.0f} queries/s ({N_QUERIES} per call)")


def test_one_per_call(benchmark, backend, requests):
    results = benchmark(search_one_by_one, backend, requests)
    assert results == backend.search(requests)
    print(f"\none per call: {N_QUERIES / benchmark.stats.stats.mean:,.0f} queries/s")


def test_ratio(backend, requests):
    """Batched vs one-per-call in the same process, best of 5 each."""
    def best(fn):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    batched = best(lambda: backend.search(requests))
    single = best(lambda: search_one_by_one(backend, requests))
    print(f"\nbatched {N_QUERIES / batched:,.0f} q/s vs one per call {N_QUERIES / single:,.0f} q/s: "
          f"ratio {single / batched:.2f}x")
    assert batched > 0 and single > 0


def full_topk_search(index: _Index, queries, k: int):
    """The previous implementation: bm25s ``retrieve`` (scores and a top-k over the whole corpus)."""
    import bm25s

    tokenized = bm25s.tokenize(list(queries), stopwords="en", stemmer=index.stemmer, return_ids=False,
                               show_progress=False)
    known = [[t for t in q if t in index.retriever.vocab_dict] for q in tokenized]
    rows = [i for i, q in enumerate(known) if q]
    results = [[] for _ in queries]
    ids, scores = index.retriever.retrieve([known[i] for i in rows], k=k, show_progress=False)
    for row, doc_ids, doc_scores in zip(rows, ids, scores):
        results[row] = [index.docs[int(j)] for j, s in zip(doc_ids, doc_scores) if s > 0]
    return results


def test_nonzero_topk_vs_full_topk(backend, requests):
    """Top-k among the non-zero scores (now) vs bm25s's full top-k (before): medians of 7; the same ranked
    scores for every query (documents may differ only where scores tie: now corpus order decides)."""
    queries = [r.query for r in requests]
    index = backend._index

    def median(fn):
        times = []
        for _ in range(7):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return float(np.median(times))

    before = median(lambda: full_topk_search(index, queries, 5))
    after = median(lambda: index.search(queries, 5))
    position = {doc: j for j, doc in enumerate(index.docs)}
    now, then = index.search(queries, 5), full_topk_search(index, queries, 5)
    same = sum(a == b for a, b in zip(now, then))
    for query, a, b in zip(queries, now, then):
        scores = index.retriever.get_scores([t for t in bm25s_tokens(index, query)])
        assert np.allclose([scores[position[d]] for d in a], [scores[position[d]] for d in b])
    print(f"\n{N_QUERIES} queries, top 5: full top-k {before * 1e3:.0f} ms, non-zero top-k {after * 1e3:.0f} ms "
          f"-> {before / after:.2f}x; identical lists for {same}/{N_QUERIES} queries (the rest differ in tie order)")


def bm25s_tokens(index: _Index, query: str) -> list[str]:
    import bm25s

    tokens = bm25s.tokenize([query], stopwords="en", stemmer=index.stemmer, return_ids=False, show_progress=False)[0]
    return [t for t in tokens if t in index.retriever.vocab_dict]
