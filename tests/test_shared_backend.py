"""SharedBackend: searches from many threads (server sessions, rollout workers) meet in few batches, each thread
gets its own results, the backend is never called from two threads at once, a crash is a BackendError."""
import threading
import time

from zerosearch_gym import BackendError, SearchRequest
from zerosearch_gym.backends.shared import SharedBackend


class Slow:
    """A backend that takes 20 ms per batch and records how many calls overlap."""

    def __init__(self):
        self.batches, self.inside, self.most_inside = [], 0, 0
        self.lock = threading.Lock()

    def search(self, requests):
        with self.lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        time.sleep(0.02)
        with self.lock:
            self.inside -= 1
            self.batches.append(len(requests))
        return [[f"doc for {r.query}"] for r in requests]


def request(query):
    return SearchRequest(query, "question?", ("answer",), True, 1)


def test_concurrent_searches_share_batches_and_keep_their_own_results():
    inner = Slow()
    shared = SharedBackend(inner)
    results = {}

    def episode(i):
        results[i] = shared.search([request(f"q{i}a"), request(f"q{i}b")])

    threads = [threading.Thread(target=episode, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: [[f"doc for q{i}a"], [f"doc for q{i}b"]] for i in range(32)}
    assert inner.most_inside == 1 and sum(inner.batches) == 64 and len(inner.batches) < 32
    assert (shared.batches, shared.requests) == (len(inner.batches), 64)


def test_a_crashing_backend_gives_every_caller_an_error():
    class Broken:
        def search(self, requests):
            raise RuntimeError("boom")

    (result,) = SharedBackend(Broken()).search([request("q")])
    assert isinstance(result, BackendError) and "Broken.search raised RuntimeError: boom" in str(result)
    assert SharedBackend(Broken()).search([]) == []
