"""The learning curves of training runs as one markdown table: per window of steps, the mean of each metric.

    python scripts/arm_curves.py B=runs/arms/B C=runs/arms/C D0=runs/arms/D0 [--window 5]
        [--metrics reward,f1,noise_p,answer_in_useful_docs,valid_action_rate,f1_useful,f1_noisy]

Each ``NAME=DIR`` is a ``zerosearch train --output-dir``; its ``metrics.jsonl`` has one row per step (rows
without a ``step``, such as warm-start or held-out rows, are left out). A window a run has not finished
yet is averaged over the steps it has, and says how many.

Two metrics come from the run's ``episodes.jsonl`` (when it has one), pooled over the window's episodes:
``f1_useful`` is the F1 of the episodes whose searches all returned useful documents, ``f1_noisy`` that of
the episodes with at least one noisy search. As the curriculum raises the noise, ``f1`` falls with the share
of noisy episodes; ``f1_useful`` is the part that learning can move at a fixed question difficulty.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def step_rows(folder: str | Path) -> list[dict]:
    path = Path(folder) / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"expected {path} written by zerosearch train --output-dir {folder}")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if "step" in r]


def episode_rows(folder: str | Path) -> list[dict]:
    """One row per training episode: its step and its F1 under ``f1_noisy`` or ``f1_useful``."""
    path = Path(folder) / "episodes.jsonl"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        e = json.loads(line) if line.strip() else {}
        if "step" in e:  # training episodes only
            rows.append({"step": e["step"], "f1_noisy" if e.get("noisy_searches") else "f1_useful": e["f1"]})
    return rows


def table(runs: dict[str, list[dict]], metrics: list[str], window: int) -> str:
    last = max((r["step"] for rows in runs.values() for r in rows), default=-1)
    header = "| run | metric | " + " | ".join(f"steps {s}–{min(s + window, last + 1) - 1}"
                                               for s in range(0, last + 1, window)) + " |"
    lines = [header, "|---|---|" + "---:|" * len(range(0, last + 1, window))]
    for name, rows in runs.items():
        for metric in metrics:
            cells = []
            for start in range(0, last + 1, window):
                inside = [r for r in rows if start <= r["step"] < start + window]
                values = [r[metric] for r in inside if metric in r]
                steps = len({r["step"] for r in inside})
                cell = f"{sum(values) / len(values):.3f}" if values else "—"
                cells.append(cell + (f" ({steps})" if values and steps < window else ""))
            lines.append(f"| {name} | {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="NAME=TRAIN_OUTPUT_DIR")
    p.add_argument("--window", type=int, default=5, help="steps per column")
    p.add_argument("--metrics",
                   default="reward,f1,noise_p,answer_in_useful_docs,valid_action_rate,f1_useful,f1_noisy")
    args = p.parse_args(argv)
    if args.window < 1:
        p.error(f"--window: expected >= 1, got {args.window}")
    runs = {}
    for item in args.runs:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            p.error(f"expected NAME=TRAIN_OUTPUT_DIR, got {item!r}")
        try:
            runs[name] = step_rows(folder) + episode_rows(folder)
        except (OSError, ValueError) as exc:
            p.error(str(exc))
    print(table(runs, [m for m in args.metrics.split(",") if m], args.window))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
