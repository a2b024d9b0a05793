"""zerosearch-gym: Gymnasium environments in which LLMs learn to search, with a simulated search engine.

``import zerosearch_gym`` registers ``ZeroSearch-v0`` (single env and vector env) and ``ZeroSearchToken-v0``
(its token view, :mod:`zerosearch_gym.wrappers`). Torch is never imported here.
"""
from gymnasium.envs.registration import register, registry

from .backends import BackendError, SearchBackend, SearchRequest, make_backend, register_backend
from .curriculum import NoiseSchedule
from .data import QAExample, load_qa_dataset
from .env import ZeroSearchEnv
from .vector import ZeroSearchVectorEnv

__all__ = [
    "BackendError",
    "NoiseSchedule",
    "QAExample",
    "SearchBackend",
    "SearchRequest",
    "ZeroSearchEnv",
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
if "ZeroSearchToken-v0" not in registry:  # the token view (RLlib: "zerosearch_gym:ZeroSearchToken-v0")
    register(id="ZeroSearchToken-v0", entry_point="zerosearch_gym.wrappers.token:make_token_env")
