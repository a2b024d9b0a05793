"""Action formats: how the policy writes a search and how the search's result comes back.

- ``"tags"`` (the default, ZeroSearch's own): ``<search>query</search>`` / ``<answer>…</answer>``; results
  come back as ``"\\n\\n<information>Doc 1: …</information>\\n\\n"`` (:mod:`zerosearch_gym.protocol`).
- ``"tool_call"``: a native JSON tool call in the Hermes / Qwen form
  ``<tool_call>{"name": "search", "arguments": {"query": "…"}}</tool_call>`` (the tool's JSON schema is
  :data:`SEARCH_TOOL`); the answer is still ``<answer>…</answer>``; a search's result is the tool message's
  content, ``"Doc 1: …\\nDoc 2: …"``, which the policy side renders as its chat template's tool message
  (:mod:`zerosearch_gym.wrappers.chat_template`). Malformed JSON, another tool's name or a missing query is an
  invalid turn with a corrective message, as a turn without tags is in ``"tags"``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Sequence

from . import protocol
from .protocol import Action

TOOL_CALL_TEMPLATE = (
    "Answer the given question. You must conduct reasoning inside <think> and </think> first every time you "
    "get new information. After reasoning, if you find you lack some knowledge, you can call the search tool "
    "with a query and it will return the top searched results. You can search as many times as your want. If "
    "you find no further external knowledge needed, you can directly provide the answer inside <answer> and "
    "</answer>, without detailed illustrations. For example, <answer> Beijing </answer>. Question: {question}\n"
)

INVALID_TOOL_CALL_MESSAGE = (
    "\nMy previous action is invalid. If I want to search, I should call the search tool: <tool_call>"
    '{"name": "search", "arguments": {"query": "..."}}</tool_call>. If I want to give the final answer, I should '
    "put the answer between <answer> and </answer>. Let me try again.\n"
)

SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web for a query; returns the top documents as 'Doc 1: ...', 'Doc 2: ...'.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "The search query."}},
            "required": ["query"],
        },
    },
}


def tool_call_prompt(question: str) -> str:
    """The policy prompt of the ``"tool_call"`` format (the tool itself is described by :data:`SEARCH_TOOL`).

    >>> tool_call_prompt("Who wrote Hamlet").endswith("Question: Who wrote Hamlet?\\n")
    True
    """
    return TOOL_CALL_TEMPLATE.format(question=protocol.normalize_question(question))


def parse_tool_call(text: str) -> Action:
    """Parse one turn of the ``"tool_call"`` format: the first ``<tool_call>…</tool_call>`` or
    ``<answer>…</answer>`` wins; a tool call must be ``{"name": "search", "arguments": {"query": "…"}}``.

    >>> parse_tool_call('<think>hm</think><tool_call>{"name": "search", "arguments": {"query": " Paris "}}</tool_call>')
    Action(kind='search', content='Paris', reason='')
    >>> parse_tool_call("<answer> Paris </answer>").content
    'Paris'
    >>> parse_tool_call('<tool_call>{"name": "search", "arguments": {"query": "Paris"}</tool_call>').reason
    "malformed JSON in <tool_call>: Expecting ',' delimiter at char 50"
    """
    if not isinstance(text, str):
        return Action("invalid", reason=f"expected the action to be a str, got {type(text).__name__}")
    found = protocol._first_action(text, *protocol._tags("tool_call"))
    if found is None:
        return Action("invalid", reason="no <tool_call>…</tool_call> or <answer>…</answer> in the turn")
    if found[0] == "answer":
        return Action("answer", found[1].strip())
    return _search_call(found[1])


def _search_call(body: str) -> Action:
    try:
        call = json.loads(body)
    except json.JSONDecodeError as exc:
        return Action("invalid", reason=f"malformed JSON in <tool_call>: {exc.msg} at char {exc.pos}")
    if not isinstance(call, dict) or "name" not in call:
        return Action("invalid", reason='expected {"name": "search", "arguments": {"query": …}} in <tool_call>, '
                                        f"got {body.strip()[:80]!r}")
    if call["name"] != "search":
        return Action("invalid", reason=f"unknown tool {call['name']!r}; expected 'search'")
    arguments = call.get("arguments")
    if isinstance(arguments, str):  # some templates send the arguments as a JSON string
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as exc:
            return Action("invalid", reason=f"malformed JSON in the search arguments: {exc.msg} at char {exc.pos}")
    query = arguments.get("query") if isinstance(arguments, dict) else None
    if not isinstance(query, str) or not query.strip():
        return Action("invalid", reason=f"expected the search arguments to hold a non-empty string 'query', "
                                        f"got {arguments!r:.80}")
    return Action("search", query.strip())


def tool_observation(documents: Sequence[str], max_chars: int | None = None) -> tuple[str, bool]:
    """The tool message's content for a search: the numbered documents, cut to ``max_chars``.

    >>> tool_observation(["Paris is the capital of France."])[0]
    'Doc 1: Paris is the capital of France.'
    """
    body = protocol.format_documents(documents) if documents else protocol.NO_INFORMATION
    return protocol.cut(body, max_chars) if max_chars is not None else (body, False)


@dataclass(frozen=True)
class ActionFormat:
    """What differs between action formats: the prompt, the turn parser, the corrective message, how a search's
    documents become the observation, the stop strings that end a generated turn and the tools' schemas."""

    name: str
    prompt: Callable[[str], str]
    parse: Callable[[str], Action]
    invalid_message: str
    observation: Callable[..., tuple[str, bool]]  # (documents, max_chars) -> (text, truncated)
    stop_strings: tuple[str, ...]
    tools: tuple[dict, ...] = ()
    observation_role: str = "user"  # the chat role a search result takes ("tool" for native tool calls)


FORMATS = {
    "tags": ActionFormat("tags", protocol.policy_prompt, protocol.parse_action, protocol.INVALID_ACTION_MESSAGE,
                         protocol.information_observation, ("</search>", "</answer>")),
    "tool_call": ActionFormat("tool_call", tool_call_prompt, parse_tool_call, INVALID_TOOL_CALL_MESSAGE,
                              tool_observation, ("</tool_call>", "</answer>"), (SEARCH_TOOL,), "tool"),
}


def action_format(name: str) -> ActionFormat:
    """The format called ``name`` ("tags" or "tool_call"); anything else is a ValueError."""
    if name not in FORMATS:
        raise ValueError(f"expected action_format 'tags' or 'tool_call', got {name!r}")
    return FORMATS[name]
