"""A fake OpenAI-compatible policy server on 127.0.0.1: the scripted policy (search the question, answer from the
documents) behind ``/v1/chat/completions``, for trainers and evaluators that call a policy over HTTP."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agents.scripted import ScriptedPolicy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):  # /v1/models
        self._send({"object": "list", "data": [{"id": "scripted", "object": "model"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.server.requests.append(body)
        transcript = "".join(m.get("content") or "" for m in body.get("messages", []) if m.get("role") != "system"
                             and isinstance(m.get("content"), str))
        text = ScriptedPolicy().act(transcript)
        if body.get("stream"):
            return self._stream(body, text, transcript)
        self._send({"id": f"chatcmpl-{len(self.server.requests)}", "object": "chat.completion",
                    "created": int(time.time()), "model": body.get("model", "scripted"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": len(transcript) // 4, "completion_tokens": len(text) // 4,
                              "total_tokens": (len(transcript) + len(text)) // 4}})

    def _stream(self, body: dict, text: str, transcript: str):
        """Server-sent events as OpenAI streams them: one content delta, the finish, the usage, [DONE]."""
        base = {"id": f"chatcmpl-{len(self.server.requests)}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": body.get("model", "scripted")}
        usage = {"prompt_tokens": len(transcript) // 4, "completion_tokens": len(text) // 4,
                 "total_tokens": (len(transcript) + len(text)) // 4}
        events = [dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": text},
                                       "finish_reason": None}]),
                  dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]),
                  dict(base, choices=[], usage=usage)]
        data = "".join(f"data: {json.dumps(e)}\n\n" for e in events).encode() + b"data: [DONE]\n\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send(self, payload: dict):
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakePolicyServer:
    """``with FakePolicyServer() as server: server.url`` (``…/v1``); ``server.requests`` holds every request."""

    def __enter__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.requests = self.requests = []
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
