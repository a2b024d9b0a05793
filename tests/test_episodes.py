"""agents/episodes.py: the one runner — fewer examples than envs, records as episodes end, eval that resumes."""
import json

import gymnasium
import pytest

from agents.episodes import play
from agents.evaluate import Decoding, build_policy, evaluate_policy, harness, load_eval_sets
from zerosearch_gym import QAExample
from zerosearch_gym.backends.retrieval import BM25Backend

EXAMPLES = [QAExample("q1", "Who wrote Hamlet?", ("William Shakespeare",), "demo"),
            QAExample("q2", "What is the capital of France?", ("Paris",), "demo")]
DOCS = [{"title": "Hamlet", "text": "Hamlet is a tragedy written by William Shakespeare around 1600."},
        {"title": "Paris", "text": "Paris is the capital and largest city of France."}]


class Script:
    """Search the question, then answer with a fixed text; counts the turns it was asked for."""

    def __init__(self, answer):
        self.answer, self.calls = answer, 0

    def act(self, episodes, seed):
        self.calls += len(episodes)
        return [f"<search> {e.example.question} </search>" if not e.turns else f"<answer> {self.answer} </answer>"
                for e in episodes]


def test_fewer_examples_than_envs_and_records_as_episodes_end():
    envs = gymnasium.make_vec("ZeroSearch-v0", num_envs=3, vectorization_mode="vector_entry_point",
                              backend=BM25Backend.from_documents(DOCS), dataset=EXAMPLES, max_turns=2, top_k=1)
    ended = []
    episodes = play(envs, Script("Paris"), EXAMPLES, seed=0, dataset="d", on_episode=lambda e: ended.append(e.index))
    assert [e.example.id for e in episodes] == ["q1", "q2"] and sorted(ended) == [0, 1]  # the padded env never plays
    first, second = (e.record() for e in episodes)
    assert (first["f1"], second["f1"], second["em"]) == (0.0, 1.0, 1.0)
    assert [s["action"] for s in second["steps"]] == ["search", "answer"] and second["searches"] == 1
    assert second["steps"][0]["documents"] == ["(Title: Paris) Paris is the capital and largest city of France."]
    assert (second["dataset"], second["turns"], second["truncated"], second["noise_p"]) == ("d", 2, False, 0.0)
    with pytest.raises(ValueError, match="expected 1 to 3 examples for 3 envs, got 4"):
        play(envs, Script("x"), EXAMPLES * 2, seed=0)


def test_an_interrupted_eval_keeps_its_finished_episodes_and_the_rerun_plays_only_the_rest(tmp_path, monkeypatch):
    sets = load_eval_sets(["sample:in-wiki"], limit=6)
    backend = BM25Backend.from_documents(DOCS)
    policy, decoding = build_policy("scripted", Decoding()), Decoding(batch_size=2)
    whole = evaluate_policy(policy, sets, backend, decoding, progress=False)["sets"]["sample:in-wiki"]
    real_play, batches = harness.play, []

    def killed_in_the_second_batch(envs, actor, examples, **kw):
        batches.append(len(examples))
        if len(batches) == 2:
            raise TimeoutError  # the fault under test: the job is killed after the first batch
        return real_play(envs, actor, examples, **kw)

    monkeypatch.setattr(harness, "play", killed_in_the_second_batch)
    with pytest.raises(TimeoutError):
        evaluate_policy(policy, sets, backend, decoding, output_dir=tmp_path, progress=False)
    (partial,) = (tmp_path / "episodes").glob("*.partial.jsonl")
    assert [json.loads(line)["index"] for line in partial.open()] == [0, 1]
    batches.clear()
    monkeypatch.setattr(harness, "play", lambda *a, **kw: batches.append(len(a[2])) or real_play(*a, **kw))
    resumed = evaluate_policy(policy, sets, backend, decoding, output_dir=tmp_path, progress=False)
    assert batches == [2, 2] and not partial.exists()  # 4 episodes left, 2 at a time
    got = resumed["sets"]["sample:in-wiki"]
    assert {k: v for k, v in got.items() if k != "seconds"} == {k: v for k, v in whole.items() if k != "seconds"}
    records = [json.loads(line) for line in (tmp_path / "episodes" / "sample_in-wiki.jsonl").open()]
    assert [r["id"] for r in records] == [e.id for e in sets[0].examples]


def test_a_line_torn_by_a_kill_is_dropped_and_never_swallows_the_next_record(tmp_path):
    sets = load_eval_sets(["sample:in-wiki"], limit=3)
    envs = gymnasium.make_vec("ZeroSearch-v0", num_envs=2, vectorization_mode="vector_entry_point",
                              backend=BM25Backend.from_documents(DOCS), dataset=sets[0].examples, noise=0.0)
    partial = tmp_path / "set.partial.jsonl"
    first = harness.run_set(envs, Script("Paris"), sets[0], 0, False, partial)
    lines = partial.read_text().splitlines()
    partial.write_text(lines[0] + "\n" + lines[1][:20])  # killed while writing the second record
    again = harness.run_set(envs, Script("Paris"), sets[0], 0, False, partial)
    assert sorted(json.loads(line)["index"] for line in partial.open()) == [0, 1, 2]  # every line parses
    assert again == first
