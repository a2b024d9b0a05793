"""build-data -> tune -> report end to end on the offline corpus with a tiny model, and the self backend."""
from __future__ import annotations

import hashlib
import json

import pytest

from agents.simulator import main as simulator
from agents.simulator.report import heldout_requests, run_spec
from agents.simulator.rows import read_rows
from zerosearch_gym import make_backend
from zerosearch_gym.backends import BackendError, SearchRequest


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    from zerosearch_gym.llm.models import tiny_model

    folder = tmp_path_factory.mktemp("tiny")
    model, tokenizer = tiny_model("llama")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def corpus_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "rows.jsonl"
    assert simulator(["build-data", "--source", "corpus", "--count", "12", "--holdout", "5", "--out", str(out)]) == 0
    return out


def test_corpus_rows_are_balanced_sft_rows_and_deterministic(corpus_data, tmp_path):
    rows = read_rows(corpus_data)
    labels = [r["label"] for r in rows]
    assert labels.count("useful") == labels.count("noisy") > 0
    for row in rows:
        kind = row["label"].capitalize()
        assert row["prompt"].startswith("You are the Google search engine.\n")
        assert row["prompt"].endswith(f"Query: {row['query']}\n{kind} Output:\n")
        assert f"whose answer is {row['answers'][0]}." in row["prompt"]
        docs = row["target"].split("\n")
        assert [d.split(":")[0] for d in docs] == [f"Doc {i}" for i in range(1, 6)]
        assert all(len(d.split()) <= 35 for d in docs)
        answer_in = row["answers"][0].lower() in row["target"].lower()
        assert answer_in if row["label"] == "useful" else not answer_in
    again = tmp_path / "again.jsonl"
    simulator(["build-data", "--source", "corpus", "--count", "12", "--holdout", "5", "--out", str(again)])
    assert sha(again) == sha(corpus_data)
    other = tmp_path / "other.jsonl"
    simulator(["build-data", "--source", "corpus", "--count", "12", "--holdout", "5", "--seed", "1", "--out",
               str(other)])
    assert sha(other) != sha(corpus_data)


def test_policy_rows_from_scripted_episodes_on_bm25(tmp_path):
    out = tmp_path / "policy.parquet"
    simulator(["build-data", "--count", "8", "--label", "v1", "--no-balance", "--out", str(out)])
    rows = read_rows(out)
    assert rows and all(json.loads(r["provenance"])["label_by"] == "v1" for r in rows)
    for row in rows:  # v1: a pair is useful exactly when its episode answered correctly
        assert (row["label"] == "useful") == json.loads(row["provenance"])["correct"]
        assert row["target"].startswith("Doc 1: (Title: ")


def test_tune_is_deterministic_and_resume_continues_exactly(corpus_data, tiny_folder, tmp_path):
    common = ["tune", "--data", str(corpus_data), "--base", str(tiny_folder), "--batch", "2", "--max-len", "256",
              "--threads", "1", "--checkpoint-every", "2"]
    simulator([*common, "--steps", "4", "--out", str(tmp_path / "a")])
    simulator([*common, "--steps", "2", "--out", str(tmp_path / "b")])
    assert (tmp_path / "b" / "checkpoint" / "state.pt").is_file()
    simulator([*common, "--steps", "4", "--resume", "--out", str(tmp_path / "b")])
    adapter = "adapter_model.safetensors"
    assert sha(tmp_path / "a" / adapter) == sha(tmp_path / "b" / adapter)
    meta = json.loads((tmp_path / "a" / "zerosearch_base.json").read_text())
    assert meta["hidden_size"] == 64 and meta["tuning"]["steps"] == 4
    # the hf backend takes the adapter; the report measures it next to BM25 on held-out queries
    requests = heldout_requests(3)
    assert [r.useful for r in requests] == [True, False] * 3
    spec = f"hf:{tiny_folder}?adapter={tmp_path / 'a'}&max_new_tokens=8&verify=1"
    tuned, results, first = run_spec(spec, requests, batch=4)
    assert len(results) == 6 and tuned["valid"] == 0.0 and tuned["docs_per_s"] > 0  # 8 tokens: never 5 documents
    # a random model never writes the answer nor five documents: each search is resampled once (8 more tokens);
    # the useful ones stay flagged, the noisy ones keep the right label in a malformed output
    assert tuned["outcomes"] == {"failed": 3, "resampled": 3} and tuned["verify_token_ratio"] == 2.0
    assert (first["tokens_per_search"], tuned["tokens_per_search"]) == (8.0, 16.0)
    bm25, _, none = run_spec("bm25", requests)
    assert none is None
    assert bm25["useful_hit"] == bm25["noisy_hit"]  # a real engine ignores the useful/noisy switch
    assert bm25["useful_hit"] > 0  # the held-out answers come from the corpus


def test_merged_output_is_a_plain_model_folder(corpus_data, tiny_folder, tmp_path):
    simulator(["tune", "--data", str(corpus_data), "--base", str(tiny_folder), "--steps", "1", "--batch", "1",
               "--max-len", "128", "--merge", "--checkpoint-every", "0", "--out", str(tmp_path / "m")])
    assert (tmp_path / "m" / "config.json").is_file() and not (tmp_path / "m" / "adapter_config.json").exists()
    backend = make_backend(f"hf:{tmp_path / 'm'}?max_new_tokens=4")
    assert backend.mode == "sft" and len(backend.search(heldout_requests(1))) == 2


def test_report_cli_writes_table_and_json(tmp_path, capsys):
    out = tmp_path / "report.json"
    assert simulator(["report", "--specs", "bm25", "--queries", "4", "--json", str(out)]) == 0
    assert "| `bm25` |" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["report"]["bm25"]["requests"] == 8 and data["samples"]["bm25"]


def test_self_backend_shares_the_policy_weights(tiny_folder):
    from zerosearch_gym.llm.models import tiny_model

    backend = make_backend("self")
    request = SearchRequest("Paris", "Capital of France", ("Paris",), useful=False)
    [err] = backend.search([request])
    assert isinstance(err, BackendError) and "attach" in str(err)
    model, tokenizer = tiny_model("llama")
    backend.attach(model, tokenizer).max_new_tokens = 6
    assert backend.model is model and backend.mode == "prompt"  # the same object: updates are seen at once
    assert len(backend.search([request])) == 1
    loaded = make_backend(f"self:{tiny_folder}?max_new_tokens=4&mode=sft")
    assert loaded.mode == "sft" and len(loaded.search([request, request])) == 2
    with pytest.raises(TypeError, match="causal LM"):
        backend.attach(object(), None)
