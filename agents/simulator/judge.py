"""The v2 label: an LLM on any OpenAI-compatible server judges whether documents hold enough to answer.

The judge is the ``openai:`` search backend's chat-completions client (its timeouts, retries and deadline),
asked greedily for a few tokens. Its reply must start with "yes" or "no"; anything else, or a request that
failed for good, is ``None`` (the caller counts a skip).
"""
from __future__ import annotations

import dataclasses
import re

from zerosearch_gym import BackendError, UsageError, ZeroSearchError, make_backend
from zerosearch_gym.backends import parse_spec
from zerosearch_gym.protocol import format_documents

JUDGE_PROMPT = (
    "You are judging search results.\n"
    'The user is trying to answer the question: "{question}" whose answer is {answer}.\n'
    "Query: {query}\n"
    "Documents:\n{documents}\n\n"
    "Do these documents contain enough information to answer the query? Reply with yes or no."
)
_VERDICT = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)
# The judge's sampling unless its spec says otherwise: greedy, a one-word verdict.
DEFAULTS = {"model": "judge", "temperature": 0.0, "max_tokens": 8}


class JudgeUnavailable(ZeroSearchError, RuntimeError):
    """The judge's server did not answer (after the backend's retries)."""


class Judge:
    """``Judge.from_spec("openai:http://127.0.0.1:8000/v1?model=qwen")``: ``useful(...) -> True | False | None``.

    ``backend`` is anything with the ``complete(conversations, seeds)`` of the ``openai:`` backend; ``where``
    names it in errors."""

    def __init__(self, backend, where: str = "the judge"):
        self.backend, self.where = backend, where

    @classmethod
    def from_spec(cls, spec: str) -> Judge:
        """``openai:http://host:port/v1[?model=NAME&timeout=S…]`` (any option of the ``openai:`` backend)."""
        expected = f"expected a judge spec openai:http://host:port/v1[?model=NAME], got {spec!r}"
        try:
            parsed = parse_spec(spec)
        except ValueError as err:
            raise UsageError(f"{expected} ({err})") from None
        if parsed.kind != "openai" or not parsed.argument.startswith("http"):
            raise UsageError(expected)
        backend = make_backend(dataclasses.replace(parsed, options={**DEFAULTS, **parsed.options}))
        return cls(backend, parsed.argument)

    def ask(self, prompt: str) -> str:
        """The judge's reply to one user message; :class:`JudgeUnavailable` when the request failed for good."""
        (reply,) = self.backend.complete([[{"role": "user", "content": prompt}]], [None])
        if isinstance(reply, BackendError):
            raise JudgeUnavailable(f"expected a working OpenAI-compatible judge at {self.where}, got {reply}")
        return str(reply.text)

    def check(self) -> None:
        """Raise :class:`JudgeUnavailable` when the server cannot be reached (before any data is built)."""
        self.ask("Reply with yes or no: is this a test?")

    def useful(self, query: str, question: str, answers, documents) -> bool | None:
        """The judge's verdict on one pair, or None when it failed or answered neither yes nor no."""
        docs = format_documents(documents)
        prompt = JUDGE_PROMPT.format(question=question, answer=answers[0] if answers else "", query=query,
                                     documents=docs)
        try:
            match = _VERDICT.match(self.ask(prompt))
        except JudgeUnavailable:
            return None
        return None if match is None else match.group(1).lower() == "yes"
