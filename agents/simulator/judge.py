"""The v2 label: an LLM on any OpenAI-compatible server judges whether documents hold enough to answer.

The judge's reply must start with "yes" or "no"; anything else is ``None`` (the caller counts a skip).
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl

JUDGE_PROMPT = (
    "You are judging search results.\n"
    'The user is trying to answer the question: "{question}" whose answer is {answer}.\n'
    "Query: {query}\n"
    "Documents:\n{documents}\n\n"
    "Do these documents contain enough information to answer the query? Reply with yes or no."
)
_VERDICT = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)


class Judge:
    """``Judge("http://127.0.0.1:8000/v1", model="qwen")``: ``useful(...) -> True | False | None``."""

    def __init__(self, url: str, model: str = "judge", timeout: float = 30.0):
        import httpx

        self.url, self.model = url.rstrip("/"), model
        self.client = httpx.Client(timeout=timeout)

    @classmethod
    def from_spec(cls, spec: str) -> Judge:
        """``openai:http://host:port/v1[?model=NAME&timeout=S]``."""
        kind, _, rest = spec.partition(":")
        if kind != "openai" or not rest.startswith("http"):
            raise ValueError(f"expected a judge spec openai:http://host:port/v1[?model=NAME], got {spec!r}")
        url, _, query = rest.partition("?")
        options = dict(parse_qsl(query))
        return cls(url, options.get("model", "judge"), float(options.get("timeout", 30)))

    def ask(self, prompt: str) -> str:
        response = self.client.post(f"{self.url}/chat/completions", json={
            "model": self.model, "temperature": 0.0, "max_tokens": 8,
            "messages": [{"role": "user", "content": prompt}]})
        response.raise_for_status()
        return str(response.json()["choices"][0]["message"]["content"])

    def check(self) -> None:
        """Raise a clear error when the server cannot be reached (before any data is built)."""
        import httpx

        try:
            self.ask("Reply with yes or no: is this a test?")
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise RuntimeError(f"expected a working OpenAI-compatible judge at {self.url}, got "
                               f"{type(exc).__name__}: {exc}") from None

    def useful(self, query: str, question: str, answers, documents) -> bool | None:
        """The judge's verdict on one pair, or None when it failed or answered neither yes nor no."""
        import httpx

        docs = "\n".join(f"Doc {i}: {d}" for i, d in enumerate(documents, 1))
        prompt = JUDGE_PROMPT.format(question=question, answer=answers[0] if answers else "", query=query,
                                     documents=docs)
        try:
            match = _VERDICT.match(self.ask(prompt))
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError):
            return None
        return None if match is None else match.group(1).lower() == "yes"
