"""veRL glue: our search backends as a veRL tool (``BaseTool``) for its multi-turn agent loop.

``examples/verl/zerosearch_tool_config.yaml`` declares it; ``examples/verl/run_zerosearch_grpo.sh`` holds the
agent-loop settings that use it (``actor_rollout_ref.rollout.multi_turn.tool_config_path``, ``format=hermes``).
veRL makes one tool instance per call with the row's ``extra_info.tools_kwargs.search.create_kwargs``:
``question`` and ``ground_truth`` (the simulator writes useful or noisy documents *for that question*, and
verified simulation checks them against its gold answers), optionally ``noise_probability``. Config keys
(``config:`` in the yaml): ``backend`` (a spec: ``hf:…``, ``openai:URL``, ``bm25[:corpus]``,
``http-retriever:URL``), ``top_k``, ``noise`` (a fixed p), or the curriculum ``p_start``, ``p_end``,
``total_steps``, ``base`` with the training step read from ``curriculum_file`` (an int a trainer hook writes;
veRL passes no step to tools), ``verify``, ``cache``, ``seed``, ``max_chars``. Every tool instance of a worker
shares one backend, whose concurrent searches go as one batch.
"""
from __future__ import annotations

import asyncio
import os
from typing import Any
from uuid import uuid4

import numpy as np
from verl.tools.base_tool import BaseTool
from verl.tools.schemas import OpenAIFunctionToolSchema, ToolResponse

from zerosearch_gym import NoiseSchedule, SearchRequest
from zerosearch_gym.backends.shared import SharedBackend
from zerosearch_gym.env import build_backend
from zerosearch_gym.formats import SEARCH_TOOL, tool_observation

__all__ = ["ZeroSearchTool"]


def _golds(kwargs: dict) -> tuple[str, ...]:
    truth = kwargs.get("golden_answers", kwargs.get("ground_truth"))
    if isinstance(truth, dict):
        truth = truth.get("target")
    if isinstance(truth, str):
        truth = [truth]
    truth = truth.tolist() if hasattr(truth, "tolist") else truth  # parquet rows hold numpy arrays
    if not isinstance(truth, (list, tuple)) or not all(isinstance(t, str) for t in truth):
        raise ValueError(f"expected create_kwargs['ground_truth'] to hold the gold answers ({{'target': [str, ...]}}, "
                         f"a list of str or a str), got {truth!r:.120}")
    return tuple(truth)


class ZeroSearchTool(BaseTool):
    """The ``search`` tool: a query in, ``top_k`` documents out (``"Doc 1: …\\nDoc 2: …"``), from the simulator with
    its noise curriculum and verification, or from BM25 / an HTTP retriever."""

    def __init__(self, config: dict, tool_schema: OpenAIFunctionToolSchema | None = None):
        config = dict(config or {})
        super().__init__(config, tool_schema or OpenAIFunctionToolSchema.model_validate(SEARCH_TOOL))
        self.backend = SharedBackend(build_backend(config.get("backend", "bm25"), config.get("cache", False),
                                                   config.get("verify")))
        self.top_k, self.max_chars = int(config.get("top_k", 5)), int(config.get("max_chars", 8000))
        noise = config.get("noise")
        self.schedule = NoiseSchedule.fixed(float(noise)) if noise is not None \
            else NoiseSchedule(p_start=float(config.get("p_start", 0.0)), p_end=float(config.get("p_end", 0.5)),
                               total_steps=int(config.get("total_steps", 203)), base=float(config.get("base", 4.0)))
        self.curriculum_file = config.get("curriculum_file")
        self.rng = np.random.default_rng(config.get("seed"))
        self.instances: dict[str, dict] = {}

    def curriculum_step(self) -> int:
        """The training step from ``curriculum_file`` (0 without one, or while it holds no int)."""
        if not self.curriculum_file or not os.path.exists(self.curriculum_file):
            return 0
        try:
            with open(self.curriculum_file) as handle:
                return int(handle.read().strip() or 0)
        except ValueError:
            return 0

    async def create(self, instance_id: str | None = None, **kwargs) -> tuple[str, ToolResponse]:
        instance_id = instance_id or str(uuid4())
        create = dict(kwargs.get("create_kwargs") or {})
        p = create.get("noise_probability")
        p = float(p) if p is not None else self.schedule(self.curriculum_step(), self.rng)
        self.instances[instance_id] = {
            "question": str(create.get("question", "")), "answers": _golds(create) if (
                "ground_truth" in create or "golden_answers" in create) else (),
            "p": 0.0 if self.backend.simulator is False else p}  # a real engine writes no noisy documents
        return instance_id, ToolResponse()

    async def execute(self, instance_id: str, parameters: dict[str, Any], **kwargs) -> tuple[ToolResponse, float, dict]:
        state = self.instances.get(instance_id)
        if state is None:
            raise ValueError(f"expected a tool instance made by create(), got unknown id {instance_id!r}")
        query = parameters.get("query") if isinstance(parameters, dict) else None
        if not isinstance(query, str) or not query.strip():
            return ToolResponse(text="Error: expected a non-empty string 'query'."), 0.0, {"invalid": 1.0}
        bits = int(self.rng.integers(0, 2**63))
        noisy = (bits >> 31) * 2.0**-32 < state["p"]
        request = SearchRequest(query=query.strip(), question=state["question"], answers=state["answers"],
                                useful=not noisy, top_k=self.top_k, seed=bits & 0x7FFFFFFF)
        result = (await asyncio.to_thread(self.backend.search, [request]))[0]
        documents = [d for d in result[:self.top_k] if d and not d.isspace()] if isinstance(result, list) else []
        text, _ = tool_observation(documents, self.max_chars)
        metrics = {"noisy": float(noisy), "noise_probability": state["p"], "documents": float(len(documents)),
                   "backend_error": 0.0 if isinstance(result, list) else 1.0}
        return ToolResponse(text=text), 0.0, metrics

    async def release(self, instance_id: str, **kwargs) -> None:
        self.instances.pop(instance_id, None)
