"""``zerosearch simulator build-data``: query → documents pairs from a real engine, labelled useful or noisy.

Two sources:

- ``--source policy`` (the published recipe): a policy (``scripted``, or a model folder) runs episodes of
  ZeroSearch-v0 on training questions against a **real** backend (default BM25 over the offline Wikipedia
  summaries; any ``http-retriever:``/``openai:`` spec works); every search call's query and returned
  documents become a pair, labelled by ``--label``: ``v1`` (the trajectory answered correctly, cover-EM),
  ``answer`` (a gold answer occurs in the documents) or ``judge`` (v2: an LLM on an ``openai:`` server says
  whether the documents hold enough to answer; a nonsense verdict is a counted, reported skip).
- ``--source corpus``: the corpus recipe of :mod:`agents.simulator.corpus` (what the shipped simulator was
  tuned on).

Classes are balanced, rows shuffled, all from ``--seed``. Example::

    zerosearch simulator build-data --source corpus --count 2000 --out runs/sim/data.jsonl
"""
from __future__ import annotations

import argparse
import random
import sys
import time

from zerosearch_gym import (
    QAExample,
    UsageError,
    ZeroSearchEnv,
    cover_exact_match,
    load_qa_dataset,
    make_backend,
    normalize_answer,
)
from zerosearch_gym.backends.simulator_prompts import MODES
from zerosearch_gym.offline import wiki_corpus_path

from .corpus import corpus_items, read_corpus, targets
from .judge import Judge
from .rows import balance, make_row, write_rows


class _Recorder:
    """Wraps a backend and keeps every (request, documents) pair it answered."""

    def __init__(self, backend):
        self.backend, self.calls = backend, []

    def search(self, requests):
        results = self.backend.search(requests)
        self.calls.extend(zip(requests, results))
        return results


def model_policy(path: str, max_new_tokens: int = 128, seed: int = 0):
    """A policy callable ``act(transcript) -> turn`` sampling from a causal LM folder (chat template used)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from zerosearch_gym.llm import generate

    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path).eval()

    def act(transcript: str) -> str:
        ids = tokenizer.apply_chat_template([{"role": "user", "content": transcript}], add_generation_prompt=True,
                                            tokenize=True)
        ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
        return generate(model, tokenizer, [ids], max_new_tokens=max_new_tokens, temperature=1.0, seed=seed,
                        stop_strings=("</search>", "</answer>"))[0].text

    return act


def policy_pairs(act, backend, examples: list[QAExample], max_turns: int = 2, seed: int = 0) -> list[dict]:
    """Run one episode per example; one pair per search call, with the episode's correctness (cover-EM)."""
    recorder = _Recorder(make_backend(backend))
    env = ZeroSearchEnv(backend=recorder, dataset=examples, max_turns=max_turns, noise=0.0)
    pairs = []
    for i, example in enumerate(examples):
        transcript, _ = env.reset(seed=seed + i, options={"example": i})
        recorder.calls.clear()
        done, answer = False, ""
        while not done:
            action = act(transcript)
            obs, _, terminated, truncated, info = env.step(action)
            transcript += action + obs
            answer = action if info.get("action") == "answer" else answer
            done = terminated or truncated
        correct = bool(answer) and cover_exact_match(answer.split("<answer>")[-1].split("</answer>")[0],
                                                     example.golden_answers) == 1.0
        for request, docs in recorder.calls:
            if isinstance(docs, list) and docs:
                pairs.append({"query": request.query, "question": example.question,
                              "answers": list(example.golden_answers), "documents": list(docs),
                              "correct": correct, "id": example.id})
    return pairs


def label_pairs(pairs: list[dict], how: str, judge: Judge | None = None, mode: str = "sft"
                ) -> tuple[list[dict], dict]:
    """Label each pair useful/noisy by ``how`` ("v1", "answer" or "judge"); returns rows and skip counts."""
    rows, skipped = [], {"judge_nonsense": 0}
    for pair in pairs:
        if how == "v1":
            useful = pair["correct"]
        elif how == "answer":
            text = normalize_answer(" ".join(pair["documents"]))
            useful = any(normalize_answer(a) and normalize_answer(a) in text for a in pair["answers"])
        else:
            useful = judge.useful(pair["query"], pair["question"], pair["answers"], pair["documents"])
            if useful is None:
                skipped["judge_nonsense"] += 1
                continue
        provenance = {"source": "policy", "label_by": how, "question_id": pair["id"], "correct": pair["correct"]}
        rows.append(make_row(pair["query"], pair["question"], pair["answers"], pair["documents"],
                             "useful" if useful else "noisy", provenance, mode))
    return rows, skipped


def corpus_rows(count: int, holdout: int = 200, seed: int = 0, corpus: str | None = None,
                mode: str = "sft") -> list[dict]:
    """``count`` useful + ``count`` noisy rows from the corpus recipe (items after the held-out ones)."""
    path = corpus or wiki_corpus_path()
    rows = read_corpus(path)
    by_text = {f"(Title: {r['title']}) {r['text']}": r for r in rows}
    items = corpus_items(rows, count, offset=holdout, seed=seed)
    from zerosearch_gym.backends import SearchRequest

    bm25 = make_backend(f"bm25:{path}")
    found = bm25.search([SearchRequest(it.query, it.question, (it.answer,), True, top_k=15) for it in items])
    out = []
    for item, docs in zip(items, found):
        docs_for = targets(item, [by_text[d] for d in docs if d in by_text], random.Random(f"{seed}-{item.doc_id}"))
        for label, documents in docs_for.items():
            if len(documents) == 5:
                provenance = {"source": "corpus", "doc_id": item.doc_id, "title": item.title, "seed": seed}
                out.append(make_row(item.query, item.question, [item.answer], documents, label, provenance, mode))
    return out


def parse_args(argv):
    p = argparse.ArgumentParser(prog="zerosearch simulator build-data", description=__doc__.split("\n\n")[0])
    p.add_argument("--source", choices=("policy", "corpus"), default="policy", help="where the pairs come from")
    p.add_argument("--out", required=True, help="output rows, .jsonl or .parquet")
    p.add_argument("--count", type=int, default=200, help="questions to use (corpus: items; policy: episodes)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    p.add_argument("--policy", default="scripted", help="'scripted' or a causal-LM folder")
    p.add_argument("--backend", default="bm25", help="the real engine the policy searches")
    p.add_argument("--dataset", default="sample:in-wiki", help="training questions (load_qa_dataset source)")
    p.add_argument("--max-turns", type=int, default=2, help="search turns per episode")
    p.add_argument("--label", choices=("v1", "answer", "judge"), default="answer", help="how pairs are labelled")
    p.add_argument("--judge", default="", help="openai:URL[?model=NAME] of the judge LLM (for --label judge)")
    p.add_argument("--holdout", type=int, default=200, help="corpus items held out for `report`")
    p.add_argument("--corpus", default=None, help="corpus JSONL (default: the offline Wikipedia summaries)")
    p.add_argument("--mode", choices=MODES, default="sft", help="the simulator prompt of the rows (sft-blind: "
                   "the noisy prompt does not hold the answer)")
    p.add_argument("--no-balance", action="store_true", help="keep the classes as labelled")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not str(args.out).endswith((".jsonl", ".parquet")):
        raise UsageError(f"expected --out ending in .jsonl or .parquet, got {args.out!r}")
    judge = None
    if args.label == "judge":
        if not args.judge:
            raise UsageError("expected --judge openai:URL with --label judge, got none")
        judge = Judge.from_spec(args.judge)
        judge.check()  # a server that is down is an error before any work
    start, skipped = time.perf_counter(), {}
    if args.source == "corpus":
        rows = corpus_rows(args.count, args.holdout, args.seed, args.corpus, args.mode)
    else:
        from agents.scripted import ScriptedPolicy

        act = ScriptedPolicy().act if args.policy == "scripted" else model_policy(args.policy, seed=args.seed)
        examples = load_qa_dataset(args.dataset, limit=args.count)
        pairs = policy_pairs(act, args.backend, examples, args.max_turns, args.seed)
        rows, skipped = label_pairs(pairs, args.label, judge, args.mode)
    counts = {label: sum(r["label"] == label for r in rows) for label in ("useful", "noisy")}
    if not args.no_balance:
        rows = balance(rows, random.Random(args.seed))
    if not rows:
        raise UsageError(f"no rows left to write (labelled {counts}, skipped {skipped}); a balanced set needs both "
                         "useful and noisy pairs: use more questions or --no-balance")
    write_rows(rows, args.out)
    print(f"wrote {len(rows)} rows to {args.out} (labelled {counts}, skipped {skipped}, "
          f"{time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return 0
