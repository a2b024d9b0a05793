"""scripts/compare_evals.py and scripts/arm_curves.py: the tables RESULTS.md's learning arms are read from."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import arm_curves  # noqa: E402
import compare_evals  # noqa: E402


def eval_folder(path: Path, f1s: list[float], dataset: str = "wiki:dev", noisy: list[int] | None = None) -> str:
    path.mkdir(parents=True)
    rows = [{"dataset": dataset, "id": f"q{i}", "em": float(f == 1.0), "f1": f} for i, f in enumerate(f1s)]
    for row, n in zip(rows, noisy or []):
        row["noisy_searches"] = n
    (path / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def table_rows(out: str) -> dict[str, list[str]]:
    return {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in out.splitlines() if line.startswith("| ") and not line.startswith("| policy")}


def test_compare_evals_pairs_questions(tmp_path, capsys):
    """B answers 10 of 40 questions A misses: +25 F1 with a paired interval that excludes 0; a copy of A has
    a difference of exactly 0; questions only one folder holds are left out."""
    a = eval_folder(tmp_path / "A", [0.0] * 30 + [1.0] * 10)
    b = eval_folder(tmp_path / "B", [1.0] * 10 + [0.0] * 20 + [1.0] * 10 + [1.0])  # q40: only in B
    same = eval_folder(tmp_path / "A2", [0.0] * 30 + [1.0] * 10)
    assert compare_evals.main([f"A={a}", f"B={b}", f"A2={same}", "--resamples", "2000"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("40 questions in common")
    rows = table_rows(out)
    assert rows["A"][1].startswith("25.0 [") and rows["B"][1].startswith("50.0 [") and rows["A"][2] == "—"
    low, high = (float(x) for x in rows["B"][2].split("[")[1].rstrip("]").split(","))
    assert rows["B"][2].startswith("+25.0") and 0 < low < 25 < high
    assert rows["A2"][2] == "+0.0 [+0.0, +0.0]"


def test_compare_evals_splits_by_the_baselines_noisy_searches(tmp_path, capsys):
    """--searches noisy keeps the questions where the baseline's episode got noisy documents, useful the rest:
    B's gain is all on the useful ones."""
    a = eval_folder(tmp_path / "A", [0.0] * 8, noisy=[1, 1, 1, 0, 0, 0, 0, 0])
    b = eval_folder(tmp_path / "B", [0.0] * 3 + [1.0] * 5, noisy=[1, 1, 0, 0, 0, 0, 0, 0])  # its own marks: unused
    assert compare_evals.main([f"A={a}", f"B={b}", "--searches", "noisy", "--resamples", "200"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 questions in common (noisy searches in A's episodes)")
    assert table_rows(out)["B"][2] == "+0.0 [+0.0, +0.0]"
    assert compare_evals.main([f"A={a}", f"B={b}", "--searches", "useful", "--resamples", "200"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("5 questions in common (useful") and table_rows(out)["B"][2] == "+100.0 [+100.0, +100.0]"
    clean = eval_folder(tmp_path / "C", [1.0] * 8)  # no noisy_searches field: every question is useful
    with pytest.raises(SystemExit, match="of that kind"):
        compare_evals.main([f"C={clean}", f"A={a}", "--searches", "noisy"])


def test_compare_evals_errors(tmp_path, capsys):
    a = eval_folder(tmp_path / "A", [1.0])
    for argv, message in (([a], "expected NAME=EVAL_OUTPUT_DIR"),
                          ([f"A={a}", "--baseline", "Z"], "--baseline 'Z': expected one of A"),
                          ([f"A={a}", f"B={tmp_path / 'nope'}"], "written by zerosearch eval")):
        with pytest.raises(SystemExit) as exit_:
            compare_evals.main(argv)
        assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_arm_curves_averages_windows_of_steps(tmp_path, capsys):
    run = tmp_path / "B"
    run.mkdir()
    rows = [{"warmstart_step": 0, "sft_loss": 1.0}, {"val_start": True, "val_f1": 0.5}]
    rows += [{"step": s, "reward": s / 10, "f1": 1.0} for s in range(7)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert arm_curves.main([f"B={run}", "--window", "5", "--metrics", "reward,f1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "| run | metric | steps 0–4 | steps 5–6 |"
    assert out[2] == "| B | reward | 0.200 | 0.550 (2) |" and out[3] == "| B | f1 | 1.000 | 1.000 (2) |"
    episodes = [{"step": s, "noisy_searches": int(s == 1 or i == 0), "f1": float(i)}
                for s in range(7) for i in range(2)]
    (run / "episodes.jsonl").write_text("".join(json.dumps(e) + "\n" for e in episodes))
    assert arm_curves.main([f"B={run}", "--metrics", "f1_useful,f1_noisy"]) == 0
    out = capsys.readouterr().out.splitlines()  # step 1: both episodes noisy; the others: one of each
    assert out[2] == "| B | f1_useful | 1.000 | 1.000 (2) |"
    assert out[3] == "| B | f1_noisy | 0.167 | 0.000 (2) |"
    with pytest.raises(SystemExit):
        arm_curves.main([f"B={tmp_path / 'nope'}"])
    assert "written by zerosearch train" in capsys.readouterr().err
