"""The ``bm25:`` backend: a real lexical search engine over a local JSONL corpus (``bm25s`` + PyStemmer).

Spec: ``bm25`` (the offline Wikipedia summaries, :func:`zerosearch_gym.offline.wiki_corpus_path`) or
``bm25:/path/corpus.jsonl`` (one ``{"id", "title", "text"}`` object per line).

It is a real engine, so it ignores ``useful``/``question``/``answers`` and answers each request with up to
``top_k`` documents formatted ``"(Title: {title}) {text}"``, best first; documents with equal scores come
in corpus order, so results are deterministic. Documents that share no term with
the query are never returned: a query that is empty, only stopwords, or only unknown words gets an **empty
list** (no results), not arbitrary documents. All requests of a batch go through one ``retrieve`` call.

The index is built once per corpus file per process (~1 s for 10,033 summaries) and shared by every
:class:`BM25Backend` on that file (keyed by resolved path, size and mtime).

>>> backend = BM25Backend.from_documents([
...     {"id": "1", "title": "Paris", "text": "Paris is the capital of France."},
...     {"id": "2", "title": "Berlin", "text": "Berlin is the capital of Germany."},
... ])
>>> backend.search([SearchRequest("capital of France", "q", ("Paris",), useful=True, top_k=1)])
[['(Title: Paris) Paris is the capital of France.']]
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from .base import SearchRequest, SearchResult

_INDEX_CACHE: dict[tuple, _Index] = {}
_INDEX_LOCK = threading.Lock()


class _Index:
    """A bm25s retriever with its formatted documents and the query tokenizer that matches it."""

    def __init__(self, documents: Sequence[Mapping]):
        import bm25s
        import Stemmer

        if not documents:
            raise ValueError("expected a corpus with at least one document, got none")
        self.stemmer = Stemmer.Stemmer("english")
        self.docs = [f"(Title: {d['title']}) {d['text']}" for d in documents]
        digest = hashlib.sha256()
        for doc in self.docs:
            digest.update(doc.encode("utf-8", "surrogatepass") + b"\0")
        self.fingerprint = digest.hexdigest()[:16]  # identifies the corpus (the result cache's key)
        texts = [f"{d['title']} {d['text']}" for d in documents]
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=self.stemmer, show_progress=False)
        self.retriever = bm25s.BM25()
        self.retriever.index(tokens, show_progress=False)

    def search(self, queries: Sequence[str], k: int) -> list[list[str]]:
        """Up to ``k`` matching documents per query, best first (ties: corpus order), tokenized in one call.

        Most documents share no term with a query (97 % score 0 on the Wikipedia summaries), so the top ``k``
        are selected among the non-zero scores only: 2-3x faster than a full top-k over the corpus.
        """
        import bm25s
        import numpy as np

        tokenized = bm25s.tokenize(list(queries), stopwords="en", stemmer=self.stemmer, return_ids=False,
                                   show_progress=False)
        vocab = self.retriever.vocab_dict
        results: list[list[str]] = []
        for tokens in tokenized:
            known = [t for t in tokens if t and t in vocab]
            if not known or k < 1:
                results.append([])
                continue
            scores = self.retriever.get_scores(known)
            hits = np.flatnonzero(scores > 0)
            if len(hits) > k:
                hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
                cut = scores[hits].min()  # keep every document tied with the k-th, then order and cut
                hits = np.flatnonzero(scores >= cut)
            best = hits[np.lexsort((hits, -scores[hits]))][:k]  # score descending, then corpus order
            results.append([self.docs[int(j)] for j in best])
        return results


def read_corpus(path: str | Path) -> list[dict]:
    """Read a JSONL corpus of ``{"id", "title", "text"}`` objects (blank lines are skipped)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"expected a JSONL corpus file, got {str(path)!r} (no such file)")
    documents = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                documents.append(_parse_line(line, number, path))
    return documents


def _parse_line(line: str, number: int, path: Path) -> dict:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{number}: expected a JSON object per line, got invalid JSON ({error.msg})") from None
    if not isinstance(row, dict) or not isinstance(row.get("text"), str):
        got = sorted(row) if isinstance(row, dict) else type(row).__name__
        raise ValueError(  # noqa: TRY004 - bad data in a file, reported with its line number
            f"{path}:{number}: expected an object with a string 'text' (and 'id', 'title'), got {got}")
    return {"id": str(row.get("id", number)), "title": str(row.get("title") or ""), "text": row["text"]}


def _index_for(path: Path) -> _Index:
    """The shared index of a corpus file, rebuilt only when the file changes."""
    path = path.resolve()
    if not path.is_file():
        raise FileNotFoundError(f"expected a JSONL corpus file, got {str(path)!r} (no such file)")
    stat = os.stat(path)
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _INDEX_LOCK:
        if key not in _INDEX_CACHE:
            _INDEX_CACHE[key] = _Index(read_corpus(path))
        return _INDEX_CACHE[key]


class BM25Backend:
    """BM25 search over a JSONL corpus (default: the offline Wikipedia summaries). See the module doc."""

    kind = "bm25"
    cache_fields = ("query", "top_k")  # a real engine ignores the episode's question and answers
    simulator = False  # a real engine: no noisy documents (the env draws no noise for it)

    def __init__(self, corpus_path: str | Path | None = None):
        if corpus_path is None or str(corpus_path).strip() == "":
            from ..offline import wiki_corpus_path

            corpus_path = wiki_corpus_path()
        self.corpus_path = Path(corpus_path).expanduser()
        self._index = _index_for(self.corpus_path)

    @classmethod
    def from_documents(cls, documents: Sequence[Mapping]) -> BM25Backend:
        """A backend over an in-memory list of ``{"title", "text"}`` dicts (not cached; for small corpora)."""
        rows = []
        for i, doc in enumerate(documents):
            if not isinstance(doc, Mapping) or not isinstance(doc.get("text"), str):
                raise TypeError(f"expected document {i} to be a dict with a string 'text', got {doc!r}")
            rows.append({"id": str(doc.get("id", i)), "title": str(doc.get("title") or ""), "text": doc["text"]})
        backend = cls.__new__(cls)
        backend.corpus_path = None
        backend._index = _Index(rows)
        return backend

    @classmethod
    def from_spec(cls, arg: str = "") -> BM25Backend:
        """``bm25[:corpus.jsonl]`` → a backend (the offline Wikipedia summaries without a path)."""
        return cls(arg or None)

    def cache_identity(self) -> dict:
        """What changes this backend's documents (the result cache's key): the corpus contents."""
        return {"kind": "bm25", "corpus": self._index.fingerprint}

    def __len__(self) -> int:
        return len(self._index.docs)

    def search(self, requests: Sequence[SearchRequest]) -> list[SearchResult]:
        """Up to ``top_k`` documents per request, in order; one batched retrieval for the whole list."""
        if not requests:
            return []
        k = max(r.top_k for r in requests)
        found = self._index.search([r.query for r in requests], k)
        return [docs[: r.top_k] for r, docs in zip(requests, found)]

    def __repr__(self) -> str:
        return f"BM25Backend({str(self.corpus_path) if self.corpus_path else '<in-memory>'!r}, {len(self)} docs)"
