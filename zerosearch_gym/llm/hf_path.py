"""The transformers generation path of :func:`~.generation.generate`: ``model.generate`` with left padding.

The prefix every prompt of the batch shares (the instruction text) is computed once and its KV cache repeated
per row; per-row seeds sample each row from its own generator; a row whose text passes its ``done`` test
stops there while the others go on.
"""
from __future__ import annotations

import torch

from .finishing import eos_ids, finish, pad_id

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
def hf_generate(model, tokenizer, prompts, sampling) -> list:
    """:func:`~.generation.generate` on transformers ``model.generate`` (``sampling``: its Sampling)."""
    device = next(model.parameters()).device
    eos = eos_ids(model, tokenizer)
    pad = pad_id(tokenizer, eos)
    input_ids, mask, cached = _prefill_prefix(model, prompts, pad, device)
    width = input_ids.shape[1]
    kwargs = {**_hf_kwargs(sampling, tokenizer, pad, eos, device), **cached}
    if sampling.done is not None:
        kwargs["stopping_criteria"] = _rows_done(sampling.done, width, tokenizer)
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
    done = sampling.done or [None] * len(prompts)
    return [finish(tokenizer, new[i].tolist(), None if lps is None else lps[i], eos, sampling.stop_strings,
                   sampling.max_new_tokens, done[i]) for i in range(len(prompts))]


def _hf_kwargs(sampling, tokenizer, pad: int, eos: set[int], device) -> dict:
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


def _rows_done(done, width: int, tokenizer):
    """A stopping criterion that ends row i once the text of its new tokens passes ``done[i]`` (checked after
    every token, so where a row ends does not depend on its batch mates; :func:`finish` makes the exact cut)."""
    from transformers import StoppingCriteria, StoppingCriteriaList

    class RowsDone(StoppingCriteria):
        def __init__(self):
            self.flags = [False] * len(done)

        def __call__(self, input_ids, scores, **kwargs):
            for i, test in enumerate(done):
                if test is not None and not self.flags[i]:
                    self.flags[i] = bool(test(tokenizer.decode(input_ids[i, width:], skip_special_tokens=True)))
            return torch.tensor(self.flags, device=input_ids.device)

    return StoppingCriteriaList([RowsDone()])


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
