"""``vllm:`` — a simulator LLM inside this process on vLLM (optional extra: ``pip install zerosearch-gym[vllm]``).

Spec: ``vllm:<model path or hub id>[?mode=sft|prompt&max_new_tokens=N&temperature=T&top_p=P
&gpu_memory_utilization=F&max_model_len=N]``. One
``LLM.chat`` call answers a whole batch of searches with the simulator messages (temperature 0.8, 600 new
tokens, as ZeroSearch). For a vLLM *server*, use ``openai:http://host:port/v1`` instead.
"""
from __future__ import annotations

import time
from collections.abc import Sequence

from ..llm.models import import_vllm
from ..results import Completion
from .base import BackendError, SearchRequest, SearchResult
from .simulator_prompts import (
    SIMULATOR_MAX_NEW_TOKENS,
    SIMULATOR_TEMPERATURE,
    check_mode,
    search_call,
    search_tool,
)


class VLLMSimulatorBackend:
    """Simulator documents from an in-process ``vllm.LLM``.

    Args:
        model: checkpoint folder or hub id (e.g. ``sunhaonlp/Simulation_LLM_google_3B_V2``).
        mode: "sft" (tuned simulators, default) or "prompt" (one-shot, untuned instruct models).
        max_new_tokens, temperature, top_p: sampling (ZeroSearch: 600 tokens at temperature 0.8).
        llm: an existing ``vllm.LLM`` to share (then ``model`` is only a name); ``llm_kwargs`` go to ``LLM``.
    """

    simulator = True  # verified by default (zerosearch_gym.backends.verify)

    def __init__(self, model: str, mode: str = "sft", max_new_tokens: int = SIMULATOR_MAX_NEW_TOKENS,
                 temperature: float = SIMULATOR_TEMPERATURE, top_p: float = 1.0, llm=None, **llm_kwargs):
        check_mode(mode)
        if not model and llm is None:
            raise ValueError("expected a model, e.g. vllm:sunhaonlp/Simulation_LLM_google_3B_V2, got none")
        vllm = import_vllm()
        self.name, self.mode = model, mode
        self.llm = llm if llm is not None else vllm.LLM(model=model, **llm_kwargs)
        self._params = {"n": 1, "temperature": temperature, "top_p": top_p, "max_tokens": max_new_tokens}
        self._sampling = vllm.SamplingParams
        self.last_stats: dict = {}

    def cache_identity(self) -> dict:
        """What changes this backend's documents (the result cache's key)."""
        return {"kind": "vllm", "model": self.name, "mode": self.mode, **self._params}

    def search(self, requests: Sequence[SearchRequest]) -> list[SearchResult]:
        return search_tool(self.mode).run(self, [search_call(r) for r in requests], catch=False)

    def complete(self, conversations: Sequence[list[dict]], seeds: Sequence[int | None]
                 ) -> list[Completion | BackendError]:
        """One generated text per conversation, in order (one ``LLM.chat`` call); an engine failure is every
        conversation's :class:`BackendError`, never a crash of the env."""
        if not conversations:
            return []
        start = time.perf_counter()
        params = [self._sampling(**self._params, seed=seed) for seed in seeds]
        try:
            outputs = self.llm.chat(list(conversations), params, use_tqdm=False)
        except Exception as exc:  # noqa: BLE001
            return [BackendError(f"vllm simulator {self.name}: {type(exc).__name__}: {exc}")] * len(conversations)
        tokens = sum(len(o.outputs[0].token_ids) for o in outputs)
        self.last_stats = {"latency_s": time.perf_counter() - start, "generated_tokens": tokens}
        return [Completion(out.outputs[0].text, f"vllm simulator {self.name}") for out in outputs]


def from_spec(model: str = "", *, mode: str = "sft", max_new_tokens: int = SIMULATOR_MAX_NEW_TOKENS,
              temperature: float = SIMULATOR_TEMPERATURE, top_p: float = 1.0, **llm_kwargs) -> VLLMSimulatorBackend:
    """``vllm:MODEL[?option=value…]`` → :class:`VLLMSimulatorBackend` (options: :mod:`.registry`)."""
    return VLLMSimulatorBackend(model, mode=mode, max_new_tokens=max_new_tokens, temperature=temperature,
                                top_p=top_p, **llm_kwargs)
