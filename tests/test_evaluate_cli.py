"""zerosearch eval / ask on the command line: the table and files, run folders, bad input before any model."""
import json

import pytest

from agents.cli import main
from agents.evaluate import policies

pytest.importorskip("torch")


def test_eval_scripted_writes_table_json_md_and_reuses_finished_sets(tmp_path, capsys):
    argv = ["eval", "--policy", "scripted", "--datasets", "sample:in-wiki", "sample", "--limit", "8",
            "--output-dir", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "| sample:in-wiki | 8 |" in out.out and "| **average** | 16 |" in out.out
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["command"].startswith("zerosearch eval --policy scripted --datasets sample:in-wiki sample")
    assert report["backend"] == "bm25" and report["decoding"]["temperature"] == 0.0
    assert report["versions"]["gymnasium"] and set(report["sets"]) == {"sample:in-wiki", "sample"}
    # the scripted policy on real BM25: 5 of 8 in-wiki answers covered, none of the sample's (not in the corpus)
    assert (report["average"]["n"], report["average"]["f1"], report["average"]["cover_em"]) == (16, 0.28125, 0.3125)
    md = (tmp_path / "eval.md").read_text()
    assert report["command"] in md and "| dataset | n | EM | cover-EM | F1 |" in md
    assert len((tmp_path / "episodes.jsonl").read_text().splitlines()) == 16
    assert main(argv) == 0
    assert "finished earlier" in capsys.readouterr().err


@pytest.fixture
def no_model_load(monkeypatch):
    """Fault injection: loading a model is a failure of the test (bad input must stop before it)."""
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the bad input was reported")

    monkeypatch.setattr(policies, "load_model_policy", refuse)


@pytest.mark.parametrize("extra, message", [
    (["--datasets", "no/such_dataset_here"], "--datasets 'no/such_dataset_here': this machine is offline"),
    (["--datasets", "missing.jsonl"], "--datasets 'missing.jsonl': expected an existing QA dataset file"),
    (["--datasets", "noanswers.jsonl"], "expected columns question and golden_answers"),
    (["--backend", "nonsense:x"], "--backend 'nonsense:x': unknown backend kind 'nonsense'"),
    (["--policy", "EMPTY_DIR"], "expected --policy"),
    (["--max-new-tokens", "0"], "expected --max-new-tokens >= 1"),
    (["--policy", "scripted", "--model", "tiny:llama"], "expected --model only with --policy direct/cot/rag"),
])
def test_bad_input_is_one_clear_error_before_any_model_loads(tmp_path, capsys, monkeypatch, no_model_load,
                                                             extra, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "noanswers.jsonl").write_text('{"question": "q", "answer": "a"}\n')
    (tmp_path / "EMPTY_DIR").mkdir()
    argv = ["eval", "--policy", "tiny:llama", "--datasets", "sample", "--limit", "2", "--output-dir", "out"]
    for i in range(0, len(extra), 2):  # later flags override the defaults above
        argv += extra[i:i + 2]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and "usage:" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_one_bad_row_is_a_counted_skip(tmp_path, capsys):
    rows = [{"question": "Which is the largest continent?", "golden_answers": ["Asia"]},
            {"question": "y" * 100_000, "golden_answers": ["z"]}]
    data = tmp_path / "mine.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows))
    assert main(["eval", "--datasets", str(data), "--output-dir", str(tmp_path / "o"), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "1 rows skipped (e.g. row 1: question of 100000 characters" in captured.err
    report = json.loads((tmp_path / "o" / "eval.json").read_text())
    assert report["sets"]["mine"]["n"] == 1 and report["sets"]["mine"]["skipped"] == 1
    assert "1 rows skipped" in (tmp_path / "o" / "eval.md").read_text()


def test_ask_prints_the_whole_transcript(capsys):
    assert main(["ask", "Which is the largest continent", "--gold", "Asia", "--policy", "scripted"]) == 0
    out = capsys.readouterr().out
    assert "[turn 1] search" in out and "query: Which is the largest continent?" in out
    assert "Doc 1: " in out and "answer: Asia  (F1 1.00, EM 1)" in out
    assert main(["ask", "x" * 100_000, "--policy", "tiny:llama"]) == 2
    assert "argument question: expected 1 to 2000 characters, got 100000" in capsys.readouterr().err


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A real one-step tiny training run (warm start + one GRPO step) with a held-out evaluation before the
    first step (--eval-ends, the default run's start/end summary) and after the step, exported to run/final;
    through ``zerosearch train``."""
    run = tmp_path_factory.mktemp("train") / "run"
    assert main(["train", "--preset", "tiny", "--model", "tiny:llama", "--steps", "1", "--warmstart-steps", "1",
                 "--max-new-tokens", "4", "--export", "true", "--plot", "true", "--eval-every", "1",
                 "--eval-ends", "true", "--eval-limit", "2", "--eval-dataset", "sample:in-wiki,sample",
                 "--output-dir", str(run)]) == 0
    return run


def test_train_evaluates_its_start_and_end_and_says_so(trained_run):
    """--eval-ends: a val_start row before the first step, and the summary's start -> end line built from it
    and the last step's evaluation."""
    from agents.train.config import TrainConfig
    from agents.train.loop import held_out_line

    rows = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    [start] = [i for i, r in enumerate(rows) if r.get("val_start")]
    assert start < min(i for i, r in enumerate(rows) if "step" in r) and "val_f1" in rows[start]
    cfg = TrainConfig(eval_dataset="sample:in-wiki,sample", eval_limit=2)
    assert held_out_line(cfg, trained_run / "metrics.jsonl").startswith(
        "held-out sample:in-wiki,sample (2 questions, bm25, greedy), start -> end: F1 0.0 -> 0.0, EM 0.0 -> 0.0, "
        "valid actions 0.00 -> 0.00")


def test_train_logs_the_held_out_evaluation(trained_run):
    rows = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    step = [r for r in rows if "step" in r][-1]
    assert {"val_em", "val_cover_em", "val_f1", "val_searches", "val_valid_action_rate"} <= set(step)
    # a random tiny model writing 4 tokens a turn never completes an action: no valid turn, no answer
    assert step["val_f1"] == 0.0 and step["val_valid_action_rate"] == 0.0
    assert (trained_run / "reward.png").stat().st_size > 1000
    episodes = (trained_run / "val" / "step1" / "episodes" / "sample_in-wiki.jsonl").read_text().splitlines()
    assert len(episodes) == 2 and json.loads(episodes[0])["steps"]


def test_train_refuses_a_bad_eval_dataset_before_any_model_loads(tmp_path, capsys, no_model_load, monkeypatch):
    from agents.train import build

    monkeypatch.setattr(build, "build_policy", policies.load_model_policy)  # refuses, see no_model_load
    assert main(["train", "--preset", "tiny", "--model", "tiny:llama", "--eval-every", "1", "--eval-dataset",
                 "nope.jsonl", "--output-dir", str(tmp_path)]) == 2
    assert "--datasets 'nope.jsonl': expected an existing QA dataset file" in capsys.readouterr().err


def test_a_training_run_folder_loads_its_exported_policy(trained_run, tmp_path):
    import torch

    assert policies.resolve_policy(str(trained_run)) == ("hf", str(trained_run / "final"))
    argv = ["eval", "--policy", str(trained_run), "--datasets", "sample:in-wiki", "--limit", "2",
            "--max-new-tokens", "4", "--max-turns", "1", "--output-dir", str(tmp_path / "e1"), "--no-progress"]
    assert main(argv) == 0
    assert json.loads((tmp_path / "e1" / "eval.json").read_text())["sets"]["sample:in-wiki"]["tokens"] > 0
    trained = policies.load_model_policy("hf", str(trained_run / "final"))
    fresh = policies.load_model_policy("tiny", "llama")
    name = "model.model.layers.0.mlp.up_proj.weight"
    assert not torch.equal(fresh.state_dict()[name], trained.state_dict()[name])  # trained, not the base
