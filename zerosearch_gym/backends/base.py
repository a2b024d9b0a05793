"""The search-backend contract: one request type, one protocol, and a registry of spec strings.

A backend answers a *batch* of search requests with ``top_k`` documents each. Backends never raise for a
single bad request: a request they cannot answer gets a :class:`BackendError` in its place, and the env
turns it into ``info["backend_error"]`` and a "No information available." observation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

from ..results import BackendError, Documents, SearchResult  # noqa: F401  (the backends' public names)


@dataclass(frozen=True, init=False)
class SearchRequest:
    """One search call of one episode.

    ``question`` and ``answers`` belong to the episode that issued ``query``; a simulator writes
    ``useful`` or noisy documents for it. ``seed`` makes sampling backends reproducible.
    """

    query: str
    question: str
    answers: tuple[str, ...]
    useful: bool
    top_k: int = 5
    seed: int | None = None

    def __init__(self, query: str, question: str, answers: tuple[str, ...], useful: bool, top_k: int = 5,
                 seed: int | None = None):
        # the generated frozen __init__ sets each field through object.__setattr__ (~1 µs a request, one request
        # per search of every env step); filling __dict__ at once builds the same object
        self.__dict__.update(query=query, question=question, answers=answers, useful=useful, top_k=top_k, seed=seed)


@runtime_checkable
class SearchBackend(Protocol):
    """Anything with ``search(requests) -> results`` (one result per request, in order)."""

    def search(self, requests: Sequence[SearchRequest]) -> list[SearchResult]: ...


def search_batch(backend: SearchBackend, requests: Sequence[SearchRequest]) -> list[SearchResult]:
    """Call ``backend.search`` and never raise: a crash or a wrong number of results becomes a
    :class:`BackendError` for every request of the batch."""
    if not requests:
        return []
    try:
        results = backend.search(list(requests))
    except Exception as exc:  # a backend bug must not escape env.step as a traceback
        return [BackendError(f"{type(backend).__name__}.search raised {type(exc).__name__}: {exc}")] * len(requests)
    if not isinstance(results, (list, tuple)) or len(results) != len(requests):
        got = len(results) if isinstance(results, (list, tuple)) else type(results).__name__
        return [BackendError(f"expected {len(requests)} results from {type(backend).__name__}.search, got {got}")] * len(
            requests
        )
    return list(results)


def wrapper_simulator_flag(backend) -> bool | None:
    """``simulator`` of a wrapper that sits above verification (a cache, a shared batcher): False when ``backend``
    is a real engine (the env then draws no noise), else None (a simulator is not verified twice)."""
    return False if getattr(backend, "simulator", None) is False else None


from .registry import make_backend, register_backend  # noqa: E402,F401  (re-exported: the spec-string API)
