"""The text protocol between policy and environment, exactly as ZeroSearch speaks it.

The policy gets :func:`policy_prompt`; each turn it writes ``<think>…</think>`` and then either
``<search>query</search>`` or ``<answer>text</answer>``. The environment answers a search with
:func:`information_observation` and an unparseable turn with :data:`INVALID_ACTION_MESSAGE`.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple, Sequence

POLICY_TEMPLATE = (
    "Answer the given question. You must conduct reasoning inside <think> and </think> first every time you "
    "get new information. After reasoning, if you find you lack some knowledge, you can call a search engine by "
    "<search> query </search> and it will return the top searched results between <information> and "
    "</information>. You can search as many times as your want. If you find no further external knowledge "
    "needed, you can directly provide the answer inside <answer> and </answer>, without detailed illustrations. "
    "For example, <answer> Beijing </answer>. Question: {question}\n"
)

INVALID_ACTION_MESSAGE = (
    "\nMy previous action is invalid. If I want to search, I should put the query between <search> and "
    "</search>. If I want to give the final answer, I should put the answer between <answer> and </answer>. "
    "Let me try again.\n"
)

NO_INFORMATION = "No information available."
TRUNCATION_MARKER = " …[truncated {n} characters]"

_OPEN_RE = re.compile(r"<(search|answer)>")
_CLOSE = {"search": "</search>", "answer": "</answer>"}
_OPENING = {"search": "<search>", "answer": "<answer>"}


def normalize_question(question: str) -> str:
    """Strip the question and end it with "?" (as ZeroSearch does for the policy and the simulator).

    >>> normalize_question("  capital of France ")
    'capital of France?'
    """
    question = question.strip()
    return question if question.endswith("?") else question + "?"


@lru_cache(maxsize=65536)  # a dataset's questions come back every epoch
def policy_prompt(question: str) -> str:
    """The ZeroSearch policy prompt for ``question`` (stripped, "?" appended when missing).

    >>> policy_prompt("Who wrote Hamlet").endswith("Question: Who wrote Hamlet?\\n")
    True
    """
    return POLICY_TEMPLATE.format(question=normalize_question(question))


class Action(NamedTuple):
    """One parsed turn (immutable)."""

    kind: str  # "search", "answer" or "invalid"
    content: str = ""  # the query or the answer text, stripped
    reason: str = ""  # why an invalid turn is invalid


def parse_action(text: str) -> Action:
    """Parse one policy turn: the first ``<search>…</search>`` or ``<answer>…</answer>`` wins.

    >>> parse_action("<think>hmm</think><search> capital of France </search>")
    Action(kind='search', content='capital of France', reason='')
    >>> parse_action("<answer>a </search> b</answer>").content
    'a </search> b'
    >>> parse_action("I think it is Paris").reason
    'no <search>…</search> or <answer>…</answer> in the turn'
    """
    if not isinstance(text, str):
        return Action("invalid", reason=f"expected the action to be a str, got {type(text).__name__}")
    found = _first_action(text)
    if found is None:
        return _NO_TAGS
    kind, content = found[0], found[1].strip()
    if kind == "search" and not content:
        return _EMPTY_QUERY
    return _new_action(Action, (kind, content, ""))  # Action(kind, content) without its Python-level __new__


_NO_TAGS = Action("invalid", reason="no <search>…</search> or <answer>…</answer> in the turn")
_new_action = tuple.__new__
_EMPTY_QUERY = Action("invalid", reason="empty search query")


def parse_tool_action(text: str, tool: str) -> Action:
    """:func:`parse_action` for another tool's tag: the first ``<tool>…</tool>`` or ``<answer>…</answer>`` wins.

    >>> parse_tool_action("<think>6 boxes of 7</think><calculate> 6 * 7 </calculate>", "calculate")
    Action(kind='calculate', content='6 * 7', reason='')
    >>> parse_tool_action("<calculate> </calculate>", "calculate").reason
    'empty <calculate>…</calculate>'
    """
    if not isinstance(text, str):
        return Action("invalid", reason=f"expected the action to be a str, got {type(text).__name__}")
    found = _first_action(text, *_tags(tool))
    if found is None:
        return Action("invalid", reason=f"no <{tool}>…</{tool}> or <answer>…</answer> in the turn")
    kind, content = found[0], found[1].strip()
    if kind == tool and not content:
        return Action("invalid", reason=f"empty <{tool}>…</{tool}>")
    return Action(kind, content)


@lru_cache(maxsize=64)
def _tags(tool: str) -> tuple[re.Pattern, dict]:
    if not re.fullmatch(r"[A-Za-z][\w-]*", tool) or tool == "answer":
        raise ValueError(f"expected a tool tag name like 'calculate' (not 'answer'), got {tool!r}")
    return re.compile(f"<({tool}|answer)>"), {tool: f"</{tool}>", "answer": "</answer>"}


def _first_action(text: str, opening_re: re.Pattern = _OPEN_RE, closing: dict = _CLOSE) -> tuple[str, str] | None:
    """ZeroSearch's rule, the first match of ``<(search|answer)>(.*?)</\\1>`` (DOTALL), in linear time.

    That match opens at the first ``<search>`` / ``<answer>`` that has a closing tag of its kind somewhere after
    it, and ends at the first such closing tag. The regex itself is quadratic on a turn of unclosed tags.
    (Another pair of tags: ``opening_re`` and ``closing``, as :func:`_tags` makes them.)
    """
    kind, start = None, len(text)
    for name in closing:  # the leftmost opening tag (str.find: cheaper than the regex for the common case)
        at = text.find(_OPENING.get(name) or f"<{name}>", 0, start)
        if at >= 0:
            kind, start = name, at
    if kind is None:
        return None
    start += len(kind) + 2
    close = text.find(closing[kind], start)
    if close >= 0:  # the common case: the first tag is closed
        return kind, text[start:close]
    last_close = {name: text.rfind(tag) for name, tag in closing.items()}
    if max(last_close.values()) < 0:
        return None
    beyond = max(last_close.values())
    for opening in opening_re.finditer(text, start):
        kind, start = opening.group(1), opening.end()
        if last_close[kind] >= start:
            return kind, text[start:text.find(closing[kind], start)]
        if start > beyond:  # no closing tag of either kind after this point
            return None
    return None


def cut(text: str, max_chars: int) -> tuple[str, bool]:
    """Cut ``text`` to ``max_chars`` characters (marker included), saying how much was dropped.

    >>> cut("abcdefghij" * 10, 40)
    ('abcdefghijabc …[truncated 87 characters]', True)
    """
    if len(text) <= max_chars:
        return text, False
    for keep in range(max_chars, -1, -1):  # the marker's own length depends on the number
        marker = TRUNCATION_MARKER.format(n=len(text) - keep)
        if keep + len(marker) <= max_chars:
            return text[:keep] + marker, True
    return text[:max_chars], True


def format_documents(documents: Sequence[str]) -> str:
    """Number the documents as ZeroSearch shows them: "Doc 1: …\\nDoc 2: …" (the one formatter of documents).

    >>> format_documents(["Paris is in France.", "Lyon"])
    'Doc 1: Paris is in France.\\nDoc 2: Lyon'
    >>> format_documents([])
    ''
    """
    if len(documents) > len(_DOC_PREFIXES):
        return "\n".join(f"Doc {i}: {doc}" for i, doc in enumerate(documents, 1))
    return "\n".join(map(str.__add__, _DOC_PREFIXES, documents))


_DOC_PREFIXES = [f"Doc {i}: " for i in range(1, 101)]


def information_observation(documents: Sequence[str], max_chars: int | None = None) -> tuple[str, bool]:
    """The observation for a search: documents inside ``<information>`` tags, cut to ``max_chars`` in all.

    >>> information_observation(["Paris is the capital of France."])[0]
    '\\n\\n<information>Doc 1: Paris is the capital of France.</information>\\n\\n'
    """
    body = format_documents(documents) if documents else NO_INFORMATION
    if max_chars is not None and len(body) > max_chars - _TAGS_CHARS:
        body, truncated = cut(body, max(max_chars - _TAGS_CHARS, 0))
        return "\n\n<information>" + body + "</information>\n\n", truncated
    return "\n\n<information>" + body + "</information>\n\n", False


_TAGS_CHARS = len("\n\n<information></information>\n\n")
