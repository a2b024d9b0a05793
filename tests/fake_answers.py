"""The answers of the fake servers in :mod:`fake_servers`: documents that echo what each request carried."""
from __future__ import annotations

import re

_QUERY_RE = re.compile(r"^Query: (.*)$", re.MULTILINE)
_PAIR_RE = re.compile(r'question: "(.*?)" whose answer is (.*?)\.\n', re.DOTALL)
_KIND_RE = re.compile(r"^(Useful|Noisy) Output:", re.MULTILINE)
_EXPRESSION_RE = re.compile(r"^Expression: (.*)$", re.MULTILINE)


def chat_record(data: dict) -> dict:
    prompt = str((data.get("messages") or [{}])[-1].get("content", ""))
    # the last "Query:" / "… Output:" lines are the request's (prompt mode has a one-shot example first)
    queries, kinds, pair = _QUERY_RE.findall(prompt), _KIND_RE.findall(prompt), _PAIR_RE.search(prompt)
    return {"query": queries[-1] if queries else "", "question": pair.group(1) if pair else "",
            "answer": pair.group(2) if pair else "", "kind": kinds[-1].lower() if kinds else "",
            "prompt": prompt}


def chat_answer(record: dict, fault: str | None) -> dict:
    if fault == "nofields":
        return {"id": "fake", "object": "chat.completion"}
    n = 2 if fault == "partial" else 5
    docs = [f"Doc {i}: {record['kind']} doc {i} | query [{record['query']}] | question [{record['question']}] "
            f"| answer [{record['answer']}]" for i in range(1, n + 1)]
    content = {"empty": "", "nodocs": "I cannot write documents for this.",
               "emptydoc": "Doc 1:\nDoc 2: b\nDoc 3: c"}.get(fault, "\n".join(docs))
    expression = _EXPRESSION_RE.findall(record["prompt"])
    if expression and fault is None:  # a calculator simulator that only knows integers: noisy is off by one
        value = expression[-1].strip()
        content = (str(int(value) + (record["kind"] == "noisy")) if value.lstrip("-").isdigit()
                   else f"I cannot compute {value}.")
    if "Reply with yes or no" in record["prompt"] and fault is None:  # a judge: is the answer in the documents?
        documents = record["prompt"].partition("Documents:")[2].lower()
        content = "Yes." if record["answer"] and record["answer"].lower() in documents else "No."
    return {"id": "fake", "object": "chat.completion", "model": record["body"].get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}]}


def retrieve_answer(data: dict, fault: str | None) -> dict:
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
    if fault == "blankhit":
        for hits in lists:
            hits[0] = {"document": {"id": "blank", "contents": ""}, "score": 0.5}
    return {"result": lists}
