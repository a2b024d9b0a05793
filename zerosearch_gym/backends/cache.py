"""An opt-in result cache in front of any backend: in memory (LRU, bounded), optionally persisted in sqlite.

A key is the backend's identity and the request: the identity is what the backend's ``cache_identity()``
returns (kind, corpus or model-weights fingerprint, URLs, mode, decoding settings: everything that changes a
result), so two backends behind one sqlite file never serve each other's documents. The request part is
(query, top_k) for real retrievers (a backend's ``cache_fields``) and (query, question, answers, useful,
top_k, seed) otherwise, so a simulator's documents are only reused for the same episode question and kind of
documents. With ``include_seed=False`` a sampling simulator's documents are reused across episodes that ask
the same thing (cheaper, less diverse).
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import warnings
from collections import OrderedDict
from typing import Sequence

from .base import (
    BackendError,
    Documents,
    SearchBackend,
    SearchRequest,
    SearchResult,
    search_batch,
    wrapper_simulator_flag,
)
from .registry import make_backend

ALL_FIELDS = ("query", "question", "answers", "useful", "top_k", "seed")


class CachedBackend:
    """Wraps ``backend``; counts ``hits`` and ``misses``; results served from the cache have ``.cached = True``.

    Args:
        backend: a backend object or spec string.
        max_items: the in-memory bound (least recently used entries are dropped first).
        path: a sqlite file that keeps results across runs (``None``: memory only).
        include_seed: key on the request's seed too (default, as sampling backends differ per seed).
        backend_id: names the backend in the key (default: its ``cache_identity()``; a backend without one
            is named by its class only, with a warning when results persist in sqlite).
    """

    def __init__(self, backend: "SearchBackend | str", max_items: int = 100_000, path: str | None = None,
                 include_seed: bool = True, backend_id: str | None = None):
        if max_items < 1:
            raise ValueError(f"expected max_items >= 1, got {max_items}")
        self.backend = make_backend(backend)
        self.backend_id = backend_id
        self.fields = tuple(getattr(self.backend, "cache_fields", ALL_FIELDS))
        self.simulator = wrapper_simulator_flag(self.backend)  # False for a real engine: no noise drawn
        if backend_id is None and not callable(getattr(self.backend, "cache_identity", None)) and path is not None:
            warnings.warn(f"{type(self.backend).__name__} has no cache_identity(): its results are stored in {path} "
                          "under its class name only; pass backend_id=... naming everything that changes its "
                          "results", UserWarning, stacklevel=2)
        self.max_items, self.include_seed = max_items, include_seed
        self.hits = self.misses = 0
        self._memory: OrderedDict[str, list[str]] = OrderedDict()
        self._lock = threading.Lock()
        self._db = None
        if path is not None:
            self._db = sqlite3.connect(path, check_same_thread=False)
            self._db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, documents TEXT NOT NULL)")
            self._db.commit()

    def identity(self) -> str:
        """The backend part of every key (computed once)."""
        if self.backend_id is None:
            ident = getattr(self.backend, "cache_identity", None)
            cls = type(self.backend)
            self.backend_id = json.dumps(ident() if callable(ident) else f"{cls.__module__}.{cls.__qualname__}",
                                         sort_keys=True, default=str)
        return self.backend_id

    def key(self, r: SearchRequest) -> str:
        request = {name: getattr(r, name) for name in self.fields}
        if "seed" in request and not self.include_seed:
            request["seed"] = None
        # ensure_ascii: any str can be a key, also one with a lone surrogate
        return hashlib.sha256(json.dumps([self.identity(), request]).encode("ascii")).hexdigest()

    def search(self, requests: Sequence[SearchRequest]) -> list[SearchResult]:
        keys = [self.key(r) for r in requests]
        results: list[SearchResult | None] = [self._get(k) for k in keys]
        missing = [i for i, res in enumerate(results) if res is None]
        self.hits += len(requests) - len(missing)
        self.misses += len(missing)
        fresh = search_batch(self.backend, [requests[i] for i in missing])
        for i, res in zip(missing, fresh):
            if not isinstance(res, BackendError):  # failures are never cached
                self._put(keys[i], list(res))
                res = Documents(res, malformed=getattr(res, "malformed", None))
            results[i] = res
        return results  # type: ignore[return-value]

    def _get(self, key: str) -> Documents | None:
        with self._lock:
            docs = self._memory.get(key)
            if docs is not None:
                self._memory.move_to_end(key)
            elif self._db is not None:
                row = self._db.execute("SELECT documents FROM results WHERE key = ?", (key,)).fetchone()
                docs = json.loads(row[0]) if row else None
                if docs is not None:
                    self._remember(key, docs)
        return None if docs is None else Documents(docs, cached=True)

    def _put(self, key: str, docs: list[str]) -> None:
        with self._lock:
            self._remember(key, docs)
            if self._db is not None:
                self._db.execute("INSERT OR REPLACE INTO results VALUES (?, ?)", (key, json.dumps(docs)))
                self._db.commit()

    def _remember(self, key: str, docs: list[str]) -> None:
        self._memory[key] = docs
        self._memory.move_to_end(key)
        while len(self._memory) > self.max_items:
            self._memory.popitem(last=False)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        close = getattr(self.backend, "close", None)
        if callable(close):
            close()
