"""``ray:`` — any backend run as a pool of Ray actors (simulator replicas), each step's batch split across them.

Spec: ``ray:<inner spec>[?replicas=N&num_gpus=G&num_cpus=C&max_batch=B&timeout_s=T&address=A]``, e.g.
``ray:hf:Qwen/Qwen2.5-3B?replicas=4&num_gpus=1`` (one simulator per GPU) or ``ray:bm25?replicas=2``. Options
the pool does not know stay with the inner spec (``ray:hf:MODEL?max_new_tokens=64&replicas=2``).

- **Order kept**: the batch is cut into contiguous chunks (one per replica, or ``max_batch`` requests each) and
  the results are put back in request order.
- **Back-pressure**: each replica holds at most one chunk at a time; the next chunk goes to whichever replica
  finishes first, so a large batch never floods a replica's queue.
- **Faults**: a replica that dies (or does not answer within ``timeout_s``) is dropped for the rest of the batch
  and its chunk is retried on the others. Each retried request's documents carry a ``backend_warning`` (the env
  puts it in ``info``) and :attr:`RayPoolBackend.stats` counts failures. Only when every replica has failed do
  the remaining requests get a :class:`BackendError`. Replicas restart (``max_restarts=-1``) and rejoin the next
  batch. Ray is imported when the backend is built, never by ``import zerosearch_gym``.
"""
from __future__ import annotations

import os
import socket
import time
from typing import Any, Sequence

from .base import BackendError, Documents, SearchRequest, SearchResult, make_backend


def init_ray(address: str | None = None, num_cpus: int | None = None, connect_timeout_s: float = 5.0):
    """Start a local Ray instance (``address=None``) or join a cluster (``"auto"``, ``"HOST:PORT"``,
    ``"ray://HOST:PORT"``); a HOST:PORT nobody listens on is a ``ConnectionError`` within ``connect_timeout_s``."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(f"this needs Ray: pip install 'zerosearch-gym[ray]' ({exc})") from exc
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if ray.is_initialized():
        return ray
    if address and address != "auto":
        host, _, port = address.removeprefix("ray://").rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"expected a Ray address 'auto', 'HOST:PORT' or 'ray://HOST:PORT', got {address!r}")
        try:
            socket.create_connection((host, int(port)), timeout=connect_timeout_s).close()
        except OSError as exc:
            raise ConnectionError(f"no Ray cluster at {address} ({exc}); start one with `ray start --head` "
                                  "or leave the address out for a local instance") from exc
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 **({"num_cpus": num_cpus} if address is None and num_cpus else {}))
    except ConnectionError as exc:
        raise ConnectionError(f"no Ray cluster at {address!r}: {exc}; start one with `ray start --head`") from exc
    return ray


class _Replica:
    """One backend inside a Ray actor (the class is wrapped with ``ray.remote`` when the pool starts)."""

    def __init__(self, inner: Any):
        self.backend = make_backend(inner)

    def search(self, requests: list) -> list:
        from .base import search_batch

        return search_batch(self.backend, requests)

    def pid(self) -> int:
        return os.getpid()


def is_simulator(backend: Any) -> bool:
    """Whether a spec string or backend object is a simulator (verified by default)."""
    if isinstance(backend, str):
        from .registry import parse_spec
        from .verify import SIMULATOR_KINDS

        return parse_spec(backend).kind in SIMULATOR_KINDS
    return bool(getattr(backend, "simulator", False))


def _simulator_flag(inner: Any) -> bool | None:
    """``simulator`` of a pool of ``inner``: True, False (a real engine) or None (an object that does not say)."""
    if not isinstance(inner, str):
        return getattr(inner, "simulator", None)
    from .registry import is_real_engine

    return False if is_real_engine(inner) else (is_simulator(inner) or None)


class RayPoolBackend:
    """``replicas`` copies of ``inner`` (a spec string or a picklable backend object) as Ray actors.

    ``stats``: ``batches``, ``chunks``, ``replica_failures`` (chunks that failed on a replica), ``retried_requests``
    and ``failed_requests`` (requests that got a BackendError because no replica was left).
    """

    def __init__(self, inner: Any, replicas: int = 2, num_gpus: float = 0, num_cpus: float = 1,
                 max_batch: int | None = None, timeout_s: float = 600.0, address: str | None = None):
        if not isinstance(replicas, int) or replicas < 1:
            raise ValueError(f"expected replicas to be an int >= 1, got {replicas!r}")
        if max_batch is not None and (not isinstance(max_batch, int) or max_batch < 1):
            raise ValueError(f"expected max_batch to be an int >= 1, got {max_batch!r}")
        ray = init_ray(address)
        remote = ray.remote(num_gpus=num_gpus, num_cpus=num_cpus, max_restarts=-1)(_Replica)
        self.inner, self.max_batch, self.timeout_s = inner, max_batch, float(timeout_s)
        self.replicas = [remote.remote(inner) for _ in range(replicas)]
        try:  # fail now, with the replica's own error, when the inner backend cannot be built
            ray.get([r.pid.remote() for r in self.replicas], timeout=self.timeout_s)
        except Exception as exc:
            raise RuntimeError(f"the ray pool could not start its replicas of {inner!r}: {exc}") from exc
        self.stats = {"batches": 0, "chunks": 0, "replica_failures": 0, "retried_requests": 0, "failed_requests": 0}
        self.name = f"ray:{inner if isinstance(inner, str) else type(inner).__name__}x{replicas}"
        # verified by default when the replicas are simulators; False for real engines (the env draws no noise)
        self.simulator = _simulator_flag(inner)

    def search(self, requests: Sequence[SearchRequest]) -> list[SearchResult]:
        import ray

        requests = list(requests)
        if not requests:
            return []
        self.stats["batches"] += 1
        size = self.max_batch or -(-len(requests) // len(self.replicas))
        queue = [(start, requests[start:start + size], "") for start in range(0, len(requests), size)]
        results: list = [None] * len(requests)
        idle, busy = list(range(len(self.replicas))), {}  # busy: ref -> (replica, chunk, started)
        while queue or busy:
            while queue and idle:  # back-pressure: at most one chunk per replica
                replica, chunk = idle.pop(0), queue.pop(0)
                busy[self.replicas[replica].search.remote(chunk[1])] = (replica, chunk, time.monotonic())
                self.stats["chunks"] += 1
            if not busy:  # chunks left but no replica: every replica has failed
                for start, chunk, warning in queue:
                    message = f"all {len(self.replicas)} ray replicas failed ({warning or 'no replica'})"
                    results[start:start + len(chunk)] = [BackendError(message)] * len(chunk)
                    self.stats["failed_requests"] += len(chunk)
                break
            oldest = min(started for _, _, started in busy.values())
            wait_s = max(0.0, oldest + self.timeout_s - time.monotonic())
            done, _ = ray.wait(list(busy), num_returns=1, timeout=wait_s)
            if not done:  # the oldest chunk timed out: drop its replica for this batch and retry the chunk
                ref = min(busy, key=lambda r: busy[r][2])
                ray.cancel(ref, force=False)
                replica, (start, chunk, _), _ = busy.pop(ref)
                self._failed(queue, replica, start, chunk, f"replica {replica} timed out after {self.timeout_s:g} s")
                continue
            ref = done[0]
            replica, (start, chunk, warning), _ = busy.pop(ref)
            try:
                out = ray.get(ref)
            except Exception as exc:  # RayActorError, ActorDiedError, ActorUnavailableError, a task error
                self._failed(queue, replica, start, chunk, f"replica {replica} failed: {type(exc).__name__}")
                continue
            results[start:start + len(chunk)] = [_warn(r, warning) for r in out]
            idle.append(replica)
        return results

    def _failed(self, queue: list, replica: int, start: int, chunk: list, reason: str) -> None:
        self.stats["replica_failures"] += 1
        self.stats["retried_requests"] += len(chunk)
        queue.insert(0, (start, chunk, f"{reason}; chunk retried on another replica"))

    def close(self) -> None:
        import ray

        for actor in self.replicas:
            ray.kill(actor, no_restart=True)
        self.replicas = []

    def __repr__(self) -> str:
        return f"RayPoolBackend({self.inner!r}, replicas={len(self.replicas)})"


def _warn(result: SearchResult, warning: str) -> SearchResult:
    if not warning or isinstance(result, BackendError):
        return result
    malformed = getattr(result, "malformed", None)
    return Documents(result, f"{malformed}; {warning}" if malformed else warning, getattr(result, "cached", False))


def from_spec(arg: str, **pool) -> RayPoolBackend:
    """``ray:INNER_SPEC[?replicas=N&…]``: the pool options are typed by the registry; the rest stay with INNER."""
    if not arg.partition("?")[0]:
        raise ValueError(f"expected 'ray:<inner spec>[?replicas=N]' (e.g. ray:hf:MODEL?replicas=2), got 'ray:{arg}'")
    return RayPoolBackend(arg, **pool)
