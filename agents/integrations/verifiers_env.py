"""verifiers glue (verifiers 0.4, its ``v1`` stack): ZeroSearch-v0 as a verifiers environment.

The taskset is a QA dataset; the env plays the user, as verifiers' game envs do: the model's reply is one
ZeroSearch turn, stepped in a ``ZeroSearchEnv`` host-side, whose reply (documents from our backends,
a corrective message) comes back as the next user turn until the answer. The rubric is the trace's rewards:
``f1`` (weight 1), ``em`` and ``format`` (the share of well-formed turns; weight 0: reported, not optimized).
``vf-eval`` and prime-rl name it by the plugin id ``zerosearch-verifiers`` (the top-level
``zerosearch_verifiers`` package re-exports these classes); :func:`load_environment` builds it in Python.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import verifiers.v1 as vf

from zerosearch_gym import QAExample, ZeroSearchEnv, load_qa_dataset
from zerosearch_gym.backends.shared import SharedBackend
from zerosearch_gym.env import build_backend

__all__ = ["ZeroSearchData", "ZeroSearchEnvConfig", "ZeroSearchTask", "ZeroSearchTaskset",
           "ZeroSearchTasksetConfig", "ZeroSearchVfEnv", "load_environment"]
PLUGIN_ID = "zerosearch-verifiers"
_BACKENDS: dict[tuple, SharedBackend] = {}
_LOCK = threading.Lock()


def shared_backend(spec: str, cache: bool | str = False, verify: int | None = None) -> SharedBackend:
    """One backend per spec in this process, shared by every rollout (concurrent searches in one batch)."""
    with _LOCK:
        key = (spec, str(cache), verify)
        if key not in _BACKENDS:
            _BACKENDS[key] = SharedBackend(build_backend(spec, cache, verify))
        return _BACKENDS[key]


class ZeroSearchTasksetConfig(vf.TasksetConfig):
    dataset: str | None = None
    """QA dataset (a path, a hub id, ``wiki:dev`` …; default: the shipped sample)."""
    backend: str = "bm25"
    """Search backend spec: ``hf:…``, ``openai:URL``, ``bm25[:corpus.jsonl]``, ``http-retriever:URL``."""
    action_format: str = "tags"
    """``tags`` (``<search>``/``<answer>``) or ``tool_call`` (a JSON ``<tool_call>`` in the reply's text)."""
    max_turns: int = 4
    """Search turns before the answer turn."""
    top_k: int = 5
    noise_probability: float | None = None
    """A fixed noise probability (default: the schedule at ``curriculum_step``)."""
    curriculum_step: int = 0
    total_steps: int = 203
    limit: int = 0
    """Keep the first N questions (0: all)."""


class ZeroSearchData(vf.TaskData):
    info: dict
    """The question, its gold answers and the episode's seed."""


class ZeroSearchTask(vf.Task[ZeroSearchData, vf.State, vf.TaskConfig]):
    pass


class ZeroSearchTaskset(vf.Taskset[ZeroSearchTask, ZeroSearchTasksetConfig]):
    def load(self) -> Iterator[ZeroSearchTask]:
        config = self.config
        examples = load_qa_dataset(config.dataset)[:config.limit or None]
        env = make_env(config)
        for i, ex in enumerate(examples):
            prompt, _ = env.reset(seed=i, options={"example": ex})
            yield ZeroSearchTask(ZeroSearchData(id=ex.id, name=ex.id, prompt=prompt, info={
                "question": ex.question, "golden_answers": list(ex.golden_answers),
                "data_source": ex.data_source, "seed": i}), config.task)


def make_env(config: ZeroSearchTasksetConfig) -> ZeroSearchEnv:
    return ZeroSearchEnv(backend=shared_backend(config.backend), dataset=[QAExample("vf", "placeholder", ("x",))],
                         max_turns=config.max_turns, top_k=config.top_k, action_format=config.action_format,
                         curriculum_step=config.curriculum_step)


class ZeroSearchEnvConfig(vf.EnvConfig):
    # the plain chat program (no tools, no container) in a local process; --env.player.runtime.type prime
    # runs it in a Prime sandbox instead
    player: vf.AgentConfig = vf.AgentConfig(harness={"id": "null"}, runtime=vf.SubprocessConfig())


class ZeroSearchVfEnv(vf.Env[ZeroSearchEnvConfig]):
    """The model answers; ZeroSearch-v0 replies as the user until the episode ends."""

    async def run(self, task, agents):
        config, info = self.config.taskset, task.data.info
        env = make_env(config)
        options: dict[str, Any] = {"example": QAExample(task.data.id or "vf", info["question"],
                                                        tuple(info["golden_answers"]), info.get("data_source", "")),
                                   "total_steps": config.total_steps}
        if config.noise_probability is not None:
            options["noise_probability"] = config.noise_probability
        env.reset(seed=info["seed"], options=options)
        last, turns, invalid = {}, 0, 0
        async with agents.player.interaction(task) as interaction:
            segment = await interaction.turn()
            while not segment.terminated:
                obs, _, terminated, truncated, last = await asyncio.to_thread(env.step, segment.last_reply)
                turns, invalid = turns + 1, invalid + (last["action"] == "invalid")
                if terminated or truncated:
                    break
                segment = await interaction.turn(obs)
        record_rewards(interaction.trace, last, turns, invalid)


def record_rewards(trace, last: dict, turns: int, invalid: int) -> None:
    """The rubric: F1 (weight 1), EM and the format score (weight 0), and the episode's searches as info."""
    trace.record_reward("f1", float(last.get("f1", 0.0)), 1.0)
    trace.record_reward("em", float(last.get("em", 0.0)), 0.0)
    trace.record_reward("format", 1.0 - invalid / turns if turns else 0.0, 0.0)
    trace.info["searches"] = int(last.get("searches", 0))
    trace.info["answered"] = last.get("action") == "answer"


def load_environment(**taskset: Any) -> vf.Env:
    """The verifiers env in Python: ``load_environment(backend="bm25", dataset="wiki:dev", max_turns=2)`` (the
    keywords are :class:`ZeroSearchTasksetConfig`'s)."""
    config = ZeroSearchEnvConfig(taskset=ZeroSearchTasksetConfig(id=PLUGIN_ID, **taskset))
    return vf.load_environment(config)
