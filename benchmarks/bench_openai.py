"""``openai:`` backend throughput against a local server with a fixed 50 ms per-request latency: 64 search
requests sent concurrently vs one at a time (``concurrency=1``), plus the backend's own per-request
overhead against an instant server: the request sent through the client's transport (now) vs through
``httpx.AsyncClient.send`` (before), interleaved in the same run.

Run: ``python -m pytest benchmarks/bench_openai.py -o addopts="" -s`` (prints the speed-up).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fake_servers import server_process

from zerosearch_gym.backends import SearchRequest, _http
from zerosearch_gym.backends.openai_compat import OpenAIBackend

N = 64
LATENCY = 0.05
REQUESTS = [SearchRequest(f"query {i}", f"question {i}", (f"answer {i}",), useful=i % 2 == 0) for i in range(N)]


def _ok(results) -> None:
    assert all(isinstance(docs, list) and len(docs) == 5 for docs in results), results


def test_concurrent_vs_sequential(benchmark):
    with server_process(latency=LATENCY) as url, OpenAIBackend(url, concurrency=N) as fast, \
            OpenAIBackend(url, concurrency=1) as slow:
        _ok(fast.search(REQUESTS))  # warm up: connections open
        _ok(slow.search(REQUESTS[:2]))
        benchmark.pedantic(lambda: _ok(fast.search(REQUESTS)), rounds=10, iterations=1)
        concurrent = benchmark.stats.stats.median
        start = time.perf_counter()
        _ok(slow.search(REQUESTS))
        sequential = time.perf_counter() - start
    ratio = sequential / concurrent
    benchmark.extra_info.update(sequential_s=sequential, concurrent_median_s=concurrent, speedup=ratio)
    print(f"\n{N} requests x {LATENCY * 1e3:.0f} ms: concurrent {concurrent * 1e3:.0f} ms (median), "
          f"one at a time {sequential * 1e3:.0f} ms -> {ratio:.1f}x faster "
          f"(ideal: {LATENCY * 1e3:.0f} ms vs {N * LATENCY * 1e3:.0f} ms)")
    assert ratio > 3  # a sanity floor that holds on a loaded 2-core machine


async def _fetch_via_client(client, url, body, max_bytes):
    """The previous request path: ``AsyncClient.send`` with all its per-request layers."""
    request = client.build_request("POST", url, content=body)
    response = await client.send(request, stream=True)
    try:
        return response, await response.aread()
    finally:
        await response.aclose()


def test_backend_overhead_per_request(benchmark, monkeypatch):
    fast = _http._fetch
    with server_process() as url, OpenAIBackend(url, concurrency=N) as backend:
        _ok(backend.search(REQUESTS))
        benchmark.pedantic(lambda: _ok(backend.search(REQUESTS)), rounds=10, iterations=1)
        times = {"transport": [], "client": []}
        for _ in range(15):  # interleaved, so machine load hits both alike
            for name, fetch in (("transport", fast), ("client", _fetch_via_client)):
                monkeypatch.setattr(_http, "_fetch", fetch)
                start = time.perf_counter()
                _ok(backend.search(REQUESTS))
                times[name].append((time.perf_counter() - start) / N)
    now, before = (sorted(times[k])[7] for k in ("transport", "client"))
    per_request = benchmark.stats.stats.median / N
    benchmark.extra_info.update(per_request_ms=per_request * 1e3, before_ms=before * 1e3, after_ms=now * 1e3)
    print(f"\ninstant server: {per_request * 1e3:.2f} ms per request ({1 / per_request:.0f} requests/s, "
          "client + stdlib server in another process)")
    print(f"medians of 15 interleaved batches of {N}: via AsyncClient.send {before * 1e3:.2f} ms/request, via the "
          f"transport {now * 1e3:.2f} ms/request -> {before / now:.2f}x")
