"""What a backend or a simulated tool hands back: the result types both layers share.

This is the lowest layer of the package's tool side. :mod:`zerosearch_gym.backends` and
:mod:`zerosearch_gym.tools` both import it; it imports neither (only the standard library). The public names are
re-exported where users find them: ``zerosearch_gym.backends`` (:class:`BackendError`, :class:`Documents`,
``SearchResult``) and ``zerosearch_gym.tools`` (:class:`Completion`, :class:`ToolOutputError`).

>>> Documents(["Paris is in France."], malformed="1 of 5 documents"), str(BackendError("timed out"))
(['Paris is in France.'], 'timed out')
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Union


@dataclass(frozen=True)
class BackendError:
    """Stands in for the documents of a request the backend could not answer."""

    message: str

    def __str__(self) -> str:
        return self.message


class Documents(list):
    """A list of documents that also says what was wrong with the output it came from (``malformed``), e.g.
    a simulator that wrote three documents instead of five. The env reports it as ``info["backend_warning"]``."""

    def __init__(self, documents=(), malformed: str | None = None, cached: bool = False):
        super().__init__(documents)
        self.malformed = malformed
        self.cached = cached  # served from a result cache


# What a backend returns for one request: its documents, or the reason it has none.
SearchResult = Union[list[str], BackendError]


class Completion(NamedTuple):
    """One generated text and where it came from: ``source`` names the backend in error messages and
    ``detail`` (e.g. the server's finish reason) is added to them."""

    text: Any
    source: str
    detail: str = ""


class ToolOutputError(ValueError):
    """The simulator's text is not a valid output of the tool (raised by a tool's ``parse``)."""
