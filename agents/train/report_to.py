"""Training dashboards: ``zerosearch train --report-to tensorboard|wandb|none`` (Hugging Face trainers' flag).

:class:`RunReporter` follows the files a run writes, ``metrics.jsonl`` and ``episodes.jsonl``, and logs what
is new: every number of every row (the step's reward, F1, losses, KL, the health signals of
:mod:`agents.train.health`, the warm start's rows, the held-out evaluation) and a few sample episodes of
each step as text. Following the files keeps the training loop untouched and logs exactly what
``metrics.jsonl`` holds. :func:`follow_run` polls them from a background thread while training runs.

- ``tensorboard``: event files in ``output_dir/tensorboard`` (``tensorboardX``; view them with
  ``tensorboard --logdir runs/zerosearch/tensorboard``);
- ``wandb``: a W&B run in ``output_dir`` (``WANDB_MODE=offline`` works without an account: ``wandb sync`` later).
"""
from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path
from typing import Iterator

from .health import HEALTH_KEYS

REPORT_TO = ("none", "tensorboard", "wandb")
_HEAD = 256  # bytes of a file's start that tell a rewritten file from a grown one


def check_report_to(kind: str) -> str:
    """``kind`` when it is a known dashboard, else a ValueError naming the known ones."""
    if kind not in REPORT_TO:
        raise ValueError(f"expected --report-to tensorboard, wandb or none, got {kind!r}")
    return kind


def scalars(row: dict) -> tuple[int, dict[str, float]]:
    """``(step, {tag: value})`` of one metrics.jsonl row: warm-start rows under ``warmstart/``, the evaluation
    under ``val/``, the health signals under ``health/``, the rest under ``train/``.

    >>> scalars({"step": 3, "reward": 0.5, "entropy": 1.2, "val_f1": 0.4, "note": "x"})
    (3, {'train/reward': 0.5, 'health/entropy': 1.2, 'val/f1': 0.4})
    >>> scalars({"warmstart_step": 1, "sft_loss": 0.8})
    (1, {'warmstart/sft_loss': 0.8})
    """
    if "warmstart_step" in row:
        return int(row["warmstart_step"]), {f"warmstart/{k}": float(v) for k, v in row.items()
                                            if k != "warmstart_step" and _number(v)}
    tags = {}
    for key, value in row.items():
        if key == "step" or not _number(value):
            continue
        if key.startswith("val_"):
            tags[f"val/{key[4:]}"] = float(value)
        else:
            tags[f"{'health' if key in HEALTH_KEYS else 'train'}/{key}"] = float(value)
    return int(row.get("step", -1)) + 1 if row.get("val_start") else int(row.get("step", 0)), tags


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def episode_text(record: dict) -> str:
    """One episodes.jsonl record as Markdown: the question, the gold answers, each turn, the reward."""
    lines = [f"**{record.get('question', '')}** (gold: {', '.join(record.get('golden_answers', []))}; "
             f"reward {record.get('reward', 0.0):.3f}, noise p {record.get('noise_p', 0.0):.2f})", ""]
    for i, turn in enumerate(record.get("steps", []), 1):
        what = turn.get("action", "")
        detail = {"search": f"search `{turn.get('query', '')}` ({'noisy' if turn.get('noisy') else 'useful'})",
                  "answer": f"answer `{turn.get('answer', '')}` (F1 {turn.get('f1', 0.0):.2f})"}.get(
            what, f"invalid: {turn.get('invalid_reason', '')}")
        lines.append(f"{i}. {detail}")
    return "\n".join(lines)


class RunReporter:
    """Log a run folder's new metrics rows and sample episodes to a dashboard (``poll`` reads what is new)."""

    def __init__(self, kind: str, output_dir: str | Path, config: dict | None = None, samples: int = 2):
        self.kind, self.out, self.samples = check_report_to(kind), Path(output_dir), samples
        self._offsets = {name: 0 for name in ("metrics.jsonl", "episodes.jsonl")}
        self._heads = {name: self._head(name) for name in self._offsets}  # what an earlier run left: skipped
        for name, head in self._heads.items():
            self._offsets[name] = (self.out / name).stat().st_size if head else 0
        self._sampled: dict[int, int] = {}  # step -> episodes logged
        self._lock = threading.Lock()
        self._writer = self._open(config or {})

    def _open(self, config: dict):
        if self.kind == "tensorboard":
            try:
                from tensorboardX import SummaryWriter
            except ImportError as exc:
                raise ImportError("--report-to tensorboard needs tensorboardX: pip install "
                                  "'zerosearch-gym[tensorboard]'") from exc
            writer = SummaryWriter(logdir=str(self.out / "tensorboard"))
            writer.add_text("config", "```json\n" + json.dumps(config, indent=1, default=str) + "\n```", 0)
            return writer
        if self.kind == "wandb":
            try:
                import wandb
            except ImportError as exc:
                raise ImportError("--report-to wandb needs wandb: pip install 'zerosearch-gym[wandb]'") from exc
            self.out.mkdir(parents=True, exist_ok=True)
            run = wandb.init(project="zerosearch", dir=str(self.out), config=config, reinit="finish_previous")
            for prefix in ("train", "health", "val"):
                run.define_metric(f"{prefix}/*", step_metric="train/step")
            run.define_metric("warmstart/*", step_metric="warmstart/step")
            return run
        return None

    def poll(self) -> int:
        """Log the rows and episodes written since the last poll; returns how many rows were logged."""
        if self._writer is None:
            return 0
        with self._lock:
            rows = self._new_lines("metrics.jsonl")
            for row in rows:
                self._log_row(row)
            for record in self._new_lines("episodes.jsonl"):
                self._log_episode(record)
            return len(rows)

    def _new_lines(self, name: str) -> list[dict]:
        path = self.out / name
        if not path.exists():
            return []
        with open(path, "rb") as handle:
            head = handle.read(_HEAD)
            handle.seek(0, 2)
            if handle.tell() < self._offsets[name] or not head.startswith(self._heads[name]):
                self._offsets[name] = 0  # the file was rewritten (a fresh start, a resume)
            self._heads[name] = head
            handle.seek(self._offsets[name])
            data = handle.read()
        complete = data[:data.rfind(b"\n") + 1]  # a line still being written waits for the next poll
        self._offsets[name] += len(complete)
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def _head(self, name: str) -> bytes:
        path = self.out / name
        if not path.exists():
            return b""
        with open(path, "rb") as handle:
            return handle.read(_HEAD)

    def _log_row(self, row: dict) -> None:
        step, tags = scalars(row)
        if self.kind == "tensorboard":
            for tag, value in tags.items():
                self._writer.add_scalar(tag, value, step)
            self._writer.flush()
        elif tags:
            key = "warmstart/step" if "warmstart_step" in row else "train/step"
            self._writer.log({**tags, key: step})

    def _log_episode(self, record: dict) -> None:
        step = int(record.get("step", 0))
        if self._sampled.get(step, 0) >= self.samples:
            return
        self._sampled[step] = self._sampled.get(step, 0) + 1
        if self.kind == "tensorboard":
            self._writer.add_text("episodes", episode_text(record), step)
            self._writer.flush()
        else:
            import wandb

            self._writer.log({"episodes": wandb.Html(f"<pre>{episode_text(record)}</pre>"), "train/step": step})

    def close(self) -> None:
        """Log what is left and close the dashboard."""
        self.poll()
        if self._writer is not None:
            (self._writer.close if self.kind == "tensorboard" else self._writer.finish)()
            self._writer = None


@contextlib.contextmanager
def follow_run(kind: str, output_dir: str | Path, config: dict | None = None, every_s: float = 2.0
               ) -> Iterator[RunReporter | None]:
    """Poll ``output_dir``'s metrics and episodes every ``every_s`` seconds while the block runs (``None`` for
    ``kind == "none"``), and once more at its end."""
    if check_report_to(kind) == "none":
        yield None
        return
    reporter, stop = RunReporter(kind, output_dir, config), threading.Event()

    def loop():
        while not stop.wait(every_s):
            reporter.poll()

    thread = threading.Thread(target=loop, name="zerosearch-report-to", daemon=True)
    thread.start()
    try:
        yield reporter
    finally:
        stop.set()
        thread.join()
        reporter.close()
