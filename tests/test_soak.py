"""Soak test (slow suite): 10,000 vector-env steps against a local simulator server that fails 10 % of its
requests at random. No step hangs, every failure reaches the env as exactly one ``backend_error``, every
other search is answered, and the process memory stays flat.

Run: ``python -m pytest tests/test_soak.py -m slow -s`` (prints the figures recorded in RESULTS.md).
"""
from __future__ import annotations

import os
import time

import pytest
from fake_servers import FakeServer

from zerosearch_gym import ZeroSearchVectorEnv

STEPS, N, WARMUP = int(os.environ.get("ZS_SOAK_STEPS", 10_000)), 4, 1_000  # fewer steps: a quicker look


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


@pytest.mark.slow
def test_soak_10k_vector_steps_with_random_server_failures(examples):
    with FakeServer(fail_rate=0.1, seed=0) as server:
        server.keep_records = False  # the server shares this process: keep its memory flat too
        server.set_fault("random")
        envs = ZeroSearchVectorEnv(num_envs=N, backend=f"openai:{server.url}?timeout=5&max_retries=0",
                                   dataset=examples, max_turns=4)
        envs.reset(seed=0)
        errors = answered = 0
        slowest, rss_start = 0.0, None
        for step in range(STEPS):
            start = time.perf_counter()
            obs, _, _, _, infos = envs.step([f"<search>query {step} {i}</search>" for i in range(N)])
            slowest = max(slowest, time.perf_counter() - start)
            mask = infos.get("_backend_error")
            for i in range(N):
                if mask is None or not mask[i] or infos["action"][i] != "search" or not infos["query"][i]:
                    continue
                if infos["backend_error"][i]:
                    assert "HTTP 500" in infos["backend_error"][i]
                    errors += 1
                else:
                    assert "Doc 5:" in obs[i]
                    answered += 1
            if step == WARMUP:
                rss_start = rss_mb()
        rss_end = rss_mb()
        envs.close()
        failed, served = server.failed, server.served
    print(f"\nsoak: {STEPS} vector steps x {N} envs, {served} requests, {failed} failed by the server "
          f"({failed / served:.1%}), {errors} backend errors in infos, {answered} answered; slowest step "
          f"{slowest * 1e3:.0f} ms; RSS {rss_start:.1f} -> {rss_end:.1f} MB after step {WARMUP}")
    assert errors == failed and answered == served - failed and errors + answered == served
    assert served > STEPS * N // 2 and 0.07 < failed / served < 0.13
    assert slowest < 10.0  # no hang: every step ends within the backend's deadline
    assert rss_end - rss_start < 25.0  # flat, within allocator noise
