"""The ``openai:`` backend against a real fake chat-completions server on 127.0.0.1: documents, pairing,
payload, round robin, real concurrency, specs, and calling it from threads and running loops."""
from __future__ import annotations

import asyncio
import gc
import threading

import pytest
from fake_servers import FakeServer, backend_builder

from zerosearch_gym.backends import BackendError, SearchRequest, make_backend
from zerosearch_gym.backends.openai_compat import OpenAIBackend, RetryPolicy
from zerosearch_gym.backends.simulator_prompts import simulator_prompt


def req(i: int, useful: bool = True, **kw) -> SearchRequest:
    return SearchRequest(f"query {i}", f"question {i}", (f"answer {i}", "other"), useful=useful, **kw)


@pytest.fixture
def server():
    with FakeServer() as s:
        yield s


@pytest.fixture
def make():
    """Build backends with test-sized timeouts; close them all afterwards."""
    with backend_builder(OpenAIBackend, timeout=2.0, backoff=0.01) as build:
        yield build


def test_documents_are_parsed_and_paired_with_their_own_episode(server, make):
    requests = [req(i, useful=i % 2 == 0) for i in range(6)]
    results = make(server.url).search(requests)
    assert len(results) == 6
    for i, docs in enumerate(results):
        kind = "useful" if i % 2 == 0 else "noisy"
        assert docs == [f"{kind} doc {d} | query [query {i}] | question [question {i}?] | answer [answer {i}]"
                        for d in range(1, 6)]
    by_query = {r["query"]: r for r in server.requests}
    for i in range(6):  # each episode's question and first answer reached the server with its query
        assert (by_query[f"query {i}"]["question"], by_query[f"query {i}"]["answer"]) == (f"question {i}?",
                                                                                          f"answer {i}")


def test_payload_is_the_simulator_chat_request(server, make):
    backend = make(server.url, model="sim-14b", mode="prompt", temperature=0.5, max_tokens=77, top_p=0.9,
                   api_key="sk-test")
    backend.search([req(0, seed=123), req(1)])
    bodies = {r["query"]: r for r in server.requests}
    body = bodies["query 0"]["body"]
    assert body["model"] == "sim-14b" and body["temperature"] == 0.5 and body["max_tokens"] == 77
    assert body["top_p"] == 0.9 and body["seed"] == 123 and "seed" not in bodies["query 1"]["body"]
    assert body["messages"] == [{"role": "system", "content": ""},
                                {"role": "user", "content": simulator_prompt(req(0, seed=123), "prompt")}]
    assert bodies["query 0"]["headers"]["Authorization"] == "Bearer sk-test"
    assert bodies["query 0"]["path"] == "/v1/chat/completions"


def test_defaults_follow_zerosearch_and_no_key_means_no_auth_header(server, make, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    make(server.url + "/").search([req(0)])  # a trailing slash is fine
    body, headers = server.requests[0]["body"], server.requests[0]["headers"]
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("simulator", 0.8, 600)
    assert "top_p" not in body and "Authorization" not in headers


def test_round_robin_over_servers_carries_on_between_calls(make):
    with FakeServer() as a, FakeServer() as b:
        backend = make([a.url, b.url])
        backend.search([req(i) for i in range(4)])
        assert sorted(r["query"] for r in a.requests) == ["query 0", "query 2"]
        assert sorted(r["query"] for r in b.requests) == ["query 1", "query 3"]
        for i in range(4):  # batches of one alternate too
            backend.search([req(10 + i)])
        assert len(a.requests) == len(b.requests) == 4


def test_batch_goes_out_concurrently():
    with FakeServer(latency=0.5) as server, OpenAIBackend(server.url, timeout=5.0) as backend:
        results = backend.search([req(i) for i in range(16)])
        assert all(len(docs) == 5 for docs in results)
        assert server.max_inflight >= 12  # 16 sequential requests would never overlap


def test_concurrency_limit_is_respected():
    with FakeServer(latency=0.3) as server, OpenAIBackend(server.url, timeout=5.0, concurrency=3) as backend:
        assert all(len(d) == 5 for d in backend.search([req(i) for i in range(6)]))
        assert server.max_inflight == 3


def test_last_stats(server, make):
    backend = make(server.url)
    backend.search([req(0), req(1, top_k=3)])
    stats = backend.last_stats
    assert stats["requests"] == 2 and stats["errors"] == 0 and stats["retries"] == 0 and stats["malformed"] == 0
    assert stats["latency_s"] > 0 and len(stats["request_latency_s"]) == 2
    assert make(server.url).search([]) == []


def test_top_k_keeps_the_first_documents(server, make):
    docs = make(server.url).search([req(0, top_k=3)])[0]
    assert [d.split(" |")[0] for d in docs] == ["useful doc 1", "useful doc 2", "useful doc 3"]


def test_search_works_from_a_worker_thread_and_inside_a_running_loop(server, make):
    backend = make(server.url)
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("docs", backend.search([req(0)])))
    thread.start()
    thread.join(10)
    assert len(out["docs"][0]) == 5

    async def inside_loop():
        return backend.search([req(1)])  # blocks this loop, but works

    assert len(asyncio.run(inside_loop())[0]) == 5


def test_backend_reopens_after_close(server, make):
    backend = make(server.url)
    assert len(backend.search([req(0)])[0]) == 5
    backend.close()
    assert len(backend.search([req(1)])[0]) == 5


def test_a_dropped_backend_stops_its_loop_thread(server):
    backend = OpenAIBackend(server.url)
    backend.search([req(0)])
    thread = backend._loop._thread
    assert thread.is_alive()
    del backend
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()


def test_make_backend_spec(server, monkeypatch):
    monkeypatch.setenv("ZEROSEARCH_OPENAI_MODEL", "env-model")
    backend = make_backend(f"openai:{server.url}")
    assert isinstance(backend, OpenAIBackend) and backend.model == "env-model"
    assert backend.urls == [server.url + "/chat/completions"]
    assert len(backend.search([req(0)])[0]) == 5
    backend.close()


def test_spec_options_and_several_urls():
    backend = make_backend("openai:http://a:1/v1, http://b:2/v1?model=m&mode=prompt&timeout=7&max_retries=1&top_p=0.5")
    assert backend.urls == ["http://a:1/v1/chat/completions", "http://b:2/v1/chat/completions"]
    assert (backend.model, backend.mode, backend.top_p) == ("m", "prompt", 0.5)
    assert backend.policy == RetryPolicy(timeout=7.0, max_retries=1, backoff=0.5, max_body_bytes=2**20)


@pytest.mark.parametrize("spec, message", [
    ("", "expected 'openai:http://host:port/v1"),
    ("127.0.0.1:8000/v1", "expected server URLs like http://"),
    ("http://a/v1?colour=red", "unknown option 'colour'"),
    ("http://a/v1?timeout=soon", "expected timeout to be float, got 'soon'"),
    ("http://a/v1?mode=chat", "expected simulator mode 'sft', 'prompt', 'sft-blind', got 'chat'"),
    ("http://a/v1?timeout=0", "expected timeout > 0"),
    ("http://a/v1?concurrency=0", "expected concurrency to be an int >= 1, got 0"),
])
def test_bad_specs_say_what_was_expected(spec, message):
    with pytest.raises(ValueError, match=message.replace("?", r"\?")):
        make_backend(f"openai:{spec}")


def test_a_failure_is_a_value_not_an_exception(make):
    from fake_servers import refused_url

    result = make(refused_url(), max_retries=0).search([req(0)])[0]
    assert isinstance(result, BackendError) and result.message.startswith("openai backend: connection failed")
