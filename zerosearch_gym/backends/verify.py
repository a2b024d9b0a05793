"""Verified simulation: check what a simulator wrote against the episode's gold answers, resample what fails.

A **useful** result must hold a gold answer (normalized, whole words: a gold "na" is not in "final answer")
in at least one document; a **noisy** result must hold none; and either must hold ``top_k`` well-formed
documents. :class:`VerifiedBackend` wraps any simulator backend (``hf``, ``vllm``, ``openai``, ``self``,
``ray``): after each batch it resamples the failing requests with fresh seeds, all of them in one batched call
per round, up to ``rounds`` rounds, and keeps the best output each request got (right label and five
documents, then right label, then the first). What still fails is
repaired from the documents the rounds wrote, never with filler or a mark a policy could learn to read:

- noisy: the documents that hold the answer are dropped and clean ones from the resampled outputs take their
  places (fewer than ``top_k`` when there are not enough; none at all is a :class:`BackendError`);
- useful: no output held the answer, so nothing can be taken from them: the first result stands, flagged.

Gold answers that cannot be checked (empty, one character, a stop word) pass through, counted. A resample
round that errors leaves the best result so far standing, flagged. Each result's :attr:`Documents.verification`
says what happened (the env copies it into ``info``); ``last_stats`` adds ``verify_generated_tokens``, the
simulator tokens the rounds cost.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from ..reward import answer_in_text, normalized_golds
from ..seeding import spawn_seeds
from .base import BackendError, Documents, SearchRequest, SearchResult, search_batch

# Golds that whole-word matching cannot judge: they occur in almost any text.
STOP_WORDS = frozenset("and or of in on to is was by for as at with from that which who it its he she they we you "
                       "i his her their are were be been not no yes".split())


def checkable_golds(answers: Sequence[str]) -> tuple[str, ...]:
    """The gold answers verification can check: normalized, longer than one character, not a stop word.

    >>> checkable_golds(["Paris", "", "a", "X", "of", "The Beatles"])
    ('Paris', 'The Beatles')
    """
    kept = []
    for answer in answers:
        norm = normalized_golds((answer,))
        if norm and len(norm[0]) > 1 and norm[0] not in STOP_WORDS:
            kept.append(answer)
    return tuple(kept)


def passes(documents: Sequence[str], useful: bool, golds: tuple[str, ...]) -> bool:
    """Whether ``documents`` are what the request asked for: a gold answer in them (useful) or not (noisy).
    They are checked together, as the policy reads them, so an answer split across two documents counts."""
    hits = answer_in_text("\n".join(documents), golds)
    return hits if useful else not hits


def grade(result: SearchResult, request: SearchRequest, golds: tuple[str, ...]) -> int:
    """2: the label holds (or cannot be checked) and the output has ``top_k`` well-formed documents; 1: the
    label holds but the output is malformed (fewer documents); 0: the wrong label; -1: a backend error."""
    if not isinstance(result, list):
        return -1
    if golds and not passes(result, request.useful, golds):
        return 0
    return 2 if len(result) >= request.top_k and not getattr(result, "malformed", None) else 1


def resample_seed(seed: int | None, round_no: int) -> int | None:
    """The seed of resample round ``round_no`` of a request seeded ``seed`` (None stays None)."""
    return None if seed is None else spawn_seeds(seed, 1, round_no)[0]


class VerifiedBackend:
    """``inner`` with verified results (see the module docstring); ``rounds`` resample rounds at most
    (0: verification off, results pass through unchecked)."""

    def __init__(self, inner, rounds: int = 2):
        if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 0:
            raise ValueError(f"expected verify rounds to be an int >= 0, got {rounds!r}")
        self.inner, self.rounds = inner, rounds
        self.name = getattr(inner, "name", type(inner).__name__)
        self.last_stats: dict = {}
        self.last_unverified: list[SearchResult] = []  # the last batch's first tries (what verify=0 returns)

    def cache_identity(self) -> dict:
        identity = getattr(self.inner, "cache_identity", lambda: {"kind": type(self.inner).__name__})()
        return {**identity, "verify": self.rounds}

    def __getattr__(self, name):  # the inner backend's other attributes (mode, tokenizer, attach …)
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def search(self, requests: Sequence[SearchRequest]) -> list[SearchResult]:
        requests = list(requests)
        results = search_batch(self.inner, requests)
        self.last_unverified = list(results)
        if self.rounds == 0:  # verification off
            return results
        tokens = self._tokens()
        golds = [checkable_golds(r.answers) for r in requests]
        grades = [grade(res, r, g) for res, r, g in zip(results, requests, golds)]
        meta = [{"verified": None, "resamples": 0, "repaired": False, "verify_error": ""} for _ in requests]
        pool: list[list[str]] = [[] for _ in requests]  # the documents of every wrong-label output, per request
        failing = [i for i, g in enumerate(grades) if g in (0, 1)]
        extra = 0
        for round_no in range(1, self.rounds + 1):
            if not failing:
                break
            again = search_batch(self.inner, [replace(requests[i], seed=resample_seed(requests[i].seed, round_no))
                                              for i in failing])
            extra += self._tokens()
            for i, res in zip(failing, again):
                meta[i]["resamples"] += 1
                g = grade(res, requests[i], golds[i])
                if g < 0:
                    meta[i]["verify_error"] = str(res)  # the best result so far stands, flagged
                elif g > grades[i]:
                    results[i], grades[i] = res, g
                if g == 0:
                    pool[i] += list(res)
            failing = [i for i in failing if grades[i] < 2 and not meta[i]["verify_error"]]
        for i, m in enumerate(meta):
            m["verified"] = grades[i] >= 1 if golds[i] and grades[i] >= 0 else None
            if grades[i] == 0:
                results[i] = self._repair(results[i], pool[i], requests[i], golds[i], m)
        self.last_stats = {**getattr(self.inner, "last_stats", {}), "generated_tokens": tokens + extra,
                           "verify_generated_tokens": extra}
        return [_with_meta(res, m) for res, m in zip(results, meta)]

    @staticmethod
    def _repair(first: list[str], pool: list[str], request: SearchRequest, golds: tuple[str, ...], meta: dict
                ) -> SearchResult:
        """A noisy result without its leaking documents, refilled from the rounds' clean ones. A useful result
        that never held the answer stays as it is, flagged: nothing any round wrote holds the answer."""
        if request.useful:
            return first
        clean: list[str] = []
        for doc in [*first, *pool]:  # the first result's clean documents first, then the rounds' ones
            if len(clean) < request.top_k and doc not in clean and passes([*clean, doc], False, golds):
                clean.append(doc)
        if not clean:
            return BackendError(f"verification: every noisy document held the answer after "
                                f"{meta['resamples']} resample rounds")
        meta["repaired"] = True
        return Documents(clean, getattr(first, "malformed", None))

    def _tokens(self) -> int:
        return int(getattr(self.inner, "last_stats", {}).get("generated_tokens", 0) or 0)

    def close(self) -> None:
        if hasattr(self.inner, "close"):
            self.inner.close()


def _with_meta(result: SearchResult, meta: dict) -> SearchResult:
    """A copy of ``result`` carrying ``verification`` (a BackendError carries none: the env reports it)."""
    if isinstance(result, BackendError):
        return result
    docs = Documents(result, getattr(result, "malformed", None), getattr(result, "cached", False))
    docs.verification = meta
    return docs


DEFAULT_ROUNDS = 2  # resample rounds when a simulator is verified by default
SIMULATOR_KINDS = ("hf", "self", "vllm", "openai")  # spec kinds whose backends write documents (ray: its inner)


def with_verification(backend, rounds: int | None = None):
    """``backend`` verified with ``rounds`` resample rounds (0: off). ``None`` keeps a backend's own setting:
    a spec's ``?verify=N``, else on (:data:`DEFAULT_ROUNDS`) for simulators (``backend.simulator``), off for
    real engines and other objects."""
    if rounds is None:
        if isinstance(backend, VerifiedBackend) or not getattr(backend, "simulator", False):
            return backend
        rounds = DEFAULT_ROUNDS
    inner = backend.inner if isinstance(backend, VerifiedBackend) else backend
    return VerifiedBackend(inner, rounds)


_OFF = ("off", 0, "")


def verification_outcome(result) -> tuple[str, int, str]:
    """``(verify, resamples, error)`` of one search result for the env's info: ``verify`` is "off" (not a
    verified backend), "unchecked" (gold answers that cannot be checked), "passed" (first try), "resampled"
    (a resample passed), "repaired" or "failed"; ``error`` is a resample round's backend error ("" when none)."""
    if type(result) is list:  # a plain list carries no verification (a verified result is a Documents)
        return _OFF
    if isinstance(result, BackendError):  # a failed search; "failed" when verification gave up on it
        return ("failed" if str(result).startswith("verification:") else ""), 0, ""
    meta = getattr(result, "verification", None)
    if not meta:
        return "off", 0, ""
    if meta["verified"] is None:
        state = "unchecked"
    elif meta["verified"]:
        state = "resampled" if meta["resamples"] else "passed"
    else:
        state = "repaired" if meta["repaired"] else "failed"
    return state, meta["resamples"], meta["verify_error"]
