"""The ``http-retriever:`` backend against a fake Search-R1 retrieval server on 127.0.0.1."""
from __future__ import annotations

import time

import pytest
from fake_servers import FakeServer, backend_builder, refused_url

from zerosearch_gym.backends import BackendError, SearchRequest, make_backend
from zerosearch_gym.backends.http_retriever import HTTPRetrieverBackend, format_document


def req(query: str, top_k: int = 3) -> SearchRequest:
    return SearchRequest(query, "some question", ("gold",), useful=True, top_k=top_k)


@pytest.fixture
def server():
    with FakeServer(slow_s=5.0) as s:
        yield s


@pytest.fixture
def make():
    """Build backends with test-sized timeouts; close them all afterwards."""
    with backend_builder(HTTPRetrieverBackend, timeout=0.5, backoff=0.01, max_retries=2) as build:
        yield build


def test_one_call_per_batch_in_search_r1_format(server, make):
    results = make(server.retrieve_url).search([req("paris", top_k=2), req("rome", top_k=3)])
    assert results == [['(Title: "Title 1 of paris") Text 1 about paris.', '(Title: "Title 2 of paris") Text 2 about paris.'],
                       [f'(Title: "Title {j} of rome") Text {j} about rome.' for j in (1, 2, 3)]]
    [call] = server.requests
    assert call["path"] == "/retrieve"
    assert call["body"] == {"queries": ["paris", "rome"], "topk": 3, "return_scores": True}


def test_documents_without_scores_and_flashrag_fields_are_understood():
    assert HTTPRetrieverBackend._results({"result": [[{"contents": "T\nbody  text"}]]}, [req("q")]) == [
        ["(Title: T) body text"]]
    assert format_document({"title": "T", "text": "x"}) == "(Title: T) x"


def test_url_without_path_gets_retrieve_and_spec_options():
    backend = make_backend("http-retriever:http://127.0.0.1:9, http://h:8000/custom?timeout=3&max_retries=0")
    assert backend.urls == ["http://127.0.0.1:9/retrieve", "http://h:8000/custom"]
    assert (backend.policy.timeout, backend.policy.max_retries) == (3.0, 0)


@pytest.mark.parametrize("spec, message", [
    ("", "expected 'http-retriever:http://host:port/retrieve'"),
    ("localhost:8000", "expected retriever URLs like http://"),
    ("http://a/retrieve?model=x", "unknown option 'model'"),
])
def test_bad_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        make_backend(f"http-retriever:{spec}")


def test_make_backend_spec(server):
    backend = make_backend(f"http-retriever:{server.retrieve_url}")
    assert isinstance(backend, HTTPRetrieverBackend) and len(backend.search([req("x")])[0]) == 3
    backend.close()


@pytest.mark.parametrize("fault", ["500", "429", "drop"])
def test_transient_fault_then_success(server, make, fault):
    server.retry_after = 0
    server.set_fault(fault, times=1)
    backend = make(server.retrieve_url)
    results = backend.search([req("a"), req("b")])
    assert [len(r) for r in results] == [3, 3]
    assert len(server.requests) == 2 and backend.last_stats["retries"] == 1


@pytest.mark.parametrize("fault, message", [
    ("500", "HTTP 500"),
    ("slow", "timed out after 0.5s after 3 attempts"),
    ("badjson", "malformed JSON"),
    ("nofields", "expected a 'result' list with one entry per query (2)"),
    ("partial", "expected a 'result' list with one entry per query (2), got 1 result lists"),
])
def test_a_failed_call_fails_every_request_of_the_batch(server, make, fault, message):
    server.set_fault(fault)
    backend = make(server.retrieve_url)
    start = time.perf_counter()
    results = backend.search([req("a"), req("b")])
    assert time.perf_counter() - start < 4.0  # 3 attempts x 0.5 s, not the server's 5 s
    assert all(isinstance(r, BackendError) and message in r.message for r in results), results
    assert results[0].message.startswith("http-retriever backend: ")
    assert backend.last_stats["errors"] == 2


def test_a_malformed_hit_fails_only_its_request(server, make):
    server.set_fault("badhit")
    results = make(server.retrieve_url).search([req("a"), req("b")])
    assert isinstance(results[0], BackendError) and "malformed hit" in results[0].message
    assert len(results[1]) == 3


def test_refused_then_next_url(server, make):
    dead = refused_url("/retrieve")
    [result] = make(dead, max_retries=1).search([req("a")])
    assert isinstance(result, BackendError) and result.message.endswith(f"after 2 attempts ({dead})")
    backend = make([dead, server.retrieve_url], max_retries=1)
    assert len(backend.search([req("a")])[0]) == 3 and backend.last_stats["retries"] == 1


def test_overall_deadline(server, make):
    server.set_fault("slow")
    backend = make(server.retrieve_url, timeout=5.0, deadline=1.0)
    start = time.perf_counter()
    [result] = backend.search([req("a")])
    assert time.perf_counter() - start < 3.0
    assert isinstance(result, BackendError) and "overall deadline of 1s exceeded" in result.message
