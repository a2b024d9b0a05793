"""Search backends: simulators (hf, openai, vllm) and real retrievers (bm25, http-retriever)."""
from .base import (
    BackendError,
    SearchBackend,
    SearchRequest,
    SearchResult,
    make_backend,
    register_backend,
    search_batch,
)

__all__ = [
    "BackendError",
    "SearchBackend",
    "SearchRequest",
    "SearchResult",
    "make_backend",
    "register_backend",
    "search_batch",
]


def _load_builtin_backends() -> None:
    """Import the modules that register the built-in kinds (cheap: heavy imports happen on use)."""
    from . import hf, http_retriever, openai_compat, retrieval, self_search, vllm  # noqa: F401
