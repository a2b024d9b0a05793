"""Fault handling of the ``openai:`` backend against real misbehaving servers on 127.0.0.1: refused
connections, timeouts, 429/5xx with retries, bad bodies, a server killed mid-batch, the overall deadline.
Each fault hits only its own request; nothing hangs (small timeouts keep this file fast)."""
from __future__ import annotations

import time

import pytest
from fake_servers import FakeServer, backend_builder, refused_url

from zerosearch_gym.backends import BackendError, SearchRequest
from zerosearch_gym.backends.openai_compat import OpenAIBackend, RetryPolicy


def req(query: str, top_k: int = 5) -> SearchRequest:
    return SearchRequest(query, f"question for {query}", ("gold",), useful=True, top_k=top_k)


@pytest.fixture
def server():
    with FakeServer(slow_s=5.0) as s:
        yield s


@pytest.fixture
def make():
    """Build backends with test-sized timeouts; close them all afterwards."""
    with backend_builder(OpenAIBackend, timeout=0.5, backoff=0.01, max_retries=2) as build:
        yield build


def attempts_of(server: FakeServer, query: str) -> list[dict]:
    return [r for r in server.requests if r["query"] == query]


def test_connection_refused_is_an_error_after_all_attempts(make):
    url = refused_url()
    start = time.perf_counter()
    [result] = make(url).search([req("q")])
    assert isinstance(result, BackendError)
    assert "connection failed (ConnectError" in result.message
    assert result.message.endswith(f"after 3 attempts ({url}/chat/completions)")
    assert time.perf_counter() - start < 2


def test_slow_server_times_out_but_the_rest_of_the_batch_is_fine(server, make):
    backend = make(server.url, max_retries=1)
    start = time.perf_counter()
    results = backend.search([req("a"), req("b #fault=slow"), req("c")])
    assert time.perf_counter() - start < 3.5  # 2 attempts x 0.5 s, not the server's 5 s
    assert isinstance(results[1], BackendError) and "timed out after 0.5s after 2 attempts" in results[1].message
    assert len(results[0]) == len(results[2]) == 5
    assert len(attempts_of(server, "b #fault=slow")) == 2
    assert backend.last_stats["errors"] == 1 and backend.last_stats["retries"] == 1


def test_429_waits_for_retry_after_then_succeeds(server, make):
    server.retry_after = 0.4
    backend = make(server.url)
    [docs] = backend.search([req("q #fault=429x1")])
    assert len(docs) == 5 and backend.last_stats["retries"] == 1
    first, second = attempts_of(server, "q #fault=429x1")
    assert second["t"] - first["t"] >= 0.35  # honoured Retry-After, not the 0.01 s backoff


def test_retry_after_is_capped(server, make):
    server.retry_after = 30
    start = time.perf_counter()
    [docs] = make(server.url, max_retry_after=0.1).search([req("q #fault=429x1")])
    assert len(docs) == 5 and time.perf_counter() - start < 3.0


@pytest.mark.parametrize("fault", ["500", "drop"])
def test_transient_fault_then_success(server, make, fault):
    backend = make(server.url)
    results = backend.search([req(f"q #fault={fault}x2"), req("fine")])
    assert len(results[0]) == 5 and len(results[1]) == 5
    assert len(attempts_of(server, f"q #fault={fault}x2")) == 3 and backend.last_stats["retries"] == 2


def test_persistent_500_is_an_error_naming_attempts_and_url(server, make):
    [result] = make(server.url).search([req("q #fault=500")])
    assert isinstance(result, BackendError)
    assert result.message.startswith("openai backend: HTTP 500")
    assert result.message.endswith(f"after 3 attempts ({server.url}/chat/completions)")


def test_client_errors_are_not_retried(server, make):
    [result] = make(server.url).search([req("q #fault=400")])
    assert isinstance(result, BackendError) and "HTTP 400" in result.message and "not retried" in result.message
    assert len(attempts_of(server, "q #fault=400")) == 1


@pytest.mark.parametrize("fault, message", [
    ("badjson", "openai backend: malformed JSON"),
    ("nofields", "openai backend: response has no choices[0].message.content"),
    ("empty", "openai backend: empty simulator output (finish_reason 'stop')"),
])
def test_bad_bodies_are_errors_for_their_request_only(server, make, fault, message):
    backend = make(server.url)
    results = backend.search([req("before"), req(f"q #fault={fault}"), req("after")])
    assert isinstance(results[1], BackendError) and results[1].message.startswith(message)
    assert len(results[0]) == len(results[2]) == 5
    assert len(attempts_of(server, f"q #fault={fault}")) == 1  # a bad body is not retried


def test_partial_or_unmarked_output_is_returned_with_a_warning(server, make):
    backend = make(server.url)
    results = backend.search([req("q #fault=partial"), req("fine"), req("q #fault=nodocs")])
    assert [d.split(" |")[0] for d in results[0]] == ["useful doc 1", "useful doc 2"]
    assert results[0].malformed == "simulator wrote 2 of 5 documents"
    assert results[2] == ["I cannot write documents for this."]
    assert results[2].malformed == 'no "Doc i:" markers in simulator output'
    assert len(results[1]) == 5 and not results[1].malformed
    assert backend.last_stats["malformed"] == 2 and backend.last_stats["errors"] == 0


def test_server_killed_mid_batch_fails_only_its_requests():
    with FakeServer(latency=0.2) as a, FakeServer(latency=0.2) as b:
        backend = OpenAIBackend([a.url, b.url], timeout=2.0, max_retries=0)
        queries = ["a0", "b0", "a1 #fault=kill", "b1", "a2", "b2"]  # even → server a, odd → server b
        results = backend.search([req(q) for q in queries])
        backend.close()
        assert a.dead and not b.dead
    for q, result in zip(queries, results):
        if q.startswith("a"):
            assert isinstance(result, BackendError) and "connection failed" in result.message, (q, result)
        else:
            assert len(result) == 5, (q, result)


def test_retry_moves_to_the_next_server():
    with FakeServer() as live:
        dead_url = refused_url()
        backend = OpenAIBackend([dead_url, live.url], timeout=1.0, backoff=0.01, max_retries=1)
        results = backend.search([req(f"q{i}") for i in range(4)])
        backend.close()
    assert all(len(docs) == 5 for docs in results)
    assert len(live.requests) == 4 and backend.last_stats["retries"] == 2


def test_overall_deadline_bounds_the_batch(server, make):
    backend = make(server.url, timeout=5.0, deadline=1.0)  # room for "fast" on a loaded machine
    start = time.perf_counter()
    results = backend.search([req("q #fault=slow"), req("fast")])
    assert time.perf_counter() - start < 3.0
    assert isinstance(results[0], BackendError) and "overall deadline of 1s exceeded" in results[0].message
    assert len(results[1]) == 5


def test_worst_case_budget_covers_retries():
    policy = RetryPolicy(timeout=2.0, max_retries=2, backoff=0.5, max_retry_after=3.0)
    # every attempt's timeout, the backoff waits and a second of slack; Retry-After never extends it
    assert policy.attempts == 3 and policy.budget() == pytest.approx(3 * 2.0 + 0.5 + 1.0 + 1.0)
    assert policy.delay(0) == 0.5 and policy.delay(2) == 2.0
    with pytest.raises(ValueError, match="expected max_retries to be an int >= 0, got -1"):
        RetryPolicy(max_retries=-1)
