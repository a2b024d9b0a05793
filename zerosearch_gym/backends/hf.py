"""``hf:`` — a simulator LLM run locally with transformers, a whole batch of searches in one generation call.

Spec: ``hf:<model path or hub id>[?mode=sft|prompt&max_new_tokens=N&temperature=T&top_p=P&device=cpu|cuda
&seeding=request|batch&adapter=PATH|none]``. With no model it uses the offline SmolLM2-135M-Instruct with the
shipped tuned LoRA adapter (``zerosearch_gym/data/simulator-smollm2-lora``, built by
``scripts/build_simulator.py``) in the mode it was tuned on (``zerosearch_base.json``: ``sft-blind``); ``hf:?adapter=none`` is the untuned SmolLM2 in ``mode=prompt``.
Any other model defaults to ``mode=sft``, the template the published simulators
(``sunhaonlp/Simulation_LLM_google_3B_V2``, 7B, 14B) were tuned on. ``adapter=PATH`` applies a peft adapter
from ``zerosearch simulator tune`` (merged into the weights at load; one tuned on another base is an error). On CUDA, generation runs on :mod:`zerosearch_gym.llm`'s compiled decode engine.

Seeding: with ``seeding="request"`` (default) the batch is generated in one call where each row samples
from its own seed's generator, so a request's documents do not depend on the other requests of the batch
(this runs on transformers' generate); ``seeding="batch"`` seeds the whole call from all the seeds (the
compiled decode engine on a GPU; a request's documents then depend on its batch mates).
"""
from __future__ import annotations

import hashlib
import os
import sys
import time
from typing import Sequence

from ..results import Completion
from ._adapter import SHIPPED_ADAPTER, adapter_mode
from .base import SearchRequest, SearchResult
from .simulator_prompts import (
    SIMULATOR_MAX_NEW_TOKENS,
    SIMULATOR_TEMPERATURE,
    check_mode,
    search_call,
    search_tool,
    simulator_messages,
)

SEEDINGS = ("request", "batch")


class HFSimulatorBackend:
    """A transformers causal LM that writes ``top_k`` useful or noisy documents per search request.

    Args:
        model: a local checkpoint folder or a hub id; ``None`` for the offline SmolLM2-135M-Instruct.
        mode: "sft" (tuned simulators), "prompt" (one-shot, untuned instruct models) or "sft-blind";
            default: the adapter's own mode, else "sft" ("prompt" for the untuned offline SmolLM2).
        max_new_tokens, temperature, top_p: sampling settings (ZeroSearch: 600 tokens at temperature 0.8).
        device: "cuda" when available, else "cpu".
        model_obj, tokenizer: an already loaded model and tokenizer (then ``model`` is only a name).
        seeding: "request" (default) or "batch" (see the module docstring).
        adapter: a peft adapter folder, or "none". Default: the shipped adapter when ``model`` is None.
    """

    simulator = True  # verified by default (zerosearch_gym.backends.verify)
    stops_early = True  # complete(done=...): a row ends once it holds every document the search keeps

    def __init__(self, model: str | None = None, mode: str | None = None,
                 max_new_tokens: int = SIMULATOR_MAX_NEW_TOKENS, temperature: float = SIMULATOR_TEMPERATURE,
                 top_p: float = 1.0, device: str | None = None, model_obj=None, tokenizer=None,
                 seeding: str = "request", adapter: str | None = None):
        # --- adapter option (begin)
        if adapter is None and model is None and model_obj is None and SHIPPED_ADAPTER.is_dir():
            adapter = str(SHIPPED_ADAPTER)
        adapter = None if adapter in (None, "", "none") else adapter
        untuned = model is None and model_obj is None and adapter is None  # the offline SmolLM2 as it ships
        mode = mode or adapter_mode(adapter) or ("prompt" if untuned else "sft")
        self.adapter = adapter
        # --- adapter option (end)
        check_mode(mode)
        if seeding not in SEEDINGS:
            raise ValueError(f"expected seeding 'request' or 'batch', got {seeding!r}")
        if not (isinstance(max_new_tokens, int) and max_new_tokens >= 1):
            raise ValueError(f"expected max_new_tokens to be an int >= 1, got {max_new_tokens!r}")
        self.mode, self.max_new_tokens, self.temperature, self.top_p = mode, max_new_tokens, temperature, top_p
        self.seeding = seeding
        if model_obj is None:
            model_obj, tokenizer = _load(model, device)
        if adapter is not None:
            from ._adapter import apply_adapter

            model_obj = apply_adapter(model_obj, adapter)
        self.model, self.tokenizer = model_obj, tokenizer
        self.name = model or getattr(model_obj, "name_or_path", "model")
        self.last_stats: dict = {}
        self._fingerprint: str | None = None

    def cache_identity(self) -> dict:
        """What changes this backend's documents (the result cache's key): model, weights, mode, decoding."""
        if self._fingerprint is None:
            self._fingerprint = weights_fingerprint(self.model)
        return {"kind": "hf", "model": self.name, "weights": self._fingerprint, "mode": self.mode,
                "max_new_tokens": self.max_new_tokens, "temperature": self.temperature, "top_p": self.top_p,
                "seeding": self.seeding}

    def prompt_ids(self, request: SearchRequest) -> list[int]:
        """The token ids of one request's simulator prompt (chat template when the tokenizer has one)."""
        return self.chat_ids(simulator_messages(request, self.mode))

    def chat_ids(self, messages: list[dict]) -> list[int]:
        """The token ids of one conversation (chat template when the tokenizer has one, else the user text)."""
        if getattr(self.tokenizer, "chat_template", None):
            ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
            return list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)
        return self.tokenizer(messages[-1]["content"])["input_ids"]

    def search(self, requests: Sequence[SearchRequest]) -> list[SearchResult]:
        return search_tool(self.mode).run(self, [search_call(r) for r in requests], catch=False)

    def complete(self, conversations: Sequence[list[dict]], seeds: Sequence[int | None],
                 done: Sequence | None = None) -> list[Completion]:
        """One generated text per conversation, in order: the layer ``search`` and any
        :class:`~zerosearch_gym.tools.SimulatedTool` run on (seeding as in the module docstring). ``done``:
        one test per conversation, ``done[i](text)`` true once row i may end (the tool's ``enough``)."""
        if not conversations:
            return []
        start = time.perf_counter()
        prompts = [self.chat_ids(m) for m in conversations]
        seeds = list(seeds)
        if self.seeding == "batch" or all(seed is None for seed in seeds):
            known = [seed for seed in seeds if seed is not None]
            outputs = self._generate(prompts, hash(tuple(known)) % 2**31 if known else None, done)
        else:  # one batched call, each row sampled from its own seed's generator
            outputs = self._generate(prompts, seeds, done)
        tokens = sum(len(o.token_ids) for o in outputs)
        self.last_stats = {"latency_s": time.perf_counter() - start, "generated_tokens": tokens}
        return [Completion(out.text, f"hf simulator {self.name}") for out in outputs]

    def _generate(self, prompts: list[list[int]], seed: int | list[int | None] | None, done=None):
        from ..llm import generate

        if not prompts:
            return []
        return generate(self.model, self.tokenizer, prompts, max_new_tokens=self.max_new_tokens,
                        temperature=self.temperature, top_p=self.top_p, seed=seed,
                        done=None if done is None else list(done))


def weights_fingerprint(model) -> str:
    """A cheap fingerprint of a torch model's weights: its config and the first and last 64 values of every
    parameter (fine-tuning changes them; hashing every weight of a 14B model would take seconds)."""
    digest = hashlib.sha256(str(getattr(model, "config", "")).encode())
    for name, param in model.named_parameters():
        flat = param.detach().reshape(-1)
        digest.update(name.encode())
        digest.update(flat[:64].float().cpu().numpy().tobytes() + flat[-64:].float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


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


def from_spec(model: str = "", **options) -> HFSimulatorBackend:
    """``hf:[MODEL][?option=value…]`` → :class:`HFSimulatorBackend` (options: :mod:`.registry`)."""
    return HFSimulatorBackend(model or None, **options)
