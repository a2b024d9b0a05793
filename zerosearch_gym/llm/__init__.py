"""Model-side helpers shared by the backends and by ``agents/``: generation, the decode engine, model loaders.

Torch is imported lazily: ``import zerosearch_gym.llm`` is cheap; the first use of a name loads its module.
(No submodule is named like an exported function: ``zerosearch_gym.llm.generate`` is always the function.)

- :mod:`.generation` — :func:`generate` and :class:`Generation` (sampling, stop strings, the transformers
  path, the fast engine with a fallback).
- :mod:`.engine` — :class:`DecodeEngine`, the static-cache / CUDA-graph decoder (raw token ids).
- :mod:`.models` — ``load_pretrained`` (folder / hub id / offline SmolLM2, one-line offline errors, a
  progress line), the offline SmolLM2-135M-Instruct, tiny random test models, ``import_vllm``.
"""
from __future__ import annotations

import importlib

_NAMES = {
    "Generation": "generation", "generate": "generation", "stop_cut": "generation", "DecodeEngine": "engine",
    "supports_fast_engine": "engine",
    "smollm2_path": "models", "smollm2_tokenizer": "models", "tiny_model": "models", "import_vllm": "models",
    "load_pretrained": "models", "progress": "models",
}
__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name not in _NAMES:
        raise AttributeError(f"module 'zerosearch_gym.llm' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
