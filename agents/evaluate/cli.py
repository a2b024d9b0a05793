"""``zerosearch eval``: measure a policy on QA sets with a search backend; prints the table and writes
``eval.json``, ``eval.md`` and the episodes (``episodes.jsonl``, for ``zerosearch view``) to --output-dir.

Examples::

    zerosearch eval --policy scripted --datasets sample:in-wiki sample
    zerosearch eval --policy rag --backend bm25 --datasets sample --limit 50
    zerosearch eval --policy runs/zerosearch --datasets nq triviaqa --limit 500 --backend http-retriever:URL
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from zerosearch_gym import UsageError, make_backend

from .datasets import MAX_QUESTION_CHARS, PAPER_SETS, ZEROSEARCH_HUB, load_eval_sets
from .policies import BASELINES, Decoding, build_policy, resolve_policy


def build_parser(prog: str = "zerosearch eval") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    d = Decoding()
    parser.add_argument("--policy", default="scripted",
                        help="scripted | direct | cot | rag | warmstart (SmolLM2 + the shipped warm-start "
                             "adapter) | an HF model folder or hub id | a training run folder | an adapter "
                             "folder | tiny:llama (a random test model) (default: scripted)")
    parser.add_argument("--model", default="", help="the LM of a direct/cot/rag baseline: folder, run folder "
                                                    "or hub id (default: the offline SmolLM2-135M-Instruct)")
    parser.add_argument("--backend", default="bm25", help="search backend spec (default: bm25, the offline "
                                                          "Wikipedia summaries)")
    parser.add_argument("--datasets", nargs="+", default=["sample:in-wiki"],
                        help=f"sample | sample:in-wiki | wiki:dev | {' | '.join(PAPER_SETS)} | flashrag:<name> | a "
                             ".parquet/.jsonl/.json file | a hub id (default: sample:in-wiki)")
    parser.add_argument("--hub", default=ZEROSEARCH_HUB, help="the hub id (or local folder) the paper's sets "
                                                              f"are read from (default: {ZEROSEARCH_HUB})")
    parser.add_argument("--limit", type=int, default=None, help="first N usable questions of each set")
    parser.add_argument("--seed", type=int, default=0, help="seed of sampling and of the env")
    parser.add_argument("--temperature", type=float, default=d.temperature, help="0 = greedy (default)")
    parser.add_argument("--top-p", type=float, default=d.top_p)
    parser.add_argument("--max-new-tokens", type=int, default=d.max_new_tokens, help="per policy turn")
    parser.add_argument("--max-obs-tokens", type=int, default=d.max_obs_tokens, help="document tokens kept per search")
    parser.add_argument("--max-seq-len", type=int, default=d.max_seq_len, help="context limit per episode")
    parser.add_argument("--max-turns", type=int, default=d.max_turns, help="search turns before the answer turn")
    parser.add_argument("--top-k", type=int, default=d.top_k, help="documents per search")
    parser.add_argument("--noise", type=float, default=d.noise, help="probability that a search is noisy (a "
                        "simulator then writes noisy documents; real engines ignore it); default 0")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help="episodes stepped together")
    parser.add_argument("--max-question-chars", type=int, default=MAX_QUESTION_CHARS,
                        help="longer questions are skipped and counted")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--output-dir", default="runs/eval", help="eval.json, eval.md, episodes (default: runs/eval)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def decoding_from(args: argparse.Namespace) -> Decoding:
    return Decoding(temperature=args.temperature, top_p=args.top_p, max_new_tokens=args.max_new_tokens,
                    max_obs_tokens=args.max_obs_tokens, max_seq_len=args.max_seq_len, max_turns=args.max_turns,
                    top_k=args.top_k, batch_size=args.batch_size, noise=args.noise).validate()


def pick_device(name: str) -> str:
    import torch

    if name not in ("auto", "cpu", "cuda"):
        raise UsageError(f"expected --device auto, cpu or cuda, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("expected a CUDA device for --device cuda, got none; use --device cpu or auto")
    return "cuda" if name == "auto" and torch.cuda.is_available() else ("cpu" if name == "auto" else name)


@contextmanager
def usage_errors(prefix: str = "", catch: tuple = (ValueError,)) -> Iterator[None]:
    """Raise a ``catch`` error of the block as :class:`~zerosearch_gym.UsageError` (``prefix`` + its message),
    which ``zerosearch`` prints as one line with exit code 2."""
    try:
        yield
    except UsageError:
        raise
    except catch as err:
        raise UsageError(f"{prefix}{err}") from err


def preflight(args: argparse.Namespace):
    """Everything cheap that can fail, before a model loads: settings, policy spec, backend, datasets."""
    with usage_errors():
        decoding = decoding_from(args)
        kind, _ = resolve_policy(args.policy)
        if args.model and kind not in BASELINES:
            raise UsageError(f"expected --model only with --policy {'/'.join(BASELINES)}, got --policy {args.policy}")
        if args.model:
            resolve_policy(args.model)
    with usage_errors(f"--backend {args.backend!r}: ", (ValueError, TypeError, FileNotFoundError, ImportError)):
        backend = make_backend(args.backend)
    sets = load_eval_sets(args.datasets, args.limit, args.hub, args.max_question_chars)
    return decoding, backend, sets


def main(argv: list[str] | None = None) -> int:
    from .harness import evaluate_policy, file_stem
    from .report import command_line, markdown_table, write_report

    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    decoding, backend, sets = preflight(args)
    for s in sets:
        skipped = f", {len(s.skipped)} rows skipped (e.g. row {s.skipped[0][0]}: {s.skipped[0][1]})" \
            if s.skipped else ""
        print(f"[eval] {s.name}: {len(s.examples)} questions from {s.source}{skipped}", file=sys.stderr)
    device = pick_device(args.device)
    with usage_errors():
        policy = build_policy(args.policy, decoding, args.model, device)
    meta = {"command": command_line(argv), "policy": args.policy, "model": getattr(policy, "model", None),
            "backend": args.backend, "datasets": args.datasets, "limit": args.limit, "seed": args.seed,
            "decoding": vars(decoding), "device": device}
    identity = {k: meta[k] for k in ("policy", "model", "backend")}
    results = evaluate_policy(policy, sets, backend, decoding, seed=args.seed, output_dir=args.output_dir,
                              progress=not args.no_progress, identity=identity)
    out = Path(args.output_dir)
    episodes = out / "episodes.jsonl"
    with open(episodes, "w", encoding="utf-8") as handle:  # all sets, for `zerosearch view`
        for s in sets:
            handle.write((out / "episodes" / f"{file_stem(s.name)}.jsonl").read_text(encoding="utf-8"))
    json_path, md_path = write_report(out, results, meta)
    print(markdown_table(results))
    print(f"\nwrote {json_path}, {md_path}, {episodes} (zerosearch view {episodes} -o page.html)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
