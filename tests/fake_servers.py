"""Real HTTP servers on 127.0.0.1 for backend tests: a fake OpenAI-compatible simulator and a fake
Search-R1 retriever in one threaded stdlib server, which misbehaves on command.

Documents echo what the request carried, so tests can check pairing::

    Doc 3: useful doc 3 | query [q] | question [Q?] | answer [A]

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
drop        close the connection without a response
kill        kill the whole server: this and every later request is dropped, new connects refused
==========  ===================================================================

``server_process(latency)`` runs one in a child process (for benchmarks: no shared GIL).
``server.latency`` adds a fixed delay to every answer; ``server.max_inflight`` is the most requests
handled at once; ``server.requests`` records every request (its query, question, answer, kind, fault).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_FAULT_RE = re.compile(r"#fault=(\w+?)(?:x(\d+))?(?:\s|$)")
_QUERY_RE = re.compile(r"^Query: (.*)$", re.MULTILINE)
_PAIR_RE = re.compile(r'question: "(.*?)" whose answer is (.*?)\.\n', re.DOTALL)
_KIND_RE = re.compile(r"^(Useful|Noisy) Output:", re.MULTILINE)


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
            record = _chat_record(data)
            text = record["query"]
        elif self.path.endswith("/retrieve"):
            record = {"queries": data.get("queries", []), "topk": data.get("topk")}
            text = " ".join(record["queries"])
        else:
            return self._send(404, b'{"error": "no such path"}')
        record.update(path=self.path, body=data, t=time.monotonic(), headers=dict(self.headers))
        record["fault"] = fault = fake.pick_fault(text)
        with fake.lock:
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
        answer = _chat_answer(record, fault) if "query" in record else _retrieve_answer(data, fault)
        self._send(200, json.dumps(answer).encode())

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


def _chat_record(data: dict) -> dict:
    prompt = str((data.get("messages") or [{}])[-1].get("content", ""))
    # the last "Query:" / "… Output:" lines are the request's (prompt mode has a one-shot example first)
    queries, kinds, pair = _QUERY_RE.findall(prompt), _KIND_RE.findall(prompt), _PAIR_RE.search(prompt)
    return {"query": queries[-1] if queries else "", "question": pair.group(1) if pair else "",
            "answer": pair.group(2) if pair else "", "kind": kinds[-1].lower() if kinds else "",
            "prompt": prompt}


def _chat_answer(record: dict, fault: str | None) -> dict:
    if fault == "nofields":
        return {"id": "fake", "object": "chat.completion"}
    n = 2 if fault == "partial" else 5
    docs = [f"Doc {i}: {record['kind']} doc {i} | query [{record['query']}] | question [{record['question']}] "
            f"| answer [{record['answer']}]" for i in range(1, n + 1)]
    content = {"empty": "", "nodocs": "I cannot write documents for this."}.get(fault, "\n".join(docs))
    if "Reply with yes or no" in record["prompt"] and fault is None:  # a judge: is the answer in the documents?
        documents = record["prompt"].partition("Documents:")[2].lower()
        content = "Yes." if record["answer"] and record["answer"].lower() in documents else "No."
    return {"id": "fake", "object": "chat.completion", "model": record["body"].get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}]}


def _retrieve_answer(data: dict, fault: str | None) -> dict:
    if fault == "nofields":
        return {"error": "no result"}
    lists = []
    for q in data.get("queries", []):
        hits = [{"document": {"id": f"{q}-{j}", "contents": f'"Title {j} of {q}"\nText {j} about {q}.'},
                 "score": 1.0 / j} for j in range(1, int(data.get("topk", 3)) + 1)]
        if not data.get("return_scores"):
            hits = [h["document"] for h in hits]
        lists.append(hits)
    if fault == "partial":
        lists = lists[:-1]
    if fault == "badhit" and lists:
        lists[0] = [{"id": "no contents"}]
    return {"result": lists}


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 (a free port): use as a context manager or start()/stop()."""

    def __init__(self, latency: float = 0.0, slow_s: float = 3.0, retry_after: float = 1):
        self.latency, self.slow_s, self.retry_after = latency, slow_s, retry_after
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
