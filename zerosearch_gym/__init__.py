"""zerosearch-gym: Gymnasium environments in which LLMs learn to search, with a simulated search engine.

``import zerosearch_gym`` registers ``ZeroSearch-v0`` (single env and vector env), ``ZeroSearchToken-v0``
(its token view, :mod:`zerosearch_gym.wrappers`) and ``ZeroSearchCalculator-v0`` (the simulator pattern with a
calculator, :mod:`zerosearch_gym.tools`). Torch is never imported here.

The public surface is ``__all__``: the names below plus these submodules:

- :mod:`zerosearch_gym.backends` — search backends (simulators, BM25, HTTP retrievers), spec strings, the cache.
- :mod:`zerosearch_gym.formats` — the action formats: ``tags`` and native JSON ``tool_call`` (the tool's schema).
- :mod:`zerosearch_gym.llm` — generation, the decode engine and model loaders (torch imported lazily).
- :mod:`zerosearch_gym.offline` — the offline Wikipedia corpus and cache paths.
- :mod:`zerosearch_gym.protocol` — the policy prompt, turn parsing and observation texts.
- :mod:`zerosearch_gym.tools` — ``SimulatedTool`` (simulate any tool), the calculator and its environment.
- :mod:`zerosearch_gym.wrappers` — the token-level and chat views for RLlib, SB3 and LLM trainers.

Everything else (``env``, ``vector``, ``turn``, ``curriculum``, …) is reached through these names.
"""
from gymnasium.envs.registration import register, registry

from .backends import BackendError, SearchBackend, SearchRequest, make_backend, register_backend, search_batch
from .curriculum import NoiseSchedule
from .data import QAExample, load_hf_dataset, load_qa_dataset
from .env import ZeroSearchEnv
from .errors import OfflineError, UsageError, ZeroSearchError
from .protocol import Action, normalize_question, parse_action, policy_prompt
from .reward import answer_scores, cover_exact_match, exact_match, f1_score, normalize_answer
from .spaces import UnicodeText
from .tools import SimulatedTool, ToolCall, ToolOutputError
from .tools.calculator_env import CalculatorEnv
from .turn import PendingTurn
from .vector import ZeroSearchVectorEnv

__all__ = [
    # environments and the batched-step protocol
    "ZeroSearchEnv",
    "ZeroSearchVectorEnv",
    "CalculatorEnv",
    "PendingTurn",
    "UnicodeText",
    "NoiseSchedule",
    # data
    "QAExample",
    "load_qa_dataset",
    "load_hf_dataset",
    # errors a user can act on
    "ZeroSearchError",
    "UsageError",
    "OfflineError",
    # search backends
    "BackendError",
    "SearchBackend",
    "SearchRequest",
    "make_backend",
    "register_backend",
    "search_batch",
    # simulating other tools
    "SimulatedTool",
    "ToolCall",
    "ToolOutputError",
    # the text protocol and the rewards
    "Action",
    "normalize_question",
    "parse_action",
    "policy_prompt",
    "answer_scores",
    "cover_exact_match",
    "exact_match",
    "f1_score",
    "normalize_answer",
    # submodules
    "backends",
    "llm",
    "offline",
    "protocol",
    "tools",
    "wrappers",
]
__version__ = "0.1.0"

if "ZeroSearch-v0" not in registry:
    register(
        id="ZeroSearch-v0",
        entry_point="zerosearch_gym.env:ZeroSearchEnv",
        vector_entry_point="zerosearch_gym.vector:ZeroSearchVectorEnv",
    )
if "ZeroSearchToken-v0" not in registry:  # the token view (RLlib: "zerosearch_gym:ZeroSearchToken-v0")
    register(id="ZeroSearchToken-v0", entry_point="zerosearch_gym.wrappers.token:make_token_env")
if "ZeroSearchCalculator-v0" not in registry:  # the simulator pattern beyond search (zerosearch_gym.tools)
    register(id="ZeroSearchCalculator-v0", entry_point="zerosearch_gym.tools.calculator_env:CalculatorEnv")
