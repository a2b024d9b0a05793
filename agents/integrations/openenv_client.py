"""The client of a ``zerosearch serve`` OpenEnv server: OpenEnv's ``EnvClient`` for ZeroSearch-v0.

Async by default (OpenEnv's convention); ``.sync()`` gives the blocking form::

    from agents.integrations.openenv_client import SearchAction, ZeroSearchClient

    with ZeroSearchClient(base_url="http://127.0.0.1:8000").sync() as env:
        result = env.reset(seed=0, curriculum_step=10, total_steps=203)
        result = env.step(SearchAction(text="<think>…</think><search>capital of France</search>"))
        result.observation.text, result.reward, result.done, result.observation.info["action"]

Each client is one WebSocket session on the server, with its own episode.
"""
from __future__ import annotations

from typing import Any

from openenv.core.client_types import StepResult
from openenv.core.env_client import EnvClient

from .openenv_env import SearchAction, SearchObservation, SearchState

__all__ = ["SearchAction", "SearchObservation", "SearchState", "ZeroSearchClient"]


class ZeroSearchClient(EnvClient[SearchAction, SearchObservation, SearchState]):
    """An OpenEnv client of ZeroSearch-v0. ``step`` also takes a plain string (one policy turn)."""

    def _step_payload(self, action: SearchAction | str) -> dict[str, Any]:
        if isinstance(action, str):
            action = SearchAction(text=action)
        return action.model_dump(exclude_none=True, exclude={"metadata"})

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[SearchObservation]:
        obs = SearchObservation(**payload.get("observation", {}), reward=payload.get("reward"),
                                done=bool(payload.get("done", False)))
        return StepResult(observation=obs, reward=payload.get("reward"), done=bool(payload.get("done", False)))

    def _parse_state(self, payload: dict[str, Any]) -> SearchState:
        return SearchState(**payload)
