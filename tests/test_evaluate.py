"""agents/evaluate: datasets by name, policies, the harness on real BM25, resume after a crash."""
import json

import pytest

from agents.evaluate import (
    Decoding,
    build_policy,
    evaluate_policy,
    harness,
    load_eval_set,
    load_eval_sets,
    resolve_policy,
)
from agents.evaluate.policies import BaselineEval
from zerosearch_gym import load_qa_dataset, make_backend

pytest.importorskip("torch")
datasets = pytest.importorskip("datasets")

PAPER_ROWS = [  # the schema of sunhaonlp/ZeroSearch_dataset (Search-R1's test merge of FlashRAG sets)
    {"id": "test_0", "question": "who wrote hamlet", "golden_answers": ["William Shakespeare"],
     "data_source": "nq", "reward_model": {"style": "rule", "ground_truth": {"target": ["William Shakespeare"]}}},
    {"id": "test_1", "question": "capital of france", "golden_answers": ["Paris"], "data_source": "triviaqa",
     "reward_model": {"style": "rule", "ground_truth": {"target": ["Paris"]}}},
    {"id": "test_2", "question": "largest planet", "golden_answers": ["Jupiter"], "data_source": "nq",
     "reward_model": {"style": "rule", "ground_truth": {"target": ["Jupiter"]}}},
]


@pytest.fixture(scope="module")
def bm25():
    """The real BM25 backend over the offline Wikipedia summaries, indexed once for the module."""
    return make_backend("bm25")


@pytest.fixture(scope="module")
def tiny():
    from agents.policy import Policy
    from zerosearch_gym.llm.models import tiny_model

    return Policy(*tiny_model("llama"))


@pytest.fixture
def hub_folder(tmp_path):
    """A local folder laid out like the hub dataset (test.parquet), read by datasets.load_dataset."""
    datasets.Dataset.from_list(PAPER_ROWS).to_parquet(str(tmp_path / "test.parquet"))
    return str(tmp_path)


def test_sample_sets_and_paper_sets_by_name(hub_folder):
    sample, in_wiki = load_eval_sets(["sample", "sample:in-wiki"], limit=5)
    assert [len(sample.examples), len(in_wiki.examples)] == [5, 5]
    assert in_wiki.examples[0] == load_qa_dataset("sample:in-wiki", limit=1)[0]
    nq = load_eval_set("nq", hub=hub_folder)
    assert nq.name == "nq" and [e.id for e in nq.examples] == ["test_0", "test_2"]
    assert nq.examples[1].golden_answers == ("Jupiter",) and "data_source=nq" in nq.source
    with pytest.raises(ValueError, match="data_source == '2wikimultihopqa'"):
        load_eval_set("2wiki", hub=hub_folder)


def test_local_files_skip_bad_rows_with_a_count(tmp_path):
    rows = [{"question": "q ok", "golden_answers": ["a"]}, {"question": "x" * 100_000, "golden_answers": ["a"]},
            {"question": "no answer", "golden_answers": []}, {"question": "q2", "golden_answers": "b"}]
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    got = load_eval_set(str(path))
    assert got.name == "mine" and [e.question for e in got.examples] == ["q ok", "q2"]
    assert [i for i, _ in got.skipped] == [1, 2]
    assert "100000 characters exceeds --max-question-chars" in got.skipped[0][1]
    assert "at least one gold answer" in got.skipped[1][1]
    datasets.Dataset.from_list(PAPER_ROWS).to_parquet(str(tmp_path / "p.parquet"))
    assert len(load_eval_set(str(tmp_path / "p.parquet"), limit=2).examples) == 2


@pytest.mark.parametrize("spec, rows, match", [
    ("missing.jsonl", None, "no such file"),
    ("noanswers.jsonl", [{"question": "q"}], "expected columns question and golden_answers"),
    ("allbad.jsonl", [{"question": "q", "golden_answers": []}], "at least one usable question"),
    ("nq", None, "could not load .*no-such-hub-folder"),
    ("flashrag:nope", None, "expected flashrag:<name>"),
])
def test_bad_datasets_name_the_entry(tmp_path, spec, rows, match):
    if rows is not None:
        (tmp_path / spec).write_text("\n".join(json.dumps(r) for r in rows))
    target = str(tmp_path / spec) if spec.endswith(".jsonl") else spec
    with pytest.raises(ValueError, match=match) as info:
        load_eval_set(target, hub=str(tmp_path / "no-such-hub-folder"))
    assert str(info.value).startswith(f"--datasets {target!r}")


def test_the_real_hub_path_fails_clearly_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match=r"--datasets 'musique': this machine is offline .*the dataset "
                       r"'sunhaonlp/ZeroSearch_dataset' .*hf download sunhaonlp/ZeroSearch_dataset --repo-type dataset"):
        load_eval_set("musique")


def test_policy_specs_resolve_without_loading(tmp_path):
    assert resolve_policy("rag") == ("rag", "") and resolve_policy("tiny:qwen2") == ("tiny", "qwen2")
    assert resolve_policy("Qwen/Qwen2.5-3B") == ("hf", "Qwen/Qwen2.5-3B")
    (tmp_path / "run" / "export").mkdir(parents=True)
    (tmp_path / "run" / "export" / "config.json").write_text("{}")
    assert resolve_policy(str(tmp_path / "run")) == ("hf", str(tmp_path / "run" / "export"))
    (tmp_path / "empty").mkdir()
    for bad in (str(tmp_path / "empty"), "./nope", "not-a-policy"):
        with pytest.raises(ValueError, match="expected --policy"):
            resolve_policy(bad)


def test_scripted_on_real_bm25_scores_every_episode(tmp_path, bm25):
    sets = load_eval_sets(["sample:in-wiki"], limit=40)
    result = evaluate_policy(build_policy("scripted", Decoding()), sets, bm25, Decoding(batch_size=16),
                             output_dir=tmp_path, progress=False)
    row = result["sets"]["sample:in-wiki"]
    records = [json.loads(line) for line in (tmp_path / "episodes" / "sample_in-wiki.jsonl").open()]
    assert row["n"] == len(records) == 40 and row["searches"] == 1.0 and row["valid_action_rate"] == 1.0
    assert row["f1"] == pytest.approx(sum(r["f1"] for r in records) / 40) and row["f1"] > 0
    search = records[0]["steps"][0]
    assert search["action"] == "search" and len(search["documents"]) == 3 and not search["noisy"]
    assert records[0]["steps"][-1]["action"] == "answer" and records[0]["answer"]
    assert result["average"]["f1"] == row["f1"]


@pytest.mark.parametrize("kind", ["direct", "cot", "rag"])
def test_baselines_answer_in_one_turn(tmp_path, bm25, tiny, kind):
    decoding = Decoding(max_new_tokens=6, batch_size=3)
    sets = load_eval_sets(["sample:in-wiki"], limit=4)
    result = evaluate_policy(BaselineEval(tiny, decoding, kind), sets, bm25, decoding, output_dir=tmp_path,
                             progress=False)
    records = [json.loads(line) for line in (tmp_path / "episodes" / "sample_in-wiki.jsonl").open()]
    row = result["sets"]["sample:in-wiki"]
    assert row["tokens"] == sum(r["tokens"] for r in records) / 4 > 0
    assert all(r["turns"] == 1 for r in records)  # the env gives baselines no search turn (max_turns 0)
    if kind == "rag":
        assert all(r["steps"][0]["action"] == "retrieve" and len(r["steps"][0]["documents"]) == 3 for r in records)
        assert row["searches"] == 1.0
    else:
        assert row["searches"] == 0.0
    if kind != "cot":  # prefilled with <answer>: always an answer
        assert all(r["answer"] is not None for r in records) and row["valid_action_rate"] == 1.0


def test_a_search_policy_model_is_greedy_and_deterministic(bm25, tiny):
    sets = load_eval_sets(["sample:in-wiki"], limit=3)
    decoding = Decoding(max_new_tokens=5, max_turns=1)
    a = evaluate_policy(tiny, sets, bm25, decoding, progress=False)  # the trainer's Policy object
    b = evaluate_policy(tiny, sets, bm25, decoding, progress=False)
    row = a["sets"]["sample:in-wiki"]
    # a random tiny model writes no valid action: two turns (1 search turn + the answer turn) of exactly
    # max_new_tokens each, both invalid, and every episode ends truncated
    assert (row["n"], row["tokens"], row["valid_action_rate"], row["truncated"], row["f1"]) == (3, 10.0, 0.0, 1.0, 0.0)
    assert {k: v for k, v in row.items() if k != "seconds"} == {k: v for k, v in b["sets"]["sample:in-wiki"].items()
                                                              if k != "seconds"}


def test_build_policy_loads_a_baseline_model():
    policy = build_policy("direct", Decoding(), model="tiny:qwen2")
    assert policy.kind == "direct" and policy.max_turns == 0
    assert policy.policy.model.config.model_type == "qwen2"


def test_a_crash_keeps_finished_sets_and_the_rerun_reuses_them(tmp_path, monkeypatch, bm25):
    sets = load_eval_sets(["sample:in-wiki", "sample"], limit=3)
    policy, calls = build_policy("scripted", Decoding()), []
    real = harness.run_set

    def crash_on_second(envs, pol, eval_set, *args, **kw):
        calls.append(eval_set.name)
        if eval_set.name == "sample" and len(calls) == 2:
            raise KeyboardInterrupt  # the fault under test: a crash in the middle of the second set
        return real(envs, pol, eval_set, *args, **kw)

    monkeypatch.setattr(harness, "run_set", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        evaluate_policy(policy, sets, bm25, output_dir=tmp_path, progress=False, identity={"p": "scripted"})
    assert (tmp_path / "sets" / "sample_in-wiki.json").is_file() and not (tmp_path / "sets" / "sample.json").exists()
    result = evaluate_policy(policy, sets, bm25, output_dir=tmp_path, progress=False, identity={"p": "scripted"})
    assert calls == ["sample:in-wiki", "sample", "sample"] and set(result["sets"]) == {"sample:in-wiki", "sample"}
    evaluate_policy(policy, sets, bm25, output_dir=tmp_path, progress=False, identity={"p": "other"})
    assert calls[3:] == ["sample:in-wiki", "sample"]  # another identity: nothing reused


@pytest.mark.slow
def test_smollm2_rag_and_search_policy_on_bm25(bm25):
    """The real SmolLM2-135M-Instruct: RAG answers from BM25's documents; as a search policy it plays the env."""
    from agents.policy import Policy
    from zerosearch_gym.llm.models import smollm2_path

    policy = Policy.load(str(smollm2_path()))
    sets = load_eval_sets(["sample:in-wiki"], limit=8)
    rag = evaluate_policy(BaselineEval(policy, Decoding(max_new_tokens=24), "rag"), sets, bm25,
                          Decoding(max_new_tokens=24), progress=False)["sets"]["sample:in-wiki"]
    assert rag["n"] == 8 and rag["searches"] == 1.0 and rag["valid_action_rate"] == 1.0 and rag["tokens"] > 0
    assert rag["truncated"] == 0.0  # every episode ends with a scored answer
    search = evaluate_policy(policy, sets, bm25, Decoding(max_new_tokens=48, max_turns=1),
                             progress=False)["sets"]["sample:in-wiki"]
    assert search["n"] == 8 and search["tokens"] > 0 and 0.0 <= search["valid_action_rate"] <= 1.0
