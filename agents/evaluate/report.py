"""Metrics of a set of episodes, the per-dataset table (+ average), and the eval.json / eval.md files."""
from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path

COLUMNS = [  # (key, header, percent?)
    ("n", "n", False), ("em", "EM", True), ("cover_em", "cover-EM", True), ("f1", "F1", True),
    ("searches", "searches/ep", False), ("valid_action_rate", "valid actions", True),
    ("tokens", "tokens/ep", False), ("skipped", "skipped", False),
]
METRIC_KEYS = ("em", "cover_em", "f1", "searches", "valid_action_rate", "tokens", "truncated")


def set_metrics(records: list[dict], eval_set=None) -> dict:
    """Mean EM, cover-EM, F1, searches and generated tokens per episode; the valid-action rate over all
    turns; the truncated share; the count of episodes and of skipped rows.

    >>> set_metrics([{"em": 1.0, "cover_em": 1.0, "f1": 1.0, "searches": 1, "tokens": 10, "turns": 2,
    ...               "invalid_turns": 0, "truncated": False},
    ...              {"em": 0.0, "cover_em": 1.0, "f1": 0.5, "searches": 2, "tokens": 20, "turns": 2,
    ...               "invalid_turns": 1, "truncated": False}])["valid_action_rate"]
    0.75
    """
    n = len(records)
    turns = sum(r["turns"] for r in records)
    out = {"n": n, "skipped": len(eval_set.skipped) if eval_set is not None else 0}
    for key in ("em", "cover_em", "f1", "searches", "tokens"):
        out[key] = sum(float(r[key]) for r in records) / max(n, 1)
    out["valid_action_rate"] = 1.0 - sum(r["invalid_turns"] for r in records) / max(turns, 1)
    out["truncated"] = sum(bool(r["truncated"]) for r in records) / max(n, 1)
    if eval_set is not None:
        out["source"] = eval_set.source
        out["skipped_rows"] = [{"row": i, "reason": why} for i, why in eval_set.skipped[:20]]
    return out


def average_row(rows: list[dict]) -> dict:
    """The unweighted mean over datasets (as the paper's "Avg." column); n and skipped are sums."""
    if not rows:
        return {}
    avg = {key: sum(r[key] for r in rows) / len(rows) for key in METRIC_KEYS}
    avg["n"], avg["skipped"] = sum(r["n"] for r in rows), sum(r["skipped"] for r in rows)
    return avg


def markdown_table(results: dict) -> str:
    """The per-dataset table and the average row, as GitHub markdown (EM / F1 in %)."""
    lines = ["| dataset | " + " | ".join(h for _, h, _ in COLUMNS) + " |",
             "|---|" + "---:|" * len(COLUMNS)]
    rows = list(results["sets"].items())
    if len(rows) > 1:
        rows.append(("**average**", results["average"]))
    for name, row in rows:
        cells = [_cell(row.get(key, 0), pct) for key, _, pct in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value, percent: bool) -> str:
    if isinstance(value, int):
        return str(value)
    return f"{100 * value:.1f}" if percent else f"{value:.2f}"


def versions() -> dict:
    """Versions of Python and of the packages an evaluation result depends on."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for package in ("zerosearch-gym", "gymnasium", "torch", "transformers", "datasets", "bm25s"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = None
    return out


def write_report(output_dir: str | Path, results: dict, meta: dict) -> tuple[Path, Path]:
    """Write ``eval.json`` (results + meta) and ``eval.md`` (command, settings, table); returns both paths."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {**meta, "versions": versions()}
    (out / "eval.json").write_text(json.dumps({**meta, **results}, indent=1, default=str))
    settings = "\n".join(f"- {key}: `{value}`" for key, value in meta.items() if key not in ("command", "versions"))
    version_line = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v and k != "platform")
    skipped = [f"- {name}: {r['skipped']} rows skipped, e.g. " + "; ".join(
        f"row {s['row']}: {s['reason']}" for s in r.get("skipped_rows", [])[:3])
        for name, r in results["sets"].items() if r.get("skipped")]
    text = (f"# Evaluation: {meta.get('policy')} with {meta.get('backend')}\n\n"
            f"```\n{meta.get('command', '')}\n```\n\n{settings}\n- versions: {version_line}\n\n"
            f"{markdown_table(results)}\n\nEM, cover-EM, F1 and valid actions in %; searches and generated "
            "tokens per episode.\n" + ("\n" + "\n".join(skipped) + "\n" if skipped else ""))
    (out / "eval.md").write_text(text)
    return out / "eval.json", out / "eval.md"


def command_line(argv: list[str], prog: str = "zerosearch eval") -> str:
    """The command, quoted for a shell.

    >>> command_line(["--policy", "scripted", "--datasets", "my file.jsonl"])
    "zerosearch eval --policy scripted --datasets 'my file.jsonl'"
    """
    import shlex

    return " ".join([prog, *map(shlex.quote, argv)])
