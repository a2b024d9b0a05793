"""Tuned-simulator adapters: apply a peft LoRA adapter (from ``zerosearch simulator tune``) to a base model.

The adapter folder holds ``adapter_config.json``, ``adapter_model.safetensors`` and ``zerosearch_base.json``
(the shape of the base model it was tuned on). A different base is an error before any weight is touched.
The adapter is merged into the weights, so the result is a plain model (fast decode engine, vLLM-free).
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

# The tuned simulator shipped with the package (SmolLM2-135M-Instruct + LoRA; scripts/build_simulator.py).
SHIPPED_ADAPTER = Path(__file__).resolve().parent.parent / "data" / "simulator-smollm2-lora"
BASE_FIELDS = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size",
               "intermediate_size")


def check_base(model, adapter: str | Path) -> None:
    """Raise ValueError when ``adapter`` was tuned on a base model of another shape than ``model``."""
    folder = Path(os.path.expanduser(str(adapter)))
    if not (folder / "adapter_config.json").is_file():
        raise FileNotFoundError(f"expected a peft adapter folder with adapter_config.json, got {str(folder)!r}")
    meta_path = folder / "zerosearch_base.json"
    if not meta_path.is_file():
        return  # a plain peft adapter: peft checks the shapes itself (errors wrapped in apply_adapter)
    meta = json.loads(meta_path.read_text())
    have = {f: getattr(model.config, f, None) for f in BASE_FIELDS}
    diff = {f: (meta.get(f), have[f]) for f in BASE_FIELDS if f in meta and meta[f] != have[f]}
    if diff:
        details = ", ".join(f"{f}: adapter {a!r} vs model {b!r}" for f, (a, b) in diff.items())
        raise ValueError(f"expected the base model the adapter {str(folder)!r} was tuned on "
                         f"({meta.get('base', '?')}), got a different model ({details})")


def adapter_mode(adapter: str | Path | None) -> str | None:
    """The simulator prompt mode an adapter was tuned on (``zerosearch_base.json`` "mode"), or None."""
    meta = Path(os.path.expanduser(str(adapter))) / "zerosearch_base.json" if adapter else None
    if meta is None or not meta.is_file():
        return None
    return json.loads(meta.read_text()).get("mode")


def apply_adapter(model, adapter: str | Path):
    """``model`` with the LoRA adapter at ``adapter`` merged into its weights (eval mode)."""
    check_base(model, adapter)
    try:
        from peft import PeftModel
    except ImportError as exc:
        raise ImportError(f"a simulator adapter needs peft: pip install peft ({exc})") from exc
    try:
        with warnings.catch_warnings():  # peft reads a property transformers deprecated: not the user's concern
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
            merged = PeftModel.from_pretrained(model, os.path.expanduser(str(adapter))).merge_and_unload()
    except (RuntimeError, ValueError, KeyError) as exc:
        raise ValueError(f"could not apply the adapter {str(adapter)!r} to {type(model).__name__}: "
                         f"{type(exc).__name__}: {str(exc)[:300]}") from None
    return merged.eval()
