"""Batched text generation: sampling, stop strings, the transformers path, and the fast engine with fallback.

One public function, :func:`generate`: token-id prompts of ragged lengths in, one :class:`Generation` per
prompt out (sampled ids, optional log-probs, text, finish reason). Two paths produce the same results:

- ``engine="hf"`` — transformers ``model.generate`` (left padding), then cut at stop strings. Used on CPU
  and for architectures the fast engine does not know. The prefix every prompt of the batch shares (the
  instruction text) is computed once and its KV cache repeated per row.
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
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .engine import SUPPORTED_MODEL_TYPES, DecodeEngine, supports_fast_engine


@dataclass
class Generation:
    """One generated continuation."""

    token_ids: list[int]  # sampled new tokens, ending with the token that completed a stop string / EOS
    logprobs: list[float] | None  # log_softmax(logits / temperature) of each sampled token (before top-p)
    text: str  # tokenizer.decode(token_ids, skip_special_tokens=True)
    finish_reason: str  # "stop" (stop string), "eos" or "length"


@dataclass(frozen=True)
class Sampling:
    """How :func:`generate` samples: its keyword arguments, as one record for the two generation paths."""

    max_new_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop_strings: tuple[str, ...] = ()
    seed: int | Sequence[int | None] | None = None  # one int, or one seed per prompt
    return_logprobs: bool = False

    @property
    def per_row(self) -> bool:
        """One seed per prompt: each row samples from its own generator."""
        return self.seed is not None and not isinstance(self.seed, int)


def generate(model, tokenizer, prompts: list[list[int]], *, engine: str = "auto", **settings) -> list[Generation]:
    """Continue each prompt (a list of token ids) by up to ``max_new_tokens`` tokens.

    ``settings`` are :class:`Sampling`'s fields, by keyword: ``max_new_tokens`` (required), ``temperature``
    (1.0), ``top_p`` (1.0), ``stop_strings`` (()), ``seed`` (None) and ``return_logprobs`` (False).

    ``temperature`` 0 is greedy (log-probs are then those of the untempered distribution). A sequence ends
    right after the token that completes any of ``stop_strings`` (in the decoded text of its new tokens),
    at an EOS id (kept in ``token_ids``), or at ``max_new_tokens``. ``seed`` makes sampling reproducible
    without touching the global RNG; a list of seeds (one per prompt) samples each row from its own generator,
    so a row's text does not depend on its batch mates (transformers path). ``engine``: "auto", "fast" or
    "hf" (see the module docstring).
    """
    sampling = Sampling(**{**settings, "stop_strings": tuple(settings.get("stop_strings", ()))})
    seed = sampling.seed
    _check_args(prompts, sampling, engine)
    if not prompts:
        return []
    if sampling.per_row and len(seed) != len(prompts):
        raise ValueError(f"expected one seed per prompt, got {len(seed)} seeds for {len(prompts)} prompts")
    if sampling.per_row:
        if engine == "fast":
            raise ValueError("expected one int seed with engine='fast', got a list; use engine='hf' or 'auto'")
        return _hf_generate(model, tokenizer, prompts, sampling)
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
    return _hf_generate(model, tokenizer, prompts, sampling)


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
    eos, stop_strings = eos_ids(model, tokenizer), sampling.stop_strings

    def stopped(rows: list[list[int]]) -> list[bool]:
        return [any(s in text for s in stop_strings) for text in tokenizer.batch_decode(rows, skip_special_tokens=True)]

    toks, lps = engine_for(model).generate(prompts, max_new_tokens=sampling.max_new_tokens,
                                           temperature=sampling.temperature, top_p=sampling.top_p, eos_ids=eos,
                                           pad_id=pad_id(tokenizer, eos), seed=sampling.seed,
                                           stopped=stopped if stop_strings else None)
    return [finish(tokenizer, t, lp if sampling.return_logprobs else None, eos, stop_strings,
                   sampling.max_new_tokens) for t, lp in zip(toks, lps)]


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


def eos_ids(model, tokenizer) -> set[int]:
    """EOS ids from the model's generation config and the tokenizer."""
    ids: set[int] = set()
    for source in (getattr(getattr(model, "generation_config", None), "eos_token_id", None),
                   getattr(model.config, "eos_token_id", None), getattr(tokenizer, "eos_token_id", None)):
        if source is not None:
            ids.update([source] if isinstance(source, int) else source)
    return ids


def pad_id(tokenizer, eos: set[int]) -> int:
    if getattr(tokenizer, "pad_token_id", None) is not None:
        return tokenizer.pad_token_id
    return min(eos) if eos else 0


# ----------------------------------------------------------------------------------------------- finishing
def finish(tokenizer, ids: list[int], logprobs: list[float] | None, eos: set[int],
           stop_strings: tuple[str, ...], max_new_tokens: int) -> Generation:
    """Cut raw sampled ``ids`` at the first EOS or completed stop string and build the :class:`Generation`."""
    ids = list(ids[:max_new_tokens])
    reason = "length"
    for i, t in enumerate(ids):
        if t in eos:
            ids, reason = ids[: i + 1], "eos"
            break
    cut = stop_cut(tokenizer, ids, stop_strings)
    if cut is not None:
        ids, reason = ids[:cut], "stop"
    lps = None if logprobs is None else [float(x) for x in logprobs[: len(ids)]]
    return Generation(ids, lps, tokenizer.decode(ids, skip_special_tokens=True), reason)


def stop_cut(tokenizer, ids: list[int], stop_strings: tuple[str, ...]) -> int | None:
    """The shortest prefix length of ``ids`` whose decoded text contains a stop string, or None.

    Binary search over prefixes (decoding is monotone in practice): ~log2(len) decodes, not len.
    """
    def hit(n: int) -> bool:
        text = tokenizer.decode(ids[:n], skip_special_tokens=True)
        return any(s in text for s in stop_strings)

    if not stop_strings or not ids or not hit(len(ids)):
        return None
    lo, hi = 1, len(ids)  # hit(hi) is True
    while lo < hi:
        mid = (lo + hi) // 2
        if hit(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi


# ------------------------------------------------------------------------------------ transformers path
MIN_SHARED_PREFIX = 16  # tokens every prompt of a batch must share before they are computed once


def shared_prefix(prompts: list[list[int]]) -> int:
    """Length of the token prefix all prompts share, leaving each at least one token of its own.

    >>> shared_prefix([[1, 2, 3, 4], [1, 2, 3, 5, 6], [1, 2, 9]])
    2
    """
    first, n = prompts[0], min(len(p) for p in prompts) - 1
    for i in range(n):
        if any(p[i] != first[i] for p in prompts):
            return i
    return max(n, 0)


def _prefill_prefix(model, prompts, pad: int, device):
    """Inputs for ``model.generate`` whose shared prefix (the instruction text every prompt starts with) is
    computed once: rows are ``prefix | left pads | own tokens``, the prefix's KV cache repeated per row.
    Positions come from the attention mask, so each row's own tokens sit right after the prefix."""
    n = shared_prefix(prompts) if len(prompts) > 1 else 0
    n = n if n >= MIN_SHARED_PREFIX else 0  # too short to pay for itself: plain left padding
    tails = [list(p[n:]) for p in prompts]
    width = max(len(t) for t in tails)
    rows = [list(prompts[0][:n]) + [pad] * (width - len(t)) + t for t in tails]
    mask = [[1] * n + [0] * (width - len(t)) + [1] * len(t) for t in tails]
    extra = {}
    if n:
        out = model(input_ids=torch.tensor([prompts[0][:n]], device=device), use_cache=True)
        key = "cache" if "cache" in out.keys() else "past_key_values"  # transformers >= 5.25 renamed it
        out[key].batch_repeat_interleave(len(prompts))
        extra[key] = out[key]
    return torch.tensor(rows, device=device), torch.tensor(mask, device=device), extra


@torch.no_grad()
def _hf_generate(model, tokenizer, prompts, sampling: Sampling) -> list[Generation]:
    device = _model_device(model)
    eos = eos_ids(model, tokenizer)
    pad = pad_id(tokenizer, eos)
    input_ids, mask, cached = _prefill_prefix(model, prompts, pad, device)
    width = input_ids.shape[1]
    kwargs = {**_hf_kwargs(sampling, tokenizer, pad, eos, device), **cached}
    seed, one_seed = sampling.seed, sampling.seed is not None and not sampling.per_row
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, enabled=one_seed):
        if one_seed:
            torch.manual_seed(seed)
        out = model.generate(input_ids=input_ids, attention_mask=mask, **kwargs)
    new = out.sequences[:, width:]
    lps = None
    if sampling.return_logprobs:
        logits = torch.stack(out.logits, 1).float()  # B, T, V (raw, before processors)
        if sampling.temperature != 0:
            logits = logits / sampling.temperature
        lps = logits.log_softmax(-1).gather(-1, new[:, : logits.shape[1], None])[..., 0].tolist()
    return [finish(tokenizer, new[i].tolist(), None if lps is None else lps[i], eos, sampling.stop_strings,
                   sampling.max_new_tokens) for i in range(len(prompts))]


def _hf_kwargs(sampling: Sampling, tokenizer, pad: int, eos: set[int], device) -> dict:
    """transformers ``model.generate`` keyword arguments for ``sampling`` (left padding with ``pad``)."""
    greedy = sampling.temperature == 0
    kwargs = {"do_sample": not greedy, "max_new_tokens": sampling.max_new_tokens, "pad_token_id": pad,
              "eos_token_id": sorted(eos) or None, "return_dict_in_generate": True,
              "output_logits": sampling.return_logprobs}
    if sampling.per_row and not greedy:  # each row draws from its own generator; generate keeps the drawn token
        kwargs.update(do_sample=False,
                      logits_processor=[_row_sampler(sampling.seed, sampling.temperature, sampling.top_p, device)])
    elif not greedy:  # pure temperature / top-p sampling (no default top-k)
        kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
    if sampling.stop_strings:  # early exit only; the exact cut is done by finish()
        kwargs.update(stop_strings=list(sampling.stop_strings), tokenizer=tokenizer)
    return kwargs


def _row_sampler(seeds, temperature: float, top_p: float, device):
    """A logits processor that samples each row with its own generator (temperature, then top-p) and leaves
    only the drawn token: with greedy decoding, row i's tokens depend on ``seeds[i]`` alone."""
    from transformers import LogitsProcessor

    gens = [torch.Generator(device=device) for _ in seeds]
    for gen, seed in zip(gens, seeds):
        gen.manual_seed(int(seed)) if seed is not None else gen.seed()

    class RowSampler(LogitsProcessor):
        def __call__(self, input_ids, scores):
            probs = (scores.float() / temperature).softmax(-1)
            if top_p < 1.0:
                sorted_p, idx = probs.sort(-1, descending=True)
                keep = (sorted_p.cumsum(-1) - sorted_p) < top_p
                probs = torch.zeros_like(probs).scatter_(-1, idx, sorted_p * keep)
            noise = torch.stack([torch.empty(probs.shape[-1], device=probs.device).exponential_(generator=g)
                                 for g in gens])
            choice = (probs / noise).argmax(-1, keepdim=True)
            return torch.full_like(scores, float("-inf")).scatter_(-1, choice, 0.0)

    return RowSampler()
