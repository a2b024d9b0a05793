"""Atomic, verified training checkpoints in safetensors.

A checkpoint is a folder ``<output_dir>/checkpoint`` with ``model.safetensors`` (the trained parameters in
their training dtype: the whole policy, or only the LoRA adapters and value head), ``optimizer.safetensors``
(AdamW's moments), ``state.json`` (step, data position, curriculum step, RNG states incl. CUDA, the
optimizer's hyper-parameters, config) and ``manifest.json`` (size and sha256 of every file).

It is written into a temporary sibling folder, then the current checkpoint is renamed to
``.checkpoint-old`` and the new one into place. A kill leaves either the new checkpoint, or (between the two
renames) only ``.checkpoint-old``, which :func:`recover_checkpoint` puts back. Loading checks the manifest
and the config **before** anything is loaded: a corrupt file or another run's checkpoint is a clear error.

:func:`load_run` restores a whole run from its folder (the one way in for ``--resume``, ``zerosearch export``
and ``zerosearch eval --policy RUN_DIR``); :func:`assemble_run` is the part a fresh run shares with it.
"""
from __future__ import annotations

import base64
import json
import os
import pickle
import random
import shutil
import tempfile
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..warmstart_adapter import file_sha256 as sha256

CHECKPOINT_DIR = "checkpoint"
OLD_DIR = ".checkpoint-old"
FILES = ("model.safetensors", "optimizer.safetensors", "state.json")
# Fields that must match between a checkpoint and the run resuming it.
MUST_MATCH = ("model", "algo", "dataset", "questions_per_step", "rollouts_per_question", "seed", "steps",
              "noise_start", "noise_end", "noise_base", "format_reward", "max_turns", "lora_rank",
              "critic_model", "warmstart", "warmstart_steps")


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed (missing, corrupt, or from another configuration)."""




def rng_state() -> dict:
    """Python, NumPy, torch (and CUDA, when present) RNG states, JSON-serialisable."""
    state = {"python": base64.b64encode(pickle.dumps(random.getstate())).decode(),
             "numpy": np.random.get_state()[1].tolist(), "numpy_pos": int(np.random.get_state()[2]),
             "torch": torch.get_rng_state().tolist()}
    if torch.cuda.is_available():
        state["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` captured."""
    random.setstate(pickle.loads(base64.b64decode(state["python"])))
    np.random.set_state(("MT19937", np.array(state["numpy"], dtype=np.uint32), state["numpy_pos"], 0, 0.0))
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])


def _optimizer_tensors(optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """AdamW's state dict split into tensors (for safetensors) and the rest (for JSON)."""
    sd = optimizer.state_dict()
    tensors = {f"{idx}.{key}": value.detach().contiguous() for idx, per_param in sd["state"].items()
               for key, value in per_param.items()}
    return tensors, {"param_groups": sd["param_groups"]}


def _load_optimizer(optimizer, path: Path, meta: dict, device) -> None:
    state: dict[int, dict] = {}
    for name, value in load_file(path, device=str(device)).items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_checkpoint(output_dir: str | Path, params: dict[str, torch.Tensor], optimizer, state: dict,
                    keep: int = 1) -> int:
    """Write ``params``, the optimizer and ``state`` atomically to ``output_dir/checkpoint``; keep the newest
    ``keep`` checkpoints (older ones as ``checkpoint-step<N>``). Returns the bytes written."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    final, old = output_dir / CHECKPOINT_DIR, output_dir / OLD_DIR
    tmp = Path(tempfile.mkdtemp(prefix=".checkpoint-tmp-", dir=output_dir))
    try:
        save_file({k: v.contiguous() for k, v in params.items()}, tmp / "model.safetensors")
        tensors, meta = _optimizer_tensors(optimizer)
        save_file(tensors, tmp / "optimizer.safetensors")
        (tmp / "state.json").write_text(json.dumps({**state, "optimizer": meta, "rng": rng_state()}))
        manifest = {name: {"bytes": (tmp / name).stat().st_size, "sha256": sha256(tmp / name)}
                    for name in FILES}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        written = sum(f.stat().st_size for f in tmp.iterdir())
        if old.exists():
            shutil.rmtree(old)
        if final.exists():
            os.rename(final, old)
        os.rename(tmp, final)  # a kill before this line leaves .checkpoint-old: recover_checkpoint()
        _retire(output_dir, keep)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return written


def _retire(output_dir: Path, keep: int) -> None:
    """Archive ``.checkpoint-old`` as ``checkpoint-step<N>`` (or delete it) and keep ``keep`` in all."""
    old = output_dir / OLD_DIR
    if old.exists():
        step = json.loads((old / "state.json").read_text()).get("step", 0) if keep > 1 else None
        if step is not None:
            os.rename(old, output_dir / f"checkpoint-step{step:06d}")
        else:
            shutil.rmtree(old)
    archived = sorted(output_dir.glob("checkpoint-step*"))
    for path in archived[:max(len(archived) - (keep - 1), 0)]:
        shutil.rmtree(path)


def recover_checkpoint(output_dir: str | Path) -> None:
    """Repair what a kill during :func:`save_checkpoint` left: put ``.checkpoint-old`` back when the new
    checkpoint never got renamed into place, and drop half-written temporary folders."""
    output_dir = Path(output_dir)
    for tmp in output_dir.glob(".checkpoint-tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    old, final = output_dir / OLD_DIR, output_dir / CHECKPOINT_DIR
    if old.is_dir() and not final.exists():
        os.rename(old, final)
    elif old.is_dir():
        shutil.rmtree(old)


def _manifest(path: Path) -> dict:
    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"expected a readable {path / 'manifest.json'}, got corrupt JSON ({err}); "
                              "delete the checkpoint and restart") from None
    if not isinstance(manifest, dict) or not all(isinstance(v, dict) for v in manifest.values()):
        raise CheckpointError(f"expected {path / 'manifest.json'} to hold a JSON object of file entries, got "
                              f"{type(manifest).__name__}; delete the checkpoint and restart")
    return manifest


def verify_checkpoint(output_dir: str | Path, config: dict) -> dict:
    """Check files against the manifest and the stored config against ``config``; returns the state.

    Raises CheckpointError naming the problem and the fix.
    """
    path = Path(output_dir) / CHECKPOINT_DIR
    if not (path / "manifest.json").is_file():
        raise CheckpointError(f"expected a checkpoint at {path} to resume from, got none; run without "
                              "--resume or point --output-dir at a run that saved one")
    manifest = _manifest(path)
    for name in FILES:
        entry, file = manifest.get(name), path / name
        if entry is None or not file.is_file():
            raise CheckpointError(f"expected {file} listed in the manifest and on disk; the checkpoint is "
                                  "incomplete — delete it and restart, or restore a backup")
        if file.stat().st_size != entry.get("bytes") or sha256(file) != entry.get("sha256"):
            raise CheckpointError(f"expected {file} to match its manifest ({entry.get('bytes')} bytes, sha256 "
                                  f"{str(entry.get('sha256'))[:12]}), got a truncated or corrupt file; delete "
                                  "the checkpoint and restart")
    state = json.loads((path / "state.json").read_text())
    saved = state["config"] = upgrade_config(state.get("config", {}))
    diffs = [f"{k}: checkpoint {saved.get(k)!r} vs now {config.get(k)!r}" for k in MUST_MATCH
             if saved.get(k) != config.get(k)]
    if diffs:
        raise CheckpointError(f"expected the same configuration as the checkpoint in {path}, got "
                              f"{'; '.join(diffs)}; resume with the original flags or use a new --output-dir")
    return state


def load_checkpoint(output_dir: str | Path, module: torch.nn.Module, optimizer, config: dict) -> dict:
    """Verify, then restore the trained parameters, optimizer and RNG; returns the saved state."""
    state = verify_checkpoint(output_dir, config)
    path = Path(output_dir) / CHECKPOINT_DIR
    device = next(module.parameters()).device
    params = dict(module.named_parameters())
    saved = load_file(path / "model.safetensors", device=str(device))
    missing = sorted(set(saved) ^ {n for n, p in params.items() if p.requires_grad})
    if missing:
        raise CheckpointError(f"expected the checkpoint's parameters to match the model's trainable ones, got "
                              f"differences in {missing[:3]}; resume with the original flags")
    with torch.no_grad():
        for name, value in saved.items():
            params[name].copy_(value)
    _load_optimizer(optimizer, path / "optimizer.safetensors", state["optimizer"], device)
    set_rng_state(state["rng"])
    return state


def truncate_metrics(path: str | Path, step: int) -> None:
    """Keep the warm-start rows and the training rows before ``step`` (a resumed run rewrites the rest)."""
    path = Path(path)
    if not path.is_file():
        return
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    kept = []
    for line in lines:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a row cut by the kill
            continue
        if row.get("step", -1) < step:
            kept.append(line + "\n")
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(kept))
    os.replace(tmp, path)


# -- a whole run: what loop.train resumes and export / eval rebuild ------------------------------------------
@dataclass
class Run:
    """A training run's pieces: config, device, policy, PPO's separate critic (or None), the KL reference (or
    None), the optimizer, and the checkpoint state it was restored from (None for a fresh run)."""

    cfg: Any
    device: torch.device
    policy: Any
    critic: Any
    ref: Any
    optimizer: torch.optim.Optimizer
    state: dict | None = None

    def trained(self) -> torch.nn.ModuleDict:
        """The modules the optimizer trains, named as the checkpoint names their parameters."""
        return torch.nn.ModuleDict({"policy": self.policy, **({"critic": self.critic} if self.critic is not None else {})})


def assemble_run(cfg, device: torch.device, policy, critic, run_dir: Path, reference: bool = True) -> Run:
    """After the (re)done warm start: the rollout engine, the KL reference (from these starting weights, so
    before any checkpoint is loaded) when ``reference``, and the optimizer."""
    from . import build

    build.attach_rollout_engine(cfg, policy)
    ref = build.build_reference(cfg, policy, run_dir) if reference else None
    return Run(cfg, device, policy, critic, ref, build.make_optimizer(cfg, policy, critic))


def upgrade_config(saved: dict) -> dict:
    """A config saved before ``--warmstart`` existed: such runs warm-started in the run (or not at all)."""
    if "warmstart" in saved:
        return saved
    return {**saved, "warmstart": "build" if saved.get("warmstart_steps", 0) > 0 else "none"}


def saved_config(run_dir: str | Path) -> dict:
    """The config a training run saved with its checkpoint (``checkpoint/state.json``)."""
    path = Path(run_dir) / CHECKPOINT_DIR / "state.json"
    if not path.is_file():
        raise FileNotFoundError(f"expected a training run folder with {CHECKPOINT_DIR}/state.json at "
                                f"{run_dir}, got none; pass the --output-dir of a zerosearch train run")
    return upgrade_config(json.loads(path.read_text())["config"])


def load_run(run_dir: str | Path, cfg=None, device: str = "cpu", reference: bool = False) -> Run:
    """Training run ``run_dir`` at its checkpoint: policy and critic built, the warm start redone, the rollout
    engine attached, the reference built when ``reference``, then parameters, optimizer and RNG loaded.

    ``cfg`` is the config of a run that resumes (it must match the checkpoint's); without it the run's saved
    config is used, on ``device`` with the transformers rollout path (to evaluate or export the policy)."""
    from . import build
    from .config import TrainConfig

    run_dir = Path(run_dir)
    recover_checkpoint(run_dir)  # a kill between the two renames of a save leaves .checkpoint-old
    saved = saved_config(run_dir)
    check = saved if cfg is None else asdict(cfg)  # a rebuild is its own config; a resume must match it
    if cfg is None:
        known = {f.name for f in fields(TrainConfig)}
        cfg = replace(TrainConfig(), **{**{k: v for k, v in saved.items() if k in known}, "device": device,
                                        "rollout_engine": "fastgen", "resume": True})
    build.check_recorded_adapter(cfg, run_dir)
    torch_device = build.pick_device(cfg)
    policy = build.build_policy(cfg, torch_device)
    critic = build.build_critic(cfg, torch_device, policy.tokenizer)
    build.redo_warm_start(policy, cfg, run_dir)
    run = assemble_run(cfg, torch_device, policy, critic, run_dir, reference)
    run.state = load_checkpoint(run_dir, run.trained(), run.optimizer, check)
    return run
