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

Each entry is resolved to the arguments of :func:`zerosearch_gym.load_qa_dataset` (source, split,
``data_source``), which reads and checks it: a row without a question or an answer, or with a question longer
than ``max_question_chars``, is skipped and counted; a dataset with no usable row is an error. Errors name the
entry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from zerosearch_gym import QAExample, UsageError, load_qa_dataset

ZEROSEARCH_HUB = "sunhaonlp/ZeroSearch_dataset"
FLASHRAG_HUB = "RUC-NLPIR/FlashRAG_datasets"
# The paper's seven test sets and the FlashRAG split each is evaluated on.
PAPER_SETS = {"nq": "test", "triviaqa": "test", "popqa": "test", "hotpotqa": "dev", "2wikimultihopqa": "dev",
              "musique": "dev", "bamboogle": "test"}
ALIASES = {"2wiki": "2wikimultihopqa", "tqa": "triviaqa", "hotpot": "hotpotqa"}
SAMPLES = ("sample", "sample:in-wiki", "wiki:train", "wiki:dev")
MAX_QUESTION_CHARS = 2000
_FILE_SUFFIXES = (".parquet", ".jsonl", ".json")


class DatasetSpecError(UsageError):
    """A ``--datasets`` entry that names nothing usable (the message says what was expected)."""


@dataclass
class EvalSet:
    """One evaluation set: its name, its examples, and the rows that were skipped (index, reason)."""

    name: str
    examples: list[QAExample]
    source: str
    skipped: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Resolved:
    """What a ``--datasets`` entry names: the arguments of ``load_qa_dataset`` and the label of the source."""

    source: str | None
    split: str
    data_source: str | None
    label: str


def load_eval_sets(specs: list[str], limit: int | None = None, hub: str = ZEROSEARCH_HUB,
                   max_question_chars: int = MAX_QUESTION_CHARS) -> list[EvalSet]:
    """Resolve every ``--datasets`` entry (see the module docstring); errors name the entry."""
    if not specs:
        raise DatasetSpecError("expected at least one --datasets entry, got none")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise DatasetSpecError(f"expected --limit to be a positive int, got {limit!r}")
    names = [_set_name(s) for s in specs]
    if len(set(names)) != len(names):
        raise DatasetSpecError(f"expected distinct --datasets entries, got {specs}")
    return [load_eval_set(s, limit, hub, max_question_chars) for s in specs]


def load_eval_set(spec: str, limit: int | None = None, hub: str = ZEROSEARCH_HUB,
                  max_question_chars: int = MAX_QUESTION_CHARS) -> EvalSet:
    """One ``--datasets`` entry as an :class:`EvalSet` (first ``limit`` usable rows)."""
    name, skipped = _set_name(spec), []
    try:
        where = resolve(spec, hub)
        examples = load_qa_dataset(where.source, where.split, limit, data_source=where.data_source,
                                   max_question_chars=max_question_chars, skipped=skipped)
    except (ValueError, OSError, ImportError) as err:  # the data module's one-line errors, offline included
        raise DatasetSpecError(f"--datasets {spec!r}: {err}") from err
    return EvalSet(name, examples, where.label, skipped)


def resolve(spec: str, hub: str = ZEROSEARCH_HUB) -> Resolved:
    """What ``load_qa_dataset`` reads for a ``--datasets`` entry, checked without reading anything.

    >>> resolve("2wiki")
    Resolved(source='sunhaonlp/ZeroSearch_dataset', split='test', data_source='2wikimultihopqa', \
label='sunhaonlp/ZeroSearch_dataset [test, data_source=2wikimultihopqa]')
    >>> resolve("flashrag:nq").source, resolve("flashrag:musique").split
    ('RUC-NLPIR/FlashRAG_datasets:nq', 'dev')
    """
    if spec == "sample":
        return Resolved(None, "train", None, "zerosearch_gym sample")
    if spec in SAMPLES:  # the shipped sets of zerosearch_gym.data
        return Resolved(spec, "train", None, spec)
    paper = ALIASES.get(spec, spec)
    if paper in PAPER_SETS:
        return Resolved(hub, "test", paper, f"{hub} [test, data_source={paper}]")
    if spec.startswith("flashrag:"):
        config = spec.split(":", 1)[1]
        if config not in PAPER_SETS:
            raise ValueError(f"expected flashrag:<name> with a name in {sorted(PAPER_SETS)}, got {config!r}")
        return Resolved(f"{FLASHRAG_HUB}:{config}", PAPER_SETS[config], None, f"{FLASHRAG_HUB}:{config}")
    path = Path(spec).expanduser()
    if path.suffix.lower() in _FILE_SUFFIXES or path.is_file():
        return Resolved(spec, "train", None, str(path))
    return Resolved(spec, "test", None, f"{spec} [test]")  # a hub id (repo/id or repo/id:config) or folder


def _set_name(spec: str) -> str:
    if not isinstance(spec, str) or not spec.strip():
        raise DatasetSpecError(f"expected each --datasets entry to be a non-empty name or path, got {spec!r}")
    if spec in SAMPLES:
        return spec
    paper = ALIASES.get(spec, spec)
    if paper in PAPER_SETS:
        return paper
    if spec.startswith("flashrag:"):
        return spec.split(":", 1)[1]
    path = Path(spec)
    return path.stem if path.suffix else spec.replace("/", "_")
