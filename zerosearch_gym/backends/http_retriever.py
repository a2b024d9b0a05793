"""The ``http-retriever:`` backend: a real retriever behind Search-R1's retrieval-server API.

Spec: ``http-retriever:http://host:8000/retrieve[,http://host2:8000/retrieve][?timeout=10&max_retries=2…]``
(a URL without a path gets ``/retrieve``). The whole batch is **one** POST::

    {"queries": ["q1", "q2"], "topk": 3, "return_scores": true}
    → {"result": [[{"document": {"id": "…", "contents": "\\"Title\\"\\ntext"}, "score": 0.8}, …], …]}

Each document becomes ``"(Title: <first line of contents>) <rest>"``, the way Search-R1 shows documents
to its policy (titles keep the corpus's quotes). Timeouts, retries, the deadline and the body-size cap
follow the ``openai:`` backend (:mod:`.openai_compat`): a failed call makes a ``BackendError`` for every
request of the batch; a malformed entry, or a query that cannot be encoded (a lone surrogate, never sent),
only for its own request. Documents with empty contents are left out and reported in ``malformed``
(``info["backend_warning"]``). ``topk`` is the largest ``top_k`` of the batch, each request keeps its own.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from ._http import AsyncHTTPBackend, Deadline, RequestFailed, RetryPolicy, encode_json, parse_urls, post_json
from .base import BackendError, Documents, SearchRequest, SearchResult


def format_document(document: dict) -> str:
    """Search-R1's document text.

    >>> format_document({"contents": '"Paris"\\nParis is the capital of France.'})
    '(Title: "Paris") Paris is the capital of France.'
    >>> format_document({"title": "Paris", "text": "Capital of France."})
    '(Title: Paris) Capital of France.'
    """
    if "contents" in document:
        title, _, text = str(document["contents"]).partition("\n")
    else:
        title, text = str(document["title"]), str(document["text"])
    return f"(Title: {title.strip()}) {' '.join(text.split())}"


class HTTPRetrieverBackend(AsyncHTTPBackend):
    """Documents for each request from a Search-R1 style ``/retrieve`` server (see the module docstring).

    ``last_stats`` after each ``search``: ``latency_s``, ``retries``, ``errors``, ``requests``.
    """

    kind = "http-retriever"
    cache_fields = ("query", "top_k")  # a real engine ignores the episode's question and answers
    simulator = False  # a real engine: no noisy documents (the env draws no noise for it)

    def __init__(self, urls: str | Sequence[str], timeout: float = 30.0, max_retries: int = 3,
                 backoff: float = 0.5, max_retry_after: float = 10.0, deadline: float | None = None,
                 max_body_bytes: int = 16 * 2**20):
        urls = [urls] if isinstance(urls, str) else list(urls)
        if not urls or any(not u.startswith(("http://", "https://")) for u in urls):
            raise ValueError(f"expected retriever URLs like http://127.0.0.1:8000/retrieve, got {urls!r}")
        if deadline is not None and not deadline > 0:
            raise ValueError(f"expected deadline > 0 seconds, got {deadline!r}")
        super().__init__(RetryPolicy(timeout, max_retries, backoff, max_retry_after, max_body_bytes), concurrency=1)
        self.urls = [u if urlsplit(u).path.strip("/") else u.rstrip("/") + "/retrieve" for u in urls]
        self.deadline = deadline
        self._offset = 0

    def __repr__(self) -> str:
        return f"HTTPRetrieverBackend(urls={self.urls!r})"

    def cache_identity(self) -> dict:
        """What changes this backend's documents (the result cache's key)."""
        return {"kind": "http-retriever", "urls": sorted(self.urls)}

    def search(self, requests: Sequence[SearchRequest]) -> list[SearchResult]:
        """Documents (or a BackendError) for each request, in order, from one HTTP call."""
        requests = list(requests)
        if not requests:
            return []
        start = time.perf_counter()
        results: list[SearchResult | None] = [_unencodable(r.query) for r in requests]
        sent = [i for i, r in enumerate(results) if r is None]
        counters: dict = {}
        if sent:
            batch = [requests[i] for i in sent]
            deadline = self.deadline if self.deadline is not None else self.policy.budget()
            body = encode_json({"queries": [r.query for r in batch], "topk": max(r.top_k for r in batch),
                                "return_scores": True})
            first, self._offset = self._offset, self._offset + 1
            try:
                data = self._run(lambda: self._call(body, first, deadline, counters), deadline)
                answers = self._results(data, batch)
            except RequestFailed as exc:
                answers = [BackendError(f"http-retriever backend: {exc}")] * len(batch)
            for i, answer in zip(sent, answers):
                results[i] = answer
        errors = sum(isinstance(r, BackendError) for r in results)
        self.last_stats = {"latency_s": time.perf_counter() - start, "retries": counters.get("retries", 0),
                           "errors": errors, "requests": len(requests)}
        return results

    async def _call(self, body: bytes, first: int, deadline: float, counters: dict) -> Any:
        client = self._get_client()  # made once per process, before the clock starts
        clock = Deadline(deadline)
        call = post_json(client, self.urls, first, body, self.policy, asyncio.Semaphore(1), counters, clock)
        try:
            return await asyncio.wait_for(call, deadline + 1.0)  # a backstop: post_json watches the clock
        except asyncio.TimeoutError:
            raise RequestFailed(
                f"overall deadline of {deadline:g}s exceeded ({self.urls[first % len(self.urls)]})") from None

    @staticmethod
    def _results(data: Any, requests: list[SearchRequest]) -> list[SearchResult]:
        lists = data.get("result") if isinstance(data, dict) else None
        if not isinstance(lists, list) or len(lists) != len(requests):
            got = f"{len(lists)} result lists" if isinstance(lists, list) else repr(data)[:120]
            raise RequestFailed(f"expected a 'result' list with one entry per query ({len(requests)}), got {got}")
        results: list[SearchResult] = []
        for request, hits in zip(requests, lists):
            try:
                docs = [format_document(h.get("document", h)) for h in hits[: request.top_k]]
                full = [d for d in docs if d != "(Title: ) "]
                note = f"{len(docs) - len(full)} of {len(docs)} retrieved documents had empty contents (left out)"
                results.append(Documents(full, note if len(full) < len(docs) else None))
            except (KeyError, TypeError, AttributeError) as exc:
                results.append(BackendError(f"http-retriever backend: malformed hit ({exc!r}): {str(hits)[:120]}"))
        return results


def _unencodable(query: str) -> BackendError | None:
    """An error for a query that cannot be sent as UTF-8 (a lone surrogate), else None."""
    try:
        query.encode("utf-8")
    except UnicodeEncodeError as exc:
        return BackendError(f"http-retriever backend: query not sent, it is not valid Unicode ({exc.reason} "
                            f"{exc.object[exc.start:exc.end]!r} at position {exc.start})")
    except AttributeError:
        return BackendError(f"http-retriever backend: expected the query to be str, got {type(query).__name__}")
    return None


def from_spec(arg: str, **options) -> HTTPRetrieverBackend:
    """``http-retriever:URL[,URL…][?timeout=…]`` → :class:`HTTPRetrieverBackend` (options: :mod:`.registry`)."""
    return HTTPRetrieverBackend(parse_urls("http-retriever", arg, "http://host:port/retrieve"), **options)
