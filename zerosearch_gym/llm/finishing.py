"""Ending a generated row: the :class:`Generation` record, EOS / stop-string / ``done`` cuts, special ids.

Both generation paths (:mod:`.hf_path`, the fast engine in :mod:`.generation`) sample raw ids and hand them
to :func:`finish`, so a row ends at the same token whichever path produced it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Generation:
    """One generated continuation."""

    token_ids: list[int]  # sampled new tokens, ending with the token that completed a stop string / EOS
    logprobs: list[float] | None  # log_softmax(logits / temperature) of each sampled token (before top-p)
    text: str  # tokenizer.decode(token_ids, skip_special_tokens=True)
    finish_reason: str  # "stop" (stop string or ``done``), "eos" or "length"


def finish(tokenizer, ids: list[int], logprobs: list[float] | None, eos: set[int],
           stop_strings: tuple[str, ...], max_new_tokens: int,
           done: Callable[[str], bool] | None = None) -> Generation:
    """Cut raw sampled ``ids`` at the first EOS, completed stop string or prefix whose text ``done`` accepts,
    and build the :class:`Generation`."""
    ids = list(ids[:max_new_tokens])
    reason = "length"
    for i, t in enumerate(ids):
        if t in eos:
            ids, reason = ids[: i + 1], "eos"
            break
    cut = first_hit(tokenizer, ids, ended(stop_strings, done))
    if cut is not None:
        ids, reason = ids[:cut], "stop"
    lps = None if logprobs is None else [float(x) for x in logprobs[: len(ids)]]
    return Generation(ids, lps, tokenizer.decode(ids, skip_special_tokens=True), reason)


def ended(stop_strings: tuple[str, ...], done: Callable[[str], bool] | None = None
          ) -> Callable[[str], bool] | None:
    """The test a row's text passes once it may end: a stop string in it, or ``done(text)``; None: no test."""
    if not stop_strings and done is None:
        return None
    if done is None:
        return lambda text: any(s in text for s in stop_strings)
    return lambda text: any(s in text for s in stop_strings) or bool(done(text))


def stop_cut(tokenizer, ids: list[int], stop_strings: tuple[str, ...]) -> int | None:
    """The shortest prefix length of ``ids`` whose decoded text contains a stop string, or None."""
    return first_hit(tokenizer, ids, ended(stop_strings))


def first_hit(tokenizer, ids: list[int], test: Callable[[str], bool] | None) -> int | None:
    """The shortest prefix length of ``ids`` whose decoded text passes ``test``, or None.

    Binary search over prefixes (the tests are monotone: a longer text still holds a stop string, still
    holds enough documents): ~log2(len) decodes, not len.
    """
    def hit(n: int) -> bool:
        return test(tokenizer.decode(ids[:n], skip_special_tokens=True))

    if test is None or not ids or not hit(len(ids)):
        return None
    lo, hi = 1, len(ids)  # hit(hi) is True
    while lo < hi:
        mid = (lo + hi) // 2
        if hit(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi


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
