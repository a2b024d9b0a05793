"""Batched text generation: sampling, stop strings, the transformers path, and the fast engine with fallback.

One public function, :func:`generate`: token-id prompts of ragged lengths in, one :class:`Generation` per
prompt out (sampled ids, optional log-probs, text, finish reason). Two paths produce the same results:

- ``engine="hf"`` — transformers ``model.generate`` (left padding; :mod:`.hf_path`), then cut at stop strings.
  Used on CPU and for architectures the fast engine does not know. The prefix every prompt of the batch
  shares (the instruction text) is computed once and its KV cache repeated per row.
- ``engine="fast"`` — :class:`~.engine.DecodeEngine` (static KV cache, CUDA graphs, raw ids; see
  :mod:`.engine`), with stop strings checked on the host every ``check_every`` steps.

``engine="auto"`` (default) picks ``fast`` for a supported model on CUDA, else ``hf``, and falls back to
``hf`` for good if the fast engine fails on a model. The engine is cached per model; it re-copies the weights
when any parameter changed in place (optimizer steps), so a policy in training can keep calling
:func:`generate`. This module imports torch at the top; ``zerosearch_gym/__init__`` never imports it.
"""
from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .engine import SUPPORTED_MODEL_TYPES, DecodeEngine, supports_fast_engine
from .finishing import Generation, ended, eos_ids, finish, pad_id, stop_cut  # noqa: F401  (stop_cut: public)
from .hf_path import hf_generate


@dataclass(frozen=True)
class Sampling:
    """How :func:`generate` samples: its keyword arguments, as one record for the two generation paths."""

    max_new_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop_strings: tuple[str, ...] = ()
    seed: int | Sequence[int | None] | None = None  # one int, or one seed per prompt
    return_logprobs: bool = False
    done: Sequence[Callable[[str], bool] | None] | None = None  # per prompt: its row ends once its text passes

    @property
    def per_row(self) -> bool:
        """One seed per prompt: each row samples from its own generator."""
        return self.seed is not None and not isinstance(self.seed, int)


def generate(model, tokenizer, prompts: list[list[int]], *, engine: str = "auto", **settings) -> list[Generation]:
    """Continue each prompt (a list of token ids) by up to ``max_new_tokens`` tokens.

    ``settings`` are :class:`Sampling`'s fields, by keyword: ``max_new_tokens`` (required), ``temperature``
    (1.0), ``top_p`` (1.0), ``stop_strings`` (()), ``seed`` (None), ``return_logprobs`` (False) and ``done``
    (None).

    ``temperature`` 0 is greedy (log-probs are then those of the untempered distribution). A sequence ends
    right after the token that completes any of ``stop_strings`` (in the decoded text of its new tokens),
    at an EOS id (kept in ``token_ids``), at the first token after which ``done[i](text)`` holds (one test or
    None per prompt, monotone: a simulator ends once it wrote every document that will be kept), or at
    ``max_new_tokens``. ``seed`` makes sampling reproducible without touching the global RNG; a list of seeds
    (one per prompt) samples each row from its own generator, so a row's text does not depend on its batch
    mates (transformers path). ``engine``: "auto", "fast" or
    "hf" (see the module docstring).
    """
    sampling = Sampling(**{**settings, "stop_strings": tuple(settings.get("stop_strings", ()))})
    seed = sampling.seed
    _check_args(prompts, sampling, engine)
    if not prompts:
        return []
    if sampling.per_row and len(seed) != len(prompts):
        raise ValueError(f"expected one seed per prompt, got {len(seed)} seeds for {len(prompts)} prompts")
    if sampling.done is not None and len(sampling.done) != len(prompts):
        raise ValueError(f"expected one done test per prompt, got {len(sampling.done)} for {len(prompts)} prompts")
    if sampling.per_row:
        if engine == "fast":
            raise ValueError("expected one int seed with engine='fast', got a list; use engine='hf' or 'auto'")
        return hf_generate(model, tokenizer, prompts, sampling)
    if engine == "fast":
        if not supports_fast_engine(model):
            raise ValueError(f"expected a model of type {SUPPORTED_MODEL_TYPES} with silu MLP for engine='fast', "
                             f"got {getattr(model.config, 'model_type', type(model).__name__)!r}; use engine='hf'")
        return _fast_generate(model, tokenizer, prompts, sampling)
    if engine == "auto" and _auto_fast(model):
        try:
            return _fast_generate(model, tokenizer, prompts, sampling)
        except Exception as exc:  # e.g. a compile or graph-capture failure: stay correct, just slower
            _FAST_FAILED.add(model)
            warnings.warn(f"generate: the fast decode engine failed for this model ({type(exc).__name__}: {exc}); "
                          "using transformers generate from now on", RuntimeWarning, stacklevel=2)
    return hf_generate(model, tokenizer, prompts, sampling)


_FAST_FAILED: weakref.WeakSet = weakref.WeakSet()


def _auto_fast(model) -> bool:
    """engine="auto" picks the fast engine for a supported model on CUDA that has not failed before."""
    return _model_device(model).type == "cuda" and supports_fast_engine(model) and model not in _FAST_FAILED


_ENGINES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def engine_for(model) -> DecodeEngine:
    """The cached engine of ``model`` (built on first use; compiled graphs are reused across calls)."""
    engine = _ENGINES.get(model)
    if engine is None:
        engine = _ENGINES[model] = DecodeEngine(model)
    return engine


def _fast_generate(model, tokenizer, prompts, sampling: Sampling) -> list[Generation]:
    eos = eos_ids(model, tokenizer)
    done = sampling.done or [None] * len(prompts)
    tests = [ended(sampling.stop_strings, d) for d in done]

    def stopped(rows: list[list[int]], index: list[int]) -> list[bool]:
        texts = tokenizer.batch_decode(rows, skip_special_tokens=True)
        return [tests[i] is not None and tests[i](text) for i, text in zip(index, texts)]

    toks, lps = engine_for(model).generate(prompts, max_new_tokens=sampling.max_new_tokens,
                                           temperature=sampling.temperature, top_p=sampling.top_p, eos_ids=eos,
                                           pad_id=pad_id(tokenizer, eos), seed=sampling.seed,
                                           stopped=stopped if any(tests) else None)
    return [finish(tokenizer, t, lp if sampling.return_logprobs else None, eos, sampling.stop_strings,
                   sampling.max_new_tokens, d) for t, lp, d in zip(toks, lps, done)]


def _check_args(prompts, sampling: Sampling, engine: str) -> None:
    if isinstance(prompts, (str, bytes)) or (prompts and not isinstance(prompts[0], (list, tuple))):
        raise TypeError(f"expected prompts as a list of token-id lists, got {type(prompts).__name__} "
                        f"of {type(prompts[0]).__name__ if prompts else '?'}; tokenize the texts first")
    if any(len(p) == 0 for p in prompts):
        raise ValueError("expected every prompt to hold at least one token id, got an empty prompt")
    if sampling.max_new_tokens < 1:
        raise ValueError(f"expected max_new_tokens >= 1, got {sampling.max_new_tokens}")
    if sampling.temperature < 0:
        raise ValueError(f"expected temperature >= 0 (0 = greedy), got {sampling.temperature}")
    if not 0 < sampling.top_p <= 1:
        raise ValueError(f"expected 0 < top_p <= 1, got {sampling.top_p}")
    if engine not in ("auto", "fast", "hf"):
        raise ValueError(f"expected engine 'auto', 'fast' or 'hf', got {engine!r}")


def _model_device(model) -> torch.device:
    return next(model.parameters()).device

