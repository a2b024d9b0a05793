"""Env overhead vs GEM and SkyRL-gym at N = 1, 16, 256 (the pytest-benchmark face of ``benchmarks/peers.py``).

Run: ``pytest benchmarks/bench_peers.py -o addopts="" -s`` with ``pip install zerosearch-gym[bench-peers]``;
skipped, with the reason, when the peers are not installed. Each test times one library at one N (median of
rounds); the last test prints the whole table from interleaved runs (``peers.table``) with ours ÷ best peer, the
vector env ÷ the single env, the reset time and the memory per env at N = 256 (``peers_memory``).
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import peers  # noqa: E402

pytestmark = pytest.mark.skipif(bool(peers.missing_peers()), reason=peers.missing_peers() or "peers installed")
STEPS = 3000
RATES: dict = {}


@pytest.mark.parametrize("name, n", [(name, n) for name, (_, sizes) in peers.RUNNERS.items() for n in sizes])
def test_env_steps(benchmark, name, n):
    run = peers.RUNNERS[name][0](n)
    episodes = max(1, STEPS // (3 * n))
    run(max(1, episodes // 10))  # warm up
    benchmark.pedantic(run, args=(episodes,), rounds=5, iterations=1)
    RATES[name, n] = episodes * 3 * n / benchmark.stats["median"]
    print(f"\n{name} N={n}: {RATES[name, n]:,.0f} env-steps/s")


def test_interleaved_table():
    """All libraries at all N, interleaved, medians, with resets and memory: the figures recorded in RESULTS.md."""
    import peers_memory

    medians = peers.table(reps=5, steps=STEPS, resets=peers_memory.resetters())
    print("\n" + peers_memory.render(medians, peers_memory.memory_table()))
    assert all(value > 0 for value in medians.values())
