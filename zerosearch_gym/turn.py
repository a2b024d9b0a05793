"""The batched-step protocol: one env step split in two halves around the search.

:meth:`ZeroSearchEnv.step` is ``finish_step(begin_step(action), result)`` with the search sent in between.
A batching layer (an RLlib env runner, a pool of Ray actors; our vector env does the same on plain tuples, with
``ToolEnv._begin`` / ``_advance`` and info rows) calls ``begin_step`` on many envs,
sends every ``pending.request`` that is not ``None`` to the backend as **one** batch, and hands each result
back to the env that issued it::

    pendings = [env.begin_step(action) for env, action in zip(envs, actions)]
    requests = [p.request for p in pendings if p.request is not None]
    results = iter(search_batch(backend, requests))  # never raises; a failure is a BackendError
    steps = [env.finish_step(p, next(results) if p.request is not None else None)
             for env, p in zip(envs, pendings)]

The env keeps no hidden state between the halves: everything ``finish_step`` needs is in the
:class:`PendingTurn`.
"""

from dataclasses import dataclass

from .backends.base import SearchRequest
from .protocol import Action, information_observation
from .results import BackendError, SearchResult
from .reward import answer_in_text


@dataclass(frozen=True, slots=True)
class PendingTurn:
    """A parsed turn waiting for its search result: what ``begin_step`` returns and ``finish_step`` takes.

    Attributes:
        action: the parsed turn (``kind`` "search" / "answer" / "invalid", ``content``, ``reason``).
        request: the search to send (a :class:`ToolCall` in a tool env such as the calculator's), or ``None``
            when the turn needs none (an answer, an invalid turn, or a search on the final turn, which only
            truncates the episode).
        info: the step's info known before the search (``action``, ``query``, ``noisy``, ``invalid_reason``,
            ``action_truncated``).
        start: ``time.perf_counter()`` when the turn was parsed (the step's ``backend_latency_s`` counts from it).
        turn: the episode turn this is (1 for the first step after ``reset``); ``finish_step`` checks it.
    """

    action: Action
    request: SearchRequest | None
    info: dict
    start: float
    turn: int


def result_documents(result: SearchResult | None, top_k: int) -> tuple[list[str], str, str, bool]:
    """``(documents, backend_error, backend_warning, cache_hit)`` of one backend result.

    >>> result_documents(["a", " ", "b", "c"], 2)
    (['a'], '', '', False)
    >>> result_documents(BackendError("timed out"), 5)
    ([], 'timed out', '', False)
    """
    if type(result) is not list:  # a plain list is the common case; anything else is checked below
        if result is None:
            return [], "backend returned no result", "", False
        if isinstance(result, BackendError):
            return [], str(result), "", False
        if not isinstance(result, list):
            return [], f"expected a list of document strings from the backend, got {type(result).__name__}", "", False
    for doc in result:
        if type(doc) is not str and not isinstance(doc, str):
            return [], f"expected a list of document strings from the backend, got {type(result).__name__}", "", False
    documents = [d for d in result[:top_k] if d and not d.isspace()]
    if type(result) is list:  # a plain list has no malformed / cached flags
        return documents, "", "", False
    return documents, "", getattr(result, "malformed", None) or "", bool(getattr(result, "cached", False))


def search_observation(result: SearchResult | None, golds, top_k: int, max_obs_chars: int,
                       render=information_observation) -> tuple[str, str, str, bool, bool, bool]:
    """The observation of one search and what info says about it: ``(obs, backend_error, backend_warning,
    cache_hit, observation_truncated, answer_in_documents)``. ``render(documents, max_chars)`` makes the text
    (the action format's: ``<information>`` tags, or a tool message's content).

    >>> search_observation(["Paris is in France.", "Lyon"], ["Paris"], 5, 8000)[::5]
    ('\\n\\n<information>Doc 1: Paris is in France.\\nDoc 2: Lyon</information>\\n\\n', True)
    """
    documents, error, warning, cache_hit = result_documents(result, top_k)
    in_docs = bool(documents) and answer_in_text("\n".join(documents), golds)
    obs, cut_obs = render(documents, max_obs_chars)
    return obs, error, warning, cache_hit, cut_obs, in_docs
