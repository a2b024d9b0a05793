"""Search backends: simulators (hf, openai, vllm) and real retrievers (bm25, http-retriever).

Spec strings and how to register a new kind: :mod:`zerosearch_gym.backends.registry`.
"""
from .base import BackendError, Documents, SearchBackend, SearchRequest, SearchResult, search_batch
from .registry import backend_kinds, is_real_engine, make_backend, parse_spec, register_backend
from .simulator_prompts import simulator_documents

__all__ = [
    "BackendError",
    "Documents",
    "SearchBackend",
    "SearchRequest",
    "SearchResult",
    "backend_kinds",
    "make_backend",
    "parse_spec",
    "is_real_engine",
    "register_backend",
    "search_batch",
    "simulator_documents",
]
