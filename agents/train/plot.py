"""Plot a run's metrics.jsonl: reward and F1 per step, with the curriculum's noise probability."""
from __future__ import annotations

import json
from pathlib import Path


def read_metrics(path: str | Path) -> list[dict]:
    """The JSON lines of a metrics file (training steps only: rows with a "step" key)."""
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return [r for r in rows if "step" in r]


def plot_metrics(metrics_path: str | Path, png_path: str | Path, title: str = "ZeroSearch training") -> Path:
    """Write a PNG: reward / F1 / valid-action rate with the noise p (top), training health (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(metrics_path)
    if not rows:
        raise ValueError(f"expected training rows in {metrics_path}, got none")
    steps = [r["step"] for r in rows]
    fig, (ax, low) = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True)
    ax.plot(steps, [r["reward"] for r in rows], "o-", label="reward")
    ax.plot(steps, [r["f1"] for r in rows], "s-", label="F1")
    if "valid_action_rate" in rows[0]:
        ax.plot(steps, [r["valid_action_rate"] for r in rows], ".:", label="valid action rate")
    held_out = [(r["step"], r["val_f1"]) for r in rows if "val_f1" in r]
    if held_out:
        ax.plot(*zip(*held_out), "D-", label="held-out F1 (greedy)")
    ax.set_ylabel("mean per episode")
    ax.set_ylim(bottom=0)
    right = ax.twinx()
    right.plot(steps, [r["noise_p"] for r in rows], "--", color="gray", label="noise p")
    right.set_ylabel("noise probability p")
    right.set_ylim(0, 1)
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left", fontsize=8)
    ax.set_title(title)
    for key, style in (("entropy", "o-"), ("kl_ref", "x-"), ("searches", "^-"), ("zero_adv_groups", "v:")):
        if any(key in r for r in rows):
            low.plot([r["step"] for r in rows if key in r], [r[key] for r in rows if key in r], style, label=key)
    low.set_xlabel("training step")
    low.set_ylabel("training health")
    low.set_yscale("symlog", linthresh=0.01)
    if any("response_tokens" in r for r in rows):
        length = low.twinx()
        length.plot(steps, [r.get("response_tokens", 0) for r in rows], "--", color="gray", label="response tokens")
        length.set_ylabel("tokens per episode")
        length.legend(loc="upper right", fontsize=8)
    low.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return Path(png_path)
