"""Regressions and limits of the backends (each failed before its fix): one bad query never spoils a batch,
robust simulator-output parsing, cache keys that identify the backend, a deadline that bounds retries and
Retry-After waits, a cap on the response size, a warning for empty retriever documents."""
from __future__ import annotations

import time

import pytest
from fake_servers import FakeServer

from zerosearch_gym.backends import BackendError, SearchRequest, make_backend
from zerosearch_gym.backends.cache import CachedBackend
from zerosearch_gym.backends.http_retriever import HTTPRetrieverBackend
from zerosearch_gym.backends.openai_compat import OpenAIBackend
from zerosearch_gym.backends.retrieval import BM25Backend
from zerosearch_gym.backends.simulator_prompts import parse_documents

BAD = "\ud800"  # a lone surrogate: str, but not encodable as UTF-8
CORPUS_A = [{"title": "Paris", "text": "Paris is the capital of France."},
            {"title": "Rome", "text": "Rome is the capital of Italy."}]
CORPUS_B = [{"title": "Lyon", "text": "Lyon is a large city of France, not its capital."}]


def req(query: str, top_k: int = 3, question: str | None = None, **kw) -> SearchRequest:
    return SearchRequest(query, question or f"question about {query}", ("gold",), useful=True, top_k=top_k, **kw)


@pytest.fixture
def server():
    with FakeServer(slow_s=5.0) as s:
        yield s


# -- bug 1: a query that cannot be encoded fails only its own request ---------------------------------------
def _batch_of_four():
    return [req("capital France"), req(f"capital {BAD} Italy"), req("capital Italy"), req(BAD)]


@pytest.mark.parametrize("kind", ["openai", "http-retriever", "bm25-cached"])
def test_a_lone_surrogate_fails_only_its_own_request(server, kind):
    if kind == "openai":
        backend = OpenAIBackend(server.url, timeout=2.0)
    elif kind == "http-retriever":
        backend = HTTPRetrieverBackend(server.retrieve_url, timeout=2.0)
    else:
        backend = CachedBackend(BM25Backend.from_documents(CORPUS_A))
    try:
        results = backend.search(_batch_of_four())
    finally:
        backend.close()
    good = [0, 2] if kind != "bm25-cached" else [0, 1, 2]  # BM25 simply searches the words it knows
    for i, result in enumerate(results):
        if i in good:
            assert isinstance(result, list) and result, (i, result)
        elif kind != "bm25-cached":
            assert isinstance(result, BackendError) and "not valid Unicode" in result.message, (i, result)
    assert results[3] == [] or isinstance(results[3], BackendError)
    if kind == "http-retriever":
        [call] = server.requests  # the good queries still went out in one call
        assert call["queries"] == ["capital France", "capital Italy"]


# -- bug 2: simulator output parsing ------------------------------------------------------------------------
@pytest.mark.parametrize("text, top_k, docs, warning", [
    ("Doc 1:\nDoc 2: b\nDoc 3: c", 3, ["b", "c"], "simulator wrote 2 of 3 documents; Doc 1 was empty"),
    ("Doc 1: a\nDoc 2:   \nDoc 3:\n\nDoc 4: d", 4, ["a", "d"], "simulator wrote 2 of 4 documents; Doc 2, Doc 3 were empty"),
    ("**Doc 1:** a\n  Document 2. b\n\tDOC 3: c", 3, ["a", "b", "c"], None),
    ("Doc 1: see Doc 2: inline\nDoc 2: two", 2, ["see Doc 2: inline", "two"], None),
    ("Intro line\nDoc 1: a\ncontinued\nDoc 2: b", 2, ["a continued", "b"], None),
])
def test_document_markers_count_only_at_line_start(text, top_k, docs, warning):
    parsed = parse_documents(text, top_k)
    assert (parsed.documents, parsed.malformed) == (docs, warning)


def test_an_empty_simulator_document_is_a_warning_not_a_merge(server):
    with OpenAIBackend(server.url, timeout=2.0) as backend:
        [docs] = backend.search([req("q #fault=emptydoc")])
    assert list(docs) == ["b", "c"] and docs.malformed == "simulator wrote 2 of 3 documents; Doc 1 was empty"


# -- bug 3: the cache key identifies the backend -------------------------------------------------------------
def test_two_corpora_behind_one_sqlite_file_never_share_results(tmp_path):
    path = str(tmp_path / "cache.sqlite")
    a = CachedBackend(BM25Backend.from_documents(CORPUS_A), path=path)
    docs_a = a.search([req("capital France")])[0]
    a.close()
    b = CachedBackend(BM25Backend.from_documents(CORPUS_B), path=path)
    docs_b = b.search([req("capital France")])[0]
    assert not docs_b.cached and b.hits == 0 and docs_b != docs_a and docs_b[0].startswith("(Title: Lyon)")
    again = CachedBackend(BM25Backend.from_documents(CORPUS_A), path=path)  # same corpus: a hit
    assert again.search([req("capital France")])[0].cached
    assert again.search([req("capital France", question="another episode", seed=9)])[0].cached  # BM25 ignores them
    assert not again.search([req("capital France", top_k=1)])[0].cached


@pytest.mark.parametrize("change", [{"model": "other"}, {"mode": "prompt"}, {"temperature": 0.2},
                                    {"max_tokens": 50}, {"url": "second"}])
def test_two_simulators_behind_one_sqlite_file_never_share_results(tmp_path, server, change):
    path = str(tmp_path / "cache.sqlite")
    with FakeServer() as other:
        base = {"model": "sim", "mode": "sft", "temperature": 0.8, "max_tokens": 600}
        first = CachedBackend(OpenAIBackend(server.url, **base), path=path)
        first.search([req("q", seed=1)])
        first.close()
        url = other.url if change.get("url") else server.url
        second = CachedBackend(OpenAIBackend(url, **{**base, **{k: v for k, v in change.items() if k != "url"}}),
                               path=path)
        assert not second.search([req("q", seed=1)])[0].cached and second.hits == 0
        same = CachedBackend(OpenAIBackend(server.url, **base), path=path)
        assert same.search([req("q", seed=1)])[0].cached
        second.close(), same.close()


def test_hf_cache_identity_follows_the_weights():
    pytest.importorskip("torch")
    from zerosearch_gym.backends.hf import HFSimulatorBackend
    from zerosearch_gym.llm.models import tiny_model

    idents = [HFSimulatorBackend(model_obj=m, tokenizer=t, max_new_tokens=8).cache_identity()
              for m, t in (tiny_model(seed=0), tiny_model(seed=1), tiny_model(seed=0))]
    assert idents[0] != idents[1] and idents[0] == idents[2]
    assert idents[0]["max_new_tokens"] == 8 and idents[0]["mode"] == "sft"


# -- gap 6: the deadline bounds retries and Retry-After waits ------------------------------------------------
def test_a_long_retry_after_ends_the_request_at_once(server):
    server.retry_after = 3600
    with OpenAIBackend(server.url, timeout=1.0) as backend:
        start = time.perf_counter()
        results = backend.search([req("q #fault=429"), req("fine")])
        elapsed = time.perf_counter() - start
    assert elapsed < 3.0  # was 4 attempts with 10 s waits (34 s)
    assert isinstance(results[0], BackendError) and "Retry-After 3600" in results[0].message
    assert "beyond the step deadline" in results[0].message and len(results[1]) == 3


def test_max_retry_after_and_deadline_are_set_from_the_spec(server):
    server.retry_after = 3600
    backend = make_backend(f"openai:{server.url}?timeout=1&max_retry_after=0.1&max_retries=2&deadline=20")
    assert backend.policy.max_retry_after == 0.1 and backend.deadline == 20.0
    [result] = backend.search([req("q #fault=429x2")])  # two 429s, each followed by a 0.1 s wait, then documents
    backend.close()
    assert len(result) == 3 and backend.last_stats["retries"] == 2


# -- gap 7: a cap on the response size ------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["huge", "hugestream"])
@pytest.mark.parametrize("kind", ["openai", "http-retriever"])
def test_a_huge_body_is_a_clear_error(server, kind, fault):
    server.huge_bytes = 3 * 2**20
    backend = make_backend(f"{kind}:{server.url if kind == 'openai' else server.retrieve_url}?max_body_bytes=100000"
                           "&timeout=5")
    server.set_fault(fault)
    [result] = backend.search([req("q")])
    backend.close()
    assert isinstance(result, BackendError) and "larger than max_body_bytes=100,000" in result.message
    assert len(server.requests) == 1  # not retried


def test_a_non_utf8_body_is_a_clear_error(server):
    with OpenAIBackend(server.url, timeout=2.0) as backend:
        results = backend.search([req("q #fault=latin1"), req("fine")])
    assert isinstance(results[0], BackendError) and "response body is not UTF-8" in results[0].message
    assert len(results[1]) == 3


# -- gap 8: empty retriever documents are reported ----------------------------------------------------------
def test_empty_retriever_contents_are_left_out_with_a_warning(server):
    server.set_fault("blankhit")
    with HTTPRetrieverBackend(server.retrieve_url, timeout=2.0) as backend:
        [docs] = backend.search([req("paris")])
    assert len(docs) == 2 and all("(Title: )" not in d for d in docs)
    assert docs.malformed == "1 of 3 retrieved documents had empty contents (left out)"
