"""Atomic, verified training checkpoints.

A checkpoint is a folder ``<output_dir>/checkpoint`` with ``model.pt`` (policy + value head state dict),
``optimizer.pt``, ``state.json`` (step, data position, curriculum step, RNG states, config) and
``manifest.json`` (size and sha256 of every file). It is written into a temporary sibling folder and renamed
into place, so a killed run leaves either the old or the new checkpoint, never half of one. Loading checks
the manifest and the config **before** anything is loaded: a truncated or corrupt file, or a checkpoint from
another configuration, is a clear error, never a silent load.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

CHECKPOINT_DIR = "checkpoint"
FILES = ("model.pt", "optimizer.pt", "state.json")
# Fields that must match between a checkpoint and the run resuming it (others, e.g. --steps, may change
# only where listed as safe below).
MUST_MATCH = ("model", "algo", "dataset", "questions_per_step", "rollouts_per_question", "seed", "steps",
              "noise_start", "noise_end", "noise_base", "format_reward", "max_turns")


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed (missing, corrupt, or from another configuration)."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def rng_state() -> dict:
    """Python, NumPy and torch RNG states (JSON-serialisable)."""
    return {"python": repr(random.getstate()), "numpy": np.random.get_state()[1].tolist(),
            "numpy_pos": int(np.random.get_state()[2]), "torch": torch.get_rng_state().tolist()}


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` captured."""
    import ast

    random.setstate(ast.literal_eval(state["python"]))
    np.random.set_state(("MT19937", np.array(state["numpy"], dtype=np.uint32), state["numpy_pos"], 0, 0.0))
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))


def save_checkpoint(output_dir: str | Path, policy: torch.nn.Module, optimizer, state: dict) -> Path:
    """Write model, optimizer and ``state`` atomically to ``output_dir/checkpoint``; returns its path."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    final = output_dir / CHECKPOINT_DIR
    tmp = Path(tempfile.mkdtemp(prefix=".checkpoint-", dir=output_dir))
    try:
        torch.save({k: v for k, v in policy.state_dict().items()}, tmp / "model.pt")
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        (tmp / "state.json").write_text(json.dumps({**state, "rng": rng_state()}))
        manifest = {name: {"bytes": (tmp / name).stat().st_size, "sha256": _sha256(tmp / name)}
                    for name in FILES}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        old = output_dir / ".checkpoint-old"
        if old.exists():
            shutil.rmtree(old)
        if final.exists():
            os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def verify_checkpoint(output_dir: str | Path, config: dict) -> dict:
    """Check files against the manifest and the stored config against ``config``; returns the state.

    Raises CheckpointError naming the problem and the fix.
    """
    path = Path(output_dir) / CHECKPOINT_DIR
    if not (path / "manifest.json").is_file():
        raise CheckpointError(f"expected a checkpoint at {path} to resume from, got none; run without "
                              "--resume or point --output-dir at a run that saved one")
    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"expected a readable {path / 'manifest.json'}, got corrupt JSON ({err}); "
                              "delete the checkpoint and restart") from None
    for name in FILES:
        entry, file = manifest.get(name), path / name
        if entry is None or not file.is_file():
            raise CheckpointError(f"expected {file} listed in the manifest and on disk; the checkpoint is "
                                  "incomplete — delete it and restart, or restore a backup")
        if file.stat().st_size != entry["bytes"] or _sha256(file) != entry["sha256"]:
            raise CheckpointError(f"expected {file} to match its manifest ({entry['bytes']} bytes, sha256 "
                                  f"{entry['sha256'][:12]}), got a truncated or corrupt file; delete the "
                                  "checkpoint and restart")
    state = json.loads((path / "state.json").read_text())
    saved = state.get("config", {})
    diffs = [f"{k}: checkpoint {saved.get(k)!r} vs now {config.get(k)!r}" for k in MUST_MATCH
             if saved.get(k) != config.get(k)]
    if diffs:
        raise CheckpointError(f"expected the same configuration as the checkpoint in {path}, got "
                              f"{'; '.join(diffs)}; resume with the original flags or use a new --output-dir")
    return state


def load_checkpoint(output_dir: str | Path, policy: torch.nn.Module, optimizer, config: dict) -> dict:
    """Verify, then restore model, optimizer and RNG; returns the saved state (step, data position, ...)."""
    state = verify_checkpoint(output_dir, config)
    path = Path(output_dir) / CHECKPOINT_DIR
    device = next(policy.parameters()).device
    policy.load_state_dict(torch.load(path / "model.pt", map_location=device, weights_only=True))
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location=device, weights_only=True))
    set_rng_state(state["rng"])
    return state
