"""``zerosearch serve``: ZeroSearch-v0 as an OpenEnv environment server (WebSocket sessions at ``/ws``, OpenEnv's
``/reset``, ``/step``, ``/state``, ``/schema``, ``/health``), on 127.0.0.1 unless told otherwise.

    zerosearch serve --port 8000 --backend bm25 --action-format tool_call --max-sessions 64

Clients: :class:`agents.integrations.openenv_client.ZeroSearchClient` (or any OpenEnv ``EnvClient``). Needs
``pip install 'zerosearch-gym[openenv]'``.
"""
from __future__ import annotations

import argparse


def parse_args(argv: list[str] | None):
    p = argparse.ArgumentParser(prog="zerosearch serve", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on")
    p.add_argument("--backend", default="bm25", help="search backend spec (bm25, hf:PATH, openai:URL, …)")
    p.add_argument("--dataset", default=None, help="QA dataset (default: the shipped sample)")
    p.add_argument("--action-format", default="tags", choices=["tags", "tool_call"],
                   help="how the policy searches: <search> tags or a JSON <tool_call>")
    p.add_argument("--max-turns", type=int, default=4, help="search turns before the answer turn")
    p.add_argument("--top-k", type=int, default=5, help="documents per search")
    p.add_argument("--noise", type=float, default=None,
                   help="a fixed noise probability (default: ZeroSearch's schedule; reset takes curriculum_step)")
    p.add_argument("--max-sessions", type=int, default=64, help="concurrent WebSocket sessions (episodes)")
    p.add_argument("--max-body-bytes", type=int, default=1 << 20, help="largest request body or WebSocket message")
    args = p.parse_args(argv)
    if not 0 < args.port < 65536:
        p.error(f"expected --port in 1..65535, got {args.port}")
    if args.max_sessions < 1 or args.max_body_bytes < 1024:
        p.error("expected --max-sessions >= 1 and --max-body-bytes >= 1024")
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        import uvicorn

        from .openenv_env import make_app
    except ImportError as exc:
        raise ImportError(f"zerosearch serve needs OpenEnv: pip install 'zerosearch-gym[openenv]' ({exc})") from exc
    args = parse_args(argv)
    app = make_app(args.backend, args.dataset, max_sessions=args.max_sessions, max_body_bytes=args.max_body_bytes,
                   action_format=args.action_format, max_turns=args.max_turns, top_k=args.top_k, noise=args.noise)
    print(f"[zerosearch serve] ZeroSearch-v0 ({args.action_format}, backend {args.backend}) on "
          f"http://{args.host}:{args.port} (WebSocket sessions at /ws, up to {args.max_sessions})", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, ws_max_size=args.max_body_bytes, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
