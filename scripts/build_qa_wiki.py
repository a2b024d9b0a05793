"""Build ``zerosearch_gym/data/qa_wiki.jsonl``: a train / dev split of cloze QA pairs from the offline corpus.

The 67 sample questions whose answer the offline Wikipedia summaries hold are too few to train on and
evaluate on separately, so this file adds QA pairs made from the summaries themselves, one per article:
the first sentence of a summary with one name / date span cut out ("Scarlet fever ... is an infectious
disease caused by whom?" → "Streptococcus"; :func:`agents.simulator.corpus.make_item`).

- ``dev``: items ``[0, 200)`` of the seeded order — the same items ``zerosearch simulator report`` holds out,
  so neither the shipped simulator nor any policy trained on ``wiki:train`` has seen these articles;
- ``train``: items ``[200, 1200)`` — the articles the shipped simulator was tuned on.

Each item comes from a different article, so train and dev are disjoint by article. Deterministic: the
corpus and the seed fix every row. Load with ``load_qa_dataset("wiki:train")`` / ``"wiki:dev"``; evaluate
with ``zerosearch eval --datasets wiki:dev``.

    python scripts/build_qa_wiki.py [--out PATH]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "zerosearch_gym" / "data" / "qa_wiki.jsonl"
DEV, TRAIN, SEED = 200, 1000, 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(OUT), help="JSONL file to write")
    args = p.parse_args(argv)
    from agents.simulator.corpus import corpus_items, read_corpus
    from zerosearch_gym.offline import wiki_corpus_path

    items = corpus_items(read_corpus(wiki_corpus_path()), DEV + TRAIN, seed=SEED)
    with open(args.out, "w", encoding="utf-8") as out:
        for i, item in enumerate(items):
            row = {"id": item.doc_id, "question": item.question, "golden_answers": [item.answer],
                   "data_source": "wiki-cloze", "title": item.title, "split": "dev" if i < DEV else "train"}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    digest = hashlib.sha256(Path(args.out).read_bytes()).hexdigest()
    print(f"wrote {len(items)} rows ({DEV} dev, {len(items) - DEV} train) to {args.out}, sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
