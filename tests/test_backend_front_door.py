"""Faults driven through the front door: ``env.step`` and the vector env against real misbehaving servers on
127.0.0.1. Every step returns (bounded by the backend's deadline), a failed search is an
``info["backend_error"]`` with the "no information" observation, and a failure stays with its own episode."""
from __future__ import annotations

import time

import numpy as np
import pytest
from fake_servers import FakeServer, refused_url

from zerosearch_gym import ZeroSearchEnv, ZeroSearchVectorEnv
from zerosearch_gym.protocol import NO_INFORMATION

FAST = "timeout=1&max_retries=1&backoff=0.01"
BOUND = 8.0  # seconds: far above every deadline used here (~3 s), far below a hang


@pytest.fixture
def server():
    with FakeServer(slow_s=30.0) as s:
        s.drip_s, s.retry_after = 0.2, 3600
        yield s


def one_search(spec: str, examples, query: str = "capital"):
    env = ZeroSearchEnv(backend=spec, dataset=examples, verify=0)  # the transport is the subject here
    env.reset(seed=0)
    start = time.perf_counter()
    obs, reward, terminated, truncated, info = env.step(f"<search>{query}</search>")
    elapsed = time.perf_counter() - start
    env.close()
    return obs, info, elapsed, (reward, terminated, truncated)


@pytest.mark.parametrize("fault, message", [
    ("slow", "timed out after 1s after 2 attempts"),  # a hanging server
    ("drip", "timed out after 1s after 2 attempts"),  # a slow drip of bytes
    ("cut", "connection failed (RemoteProtocolError"),  # a body cut off before Content-Length
    ("huge", "larger than max_body_bytes="),  # a 30 MB body
    ("hugestream", "larger than max_body_bytes="),  # the same, streamed without Content-Length
    ("latin1", "response body is not UTF-8"),
    ("429", "Retry-After 3600"),  # a long Retry-After: the request ends at once
    ("500", "HTTP 500"),
    ("badjson", "malformed JSON"),
])
@pytest.mark.parametrize("kind", ["openai", "http-retriever"])
def test_each_fault_is_a_bounded_step_with_a_clear_error(server, examples, kind, fault, message):
    url = server.url if kind == "openai" else server.retrieve_url
    server.set_fault(fault)
    obs, info, elapsed, (reward, terminated, truncated) = one_search(f"{kind}:{url}?{FAST}", examples)
    assert elapsed < BOUND
    assert info["backend_error"].startswith(f"{kind} backend: ") and message in info["backend_error"], info
    assert NO_INFORMATION in obs and (reward, terminated, truncated) == (0.0, False, False)


@pytest.mark.parametrize("kind", ["openai", "http-retriever"])
def test_connection_refused_through_the_env(examples, kind):
    obs, info, elapsed, _ = one_search(f"{kind}:{refused_url()}?{FAST}", examples)
    assert elapsed < BOUND and "connection failed (ConnectError" in info["backend_error"] and NO_INFORMATION in obs


def test_a_healthy_server_through_the_env_has_no_error(server, examples):
    obs, info, _, _ = one_search(f"openai:{server.url}?{FAST}", examples)
    assert info["backend_error"] == "" and info["backend_warning"] == "" and "Doc 5:" in obs


def test_a_malformed_simulator_answer_is_a_warning_in_info(server, examples):
    obs, info, _, _ = one_search(f"openai:{server.url}?{FAST}", examples, "q #fault=emptydoc")
    assert info["backend_warning"] == "simulator wrote 2 of 5 documents; Doc 1 was empty"
    assert "Doc 1: b" in obs and info["backend_error"] == ""


def test_empty_retriever_documents_are_a_warning_in_info(server, examples):
    server.set_fault("blankhit")
    obs, info, _, _ = one_search(f"http-retriever:{server.retrieve_url}?{FAST}", examples)
    assert info["backend_warning"] == "1 of 5 retrieved documents had empty contents (left out)"
    assert "(Title: )" not in obs


def vector_step(spec: str, examples, queries: list[str]):
    envs = ZeroSearchVectorEnv(num_envs=len(queries), backend=spec, dataset=examples, verify=0)
    envs.reset(seed=0)
    start = time.perf_counter()
    obs, _, _, _, infos = envs.step([f"<search>{q}</search>" for q in queries])
    elapsed = time.perf_counter() - start
    envs.close()
    return obs, infos, elapsed


@pytest.mark.parametrize("kind", ["openai", "http-retriever", "bm25"])
def test_a_bad_request_inside_a_good_batch_fails_alone(server, examples, kind):
    """A lone surrogate in one of 4 queries: only that episode gets an error (bm25 searches it, with cache)."""
    spec = {"openai": f"openai:{server.url}?{FAST}", "http-retriever": f"http-retriever:{server.retrieve_url}?{FAST}",
            "bm25": "bm25"}[kind]
    queries = ["capital of France", "Hamlet \ud800 author", "largest planet", "\ud800"]
    envs = ZeroSearchVectorEnv(num_envs=4, backend=spec, dataset=examples, cache=True, verify=0)
    envs.reset(seed=0)
    obs, _, _, _, infos = envs.step([f"<search>{q}</search>" for q in queries])
    envs.close()
    errors = infos["backend_error"].tolist()
    for i in (0, 2):
        assert errors[i] == "" and "Doc 1:" in obs[i], (i, errors[i], obs[i][:200])
    if kind == "bm25":
        assert errors == ["", "", "", ""]
    else:
        assert all("not valid Unicode" in errors[i] for i in (1, 3)), errors


def test_a_client_error_inside_a_good_batch_fails_alone(server, examples):
    obs, infos, _ = vector_step(f"openai:{server.url}?{FAST}", examples, ["a", "b #fault=400", "c", "d"])
    errors = infos["backend_error"].tolist()
    assert "HTTP 400" in errors[1] and errors[0] == errors[2] == errors[3] == ""


def test_a_server_killed_mid_batch_fails_only_its_episodes(examples):
    with FakeServer(latency=0.2) as a, FakeServer(latency=0.2) as b:
        spec = f"openai:{a.url},{b.url}?timeout=2&max_retries=0"
        queries = ["a0", "b0", "a1 #fault=kill", "b1", "a2", "b2"]  # request i goes to server i mod 2
        obs, infos, elapsed = vector_step(spec, examples, queries)
        assert a.dead and not b.dead and elapsed < BOUND
    errors = infos["backend_error"].tolist()
    assert all("connection failed" in errors[i] for i in (0, 2, 4)), errors
    assert all(errors[i] == "" and "Doc 5:" in obs[i] for i in (1, 3, 5)), errors


def test_a_hanging_server_bounds_every_vector_step(server, examples):
    server.set_fault("slow")
    _, infos, elapsed = vector_step(f"openai:{server.url}?timeout=0.5&max_retries=0", examples, ["a", "b", "c"])
    assert elapsed < BOUND and all("timed out after 0.5s" in e for e in infos["backend_error"]), infos
    assert np.all(infos["_backend_error"])
