"""SkyRL-gym glue: ZeroSearch-v0 as a ``BaseTextEnv`` registered as ``"zerosearch"`` in SkyRL-gym's registry.

SkyRL's trainer makes one env per trajectory, ``skyrl_gym.make("zerosearch", env_config=cfg, extras=row)``,
where ``row`` is the dataset row without its prompt. :func:`dataset_rows` writes rows in SkyRL's format (the
prompt as chat messages, ``env_class``, ``reward_spec.ground_truth.target`` = the gold answers,
``extra_info.question``), so ``environment.env_class=zerosearch`` in SkyRL's config names it. ``env_config``
takes ZeroSearchEnv's arguments (``backend``, ``top_k``, ``max_turns``, ``action_format``, ``noise``, …); a
row's ``extra_info`` may set ``noise_probability``, ``curriculum_step`` / ``total_steps`` and ``seed`` for its
episode. All envs with the same backend spec share one backend
(:class:`~zerosearch_gym.backends.shared.SharedBackend`: built once, concurrent searches in one batch).
"""
from __future__ import annotations

import threading
from typing import Any

from skyrl_gym.envs import register
from skyrl_gym.envs.base_text_env import BaseTextEnv, BaseTextEnvStepOutput

from zerosearch_gym import QAExample, ZeroSearchEnv
from zerosearch_gym.backends.shared import SharedBackend
from zerosearch_gym.env import build_backend
from zerosearch_gym.wrappers.chat_template import hermes_tools_text

ENV_CLASS = "zerosearch"
EPISODE_OPTIONS = ("noise_probability", "curriculum_step", "total_steps")
_BACKENDS: dict[tuple, SharedBackend] = {}
_LOCK = threading.Lock()


def shared_backend(spec: Any = "bm25", cache: bool | str = False, verify: int | None = None) -> SharedBackend:
    """One :class:`SharedBackend` per backend spec in this process (an object is shared as given)."""
    key = (spec if isinstance(spec, str) else id(spec), str(cache), verify)
    with _LOCK:
        if key not in _BACKENDS:
            _BACKENDS[key] = SharedBackend(build_backend(spec, cache, verify))
        return _BACKENDS[key]


def _golds(extras: dict) -> tuple[str, ...]:
    truth = (extras.get("reward_spec") or {}).get("ground_truth")
    if isinstance(truth, dict):
        truth = truth.get("target")
    if isinstance(truth, str):
        truth = [truth]
    if not truth or not all(isinstance(t, str) for t in truth):
        raise ValueError(f"expected extras['reward_spec']['ground_truth'] to hold the gold answers "
                         f"({{'target': [str, ...]}} or a list of str), got {truth!r:.120}")
    return tuple(truth)


class ZeroSearchTextEnv(BaseTextEnv):
    """One ZeroSearch episode as a SkyRL text env: ``init`` gives the ZeroSearch prompt (with the search tool's
    description as a system message when ``action_format="tool_call"``), ``step`` takes one turn and returns
    the env's reply as a ``user`` message (``tool`` for a tool call's documents), the F1 reward at the end."""

    def __init__(self, env_config: Any = None, extras: dict | None = None):
        super().__init__()
        config, extras = dict(env_config or {}), dict(extras or {})
        info = dict(extras.get("extra_info") or {})
        backend = shared_backend(config.pop("backend", "bm25"), config.pop("cache", False), config.pop("verify", None))
        config["max_turns"] = int(extras.get("max_turns", config.get("max_turns", 4)))  # search turns
        self.max_turns = config["max_turns"] + 1  # SkyRL's cap counts every turn, the answer turn too
        self.env = ZeroSearchEnv(backend=backend, dataset=[QAExample("skyrl", "placeholder", ("x",))], **config)
        self.example = QAExample(str(info.get("id", extras.get("uid", "skyrl"))), str(info.get("question", "")),
                                 _golds(extras), str(extras.get("data_source", "")))
        self.options = {k: info[k] for k in EPISODE_OPTIONS if k in info}
        self.seed = info.get("seed")
        self.last_info: dict = {}

    def init(self, prompt: list[dict]) -> tuple[list[dict], dict]:
        example = self.example
        if not example.question:  # no extra_info.question: the row's last user message is the question
            question = next((m["content"] for m in reversed(prompt) if m.get("role") == "user"), "")
            example = QAExample(example.id, question, example.golden_answers, example.data_source)
        text, info = self.env.reset(seed=self.seed, options={"example": example, **self.options})
        messages = [{"role": "user", "content": text}]
        if self.env.tools:
            messages.insert(0, {"role": "system", "content": hermes_tools_text(self.env.tools)})
        return messages, {"noise_probability": info["noise_probability"]}

    def step(self, action: str) -> BaseTextEnvStepOutput:
        self.turns += 1
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.last_info = info
        done = bool(terminated or truncated)
        role = self.env.format.observation_role if info["action"] == "search" else "user"
        observations = [] if done or not obs else [{"role": role, "content": obs}]
        metadata = {k: info[k] for k in ("action", "query", "noisy", "searches", "turn", "invalid_reason",
                                          "backend_error", "f1", "em")}
        return BaseTextEnvStepOutput(observations=observations, reward=float(reward), done=done, metadata=metadata)

    def get_metrics(self) -> dict[str, Any]:
        info = self.last_info
        return {"f1": info.get("f1", 0.0), "em": info.get("em", 0.0), "searches": info.get("searches", 0),
                "noise_probability": info.get("noise_probability", 0.0), "turns": self.turns}


def dataset_rows(examples, data_source: str = "zerosearch") -> list[dict]:
    """SkyRL dataset rows (write them to parquet for its trainer): the ZeroSearch prompt as a user message,
    ``env_class`` ``"zerosearch"``, the gold answers as ``reward_spec.ground_truth.target``."""
    from zerosearch_gym import load_qa_dataset, policy_prompt

    return [{"data_source": ex.data_source or data_source, "env_class": ENV_CLASS,
             "prompt": [{"role": "user", "content": policy_prompt(ex.question)}],
             "reward_spec": {"method": "rule", "ground_truth": {"target": list(ex.golden_answers)}},
             "extra_info": {"id": ex.id, "question": ex.question}} for ex in load_qa_dataset(examples)]


def register_zerosearch() -> None:
    """Register ``"zerosearch"`` with SkyRL-gym (done on import; safe to call again)."""
    from skyrl_gym.envs.registration import registry

    if ENV_CLASS not in registry:
        register(id=ENV_CLASS, entry_point="agents.integrations.skyrl:ZeroSearchTextEnv")


register_zerosearch()
