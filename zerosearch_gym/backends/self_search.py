"""``self:`` — self-search (SSRL, arXiv 2508.10874): the policy's own weights write the documents.

No separate simulator model: the policy LLM is prompted with the simulator template (``mode=prompt`` by
default, the one-shot text an untuned model can follow; ``mode=sft`` for a policy warm-started on simulator
data) and the same useful/noisy switch, so the noise curriculum works unchanged.

Spec: ``self`` (the trainer hands its policy over) or ``self:<model folder>[?mode=…&max_new_tokens=N…]``
(a model loaded here, e.g. for evaluation or the simulator report).

Sharing weights with a trainer: build the env with ``backend="self"``, then give the backend the policy's
live model object (no copy)::

    env.unwrapped.backend.attach(policy.model, policy.tokenizer)

Every later search samples from the current weights, so each update also changes the "search engine".
Until a model is attached, searches are answered with a :class:`BackendError` that says so.
"""
from __future__ import annotations

from typing import Sequence

from .base import BackendError, SearchRequest, SearchResult
from .hf import HFSimulatorBackend


class SelfSearchBackend(HFSimulatorBackend):
    """An :class:`HFSimulatorBackend` over the policy's own model (attached later or loaded from a folder)."""

    kind = "self"

    def __init__(self, model: str | None = None, mode: str = "prompt", model_obj=None, tokenizer=None, **kwargs):
        kwargs.pop("adapter", None)
        if model is None and model_obj is None:  # the trainer attaches its policy later
            self.mode, self.model, self.tokenizer, self.name, self.adapter = mode, None, None, "self", None
            self.max_new_tokens = kwargs.get("max_new_tokens", 600)
            self.temperature, self.top_p = kwargs.get("temperature", 0.8), kwargs.get("top_p", 1.0)
            self.seeding, self.last_stats, self._fingerprint = kwargs.get("seeding", "request"), {}, None
            return
        super().__init__(model, mode=mode, model_obj=model_obj, tokenizer=tokenizer, adapter="none", **kwargs)

    def attach(self, model, tokenizer) -> SelfSearchBackend:
        """Use ``model`` (the policy's live weights, shared, not copied) to write documents from now on."""
        if not callable(getattr(model, "generate", None)) or tokenizer is None:
            raise TypeError(f"expected a transformers causal LM and its tokenizer, got {type(model).__name__} "
                            f"and {type(tokenizer).__name__}")
        self.model, self.tokenizer, self._fingerprint = model, tokenizer, None
        self.name = f"self:{getattr(model, 'name_or_path', type(model).__name__)}"
        return self

    def search(self, requests: Sequence[SearchRequest]) -> list[SearchResult]:
        if self.model is None:
            return [_NOT_ATTACHED] * len(requests)
        return super().search(requests)

    def complete(self, conversations, seeds, done=None):
        if self.model is None:
            return [_NOT_ATTACHED] * len(conversations)
        return super().complete(conversations, seeds, done)


_NOT_ATTACHED = BackendError("self backend: no policy model attached; call backend.attach(model, tokenizer) or use "
                             "the spec self:<model folder>")


def from_spec(model: str = "", **options) -> SelfSearchBackend:
    """``self[:MODEL][?option=value…]`` → :class:`SelfSearchBackend` (options: :mod:`.registry`)."""
    options["mode"] = options.get("mode") or "prompt"
    return SelfSearchBackend(model or None, **options)
