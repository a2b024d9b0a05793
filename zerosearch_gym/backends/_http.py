"""HTTP machinery shared by the HTTP backends (``openai:``, ``http-retriever:``): a retry policy, one POST
with timeouts / retries / backoff inside a deadline and a cap on the response size, a private event-loop
thread so sync ``search()`` works from anywhere, pooled async clients, and the URL-list spec argument."""
from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import json
import math
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx


def _mark_sniffio_absent() -> None:
    """httpcore runs ``import sniffio`` on every request; when sniffio is not installed each failed import
    searches all of sys.path again (a quarter of the client's CPU time, measured). Record the absence once
    (the import still fails, only faster). A no-op where sniffio is installed."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None


_mark_sniffio_absent()


class RequestFailed(Exception):
    """One HTTP request failed for good; the message says what happened, how often and where."""


@dataclass(frozen=True)
class RetryPolicy:
    """Per-attempt timeout and bounded retries with exponential backoff, inside a deadline.

    A server's ``Retry-After`` is honoured up to ``max_retry_after`` seconds, and only when the wait fits
    before the deadline: otherwise the request fails at once (it would fail at the deadline anyway).
    """

    timeout: float = 30.0  # seconds for one attempt (connect + send + full response)
    max_retries: int = 3  # retries after the first attempt
    backoff: float = 0.5  # wait before retry r (0-based) is backoff * 2**r seconds
    max_retry_after: float = 10.0  # cap on a server's Retry-After
    max_body_bytes: int = 16 * 2**20  # a larger response is an error (not read further, not retried)

    def __post_init__(self):
        if not self.timeout > 0:
            raise ValueError(f"expected timeout > 0 seconds, got {self.timeout!r}")
        if not (isinstance(self.max_retries, int) and self.max_retries >= 0):
            raise ValueError(f"expected max_retries to be an int >= 0, got {self.max_retries!r}")
        if self.backoff < 0 or self.max_retry_after < 0:
            raise ValueError(f"expected backoff and max_retry_after >= 0, got {self.backoff}, {self.max_retry_after}")
        if not (isinstance(self.max_body_bytes, int) and self.max_body_bytes >= 1):
            raise ValueError(f"expected max_body_bytes to be an int >= 1, got {self.max_body_bytes!r}")

    @property
    def attempts(self) -> int:
        return self.max_retries + 1

    def delay(self, retry: int, response: httpx.Response | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based); honours a numeric Retry-After."""
        if response is not None and "retry-after" in response.headers:
            try:
                return min(max(float(response.headers["retry-after"]), 0.0), self.max_retry_after)
            except ValueError:
                pass  # an HTTP date: fall back to backoff
        return self.backoff * 2**retry

    def budget(self) -> float:
        """The default deadline of one request: every attempt's timeout plus the backoff waits, plus a second
        for scheduling. A server's Retry-After never extends it (a wait that does not fit ends the request)."""
        return self.attempts * self.timeout + sum(self.backoff * 2**r for r in range(self.max_retries)) + 1.0


class Deadline:
    """A point in time ``seconds`` from now (monotonic clock)."""

    def __init__(self, seconds: float):
        self.seconds, self.at = seconds, time.monotonic() + seconds

    def left(self) -> float:
        return self.at - time.monotonic()

    def exceeded(self, url: str) -> RequestFailed:
        return RequestFailed(f"overall deadline of {self.seconds:g}s exceeded ({url})")


class BodyTooLarge(Exception):
    pass


def encode_json(payload: Any) -> bytes:
    """UTF-8 JSON bytes; raises ``UnicodeEncodeError`` for text that is not valid Unicode (a lone surrogate)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


async def _fetch(client: httpx.AsyncClient, url: str, body: bytes, max_bytes: int) -> tuple[httpx.Response, bytes]:
    """POST ``body``; read the response, stopping with :class:`BodyTooLarge` past ``max_bytes``.

    The request goes straight to the client's transport for ``url`` (its pool, proxy and TLS settings): the
    client's per-request layers (URL merging, cookies, auth, redirects, event hooks) cost more than the rest
    of the request against a fast local server, and a simulator API needs none of them.
    """
    request = httpx.Request("POST", url, content=body, headers=client.headers,
                            extensions={"timeout": client.timeout.as_dict()})
    response = await client._transport_for_url(request.url).handle_async_request(request)
    try:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise BodyTooLarge(f"Content-Length {int(declared):,}")
        chunks, size = [], 0
        async for chunk in response.stream:
            size += len(chunk)
            if size > max_bytes:
                raise BodyTooLarge("streamed past the limit")
            chunks.append(chunk)
        return response, b"".join(chunks)
    finally:
        await response.aclose()


def _decode(content: bytes, url: str) -> Any:
    try:
        return json.loads(content)
    except UnicodeDecodeError as exc:
        raise RequestFailed(f"response body is not UTF-8 ({exc.reason} at byte {exc.start}) ({url})") from None
    except ValueError:
        raise RequestFailed(f"malformed JSON {content[:80].decode('utf-8', 'replace')!r} ({url})") from None


async def post_json(client: httpx.AsyncClient, urls: Sequence[str], first: int, body: bytes,
                    policy: RetryPolicy, limit: asyncio.Semaphore, counters: dict, deadline: Deadline) -> Any:
    """POST the JSON ``body`` (bytes) to ``urls[first % n]`` (each retry to the next URL); return the decoded JSON.

    Raises :class:`RequestFailed` when the attempts are used up, when the next wait or attempt would end
    past ``deadline``, on a 4xx other than 429, on a body that is not JSON or
    larger than ``policy.max_body_bytes``. ``limit`` bounds requests in flight (not held while waiting to
    retry); retries are counted in ``counters["retries"]``.
    """
    what, url = "no attempt made", urls[first % len(urls)]
    for attempt in range(policy.attempts):
        url = urls[(first + attempt) % len(urls)]
        response = None
        try:
            async with limit:
                left = deadline.left()
                if left <= 0:
                    raise deadline.exceeded(url)
                response, content = await asyncio.wait_for(_fetch(client, url, body, policy.max_body_bytes),
                                                           min(policy.timeout, left))
        except (asyncio.TimeoutError, httpx.TimeoutException):
            if left < policy.timeout:
                raise deadline.exceeded(url) from None
            what = f"timed out after {policy.timeout:g}s"
        except BodyTooLarge as exc:
            raise RequestFailed(f"response body larger than max_body_bytes={policy.max_body_bytes:,} ({exc}), "
                                f"not read further ({url})") from None
        except httpx.TransportError as exc:
            what = f"connection failed ({type(exc).__name__}: {exc or 'no detail'})"
        else:
            status = response.status_code
            if status < 400:
                return _decode(content, url)
            what = f"HTTP {status} {content[:120].decode('utf-8', 'replace')!r}"
            if status != 429 and status < 500:
                raise RequestFailed(f"{what}, not retried ({url})")
        if attempt < policy.max_retries:
            wait, left = policy.delay(attempt, response), deadline.left()
            if wait >= left:
                asked = f"Retry-After {response.headers['retry-after']}" if response is not None and \
                    "retry-after" in response.headers else f"backoff {wait:g}s"
                raise RequestFailed(f"{what}; not retried: the wait ({asked}) is beyond the step deadline "
                                    f"({max(left, 0):.3g}s left) ({url})")
            counters["retries"] = counters.get("retries", 0) + 1
            await asyncio.sleep(wait)
    raise RequestFailed(f"{what} after {policy.attempts} attempts ({url})")


class LoopThread:
    """A private asyncio event loop in a daemon thread.

    Sync code hands it coroutines from any thread, also from inside another running loop (that caller
    blocks until the result is there), and HTTP connections stay open between calls. After a fork the
    child starts its own thread on first use.
    """

    def __init__(self, name: str):
        self.name, self._loop, self._thread, self._pid = name, None, None, None
        self._lock = threading.Lock()

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._loop, self._pid = asyncio.new_event_loop(), os.getpid()
                self._thread = threading.Thread(target=self._loop.run_forever, name=self.name, daemon=True)
                self._thread.start()
            return self._loop

    def run(self, coro_fn: Callable[[], Any], timeout: float) -> Any:
        """Run ``coro_fn()`` on the loop and wait at most ``timeout`` seconds for its result."""
        if threading.current_thread() is self._thread:
            raise RuntimeError(f"{self.name}: search() was called from its own event-loop thread; call it "
                               "from ordinary code or a worker thread (e.g. asyncio.to_thread)")
        future = asyncio.run_coroutine_threadsafe(coro_fn(), self._ensure())
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise RequestFailed(f"no result from the event loop within {timeout:g}s") from None

    def close(self, final: Callable[[], Any] | None = None) -> None:
        """Run the coroutine ``final()`` (e.g. closing a client), then stop the loop and its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or self._pid != os.getpid() or not loop.is_running():
            return
        if threading.current_thread() is thread:  # garbage-collected on the loop thread itself
            loop.call_soon(loop.stop)
            return
        if final is not None:
            asyncio.run_coroutine_threadsafe(final(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
        self._loop = self._thread = None


CLIENT_SHARD = 8  # connections per httpx client (see AsyncHTTPBackend._get_client)


class AsyncHTTPBackend:
    """Base of the HTTP backends: a loop thread, a pooled ``httpx.AsyncClient`` and a retry policy."""

    kind = "http"

    def __init__(self, policy: RetryPolicy, concurrency: int, headers: dict | None = None):
        if not (isinstance(concurrency, int) and concurrency >= 1):
            raise ValueError(f"expected concurrency to be an int >= 1, got {concurrency!r}")
        self.policy, self.concurrency, self.headers = policy, concurrency, dict(headers or {})
        self.last_stats: dict = {}
        self._loop = LoopThread(f"zerosearch-{self.kind}")
        weakref.finalize(self, self._loop.close)  # a backend dropped without close() stops its thread
        self._clients: list[httpx.AsyncClient] = []
        self._client_pid: int | None = None

    def _get_client(self, i: int = 0) -> httpx.AsyncClient:
        """Pooled client for request ``i`` (made on the loop thread, on first use in this process).

        Requests are spread over ``ceil(concurrency / CLIENT_SHARD)`` clients: httpcore's pool bookkeeping
        costs O(connections x requests) per event, so one 64-connection pool spends most of the time there.
        """
        if not self._clients or self._client_pid != os.getpid():
            limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
            timeout = httpx.Timeout(self.policy.timeout)
            # plain-http URLs need no certificates (loading them costs ~0.3-0.6 s per client)
            verify = any(u.startswith("https://") for u in getattr(self, "urls", ["https://"]))
            # identity: the raw transport stream is not decompressed
            headers = {"Content-Type": "application/json", "Accept-Encoding": "identity", **self.headers}
            self._clients = [httpx.AsyncClient(limits=limits, timeout=timeout, headers=headers, verify=verify)
                             for _ in range(math.ceil(self.concurrency / CLIENT_SHARD))]
            self._client_pid = os.getpid()
        return self._clients[i % len(self._clients)]

    def _run(self, coro_fn: Callable[[], Any], deadline: float) -> Any:
        return self._loop.run(coro_fn, deadline + 5.0)

    def close(self) -> None:
        """Close connections and stop the loop thread (the backend reopens them if used again)."""
        clients, self._clients = self._clients, []

        async def _close():
            if self._client_pid == os.getpid():
                await asyncio.gather(*(client.aclose() for client in clients))

        self._loop.close(_close)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def parse_urls(kind: str, arg: str, example: str) -> list[str]:
    """``"URL[,URL…]"`` (the argument of an HTTP backend spec) → the URL list."""
    urls = [u.strip() for u in arg.split(",") if u.strip()]
    if not urls:
        raise ValueError(f"expected '{kind}:{example}', got '{kind}:{arg}'")
    return urls
