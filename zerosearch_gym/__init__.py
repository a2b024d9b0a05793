"""zerosearch-gym: Gymnasium environments in which LLMs learn to search, with a simulated search engine.

``import zerosearch_gym`` registers ``ZeroSearch-v0`` (single env and vector env). Torch is never imported here.
"""
from gymnasium.envs.registration import register, registry

from .backends import BackendError, SearchBackend, SearchRequest, make_backend, register_backend
from .curriculum import NoiseSchedule
from .data import QAExample, load_qa_dataset
from .env import ZeroSearchEnv
from .errors import OfflineError, UsageError, ZeroSearchError
from .vector import ZeroSearchVectorEnv

__all__ = [
    "BackendError",
    "NoiseSchedule",
    "OfflineError",
    "QAExample",
    "SearchBackend",
    "SearchRequest",
    "UsageError",
    "ZeroSearchEnv",
    "ZeroSearchError",
    "ZeroSearchVectorEnv",
    "load_qa_dataset",
    "make_backend",
    "register_backend",
]
__version__ = "0.1.0"

if "ZeroSearch-v0" not in registry:
    register(
        id="ZeroSearch-v0",
        entry_point="zerosearch_gym.env:ZeroSearchEnv",
        vector_entry_point="zerosearch_gym.vector:ZeroSearchVectorEnv",
    )
