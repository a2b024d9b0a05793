"""A warm-start LoRA adapter on disk: the shipped one (``agents/data/warmstart-smollm2-lora``) or one that
``scripts/build_warmstart.py`` writes.

A folder holds ``adapter.safetensors`` (the LoRA A/B matrices of every linear layer, fp16, named like
:class:`agents.policy.Policy`'s parameters under ``add_lora``) and ``warmstart.json`` (the base model, its
shape, rank, alpha, the file's sha256 and how the adapter was built). :func:`check_adapter` reads only the
JSON and the safetensors header, so a wrong base model or rank, a missing or corrupt file is one clear line
before any model loads. :func:`apply_adapter` adds the adapter to a policy and merges it into the weights.
"""
from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent / "data" / "warmstart-smollm2-lora"
WEIGHTS, META = "adapter.safetensors", "warmstart.json"
SMOLLM2 = "HuggingFaceTB/SmolLM2-135M-Instruct"
SHAPE_KEYS = ("hidden_size", "num_hidden_layers", "vocab_size")


class AdapterError(ValueError):
    """A warm-start adapter that does not fit the policy (another base or rank, missing or corrupt files)."""


def adapter_folder(spec: str) -> Path:
    """``shipped`` -> the committed adapter; anything else is a folder path."""
    return SHIPPED if spec == "shipped" else Path(spec).expanduser()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def base_shape(model: str) -> dict | None:
    """hidden size, layers and vocabulary of ``model`` ("" = SmolLM2) from its config.json, or None when it
    is a hub id that is not on disk (then only the name can be compared)."""
    if not model or model == SMOLLM2:
        from zerosearch_gym.llm.models import smollm2_path

        config = smollm2_path() / "config.json"
    else:
        config = Path(model).expanduser() / "config.json"
    if not config.is_file():
        return None
    data = json.loads(config.read_text())
    return {k: data.get(k) for k in SHAPE_KEYS}


def _header(path: Path) -> dict:
    """The safetensors header (tensor names, dtypes, shapes) without reading the tensors."""
    try:
        with open(path, "rb") as handle:
            (size,) = struct.unpack("<Q", handle.read(8))
            if size > 100 * 2**20:
                raise ValueError("header too large")
            header = json.loads(handle.read(size))
    except (OSError, struct.error, ValueError) as err:
        raise AdapterError(f"expected {path} to be a safetensors file, got an unreadable one ({err}); "
                           "rebuild it with scripts/build_warmstart.py or pass --warmstart build") from None
    header.pop("__metadata__", None)
    return header


def check_adapter(folder: str | Path, model: str = "") -> dict:
    """The adapter's meta after checking it fits ``model`` ("" = SmolLM2); raises :class:`AdapterError`."""
    folder = Path(folder)
    meta_path, weights = folder / META, folder / WEIGHTS
    if not meta_path.is_file() or not weights.is_file():
        raise AdapterError(f"expected a warm-start adapter folder with {META} and {WEIGHTS} at {folder}, got "
                           f"{'no folder' if not folder.is_dir() else 'a folder without them'}; pass "
                           "--warmstart shipped, build, none or a folder scripts/build_warmstart.py wrote")
    try:
        meta = json.loads(meta_path.read_text())
        rank, alpha = int(meta["rank"]), float(meta["alpha"])
    except (ValueError, KeyError, TypeError) as err:
        raise AdapterError(f"expected {meta_path} to hold the adapter's base_model, rank and alpha, got "
                           f"{type(err).__name__}: {err}") from None
    if file_sha256(weights) != meta.get("sha256"):
        raise AdapterError(f"expected {weights} to match the sha256 in {META} ({str(meta.get('sha256'))[:12]}), "
                           "got a changed or corrupt file; restore it (git checkout) or rebuild it")
    _check_base(meta, model, folder)
    for name, entry in _header(weights).items():
        shape = entry.get("shape", [])
        if ("lora_A" in name and shape[:1] != [rank]) or ("lora_B" in name and shape[1:] != [rank]):
            raise AdapterError(f"expected rank-{rank} LoRA matrices in {weights} (its {META}), got {name} with "
                               f"shape {shape}; the adapter and its meta do not belong together")
    return {**meta, "rank": rank, "alpha": alpha}


def _check_base(meta: dict, model: str, folder: Path) -> None:
    wanted, shape = meta.get("base_model"), base_shape(model)
    same = (shape == meta.get("base_shape")) if shape is not None else (model or SMOLLM2) == wanted
    if not same:
        raise AdapterError(f"expected a policy with the warm-start adapter's base model {wanted} "
                           f"({meta.get('base_shape')}), got --model {model or SMOLLM2!r} ({shape}); pass "
                           f"--warmstart build (SFT in this run) or none, or an adapter built for that model")


def apply_adapter(policy, folder: str | Path, meta: dict) -> None:
    """Add the adapter's LoRA to ``policy``, load its weights and merge them into the base (in place)."""
    import torch
    from safetensors.torch import load_file

    policy.add_lora(meta["rank"], meta["alpha"])
    tensors = load_file(Path(folder) / WEIGHTS, device=str(policy.device))
    params = dict(policy.named_parameters())
    missing = sorted(n for n in params if "lora_" in n and n not in tensors)
    unknown = sorted(set(tensors) - set(params))
    if missing or unknown:
        raise AdapterError(f"expected the adapter's tensors to match the policy's LoRA parameters, got missing "
                           f"{missing[:2]} and unknown {unknown[:2]}")
    with torch.no_grad():
        for name, value in tensors.items():
            params[name].copy_(value)
    policy.merge_lora()


def save_adapter(policy, folder: str | Path, meta: dict) -> dict:
    """Write the policy's LoRA adapters (fp16) and their meta; returns the meta as written."""
    import torch
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {n: p.detach().to(torch.float16).contiguous() for n, p in policy.named_parameters() if "lora_" in n}
    save_file(tensors, folder / WEIGHTS)
    meta = {**meta, "sha256": file_sha256(folder / WEIGHTS), "bytes": (folder / WEIGHTS).stat().st_size}
    (folder / META).write_text(json.dumps(meta, indent=1) + "\n")
    return meta
