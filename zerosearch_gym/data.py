"""QA datasets: the :class:`QAExample` record and :func:`load_qa_dataset`.

Sources, by what ``source`` is:

- ``None``: the shipped sample ``zerosearch_gym/data/qa_sample.jsonl`` (FanOutQA dev sub-questions with one
  string answer, built by ``scripts/build_qa_sample.py``); ``"sample:in-wiki"``: its questions whose answer
  the offline Wikipedia summaries hold.
- ``"wiki:train"`` / ``"wiki:dev"``: cloze questions made from the offline Wikipedia summaries, one per
  article, train and dev disjoint by article (``zerosearch_gym/data/qa_wiki.jsonl``, built by
  ``scripts/build_qa_wiki.py``); ``wiki:dev`` is the held-out split for evaluating trained policies.
- a local ``.parquet`` / ``.jsonl`` / ``.json`` path (parquet, the format of ``sunhaonlp/ZeroSearch_dataset``
  and FlashRAG, is read through ``datasets``; JSON files are read directly).
- a list of :class:`QAExample` or dicts.

Options: ``data_source`` keeps one source of a merged set (the paper's seven test sets are one hub split),
``max_question_chars`` bounds a question's length, and a ``skipped`` list turns bad rows from errors into
counted skips (``zerosearch eval`` reads its sets so; ``agents/evaluate/datasets.py`` only maps names to
these arguments).
- anything else: a hub dataset id (or a local dataset folder), ``datasets.load_dataset(source, split=split)``;
  ``"repo/id:config"`` picks a configuration, e.g. ``"RUC-NLPIR/FlashRAG_datasets:nq"`` with ``split="test"``.

Answers are read from ``golden_answers`` (FlashRAG) or from ZeroSearch's nested
``reward_model.ground_truth.target``; a string answer becomes a one-element tuple.
``datasets`` and ``pyarrow`` are imported only when a parquet file or a hub dataset is read, so the shipped
sample loads without them.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import OfflineError, hub_access

SAMPLE_PATH = Path(__file__).parent / "data" / "qa_sample.jsonl"
# The sample's questions whose answer is in one of the offline Wikipedia summaries (reachable with bm25).
SAMPLE_IN_WIKI = "sample:in-wiki"
WIKI_QA_PATH = Path(__file__).parent / "data" / "qa_wiki.jsonl"
WIKI_SPLITS = ("wiki:train", "wiki:dev")  # train / held-out dev, disjoint by article
_FILE_SUFFIXES = (".parquet", ".jsonl", ".json")


@dataclass(frozen=True)
class QAExample:
    """One question with its gold answers.

    >>> QAExample("q1", "Where is the Eiffel Tower?", ("Paris",), "demo").golden_answers
    ('Paris',)
    """

    id: str
    question: str
    golden_answers: tuple[str, ...]
    data_source: str = ""

    def __post_init__(self):
        if isinstance(self.golden_answers, str):
            raise TypeError(f"expected golden_answers as a tuple of str, got the str {self.golden_answers!r}; "
                            "wrap it: (answer,)")
        object.__setattr__(self, "golden_answers", tuple(str(a) for a in self.golden_answers))


def load_qa_dataset(source: Any = None, split: str = "train", limit: int | None = None, *,
                    data_source: str | None = None, max_question_chars: int | None = None,
                    skipped: list | None = None) -> list[QAExample]:
    """Load QA examples from the shipped sample, a local file, a list, or a hub dataset id.

    ``split`` picks the hub split (local files have one split, "train"); ``limit`` keeps the first usable rows.
    ``"sample:in-wiki"`` is the part of the sample whose answers the offline Wikipedia summaries hold.
    ``data_source`` keeps the rows of that ``data_source`` (ZeroSearch's test set merges seven); a question
    longer than ``max_question_chars`` is a bad row. A bad row (no question or answer, not a dict, too long) is
    an error, or, when a ``skipped`` list is given, appended to it as ``(row index, reason)`` and left out.

    >>> examples = load_qa_dataset(limit=2)
    >>> len(examples), examples[0].data_source
    (2, 'fanoutqa')
    >>> skipped = []
    >>> len(load_qa_dataset([{"question": "Q?", "golden_answers": []}, {"question": "Q?", "golden_answers": ["A"]}],
    ...                     skipped=skipped)), skipped
    (1, [(0, 'expected at least one gold answer in row 0 of the given list, got none')])
    """
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"expected limit to be a positive int or None, got {limit!r}")
    rows, name = _read(source, split)
    if data_source is not None:
        rows, name = _of_source(rows, name, data_source)
    _check_columns(rows, name)
    examples = _to_examples(rows, name, limit, max_question_chars, skipped)
    if not examples:
        first = f" (first skip: row {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise ValueError(f"expected at least one usable question in {name}, got none{first}" if skipped else
                         f"expected at least one QA example in {name}, got an empty dataset")
    return examples


def _read(source: Any, split: str) -> tuple[Any, str]:
    """The rows of ``source`` and its name in messages."""
    if source is None:
        return _read_file(SAMPLE_PATH), str(SAMPLE_PATH)
    if source == SAMPLE_IN_WIKI:
        return [r for r in _read_file(SAMPLE_PATH) if r.get("in_wiki_summaries")], SAMPLE_IN_WIKI
    if source in WIKI_SPLITS:
        return [r for r in _read_file(WIKI_QA_PATH) if r.get("split") == source[5:]], source
    if isinstance(source, (list, tuple)):
        return source, "the given list"
    if isinstance(source, (str, Path)) and _looks_like_file(source):
        path = Path(source).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"expected an existing QA dataset file, got {str(path)!r} (no such file); "
                                    "pass a .parquet/.jsonl/.json path or a hub dataset id")
        return _read_file(path), str(path)
    if isinstance(source, (str, Path)):  # a hub id, or a local dataset folder laid out like one
        return _read_hub(str(source), split), f"{source} [{split}]"
    raise TypeError(f"expected source as None, a path, a hub id or a list of QAExample/dict, got "
                    f"{type(source).__name__}")


def _looks_like_file(source: str | Path) -> bool:
    """An existing file, or a name ending in a known file suffix (hub ids and folders do not)."""
    path = Path(source).expanduser()
    return path.suffix.lower() in _FILE_SUFFIXES or path.is_file()


def _read_file(path: Path):
    """Rows of a local file: JSON Lines / JSON read directly (no extra dependency), parquet through
    ``datasets.load_dataset("parquet", data_files=...)`` (the code path of hub parquet datasets)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return load_hf_dataset("parquet", data_files=str(path), split="train")
    if suffix == ".jsonl":
        return _read_jsonl(path)
    if suffix == ".json":
        rows = _parse_json(path)
        if not isinstance(rows, list):
            raise ValueError(f"expected {path} to hold a JSON list of rows, got {type(rows).__name__}; "
                             "use JSON Lines (.jsonl) for one object per line")
        return rows
    raise ValueError(f"expected a .parquet, .jsonl or .json file, got {path.name!r}")


def _read_jsonl(path: Path) -> list:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}:{number}: expected one JSON object per line, got invalid JSON "
                                     f"({error.msg} at column {error.colno})") from None
    return rows


def _parse_json(path: Path) -> Any:
    """A JSON file's value; invalid JSON is an error naming the file's line and column."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{error.lineno}: expected a JSON file, got invalid JSON ({error.msg} at column "
                         f"{error.colno})") from None


def _check_local_json(folder: Path) -> None:
    """Parse the JSON / JSON Lines files of a local dataset folder here first, so a malformed one is named with
    its line (``datasets`` only says that generating the split failed)."""
    readers = {".jsonl": _read_jsonl, ".json": _parse_json}
    for file in sorted(folder.rglob("*.json*")):
        hidden = any(part.startswith(".") for part in file.relative_to(folder).parts)
        if not hidden and file.is_file() and file.suffix.lower() in readers:
            readers[file.suffix.lower()](file)


def _read_hub(dataset_id: str, split: str):
    """``datasets.load_dataset(id, split=split)``; a ``:config`` suffix is the configuration name. A hub that
    cannot be reached is :class:`~zerosearch_gym.OfflineError`; any other failure a ``ValueError`` naming it."""
    path, _, config = dataset_id.partition(":")
    folder = Path(path).expanduser()
    if folder.is_dir():
        _check_local_json(folder)
    try:
        with hub_access(path, "dataset"):
            return load_hf_dataset(path, config or None, split=split)
    except (OfflineError, ImportError):
        raise
    except Exception as err:  # datasets raises its own errors for unknown ids, splits, configs, files, …
        detail = str(err).splitlines()[0] if str(err) else ""
        expected = ("expected a folder laid out like a hub dataset (e.g. test.parquet or data/test-*.parquet)"
                    if folder.is_dir() else "expected a hub dataset id (repo/id[:config]) or a local dataset folder")
        raise ValueError(f"could not load {dataset_id} [{split}] ({type(err).__name__}: {detail}); {expected}"
                         ) from err


def load_hf_dataset(*args, **kwargs):
    """``datasets.load_dataset(*args, **kwargs)``, with an error naming the fix when ``datasets`` is missing."""
    try:
        import datasets
    except ImportError:
        raise ImportError("expected the 'datasets' package to read QA files or hub datasets, got none; "
                          "pip install datasets pyarrow (or zerosearch-gym[train])") from None
    return datasets.load_dataset(*args, **kwargs)


def _of_source(rows, name: str, data_source: str) -> tuple[Any, str]:
    """The rows whose ``data_source`` is ``data_source`` (a hub table is filtered without leaving Arrow), and
    their name in messages."""
    columns = getattr(rows, "column_names", None)
    if columns is not None:
        if "data_source" not in columns:
            raise ValueError(f"expected a data_source column in {name} to pick {data_source!r}, got {columns}")
        rows = rows.filter(lambda source: source == data_source, input_columns="data_source")
    else:
        rows = [r for r in rows if (r.data_source if isinstance(r, QAExample) else
                                    r.get("data_source") if isinstance(r, Mapping) else None) == data_source]
    if len(rows) == 0:
        raise ValueError(f"expected rows with data_source == {data_source!r} in {name}, got none")
    return rows, f"{name} (data_source={data_source})"


def _columns(rows) -> list:
    """The columns of a table, or the keys of a list's first row when it is a dict (else [])."""
    columns = list(getattr(rows, "column_names", None) or [])
    if not columns and isinstance(rows, (list, tuple)) and rows and isinstance(rows[0], Mapping):
        columns = sorted(rows[0])
    return columns


def _check_columns(rows, name: str) -> None:
    """A dataset without a question or an answer column is an error, not a skip of every row."""
    columns = _columns(rows)
    if columns and ("question" not in columns or not {"golden_answers", "reward_model"} & set(columns)):
        raise ValueError(f"expected columns question and golden_answers (or reward_model.ground_truth.target) "
                         f"in {name}, got {columns}")


def _to_examples(rows: Iterable, name: str, limit: int | None, max_chars: int | None,
                 skipped: list | None) -> list[QAExample]:
    """The first ``limit`` usable rows as examples; a bad row raises, or goes to ``skipped`` when given."""
    columns = list(getattr(rows, "column_names", None) or [])
    examples = []
    for i, row in enumerate(rows):
        if limit is not None and len(examples) >= limit:
            break
        try:
            examples.append(_example(row, i, name, columns, max_chars))
        except (ValueError, TypeError) as err:
            if skipped is None:
                raise
            skipped.append((i, str(err)))
    return examples


def _example(row, index: int, name: str, columns: list, max_chars: int | None) -> QAExample:
    if not isinstance(row, (QAExample, Mapping)):
        raise TypeError(f"expected each row of {name} to be a QAExample or a dict, got {type(row).__name__}")
    question = row.question if isinstance(row, QAExample) else row.get("question")
    if max_chars is not None and isinstance(question, str) and len(question) > max_chars:
        raise ValueError(f"question of {len(question)} characters exceeds --max-question-chars {max_chars} "
                         f"in row {index} of {name}")
    return row if isinstance(row, QAExample) else _row_to_example(row, index, name, columns or sorted(row))


def _row_to_example(row: Mapping, index: int, name: str, columns: list) -> QAExample:
    question = row.get("question")
    answers = _answers(row)
    if question is None or answers is None:
        raise ValueError(f"expected columns question and golden_answers (or reward_model.ground_truth.target) "
                         f"in {name}, got {columns}")
    if not str(question).strip():
        raise ValueError(f"expected a non-empty question in row {index} of {name}, got {question!r}")
    if not answers:
        raise ValueError(f"expected at least one gold answer in row {index} of {name}, got none")
    source = row.get("data_source") or ""
    row_id = row.get("id")
    return QAExample(str(index if row_id is None else row_id), str(question).strip(), answers, str(source))


def _answers(row: Mapping) -> tuple[str, ...] | None:
    """Gold answers from ``golden_answers`` or ZeroSearch's ``reward_model.ground_truth.target``."""
    value = row.get("golden_answers")
    if value is None:
        value = (((row.get("reward_model") or {}).get("ground_truth") or {}).get("target"))
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(str(a) for a in value)
