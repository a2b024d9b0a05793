"""Compare ``zerosearch eval`` results of several policies on the same questions, with bootstrap CIs.

    python scripts/compare_evals.py A=runs/eval-A B=runs/eval-B C=runs/eval-C [--baseline A] [--set wiki:dev]
                                    [--searches useful|noisy]

Each ``NAME=DIR`` is an ``--output-dir`` of ``zerosearch eval``; its ``episodes.jsonl`` holds one line per
question. Prints, per policy, EM and F1 (in %) with a 95 % percentile bootstrap interval over questions, and
the paired difference to ``--baseline`` (the same resampled questions for both, so the question-to-question
spread cancels): an interval that excludes 0 is a difference the sample supports. 10,000 resamples, seed 0.
``--searches noisy`` keeps the questions whose baseline episode got noisy documents (``noisy_searches`` > 0),
``useful`` the others: with ``zerosearch eval --noise p`` the noise coin is drawn from each question's seed, so
these are the same questions for every policy.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def read_rows(folder: str | Path, dataset: str | None) -> dict[str, dict]:
    """``{question id: episode record}`` of one eval output folder (optionally one dataset of it)."""
    path = Path(folder) / "episodes.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"expected {path} written by zerosearch eval --output-dir {folder}")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {r["id"]: r for r in rows if dataset is None or r["dataset"] == dataset}


def read_scores(folder: str | Path, dataset: str | None) -> dict[str, tuple[float, float]]:
    """``{question id: (em, f1)}`` of one eval output folder (optionally one dataset of it)."""
    return {i: (float(r["em"]), float(r["f1"])) for i, r in read_rows(folder, dataset).items()}


def bootstrap(values: np.ndarray, resamples: np.ndarray) -> tuple[float, float, float]:
    """(mean, low, high) in %: the mean of ``values`` and the 2.5 / 97.5 percentiles over the resamples."""
    means = values[resamples].mean(axis=1)
    return 100 * values.mean(), 100 * np.percentile(means, 2.5), 100 * np.percentile(means, 97.5)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="NAME=EVAL_OUTPUT_DIR")
    p.add_argument("--baseline", default=None, help="NAME the others are compared to (default: the first)")
    p.add_argument("--set", default=None, help="only this dataset of the eval folders")
    p.add_argument("--searches", choices=("useful", "noisy"), default=None,
                   help="only the questions whose baseline episode got noisy documents (noisy) or did not (useful)")
    p.add_argument("--resamples", type=int, default=10_000)
    args = p.parse_args(argv)
    if any("=" not in r for r in args.runs):
        p.error(f"expected NAME=EVAL_OUTPUT_DIR, got {next(r for r in args.runs if '=' not in r)!r}")
    runs = dict(r.split("=", 1) for r in args.runs)
    if args.baseline is not None and args.baseline not in runs:
        p.error(f"--baseline {args.baseline!r}: expected one of {', '.join(runs)}")
    base = args.baseline or next(iter(runs))
    try:
        scores = {name: read_scores(folder, args.set) for name, folder in runs.items()}
        noisy = {i for i, r in read_rows(runs[base], args.set).items() if r.get("noisy_searches", 0) > 0}
    except (OSError, ValueError, KeyError) as exc:
        p.error(f"{type(exc).__name__}: {exc}")
    ids = sorted(set.intersection(*(set(s) for s in scores.values())))
    if args.searches is not None:
        ids = [i for i in ids if (i in noisy) == (args.searches == "noisy")]
    if not ids:
        raise SystemExit("no question is in every eval folder (with --searches: of that kind); evaluate all "
                         "policies on the same set")
    rng = np.random.default_rng(0)
    resamples = rng.integers(0, len(ids), size=(args.resamples, len(ids)))
    kind = f" ({args.searches} searches in {base}'s episodes)" if args.searches else ""
    print(f"{len(ids)} questions in common{kind}; 95 % bootstrap intervals, {args.resamples} resamples\n")
    print(f"| policy | EM % | F1 % | F1 - {base} (paired) |\n|---|---:|---:|---:|")
    f1_base = np.array([scores[base][i][1] for i in ids])
    for name in runs:
        em = np.array([scores[name][i][0] for i in ids])
        f1 = np.array([scores[name][i][1] for i in ids])
        e, f = bootstrap(em, resamples), bootstrap(f1, resamples)
        diff = "—" if name == base else "{:+.1f} [{:+.1f}, {:+.1f}]".format(*bootstrap(f1 - f1_base, resamples))
        print(f"| {name} | {e[0]:.1f} [{e[1]:.1f}, {e[2]:.1f}] | {f[0]:.1f} [{f[1]:.1f}, {f[2]:.1f}] | {diff} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
