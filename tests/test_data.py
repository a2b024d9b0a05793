"""QA data loading: the shipped sample, local jsonl/json/parquet files, lists, and the hub code path."""
import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from zerosearch_gym.data import SAMPLE_PATH, QAExample, load_qa_dataset

ROWS = [
    {"id": "q1", "question": "Where is the Eiffel Tower? ", "golden_answers": ["Paris", "Paris, France"],
     "data_source": "nq"},
    {"id": "q2", "question": "Who wrote Hamlet", "golden_answers": ["William Shakespeare"], "data_source": "hotpotqa"},
]
EXPECTED = [QAExample("q1", "Where is the Eiffel Tower?", ("Paris", "Paris, France"), "nq"),
            QAExample("q2", "Who wrote Hamlet", ("William Shakespeare",), "hotpotqa")]


def write_parquet(path, rows):
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def zerosearch_rows():
    """Rows shaped like sunhaonlp/ZeroSearch_dataset: answers nested under reward_model, plus a prompt column."""
    return [{"id": r["id"], "question": r["question"], "data_source": r["data_source"],
             "prompt": [{"role": "user", "content": "Answer the given question. ..."}], "ability": "fact-reasoning",
             "reward_model": {"style": "rule", "ground_truth": {"target": r["golden_answers"]}}} for r in ROWS]


def test_shipped_sample():
    examples = load_qa_dataset()
    assert len(examples) == 1108
    assert len({e.id for e in examples}) == len(examples)
    assert {e.data_source for e in examples} == {"fanoutqa"}
    assert all(e.question and len(e.golden_answers) == 1 and isinstance(e.golden_answers[0], str) for e in examples)
    raw = [json.loads(line) for line in SAMPLE_PATH.read_text(encoding="utf-8").splitlines()]
    assert sum(r["in_wiki_summaries"] for r in raw) == 67
    assert load_qa_dataset(limit=3) == examples[:3]


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_jsonl_and_json_files(tmp_path, suffix):
    path = tmp_path / f"qa{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    else:
        path.write_text(json.dumps(ROWS), encoding="utf-8")
    assert load_qa_dataset(str(path)) == EXPECTED


def test_parquet_with_golden_answers(tmp_path):
    assert load_qa_dataset(write_parquet(tmp_path / "qa.parquet", ROWS)) == EXPECTED


def test_parquet_with_zerosearch_nested_answers(tmp_path):
    assert load_qa_dataset(write_parquet(tmp_path / "train.parquet", zerosearch_rows()), limit=1) == EXPECTED[:1]


def test_hub_code_path_on_a_local_dataset_folder(tmp_path):
    """A folder id goes through ``datasets.load_dataset(id, split=split)`` exactly like a hub id does."""
    (tmp_path / "data").mkdir()
    write_parquet(tmp_path / "data" / "train-00000-of-00001.parquet", zerosearch_rows())
    write_parquet(tmp_path / "data" / "test-00000-of-00001.parquet", zerosearch_rows()[1:])
    assert load_qa_dataset(str(tmp_path), split="train") == EXPECTED
    assert load_qa_dataset(tmp_path, split="test") == EXPECTED[1:]


def test_hub_code_path_with_a_config_name(tmp_path):
    """FlashRAG-style ``repo:config`` (configs declared in the dataset card, as on the hub)."""
    (tmp_path / "nq").mkdir()
    write_parquet(tmp_path / "nq" / "test.parquet", ROWS)
    card = "---\nconfigs:\n- config_name: nq\n  data_files:\n  - split: test\n    path: nq/test.parquet\n---\n"
    (tmp_path / "README.md").write_text(card, encoding="utf-8")
    assert load_qa_dataset(f"{tmp_path}:nq", split="test") == EXPECTED


def test_lists_of_dicts_and_examples():
    assert load_qa_dataset(ROWS) == EXPECTED
    assert load_qa_dataset(EXPECTED, limit=1) == EXPECTED[:1]
    assert load_qa_dataset([{"question": "Q?", "golden_answers": "A"}]) == [QAExample("0", "Q?", ("A",), "")]
    assert load_qa_dataset([{"id": None, "question": "Q?", "golden_answers": ["A"]}])[0].id == "0"


def test_shipped_sample_loads_without_datasets():
    code = ("import sys; sys.modules['datasets'] = None; sys.modules['pyarrow'] = None\n"
            "from zerosearch_gym.data import load_qa_dataset; print(len(load_qa_dataset()))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "1108\n"


@pytest.mark.parametrize("name, text, message", [
    ("bad.jsonl", '{"question": "Q?", "golden_answers": ["A"]}\n\n{oops\n', r"bad\.jsonl:3: expected one JSON object"),
    # the file's line and the column in it, never json's "line 1 column 24" of the record alone
    ("bad.jsonl", '{"question": "Q?", "golden_answers": ["A"]}\n{"question": "R?", "golden_answers": [B]}\n',
     r"^\S*bad\.jsonl:2: expected one JSON object per line, got invalid JSON \(Expecting value at column 39\)$"),
    ("bad.json", '[{"question": "Q?", "golden_answers": ["A"]},\n {"question": "R?", "golden_answers": [B]}]',
     r"^\S*bad\.json:2: expected a JSON file, got invalid JSON \(Expecting value at column 40\)$"),
    ("bad.json", '{"question": "Q?"}', r"bad\.json to hold a JSON list of rows, got dict"),
    ("bad.csv", "question,golden_answers\n", r"expected a \.parquet, \.jsonl or \.json file, got 'bad\.csv'"),
])
def test_malformed_files(tmp_path, name, text, message):
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_qa_dataset(tmp_path / name)


def test_a_malformed_file_in_a_local_dataset_folder_is_named_with_its_line(tmp_path):
    """``datasets`` would only say that generating the split failed, and the hint would ask for a hub id."""
    (tmp_path / "test.jsonl").write_text('{"question": "Q?", "golden_answers": ["A"]}\n{"question": \n',
                                         encoding="utf-8")
    with pytest.raises(ValueError, match=r"^\S*test\.jsonl:2: expected one JSON object per line") as error:
        load_qa_dataset(tmp_path, split="test")
    assert "hub" not in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no_such\.parquet.*\(no such file\)"):
        load_qa_dataset(tmp_path / "no_such.parquet")


@pytest.mark.parametrize("rows", [
    [{"id": "x", "text": "no question", "golden_answers": ["a"]}],
    [{"id": "x", "question": "no answers?"}],
])
def test_dataset_without_question_or_answers(tmp_path, rows):
    path = write_parquet(tmp_path / "bad.parquet", rows)
    with pytest.raises(ValueError, match=r"expected columns question and golden_answers .*got \['id', "):
        load_qa_dataset(path)


@pytest.mark.parametrize("source, error, message", [
    ([], ValueError, "expected at least one QA example in the given list, got an empty dataset"),
    ([{"question": "Q?", "golden_answers": []}], ValueError, "at least one gold answer in row 0"),
    ([{"question": "  ", "golden_answers": ["a"]}], ValueError, "non-empty question in row 0"),
    (["just a string"], TypeError, "QAExample or a dict, got str"),
    (42, TypeError, "expected source as None, a path, a hub id or a list"),
])
def test_bad_inputs(source, error, message):
    with pytest.raises(error, match=message):
        load_qa_dataset(source)


def test_bad_limit_and_bad_example():
    with pytest.raises(ValueError, match="positive int or None, got 0"):
        load_qa_dataset(limit=0)
    with pytest.raises(TypeError, match="wrap it"):
        QAExample("x", "Q?", "Paris")


def test_in_wiki_subset_of_the_sample():
    from zerosearch_gym.data import SAMPLE_IN_WIKI

    subset = load_qa_dataset(SAMPLE_IN_WIKI)
    assert 40 <= len(subset) < len(load_qa_dataset())
