"""``hf:`` — a simulator LLM run locally with transformers, a whole batch of searches in one generation call.

Spec: ``hf:<model path or hub id>[?mode=sft|prompt&max_new_tokens=N&device=cpu|cuda&adapter=PATH|none]``.
With no model it uses the offline SmolLM2-135M-Instruct with the shipped tuned LoRA adapter
(``zerosearch_gym/data/simulator-smollm2-lora``, built by ``scripts/build_simulator.py``) in ``mode=sft``;
``hf:?adapter=none`` is the untuned SmolLM2 in ``mode=prompt``. Any other model defaults to ``mode=sft``, the
template the published simulators (``sunhaonlp/Simulation_LLM_google_3B_V2``, 7B, 14B) were tuned on.
``adapter=PATH`` applies a peft adapter from ``zerosearch simulator tune`` (merged into the weights at load;
an adapter tuned on another base model is an error). On CUDA, generation runs on :mod:`zerosearch_gym.llm`'s compiled decode engine.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Sequence
from urllib.parse import parse_qsl

from ._adapter import SHIPPED_ADAPTER
from .base import BackendError, Documents, SearchRequest, SearchResult, register_backend
from .simulator_prompts import (
    MODES,
    SIMULATOR_MAX_NEW_TOKENS,
    SIMULATOR_TEMPERATURE,
    parse_documents,
    simulator_messages,
)


class HFSimulatorBackend:
    """A transformers causal LM that writes ``top_k`` useful or noisy documents per search request.

    Args:
        model: a local checkpoint folder or a hub id; ``None`` for the offline SmolLM2-135M-Instruct.
        mode: "sft" (tuned simulators) or "prompt" (one-shot, untuned instruct models).
        max_new_tokens, temperature, top_p: sampling settings (ZeroSearch: 600 tokens at temperature 0.8).
        device: "cuda" when available, else "cpu".
        model_obj, tokenizer: an already loaded model and tokenizer (then ``model`` is only a name).
        adapter: a peft adapter folder; "none" for none. Default: the shipped adapter when ``model`` is None.
    """

    def __init__(self, model: str | None = None, mode: str | None = None,
                 max_new_tokens: int = SIMULATOR_MAX_NEW_TOKENS, temperature: float = SIMULATOR_TEMPERATURE,
                 top_p: float = 1.0, device: str | None = None, model_obj=None, tokenizer=None,
                 adapter: str | None = None):
        # --- adapter option (begin)
        if adapter is None and model is None and model_obj is None and SHIPPED_ADAPTER.is_dir():
            adapter = str(SHIPPED_ADAPTER)
        adapter = None if adapter in (None, "", "none") else adapter
        mode = mode or ("prompt" if model is None and model_obj is None and adapter is None else "sft")
        # --- adapter option (end)
        if mode not in MODES:
            raise ValueError(f"expected simulator mode 'sft' or 'prompt', got {mode!r}")
        self.mode, self.max_new_tokens, self.temperature, self.top_p = mode, max_new_tokens, temperature, top_p
        self.adapter = adapter
        if model_obj is None:
            model_obj, tokenizer = _load(model, device)
        if adapter is not None:
            from ._adapter import apply_adapter

            model_obj = apply_adapter(model_obj, adapter)
        self.model, self.tokenizer = model_obj, tokenizer
        self.name = model or getattr(model_obj, "name_or_path", "model")
        self.last_stats: dict = {}

    def prompt_ids(self, request: SearchRequest) -> list[int]:
        """The token ids of one request's simulator prompt (chat template when the tokenizer has one)."""
        messages = simulator_messages(request, self.mode)
        if getattr(self.tokenizer, "chat_template", None):
            ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
            return list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)
        return self.tokenizer(messages[-1]["content"])["input_ids"]

    def search(self, requests: Sequence[SearchRequest]) -> list[SearchResult]:
        from ..llm.generate import generate

        if not requests:
            return []
        start = time.perf_counter()
        seeds = [r.seed for r in requests if r.seed is not None]
        outputs = generate(
            self.model, self.tokenizer, [self.prompt_ids(r) for r in requests],
            max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_p=self.top_p,
            seed=hash(tuple(seeds)) % 2**31 if seeds else None,
        )
        results: list[SearchResult] = []
        for request, out in zip(requests, outputs):
            parsed = parse_documents(out.text, request.top_k)
            if parsed.documents:
                results.append(Documents(parsed.documents, parsed.malformed))
            else:
                results.append(BackendError(f"hf simulator {self.name}: {parsed.malformed}"))
        tokens = sum(len(o.token_ids) for o in outputs)
        self.last_stats = {"latency_s": time.perf_counter() - start, "generated_tokens": tokens}
        return results


def _load(model: str | None, device: str | None):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if model is None:
        from ..llm.models import smollm2_path

        model = str(smollm2_path())
    looks_local = model.startswith((".", "/", "~")) or model.count("/") > 1  # hub ids are "name" or "org/name"
    if looks_local and not os.path.isdir(os.path.expanduser(model)):
        raise FileNotFoundError(f"simulator model folder {model!r} does not exist; pass a checkpoint folder or a "
                                "hub id such as sunhaonlp/Simulation_LLM_google_3B_V2")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    print(f"[zerosearch] loading simulator {model} on {device}", file=sys.stderr)
    try:
        tokenizer = AutoTokenizer.from_pretrained(os.path.expanduser(model))
        lm = AutoModelForCausalLM.from_pretrained(os.path.expanduser(model), dtype=dtype).to(device).eval()
    except (OSError, ValueError) as exc:
        raise OSError(f"could not load simulator model {model!r}: {exc}. Offline (HF_HUB_OFFLINE=1)? Download it "
                      "first or pass a local folder.") from exc
    return lm, tokenizer


@register_backend("hf")
def _from_spec(arg: str) -> HFSimulatorBackend:
    model, kwargs = _from_spec_options(arg, "hf")
    return HFSimulatorBackend(model, **kwargs)


def _from_spec_options(arg: str, kind: str) -> tuple[str | None, dict]:
    """The model and keyword options of an ``hf:``-style spec (also used by ``self:``)."""
    model, _, query = arg.partition("?")
    options = dict(parse_qsl(query))
    unknown = set(options) - {"mode", "max_new_tokens", "device", "temperature", "adapter"}
    if unknown:
        raise ValueError(f"unknown {kind} backend options {sorted(unknown)}; expected mode, max_new_tokens, device, "
                         "temperature, adapter")
    kwargs: dict = {"mode": options.get("mode"), "device": options.get("device"), "adapter": options.get("adapter")}
    if "max_new_tokens" in options:
        kwargs["max_new_tokens"] = int(options["max_new_tokens"])
    if "temperature" in options:
        kwargs["temperature"] = float(options["temperature"])
    return model or None, kwargs
