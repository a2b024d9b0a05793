"""Simulator SFT rows: build one from a search call, write and read them (JSONL or parquet), validated.

A row is the exact ``sft`` simulator prompt, the target documents "Doc 1: …\\nDoc 2: …", and where they came
from::

    {"prompt": "You are the Google search engine.\\n…Useful Output:\\n", "target": "Doc 1: …\\nDoc 5: …",
     "label": "useful", "query": "…", "question": "…", "answers": ["…"], "provenance": {…}, "mode": "sft"}
"""
from __future__ import annotations

import json
from pathlib import Path

from zerosearch_gym.backends import SearchRequest
from zerosearch_gym.backends.simulator_prompts import simulator_prompt
from zerosearch_gym.protocol import format_documents

LABELS = ("useful", "noisy")
FIELDS = ("prompt", "target", "label", "query", "question", "answers", "provenance", "mode")


def make_row(query: str, question: str, answers, documents, label: str, provenance: dict,
             mode: str = "sft") -> dict:
    """One SFT row for ``documents`` returned for ``query`` within the episode of ``question``, its prompt in
    simulator ``mode`` ("sft", or "sft-blind" whose noisy prompt does not hold the answer).

    >>> row = make_row("Paris", "Capital of France", ["Paris"], ["Paris is the capital."], "useful", {})
    >>> row["target"], row["prompt"].splitlines()[-1]
    ('Doc 1: Paris is the capital.', 'Useful Output:')
    """
    if label not in LABELS:
        raise ValueError(f"expected label 'useful' or 'noisy', got {label!r}")
    request = SearchRequest(query, question, tuple(answers), useful=label == "useful", top_k=len(documents))
    target = format_documents([" ".join(str(d).split()) for d in documents])
    return {"prompt": simulator_prompt(request, mode), "target": target, "label": label, "query": query,
            "question": question, "answers": list(answers), "provenance": provenance, "mode": mode}


def write_rows(rows: list[dict], path: str | Path) -> Path:
    """Write ``rows`` as JSONL (``.jsonl``) or parquet (``.parquet``, needs pyarrow)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        flat = [{**r, "provenance": json.dumps(r["provenance"], sort_keys=True)} for r in rows]
        pq.write_table(pa.Table.from_pylist(flat), path)
    elif path.suffix == ".jsonl":
        with open(path, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    else:
        raise ValueError(f"expected an output path ending in .jsonl or .parquet, got {str(path)!r}")
    return path


def read_rows(path: str | Path) -> list[dict]:
    """Read and validate rows: a missing field, an unknown label or an empty target is an error that names the
    row, raised before any training starts."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"expected a simulator data file (.jsonl or .parquet), got {str(path)!r} (no such file)")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    else:
        rows = []
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except ValueError as exc:
                        raise ValueError(f"{path} line {number}: expected a JSON object, got {line[:60]!r} ({exc})") \
                            from None
    if not rows:
        raise ValueError(f"expected at least one row in {path}, got none")
    for number, row in enumerate(rows, 1):
        where = f"{path} row {number}"
        if not isinstance(row, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(row).__name__}")
        missing = [f for f in ("prompt", "target", "label") if f not in row]
        if missing:
            raise ValueError(f"{where}: expected the fields {list(FIELDS)}, missing {missing}")
        if row["label"] not in LABELS:
            raise ValueError(f"{where}: expected label 'useful' or 'noisy', got {row['label']!r}")
        if not isinstance(row["prompt"], str) or not isinstance(row["target"], str) or not row["target"].strip():
            raise ValueError(f"{where}: expected non-empty string 'prompt' and 'target', got "
                             f"{type(row['prompt']).__name__} / {row['target']!r:.40}")
    return rows


def balance(rows: list[dict], rng) -> list[dict]:
    """Keep as many noisy as useful rows (a seeded sample of the larger class), then shuffle."""
    useful = [r for r in rows if r["label"] == "useful"]
    noisy = [r for r in rows if r["label"] == "noisy"]
    n = min(len(useful), len(noisy))
    kept = rng.sample(useful, n) + rng.sample(noisy, n)
    rng.shuffle(kept)
    return kept
