"""SharedBackend: one backend for many episodes stepped from different threads (an OpenEnv server's sessions,
SkyRL or veRL rollout workers), their concurrent searches sent as one batch.

While one batch is at the backend, the searches that arrive wait; when it returns, the next caller sends all
of them together. A lone episode pays nothing (no waiting window), 64 concurrent episodes share a few
batches, and the backend is never called from two threads at once (a transformers model need not be
thread-safe). Results go back to the thread that asked, in its own order.
"""
from __future__ import annotations

import threading
from typing import Sequence

from ..results import BackendError
from .base import SearchRequest, search_batch, wrapper_simulator_flag


class _Slot:
    __slots__ = ("requests", "results")

    def __init__(self, requests: list):
        self.requests, self.results = requests, None


class SharedBackend:
    """``backend`` behind a lock that gathers concurrent ``search`` calls into one batch.

    >>> class Echo:
    ...     def search(self, requests): return [[r.query] for r in requests]
    >>> shared = SharedBackend(Echo())
    >>> shared.search([SearchRequest("q", "question?", ("a",), True, 1)])
    [['q']]
    >>> shared.batches, shared.requests
    (1, 1)
    """

    def __init__(self, backend):
        self.backend = backend
        self.simulator = wrapper_simulator_flag(backend)  # False for a real engine: no noise drawn
        self.batches = self.requests = 0  # backend calls made, requests sent
        self._cv = threading.Condition()
        self._pending: list[_Slot] = []
        self._busy = False

    def search(self, requests: Sequence[SearchRequest]) -> list:
        slot = _Slot(list(requests))
        if not slot.requests:
            return []
        with self._cv:
            self._pending.append(slot)
            while self._busy and slot.results is None:
                self._cv.wait()
            if slot.results is not None:  # another thread sent it with its batch
                return slot.results
            self._busy = True
            batch, self._pending = self._pending, []
        flat = [r for s in batch for r in s.requests]
        results = [BackendError("the search was interrupted")] * len(flat)
        try:
            results = search_batch(self.backend, flat)  # never raises
        finally:
            with self._cv:
                start = 0
                for s in batch:
                    s.results = results[start:start + len(s.requests)]
                    start += len(s.requests)
                self.batches += 1
                self.requests += start
                self._busy = False
                self._cv.notify_all()
        return slot.results

    def close(self) -> None:
        close = getattr(self.backend, "close", None)
        if callable(close):
            close()
