"""Real HTTP servers on 127.0.0.1 for backend tests: a fake OpenAI-compatible simulator and a fake
Search-R1 retriever in one threaded stdlib server, which misbehaves on command. Documents echo what the
request carried, so tests can check pairing: ``Doc 3: useful doc 3 | query [q] | question [Q?] | answer [A]``.

Faults, per request with a marker in the search query (``"capital #fault=500"``; ``#fault=429x1`` = only the
first time this exact query arrives) or for the whole server (``server.set_fault("500", times=2)``):

==========  ===================================================================
slow        sleep ``server.slow_s`` before answering (beyond a client's timeout)
429 / 500   that HTTP status (429 with ``Retry-After: server.retry_after``)
400         a client error (must not be retried)
badjson     200 with a body that is not JSON
nofields    200 with JSON lacking ``choices`` (chat) / ``result`` (retrieve)
empty       chat content ""
nodocs      chat content without "Doc i:" markers
partial     only 2 documents (chat) / a result list missing (retrieve)
badhit      retrieve: a hit without ``document``/``contents``
blankhit    retrieve: the first hit of every list has empty ``contents``
emptydoc    chat content ``"Doc 1:\nDoc 2: b\nDoc 3: c"`` (an empty first document)
drop        close the connection without a response
kill        kill the whole server: this and every later request is dropped, new connects refused
drip        send the (valid) answer one byte every ``server.drip_s`` seconds
cut         promise the whole answer in Content-Length, send half of it, close
huge        200 with a valid JSON body of ``server.huge_bytes`` bytes (with Content-Length)
hugestream  the same body without Content-Length (streamed until the connection closes)
latin1      200 with a body that is not UTF-8 (Latin-1 bytes)
random      fail (HTTP 500) with probability ``server.fail_rate`` (seeded: ``server.rng``)
==========  ===================================================================

``server_process(latency)`` runs one in a child process (for benchmarks: no shared GIL).
``server.latency`` adds a fixed delay to every answer; ``server.max_inflight`` is the most requests
handled at once; ``server.requests`` records every request (its query, question, answer, kind, fault).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fake_answers import chat_answer, chat_record, retrieve_answer

_FAULT_RE = re.compile(r"#fault=(\w+?)(?:x(\d+))?(?:\s|$)")


def refused_url(path: str = "/v1") -> str:
    """A URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    disable_nagle_algorithm = True  # else headers and body in two sends cost a 40 ms delayed ACK

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        fake: FakeServer = self.server.fake
        if fake.dead:
            return self._drop()
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with fake.lock:
            fake.inflight += 1
            fake.max_inflight = max(fake.max_inflight, fake.inflight)
        try:
            self._serve(fake, body)
        finally:
            with fake.lock:
                fake.inflight -= 1

    def _serve(self, fake: FakeServer, body: bytes):
        try:
            data = json.loads(body)
        except ValueError:
            return self._send(400, b'{"error": "request body is not JSON"}')
        if self.path.endswith("/chat/completions"):
            record = chat_record(data)
            text = record["query"]
        elif self.path.endswith("/retrieve"):
            record = {"queries": data.get("queries", []), "topk": data.get("topk")}
            text = " ".join(record["queries"])
        else:
            return self._send(404, b'{"error": "no such path"}')
        record.update(path=self.path, body=data, t=time.monotonic(), headers=dict(self.headers))
        record["fault"] = fault = fake.pick_fault(text)
        with fake.lock:
            fake.served += 1
            if fake.keep_records:
                fake.requests.append(record)
        if fault == "kill":
            fake.kill()
        if fake.latency:
            time.sleep(fake.latency)
        if fault == "slow":
            time.sleep(fake.slow_s)
        if fake.dead or fault == "drop":
            return self._drop()
        if fault in ("429", "500", "400"):
            headers = {"Retry-After": str(fake.retry_after)} if fault == "429" else {}
            return self._send(int(fault), b'{"error": "injected fault"}', headers)
        if fault == "badjson":
            return self._send(200, b'{"choices": [ not json')
        if fault == "random" and fake.unlucky():
            return self._send(500, b'{"error": "random fault"}')
        if fault in ("huge", "hugestream"):
            return self._huge(fake, streamed=fault == "hugestream")
        answer = chat_answer(record, fault) if "query" in record else retrieve_answer(data, fault)
        payload = json.dumps(answer).encode()
        if fault == "latin1":
            payload = json.dumps(answer, ensure_ascii=False).encode().replace(b"doc", "d\u00f6c".encode("latin-1"))
        if fault == "drip":
            return self._drip(fake, payload)
        if fault == "cut":
            return self._cut(payload)
        self._send(200, payload)

    def _drip(self, fake: FakeServer, payload: bytes):
        try:
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            for i in range(len(payload)):
                if fake.dead:
                    break
                self.wfile.write(payload[i:i + 1])
                time.sleep(fake.drip_s)
        except OSError:
            pass
        self.close_connection = True

    def _cut(self, payload: bytes):
        try:
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
        except OSError:
            pass
        self._drop()

    def _huge(self, fake: FakeServer, streamed: bool):
        filler, n = b"x" * 65536, fake.huge_bytes // 65536
        try:
            self.send_response(200)
            if not streamed:
                self.send_header("Content-Length", str(n * (len(filler) + 3) + 8))
            else:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b'{"a": [')
            for i in range(n):
                self.wfile.write(b'"' + filler + (b'",' if i < n - 1 else b'" '))
            self.wfile.write(b"]}")
        except OSError:
            pass
        self.close_connection = True

    def _send(self, status: int, payload: bytes, headers: dict | None = None):
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (timeout) and closed the socket
            self.close_connection = True

    def _drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 (a free port): use as a context manager or start()/stop()."""

    def __init__(self, latency: float = 0.0, slow_s: float = 3.0, retry_after: float = 1, fail_rate: float = 0.1,
                 seed: int = 0):
        self.latency, self.slow_s, self.retry_after = latency, slow_s, retry_after
        self.drip_s, self.huge_bytes, self.fail_rate, self.rng = 0.05, 30 * 2**20, fail_rate, random.Random(seed)
        self.failed, self.served, self.keep_records = 0, 0, True  # "random" failures, requests, record them?
        self.requests: list[dict] = []
        self.inflight = self.max_inflight = 0
        self.dead = False
        self.lock = threading.Lock()
        self._fault: tuple[str | None, int | None] = (None, None)
        self._hits: Counter = Counter()
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> FakeServer:
        ThreadingHTTPServer.request_queue_size = 256  # listen backlog: many concurrent connects
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        """Base URL of the OpenAI-compatible API (``…/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def retrieve_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/retrieve"

    def set_fault(self, name: str | None, times: int | None = None) -> None:
        """Misbehave on every request (``times=None``) or on the next ``times`` requests."""
        with self.lock:
            self._fault, self._hits["<server>"] = (name, times), 0

    def pick_fault(self, text: str) -> str | None:
        """The fault for a request whose query text is ``text`` (a marker wins over the server's fault)."""
        marker = _FAULT_RE.search(text)
        name, times = (marker.group(1), marker.group(2) and int(marker.group(2))) if marker else self._fault
        key = text if marker else "<server>"
        with self.lock:
            self._hits[key] += 1
            return name if name and (times is None or self._hits[key] <= times) else None

    def unlucky(self) -> bool:
        """Draw whether this request fails (the "random" fault); counts the failures."""
        with self.lock:
            hit = self.rng.random() < self.fail_rate
            self.failed += hit
            return hit

    def kill(self) -> None:
        """Die now: requests in progress and later ones are dropped, new connections refused."""
        self.dead = True
        threading.Thread(target=self.stop, daemon=True).start()

    def stop(self) -> None:
        if self._httpd is not None:
            httpd, self._httpd = self._httpd, None
            httpd.shutdown()
            httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.dead = True
        self.stop()


@contextlib.contextmanager
def server_process(latency: float = 0.0):
    """A FakeServer in a child process (yields its ``/v1`` URL): a benchmark's client then does not share
    the GIL with the server's threads, which would add ~5 ms thread switches to every request."""
    proc = subprocess.Popen([sys.executable, __file__, "--latency", str(latency)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Run a FakeServer until killed; prints its port.")
    parser.add_argument("--latency", type=float, default=0.0)
    server = FakeServer(latency=parser.parse_args().latency).start()
    print(server.port, flush=True)
    threading.Event().wait()


@contextlib.contextmanager
def backend_builder(backend_class, **defaults):
    """Yields ``build(urls, **kw)`` making ``backend_class`` with test-sized ``defaults``; closes them all."""
    made = []

    def build(urls, **kw):
        made.append(backend_class(urls, **{**defaults, **kw}))
        return made[-1]

    try:
        yield build
    finally:
        for backend in made:
            backend.close()
