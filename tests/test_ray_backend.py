"""The ``ray:`` backend: 2 CPU actors on a local Ray instance, order kept, a killed actor's chunk retried."""
import os
import sys
import threading
import time

import pytest

ray = pytest.importorskip("ray")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from zerosearch_gym import SearchRequest, ZeroSearchEnv, make_backend  # noqa: E402
from zerosearch_gym.backends.base import BackendError  # noqa: E402
from zerosearch_gym.backends.ray_pool import RayPoolBackend, init_ray  # noqa: E402


class SlowEcho:
    """A CPU stand-in for a simulator replica: ``delay_s`` per request, documents name the query and the pid."""

    def __init__(self, delay_s=0.05):
        self.delay_s = delay_s

    def search(self, requests):
        time.sleep(self.delay_s * len(requests))
        return [[f"{r.query} from {os.getpid()}"] * r.top_k for r in requests]


@pytest.fixture(scope="module")
def local_ray():
    init_ray(num_cpus=2)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # replicas unpickle SlowEcho by value
    yield ray
    ray.shutdown()


def wait_dead(actor, timeout_s=60):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            ray.get(actor.pid.remote(), timeout=timeout_s)
        except ray.exceptions.RayError:
            return
        time.sleep(0.1)
    raise AssertionError("the killed actor still answers")


def requests(n, k=2):
    return [SearchRequest(f"q{i}", f"question {i}", ("a",), True, top_k=k) for i in range(n)]


def test_bm25_spec_splits_across_two_replicas_and_keeps_order(local_ray):
    pool = make_backend("ray:bm25?replicas=2")
    direct = make_backend("bm25")
    batch = [SearchRequest(q, q, ("x",), True, top_k=3) for q in ("Paris", "Jupiter planet", "Hamlet", "Berlin", "Nile")]
    try:
        assert pool.search(batch) == direct.search(batch)
        assert pool.stats["chunks"] == 2 and pool.stats["replica_failures"] == 0
        assert pool.simulator is False and ZeroSearchEnv(backend=pool).real_engine  # a pool of BM25 is a real engine
    finally:
        pool.close()


def test_back_pressure_one_chunk_per_replica_at_a_time(local_ray):
    pool = RayPoolBackend(SlowEcho(0.01), replicas=2, num_cpus=0.5, max_batch=3)
    try:
        out = pool.search(requests(10))
        assert [docs[0].split(" from ")[0] for docs in out] == [f"q{i}" for i in range(10)]
        assert len({docs[0].split(" from ")[1] for docs in out}) == 2  # both replicas served
        assert pool.stats["chunks"] == 4
        assert pool.simulator is None and not ZeroSearchEnv(backend=pool).real_engine  # an object that does not say
    finally:
        pool.close()


def test_a_replica_killed_mid_batch_is_retried_on_the_other(local_ray):
    pool = RayPoolBackend(SlowEcho(0.5), replicas=2, num_cpus=0.5)
    victim = pool.replicas[0]
    killer = threading.Timer(0.5, lambda: ray.kill(victim, no_restart=True))
    killer.start()
    out = pool.search(requests(8))  # 4 requests per replica, 2 s each: the kill lands mid-chunk
    killer.join()
    try:
        assert [docs[0].split(" from ")[0] for docs in out] == [f"q{i}" for i in range(8)]
        assert not any(isinstance(r, BackendError) for r in out)
        assert pool.stats["replica_failures"] == 1 and pool.stats["retried_requests"] == 4
        warned = [r.malformed for r in out if getattr(r, "malformed", None)]
        assert len(warned) == 4 and "replica 0 failed" in warned[0] and "retried" in warned[0]
        # the env counts it per search in info: replica 0 stays dead, so its chunk is retried again
        import gymnasium as gym

        from zerosearch_gym import QAExample

        env = gym.make("ZeroSearch-v0", backend=pool, dataset=[QAExample("q", "Where is Paris", ("France",))])
        env.reset(seed=0)
        info = env.step("<search>Paris</search>")[4]
        assert info["backend_error"] == "" and "retried on another replica" in info["backend_warning"]
    finally:
        pool.close()


def test_every_replica_dead_is_a_backend_error_not_a_hang(local_ray):
    pool = RayPoolBackend(SlowEcho(0.0), replicas=2, num_cpus=0.5)
    for actor in pool.replicas:
        ray.kill(actor, no_restart=True)
        wait_dead(actor)  # ray.kill is asynchronous
    out = pool.search(requests(4))
    assert all(isinstance(r, BackendError) and "all 2 ray replicas failed" in str(r) for r in out)
    assert pool.stats["failed_requests"] == 4


def test_bad_specs_and_no_cluster_are_clear_errors(local_ray):
    with pytest.raises(ValueError, match="expected 'ray:<inner spec>"):
        make_backend("ray:?replicas=2")
    with pytest.raises(ValueError, match="expected replicas to be int"):
        make_backend("ray:bm25?replicas=two")
    with pytest.raises(RuntimeError, match="could not start its replicas"):
        make_backend("ray:nope:x?replicas=1&num_cpus=0.5&timeout_s=60")


def test_no_ray_cluster_at_the_address_fails_fast():
    if ray.is_initialized():
        ray.shutdown()
    start = time.monotonic()
    with pytest.raises(ConnectionError, match="no Ray cluster at 127.0.0.1:9"):
        init_ray("127.0.0.1:9", connect_timeout_s=2)
    assert time.monotonic() - start < 30
