"""The corpus recipe: simulator training pairs from a document corpus alone (no policy, no judge).

Each corpus document yields one cloze question whose answer is a span of its first sentence
("2001: A Space Odyssey is a 1968 epic science fiction film produced and directed by whom?" → "Stanley
Kubrick"), a search query for it, and two labelled targets of five ~30-word documents:

- **useful**: the answer's document (a 30-word window holding the answer) among four BM25 neighbours;
- **noisy**: five BM25 neighbours of the query that do not contain the answer.

Everything is a function of the corpus and ``seed``; items ``[0, holdout)`` of the seeded order are held out
for :mod:`agents.simulator.report`, training uses the items after them.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from zerosearch_gym.reward import normalize_answer

WORDS_PER_DOC = 30
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_CANDIDATE = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2}|[A-Z][\w'’-]+(?:\s+(?:of|de|von|van|and)?\s*[A-Z][\w'’-]+)*)\b")
_STOP = {"the", "a", "an", "of", "in", "on", "and", "or", "is", "was", "by", "for", "to", "as", "at", "with",
         "from", "that", "which", "who", "its", "his", "her", "their", "are", "were", "be", "been"}


@dataclass(frozen=True)
class CorpusItem:
    """One held-out or training question built from document ``doc_id``."""

    question: str
    answer: str
    query: str
    doc_id: str
    title: str
    answer_doc: str  # the 30-word window of the source document that holds the answer


def read_corpus(path: str | Path) -> list[dict]:
    """A JSONL corpus of ``{"id", "title", "text"}`` rows (the offline Wikipedia summaries by default)."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                row = json.loads(line)
                if not isinstance(row.get("text"), str):
                    raise ValueError(f"expected a string 'text' in line {number} of {path}, got {row!r:.80}")
                rows.append({"id": str(row.get("id", number)), "title": str(row.get("title") or ""),
                             "text": row["text"]})
    return rows


def trim(text: str, words: int = WORDS_PER_DOC, around: str | None = None) -> str:
    """About ``words`` words of ``text``: the start, or a window that holds ``around`` when given.

    >>> trim("a b c d e f", 3)
    'a b c'
    >>> trim("a b c d e f", 3, around="e")
    'd e f'
    """
    tokens = text.split()
    if around is None or around not in text:
        return " ".join(tokens[:words])
    first = len(text[: text.index(around)].split())
    span = max(1, len(around.split()))
    start = max(0, min(first - (words - span) // 2 - (words - span) % 2, len(tokens) - words))
    return " ".join(tokens[start: start + max(words, span)])


def make_item(row: dict, rng: random.Random) -> CorpusItem | None:
    """A cloze question on ``row``'s first sentence, or None when it has no usable answer span."""
    sentence = _SENTENCE_END.split(row["text"].strip(), maxsplit=1)[0]
    title_norm = normalize_answer(row["title"])
    spans = [m for m in _CANDIDATE.finditer(sentence)
             if len(sentence[: m.start()].split()) >= 4 and normalize_answer(m.group()) not in title_norm
             and normalize_answer(m.group()) not in _STOP and len(m.group()) > 2]
    if not spans:
        return None
    span = rng.choice(spans)
    answer, prefix = span.group(), sentence[: span.start()].rstrip()
    if len(prefix.split()) > 30:
        return None
    if answer.isdigit():
        question = prefix + " what year?"
    else:
        question = prefix + (" whom?" if re.search(r"\b(by|to|with)$", prefix) else " what?")
    content = [w.strip(",.()\"") for w in prefix.split() if w.lower().strip(",.()\"") not in _STOP]
    keywords = [w for w in content if w and normalize_answer(w) not in title_norm][-3:]
    query = question if rng.random() < 0.5 else " ".join([row["title"], *keywords])
    return CorpusItem(question, answer, query, row["id"], row["title"],
                      trim(row["text"], around=answer))


def corpus_items(rows: list[dict], count: int, offset: int = 0, seed: int = 0) -> list[CorpusItem]:
    """Items ``[offset, offset + count)`` of the seeded order (rows without a usable question are skipped)."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    items: list[CorpusItem] = []
    for i in order:
        item = make_item(rows[i], random.Random(f"{seed}-{rows[i]['id']}"))
        if item is not None:
            items.append(item)
            if len(items) >= offset + count:
                break
    return items[offset:]


def targets(item: CorpusItem, neighbours: list[dict], rng: random.Random, k: int = 5) -> dict[str, list[str]]:
    """The useful and noisy document lists of ``item`` from its BM25 ``neighbours`` (corpus rows, best first)."""
    gold = normalize_answer(item.answer)
    others = [r for r in neighbours if r["id"] != item.doc_id]
    noisy = [trim(r["text"]) for r in others if gold not in normalize_answer(r["text"])][:k]
    useful = [trim(r["text"]) for r in others][: k - 1]
    useful.insert(rng.randrange(len(useful) + 1), item.answer_doc)
    return {"useful": useful, "noisy": noisy}
