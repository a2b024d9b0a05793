"""The bm25 backend: a real BM25 index over the offline Wikipedia summaries and over small local corpora."""
import json
import os

import pytest

from zerosearch_gym.backends import SearchRequest, make_backend
from zerosearch_gym.backends.retrieval import BM25Backend, read_corpus
from zerosearch_gym.data import SAMPLE_PATH

TINY = [
    {"id": "a", "title": "Paris", "text": "Paris is the capital and largest city of France."},
    {"id": "b", "title": "Berlin", "text": "Berlin is the capital of Germany, on the river Spree."},
    {"id": "c", "title": "Danube", "text": "The Danube flows through Vienna and Budapest."},
]


def request(query, top_k=5, useful=True):
    return SearchRequest(query=query, question="q?", answers=("a",), useful=useful, top_k=top_k)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def wiki():
    return BM25Backend()  # the 10,033 offline summaries; ~1.5 s to index, once per process


@pytest.fixture(scope="module")
def in_summary_rows():
    rows = [json.loads(line) for line in SAMPLE_PATH.read_text(encoding="utf-8").splitlines()]
    return [r for r in rows if r["in_wiki_summaries"]]


def titles(docs):
    """Titles of formatted documents (titles in the tiny corpus have no parentheses)."""
    return [d[len("(Title: "):d.index(") ")] for d in docs]


def has_title(docs, title):
    return any(d.startswith(f"(Title: {title}) ") for d in docs)


@pytest.mark.parametrize("question, title", [
    ("What is the headquarter of Apple?", "Apple Inc."),
    ("When was the Taj Mahal built?", "Taj Mahal"),
    ("Who was the director of Gone with the Wind?", "Gone with the Wind (film)"),
    ("What is the family of Narcissus?", "Narcissus (plant)"),
    ("What country does Linoel Messi play for?", "Lionel Messi"),
    ("Who invented the airplane?", "Wright brothers"),
])
def test_wiki_top5_contains_the_source_summary(wiki, in_summary_rows, question, title):
    assert (question, title) in {(r["question"], r["title"]) for r in in_summary_rows}
    docs = wiki.search([request(question)])[0]
    assert len(docs) == 5
    assert has_title(docs, title)


def test_wiki_recall_at_5_over_all_in_summary_questions(wiki, in_summary_rows):
    results = wiki.search([request(r["question"]) for r in in_summary_rows])
    hits = sum(has_title(docs, r["title"]) for r, docs in zip(in_summary_rows, results))
    assert len(in_summary_rows) == 67
    assert hits >= 45, f"title recall@5 dropped to {hits}/67 (measured 52/67 when written)"


def test_batched_equals_one_by_one_and_tokenizes_once(wiki, in_summary_rows, monkeypatch):
    import bm25s

    requests = [request(r["question"], top_k=1 + i % 5) for i, r in enumerate(in_summary_rows[:30])]
    one_by_one = [wiki.search([r])[0] for r in requests]
    calls = []
    tokenize = bm25s.tokenize
    monkeypatch.setattr(bm25s, "tokenize", lambda *a, **kw: calls.append(1) or tokenize(*a, **kw))
    batched = wiki.search(requests)
    assert batched == one_by_one
    assert len(calls) == 1
    assert [len(docs) for docs in batched] == [r.top_k for r in requests]


def test_documents_are_formatted_with_title_and_useful_is_ignored(wiki):
    useful, noisy = wiki.search([request("Eiffel Tower architect", useful=True),
                                 request("Eiffel Tower architect", useful=False)])
    assert useful == noisy
    assert useful[0].startswith("(Title: Eiffel Tower) ")


@pytest.mark.parametrize("query", ["", "   ", "the of and a", "xqzzyv blorptastic"])
def test_query_without_known_terms_returns_no_documents(query):
    backend = BM25Backend.from_documents(TINY)
    assert backend.search([request(query), request("Danube")]) == [[], ["(Title: Danube) " + TINY[2]["text"]]]


def test_ranking_top_k_and_k_larger_than_corpus():
    backend = BM25Backend.from_documents(TINY)
    docs = backend.search([request("capital of France", top_k=10)])[0]
    assert titles(docs) == ["Paris", "Berlin"]  # only documents sharing a term; best first
    assert backend.search([request("capital of France", top_k=1)]) == [docs[:1]]
    assert backend.search([]) == []


def test_corpus_file_index_is_shared_and_rebuilt_when_the_file_changes(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", TINY)
    first, second = BM25Backend(str(path)), BM25Backend(path)
    assert first._index is second._index
    assert len(first) == 3
    write_jsonl(path, TINY + [{"id": "d", "title": "Rhine", "text": "The Rhine flows past Cologne."}])
    os.utime(path, ns=(1, 10**18))
    third = BM25Backend(path)
    assert third._index is not first._index
    assert third.search([request("Cologne")]) == [["(Title: Rhine) The Rhine flows past Cologne."]]


def test_make_backend_spec(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", TINY)
    backend = make_backend(f"bm25:{path}")
    assert isinstance(backend, BM25Backend)
    assert titles(backend.search([request("Spree river")])[0]) == ["Berlin"]


def test_missing_corpus_file_names_the_path(tmp_path):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        BM25Backend(missing)


@pytest.mark.parametrize("bad_line, message", [
    ("{not json", r"c\.jsonl:3: expected a JSON object per line, got invalid JSON"),
    ('{"id": "x", "title": "T"}', r"c\.jsonl:3: expected an object with a string 'text'.*got \['id', 'title'\]"),
    ('["a list"]', r"c\.jsonl:3: expected an object .*got list"),
])
def test_malformed_corpus_line_reports_its_number(tmp_path, bad_line, message):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(TINY[0]) + "\n\n" + bad_line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_corpus(path)


def test_empty_corpus_and_bad_in_memory_documents(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="at least one document"):
        BM25Backend(empty)
    with pytest.raises(TypeError, match="expected document 1 to be a dict with a string 'text'"):
        BM25Backend.from_documents([TINY[0], {"title": "no text"}])


def test_top_k_is_the_full_ranking_with_ties_in_corpus_order(wiki, in_summary_rows):
    """Selecting among non-zero scores gives exactly the first k of a full stable sort (score desc, then
    corpus order), also when the k-th score is tied."""
    import bm25s
    import numpy as np

    index = wiki._index
    for row in in_summary_rows[:20]:
        tokens = [t for t in bm25s.tokenize([row["question"]], stopwords="en", stemmer=index.stemmer,
                                            return_ids=False, show_progress=False)[0]
                  if t in index.retriever.vocab_dict]
        scores = index.retriever.get_scores(tokens)
        full = [index.docs[j] for j in np.argsort(-scores, kind="stable") if scores[j] > 0]
        for k in (1, 3, 5):
            assert index.search([row["question"]], k)[0] == full[:k]
    tied = BM25Backend.from_documents([{"title": t, "text": "same words here"} for t in "ABCD"])
    assert [d[8] for d in tied.search([request("same words", top_k=3)])[0]] == ["A", "B", "C"]
