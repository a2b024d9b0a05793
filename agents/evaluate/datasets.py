"""Evaluation datasets by name: the paper's seven QA test sets, local files, the shipped sample.

A ``--datasets`` entry is one of:

- ``sample`` (the shipped FanOutQA sample) or ``sample:in-wiki`` (its questions the offline Wikipedia
  summaries can answer); ``wiki:dev`` / ``wiki:train`` (cloze questions from the offline summaries, split by
  article: ``wiki:dev`` is the held-out set trained policies are compared on);
- a paper test set — ``nq``, ``triviaqa``, ``popqa``, ``hotpotqa``, ``2wikimultihopqa`` (or ``2wiki``),
  ``musique``, ``bamboogle`` — read as the test rows of ``sunhaonlp/ZeroSearch_dataset`` whose
  ``data_source`` is that name (``hub`` overrides the id: another hub id or a local folder laid out like it,
  e.g. ``test.parquet``); ``flashrag:<name>`` reads the FlashRAG configuration instead
  (``RUC-NLPIR/FlashRAG_datasets``, split test or dev, as Search-R1 and ZeroSearch evaluate);
- a local ``.parquet`` / ``.jsonl`` / ``.json`` file;
- any other hub id (``repo/id`` or ``repo/id:config``), split ``test``.

Every source goes through ``datasets.load_dataset`` (hub, parquet) or a JSON reader, then row by row through
:func:`zerosearch_gym.load_qa_dataset`: a row without a question or an answer, or with a question longer
than ``max_question_chars``, is skipped and counted; a dataset with no usable row is an error naming the
entry.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from zerosearch_gym import QAExample, load_hf_dataset, load_qa_dataset
from zerosearch_gym.errors import is_connection_failure, offline_message

ZEROSEARCH_HUB = "sunhaonlp/ZeroSearch_dataset"
FLASHRAG_HUB = "RUC-NLPIR/FlashRAG_datasets"
# The paper's seven test sets and the FlashRAG split each is evaluated on.
PAPER_SETS = {"nq": "test", "triviaqa": "test", "popqa": "test", "hotpotqa": "dev", "2wikimultihopqa": "dev",
              "musique": "dev", "bamboogle": "test"}
ALIASES = {"2wiki": "2wikimultihopqa", "tqa": "triviaqa", "hotpot": "hotpotqa"}
SAMPLES = ("sample", "sample:in-wiki", "wiki:train", "wiki:dev")
MAX_QUESTION_CHARS = 2000


class DatasetSpecError(ValueError):
    """A ``--datasets`` entry that names nothing usable (the message says what was expected)."""


@dataclass
class EvalSet:
    """One evaluation set: its name, its examples, and the rows that were skipped (index, reason)."""

    name: str
    examples: list[QAExample]
    source: str
    skipped: list[tuple[int, str]] = field(default_factory=list)


def load_eval_sets(specs: list[str], limit: int | None = None, hub: str = ZEROSEARCH_HUB,
                   max_question_chars: int = MAX_QUESTION_CHARS) -> list[EvalSet]:
    """Resolve every ``--datasets`` entry (see the module docstring); errors name the entry."""
    if not specs:
        raise ValueError("expected at least one --datasets entry, got none")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"expected --limit to be a positive int, got {limit!r}")
    names = [_set_name(s) for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"expected distinct --datasets entries, got {specs}")
    return [load_eval_set(s, limit, hub, max_question_chars) for s in specs]


def load_eval_set(spec: str, limit: int | None = None, hub: str = ZEROSEARCH_HUB,
                  max_question_chars: int = MAX_QUESTION_CHARS) -> EvalSet:
    """One ``--datasets`` entry as an :class:`EvalSet` (first ``limit`` usable rows)."""
    name = _set_name(spec)
    try:
        rows, source = _rows(spec, hub)
    except (DatasetSpecError, ImportError) as err:
        raise ValueError(f"--datasets {spec!r}: {err}") from None
    except Exception as err:  # datasets raises its own errors for unknown hub ids, offline mode, ...
        if is_connection_failure(err):
            raise DatasetSpecError(f"--datasets {spec!r}: {offline_message(hub_id(spec, hub), 'dataset')}") from None
        raise DatasetSpecError(f"--datasets {spec!r}: could not load {source_hint(spec, hub)} "
                         f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); expected "
                         f"sample, sample:in-wiki, wiki:dev, one of {sorted(PAPER_SETS)}, flashrag:<name>, a "
                         ".parquet/.jsonl/.json file or a hub dataset id") from None
    _check_columns(rows, spec)
    examples, skipped = [], []
    for index, row in enumerate(rows):
        if limit is not None and len(examples) >= limit:
            break
        example, reason = _example(row, index, source, max_question_chars)
        if example is None:
            skipped.append((index, reason))
        else:
            examples.append(example)
    if not examples:
        why = f" (first skip: row {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise ValueError(f"--datasets {spec!r}: expected at least one usable question, got none{why}")
    return EvalSet(name, examples, source, skipped)


def hub_id(spec: str, hub: str = ZEROSEARCH_HUB) -> str:
    """The hub dataset id (or local folder) a ``--datasets`` entry is read from."""
    if ALIASES.get(spec, spec) in PAPER_SETS:
        return hub
    return FLASHRAG_HUB if spec.startswith("flashrag:") else spec


def source_hint(spec: str, hub: str = ZEROSEARCH_HUB) -> str:
    paper = ALIASES.get(spec, spec)
    if paper in PAPER_SETS:
        return f"{hub_id(spec, hub)} [test, data_source={paper}]"
    if spec.startswith("flashrag:"):
        return f"{hub_id(spec, hub)}:{spec.split(':', 1)[1]}"
    return spec


def _set_name(spec: str) -> str:
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"expected each --datasets entry to be a non-empty name or path, got {spec!r}")
    if spec in SAMPLES:
        return spec
    paper = ALIASES.get(spec, spec)
    if paper in PAPER_SETS:
        return paper
    if spec.startswith("flashrag:"):
        return spec.split(":", 1)[1]
    path = Path(spec)
    return path.stem if path.suffix else spec.replace("/", "_")


def _rows(spec: str, hub: str) -> tuple[list, str]:
    if spec == "sample":
        return [_as_dict(e) for e in load_qa_dataset(None)], "zerosearch_gym sample"
    if spec in SAMPLES:  # the shipped sets of zerosearch_gym.data
        return [_as_dict(e) for e in load_qa_dataset(spec)], spec
    paper = ALIASES.get(spec, spec)
    if paper in PAPER_SETS:
        table = load_hf_dataset(hub, split="test")
        if "data_source" not in table.column_names:
            raise DatasetSpecError(f"expected a data_source column in {hub} to pick {paper!r}, got "
                             f"{table.column_names}")
        table = table.filter(lambda source: source == paper, input_columns="data_source")
        if len(table) == 0:
            raise DatasetSpecError(f"expected test rows with data_source == {paper!r} in {hub}, got none")
        return table, source_hint(spec, hub)
    if spec.startswith("flashrag:"):
        config = spec.split(":", 1)[1]
        if config not in PAPER_SETS:
            raise DatasetSpecError(f"expected flashrag:<name> with a name in {sorted(PAPER_SETS)}, got {config!r}")
        return load_hf_dataset(FLASHRAG_HUB, config, split=PAPER_SETS[config]), source_hint(spec)
    path = Path(spec).expanduser()
    if path.suffix.lower() in (".parquet", ".jsonl", ".json") or path.is_file():
        if not path.is_file():
            raise DatasetSpecError(f"expected an existing dataset file, got {str(path)!r} (no such file)")
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            return load_hf_dataset("parquet", data_files=str(path), split="train"), str(path)
        if suffix == ".jsonl":
            return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()], \
                str(path)
        if suffix == ".json":
            rows = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(rows, list):
                raise DatasetSpecError(f"expected {path} to hold a JSON list of rows, got {type(rows).__name__}")
            return rows, str(path)
        raise DatasetSpecError(f"expected a .parquet, .jsonl or .json file, got {path.name!r}")
    repo, _, config = spec.partition(":")
    return load_hf_dataset(repo, config or None, split="test"), f"{spec} [test]"


def _check_columns(rows, spec: str) -> None:
    """A dataset without a question or an answer column is an error, not a skip of every row."""
    columns = getattr(rows, "column_names", None)
    if columns is None:
        first = next((r for r in rows if isinstance(r, Mapping)), None)
        columns = list(first) if first is not None else []
    if "question" not in columns or not {"golden_answers", "reward_model"} & set(columns):
        raise DatasetSpecError(f"--datasets {spec!r}: expected columns question and golden_answers (or "
                         f"reward_model.ground_truth.target), got {sorted(columns)}")



def _as_dict(example: QAExample) -> dict:
    return {"id": example.id, "question": example.question, "golden_answers": list(example.golden_answers),
            "data_source": example.data_source}


def _example(row, index: int, source: str, max_chars: int) -> tuple[QAExample | None, str]:
    """(example, "") for a usable row; (None, reason) otherwise."""
    if not isinstance(row, Mapping):
        return None, f"expected a dict row, got {type(row).__name__}"
    question = row.get("question")
    if isinstance(question, str) and len(question) > max_chars:
        return None, f"question of {len(question)} characters exceeds --max-question-chars {max_chars}"
    row = dict(row)
    row.setdefault("id", index)
    if row["id"] is None:
        row["id"] = index
    try:
        return load_qa_dataset([row])[0], ""
    except (ValueError, TypeError) as err:
        message = str(err).replace("in the given list", f"in {source}").replace("row 0", f"row {index}")
        return None, message
