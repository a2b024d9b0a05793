"""``zerosearch simulator report``: how good is a search simulator, measured side by side with others.

On a fixed set of held-out queries with known answers (the first ``--queries`` items of the corpus recipe's
seeded order, never used for tuning), each spec answers every query twice, useful and noisy. Per spec:

- ``valid``: share of outputs that parse into exactly ``top_k`` documents (malformed or failed = invalid);
- ``useful_hit`` / ``noisy_hit``: share of useful / noisy outputs whose documents contain the answer
  (normalized, whole words); ``separation`` = useful_hit / noisy_hit — what makes the noise curriculum
  meaningful;
- ``noisy_fluent``: share of noisy outputs with no empty, repeated or looping document;
- ``words_per_doc``, ``docs_per_s`` (wall time of the batched search calls), ``tokens_per_search``
  (simulator tokens generated per request, resamples included).

A verified spec (``?verify=N``) adds a row for its first tries (the same spec unverified: same seeds, same
outputs) and ``verify_token_ratio``, what verification cost in simulator tokens.

Example::

    zerosearch simulator report --specs "hf:?adapter=none&max_new_tokens=256" "hf?max_new_tokens=256" bm25 \\
        --queries 200 --json runs/sim/report.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from zerosearch_gym import SearchRequest, make_backend
from zerosearch_gym.backends.verify import verification_outcome
from zerosearch_gym.offline import wiki_corpus_path
from zerosearch_gym.reward import answer_in_text

from .corpus import corpus_items, read_corpus

COLUMNS = ("valid", "useful_hit", "noisy_hit", "separation", "noisy_fluent", "words_per_doc", "docs_per_s",
           "tokens_per_search")
PERCENT = ("valid", "useful_hit", "noisy_hit", "noisy_fluent")


def heldout_requests(count: int, seed: int = 0, corpus: str | None = None, top_k: int = 5) -> list[SearchRequest]:
    """Useful and noisy requests (interleaved) for the first ``count`` held-out corpus items."""
    items = corpus_items(read_corpus(corpus or wiki_corpus_path()), count, offset=0, seed=seed)
    return [SearchRequest(it.query, it.question, (it.answer,), useful=useful, top_k=top_k, seed=seed + i)
            for i, it in enumerate(items) for useful in (True, False)]


def looping(doc: str, n: int = 4) -> bool:
    """A document that loops: some ``n``-word run occurs three times or more.

    >>> looping("the cat sat on the mat " * 3), looping("a plain sentence about Paris and its history")
    (True, False)
    """
    words = doc.lower().split()
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return any(grams.count(g) >= 3 for g in set(grams))


def score(requests: list[SearchRequest], results: list, seconds: float, tokens: int = 0) -> dict:
    """The report's metrics for one spec's ``results`` (one per request); ``tokens``: simulator tokens spent."""
    rows = []
    for request, result in zip(requests, results):
        docs = list(result) if isinstance(result, list) else []
        valid = len(docs) == request.top_k and getattr(result, "malformed", None) is None
        clean = [" ".join(d.split()).lower() for d in docs]
        fluent = bool(docs) and all(clean) and len(set(clean)) == len(clean) and not any(map(looping, clean))
        hit = bool(docs) and answer_in_text("\n".join(docs), request.answers)
        rows.append((request.useful, valid, hit, fluent, [len(d.split()) for d in docs]))
    useful = [r for r in rows if r[0]]
    noisy = [r for r in rows if not r[0]]
    share = (lambda xs, i: sum(x[i] for x in xs) / len(xs) if xs else 0.0)
    words = [w for r in rows for w in r[4]]
    u_hit, n_hit = share(useful, 2), share(noisy, 2)
    return {"valid": share(rows, 1), "useful_hit": u_hit, "noisy_hit": n_hit,
            "separation": u_hit / n_hit if n_hit else (float("inf") if u_hit else 0.0),
            "noisy_fluent": share(noisy, 3), "words_per_doc": sum(words) / len(words) if words else 0.0,
            "docs_per_s": len(words) / seconds if seconds > 0 else 0.0, "tokens_per_search": tokens / len(rows),
            "requests": len(rows), "errors": sum(not isinstance(r, list) for r in results),
            "seconds": round(seconds, 2)}


def run_spec(spec: str, requests: list[SearchRequest], batch: int = 32) -> tuple[dict, list, dict | None]:
    """Build the backend for ``spec``, answer ``requests`` in batches: (metrics, results, first-try metrics).

    For a verified spec (``?verify=N``) the third item scores the simulator's first tries, i.e. the same spec
    without verification (same seeds, same outputs), and its metrics add ``verify_token_ratio`` (simulator
    tokens with verification / without) and the outcome counts; otherwise it is None."""
    backend = make_backend(spec)
    results, first, seconds, tokens, extra, outcomes = [], [], 0.0, 0, 0, []
    for start in range(0, len(requests), batch):
        chunk = requests[start: start + batch]
        t0 = time.perf_counter()
        results.extend(backend.search(chunk))
        seconds += time.perf_counter() - t0
        stats = getattr(backend, "last_stats", {}) or {}
        tokens += int(stats.get("generated_tokens", 0) or 0)
        extra += int(stats.get("verify_generated_tokens", 0) or 0)
        first.extend(getattr(backend, "last_unverified", []))
        outcomes += [verification_outcome(r)[0] for r in results[-len(chunk):]]
        print(f"[report] {spec}: {len(results)}/{len(requests)}", file=sys.stderr, flush=True)
    metrics = score(requests, results, seconds, tokens)
    if not first:
        return metrics, results, None
    metrics["verify_token_ratio"] = tokens / max(tokens - extra, 1)
    metrics["outcomes"] = {k: outcomes.count(k) for k in sorted(set(outcomes))}
    first_try = score(requests, first, seconds, tokens - extra)
    first_try["docs_per_s"] = float("nan")  # the first tries were not timed on their own
    return metrics, results, first_try


def table(report: dict) -> str:
    """A markdown table of ``{spec: metrics}``."""
    lines = ["| spec | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for spec, m in report.items():
        cells = [f"{100 * m[c]:.1f}%" if c in PERCENT else f"{m[c]:.1f}" for c in COLUMNS]
        lines.append(f"| `{spec}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="zerosearch simulator report", description=__doc__.split("\n\n")[0])
    p.add_argument("--specs", nargs="+", default=["hf:?adapter=none&max_new_tokens=256", "hf?max_new_tokens=256",
                                                  "bm25"], help="backend specs to compare")
    p.add_argument("--queries", type=int, default=200, help="held-out queries (each asked useful and noisy)")
    p.add_argument("--seed", type=int, default=0, help="seed of the held-out set (same as build-data's)")
    p.add_argument("--batch", type=int, default=32, help="requests per search call")
    p.add_argument("--corpus", default=None, help="corpus JSONL (default: the offline Wikipedia summaries)")
    p.add_argument("--json", default=None, help="write metrics and sample outputs here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    requests = heldout_requests(args.queries, args.seed, args.corpus)
    report, samples = {}, {}
    for spec in args.specs:
        report[spec], results, first_try = run_spec(spec, requests, args.batch)
        if first_try is not None:
            report[f"{spec} (first try, unverified)"] = first_try
        samples[spec] = [{"useful": r.useful, "query": r.query, "answer": r.answers[0],
                          "output": list(x) if isinstance(x, list) else str(x)} for r, x in zip(requests, results)][:6]
    print(table(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"queries": args.queries, "report": report, "samples": samples},
                                              indent=1, default=str) + "\n")
    return 0
