"""The ``openai:`` backend: a simulator LLM behind any OpenAI-compatible chat-completions server
(vLLM, SGLang, llama.cpp, a hosted API), plus the async HTTP machinery the HTTP backends share.

Spec: ``openai:http://host:8000/v1[,http://host2:8000/v1…][?model=NAME&mode=prompt&timeout=10…]`` (every
option: :mod:`.registry`).
The model name comes from ``?model=``, else ``$ZEROSEARCH_OPENAI_MODEL``, else ``"simulator"`` (vLLM's
``--served-model-name simulator``); the API key from ``$OPENAI_API_KEY`` when set.

How a batch goes out: every request at once (asyncio + ``httpx.AsyncClient``, at most ``concurrency`` in
flight), request i to URL ``(offset + i) mod n`` (the offset carries on between calls, so batches of one
spread too), each retry to the next URL. Retries: connection errors, timeouts, HTTP 5xx and 429 (waiting
``Retry-After`` seconds, capped by ``max_retry_after`` and by the deadline), with exponential backoff;
other 4xx fail at once. A request that fails for good gets ``BackendError("openai backend: <what> after N
attempts (url)")`` and the rest of the batch is unaffected (also a request that cannot be encoded, e.g. a
query with a lone surrogate); an overall deadline (``deadline``, default: every attempt's timeout plus the
backoff waits) bounds the whole call, so ``search`` never hangs; a response over ``max_body_bytes`` is an
error.

Output policy (:func:`.simulator_prompts.simulator_documents`, shared with ``hf:`` and ``vllm:``): empty
content, malformed JSON and a response without ``choices[0].message.content`` are errors; any other text
becomes :class:`Documents` with ``malformed`` set when it did not hold top_k "Doc i:" documents, which the
env reports as ``info["backend_warning"]`` (counted in ``last_stats["malformed"]``).
"""
from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Sequence
from typing import Any

import httpx

from ..results import Completion
from ._http import AsyncHTTPBackend, Deadline, RequestFailed, RetryPolicy, encode_json, parse_urls, post_json
from .base import BackendError, SearchRequest, SearchResult
from .simulator_prompts import (
    SIMULATOR_MAX_NEW_TOKENS,
    SIMULATOR_TEMPERATURE,
    check_mode,
    search_call,
    search_tool,
    simulator_messages,
)


class OpenAIBackend(AsyncHTTPBackend):
    """Simulator documents from OpenAI-compatible ``/chat/completions`` servers (see the module docstring).

    ``last_stats`` after each ``search``: ``latency_s`` (the whole batch), ``request_latency_s`` (per
    request), ``retries``, ``errors``, ``malformed`` (answers not holding top_k documents), ``requests``.
    """

    simulator = True  # verified by default (zerosearch_gym.backends.verify)

    kind = "openai"

    def __init__(self, urls: str | Sequence[str], model: str = "simulator", mode: str = "sft",
                 timeout: float = 30.0, max_retries: int = 3, backoff: float = 0.5, concurrency: int = 64,
                 temperature: float = SIMULATOR_TEMPERATURE, max_tokens: int = SIMULATOR_MAX_NEW_TOKENS,
                 top_p: float | None = None, api_key: str | None = None, max_retry_after: float = 10.0,
                 deadline: float | None = None, max_body_bytes: int = 2**20):
        urls = [urls] if isinstance(urls, str) else list(urls)
        if not urls or any(not u.startswith(("http://", "https://")) for u in urls):
            raise ValueError(f"expected server URLs like http://127.0.0.1:8000/v1, got {urls!r}")
        check_mode(mode)
        api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if deadline is not None and not deadline > 0:
            raise ValueError(f"expected deadline > 0 seconds, got {deadline!r}")
        super().__init__(RetryPolicy(timeout, max_retries, backoff, max_retry_after, max_body_bytes), concurrency,
                         {"Authorization": f"Bearer {api_key}"} if api_key else None)
        self.urls = [u.rstrip("/") + "/chat/completions" for u in urls]
        self.model, self.mode, self.deadline = model, mode, deadline
        self.temperature, self.max_tokens, self.top_p = temperature, max_tokens, top_p
        self._offset = 0

    def __repr__(self) -> str:
        return f"OpenAIBackend(urls={self.urls!r}, model={self.model!r}, mode={self.mode!r})"

    def cache_identity(self) -> dict:
        """What changes this backend's documents (the result cache's key)."""
        return {"kind": "openai", "urls": sorted(self.urls), "model": self.model, "mode": self.mode,
                "temperature": self.temperature, "max_tokens": self.max_tokens, "top_p": self.top_p}

    def payload(self, request: SearchRequest) -> dict:
        """The chat-completions request body for one search request."""
        return self.body(simulator_messages(request, self.mode), request.seed)

    def body(self, messages: list[dict], seed: int | None = None) -> dict:
        """The chat-completions request body for one conversation."""
        body = {"model": self.model, "messages": messages, "temperature": self.temperature,
                "max_tokens": self.max_tokens}
        if self.top_p is not None:
            body["top_p"] = self.top_p
        if seed is not None:
            body["seed"] = seed
        return body

    def search(self, requests: Sequence[SearchRequest]) -> list[SearchResult]:
        """Documents (or a BackendError) for each request, in order; all requests go out concurrently."""
        results = search_tool(self.mode).run(self, [search_call(r) for r in requests], catch=False)
        if results:
            self.last_stats.update(errors=sum(isinstance(r, BackendError) for r in results),
                                   malformed=sum(bool(getattr(r, "malformed", None)) for r in results))
        return results

    def complete(self, conversations: Sequence[list[dict]], seeds: Sequence[int | None]
                 ) -> list[Completion | BackendError]:
        """One generated text (or a BackendError) per conversation, in order; all go out concurrently: the
        layer ``search`` and any :class:`~zerosearch_gym.tools.SimulatedTool` run on."""
        bodies = [(messages, seed) for messages, seed in zip(conversations, seeds)]
        if not bodies:
            return []
        waves = math.ceil(len(bodies) / self.concurrency)
        deadline = self.deadline if self.deadline is not None else waves * self.policy.budget()
        first, self._offset = self._offset, self._offset + len(bodies)
        start = time.perf_counter()
        try:
            results, latencies, counters = self._run(lambda: self._batch(bodies, first, deadline), deadline)
        except RequestFailed as exc:  # only if the loop itself is stuck: the batch enforces the deadline
            results, latencies, counters = [BackendError(f"openai backend: {exc}")] * len(bodies), [], {}
        self.last_stats = {"latency_s": time.perf_counter() - start, "request_latency_s": latencies,
                           "retries": counters.get("retries", 0), "requests": len(bodies),
                           "errors": sum(isinstance(r, BackendError) for r in results), "malformed": 0}
        return results

    async def _batch(self, bodies: list[tuple[list[dict], int | None]], first: int, deadline: float):
        limit, counters = asyncio.Semaphore(self.concurrency), {}
        latencies: list[float | None] = [None] * len(bodies)
        self._get_client()  # made once per process, before the clock starts
        clock = Deadline(deadline)

        async def one(i: int, messages: list[dict], seed: int | None) -> Completion | BackendError:
            t0 = time.perf_counter()
            try:
                body = encode_json(self.body(messages, seed))
                client = self._get_client(first + i)
                data = await post_json(client, self.urls, first + i, body, self.policy, limit, counters, clock)
                return self._completion(data)
            except RequestFailed as exc:
                return BackendError(f"openai backend: {exc}")
            except UnicodeEncodeError as exc:
                return BackendError(f"openai backend: request not sent, its text is not valid Unicode ({exc.reason} "
                                    f"{exc.object[exc.start:exc.end]!r} at position {exc.start})")
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                return BackendError(f"openai backend: {type(exc).__name__}: {exc}")
            except Exception as exc:  # noqa: BLE001  one request's failure must not spoil the batch
                return BackendError(f"openai backend: {type(exc).__name__}: {exc}")
            finally:
                latencies[i] = time.perf_counter() - t0

        tasks = [asyncio.ensure_future(one(i, *b)) for i, b in enumerate(bodies)]
        _, pending = await asyncio.wait(tasks, timeout=deadline + 1.0)  # a backstop: requests watch the clock
        for task in pending:
            task.cancel()
        late = BackendError(f"openai backend: overall deadline of {deadline:g}s exceeded")
        return [late if t in pending else t.result() for t in tasks], latencies, counters

    def _completion(self, data: Any) -> Completion | BackendError:
        try:
            text = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            return BackendError(f"openai backend: response has no choices[0].message.content: {str(data)[:120]}")
        choice = data["choices"][0]
        reason = choice.get("finish_reason") if isinstance(choice, dict) else None
        return Completion(text, "openai backend", f" (finish_reason {reason!r})")


def from_spec(arg: str, **options) -> OpenAIBackend:
    """``openai:URL[,URL…][?model=NAME&…]`` → :class:`OpenAIBackend` (options: :mod:`.registry`)."""
    urls = parse_urls("openai", arg, "http://host:port/v1[,http://…]")
    options.setdefault("model", os.environ.get("ZEROSEARCH_OPENAI_MODEL", "simulator"))
    return OpenAIBackend(urls, **options)
