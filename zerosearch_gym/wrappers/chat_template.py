"""The chat-template side of native tool calls (``action_format="tool_call"``): the prompt with the tools'
schemas, and each environment reply as the template's own message (a ``tool`` message for a search's
documents, a ``user`` message for a corrective one) that closes the assistant turn and opens the next.

The policy's sampled ids are never re-tokenized: these functions make only the ids of text the environment
adds (mask 0). A template that does not render tools (``tools=`` ignored) gets the Hermes / Qwen tool block as
a system message instead; a tokenizer without a chat template gets the same text raw. Torch is never imported.
"""
from __future__ import annotations

import json
from typing import Any, Sequence

HERMES_TOOLS = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with "
    "function signatures within <tools></tools> XML tags:\n<tools>\n{tools}\n</tools>\n\nFor each function call, "
    "return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n"
    '<tool_call>\n{{"name": <function-name>, "arguments": <args-json-object>}}\n</tool_call>'
)
RAW_REPLY = {"tool": ("\n<tool_response>\n", "\n</tool_response>\n"), "user": ("", "")}
_A, _B = "\u2063ZS-ASSISTANT\u2063", "\u2063ZS-REPLY\u2063"  # placeholders no real text holds


def hermes_tools_text(tools: Sequence[dict]) -> str:
    """The Hermes / Qwen system text that describes ``tools`` (one JSON schema per line)."""
    return HERMES_TOOLS.format(tools="\n".join(json.dumps(t) for t in tools))


def prompt_text(tokenizer: Any, prompt: str, tools: Sequence[dict] = ()) -> str:
    """The env's prompt as a user message with the tools, through the tokenizer's chat template (raw text with the
    tool block in front when the tokenizer has none), ending with the assistant generation prompt."""
    if not getattr(tokenizer, "chat_template", None):
        return (hermes_tools_text(tools) + "\n\n" if tools else "") + prompt
    messages = [{"role": "user", "content": prompt}]
    text = tokenizer.apply_chat_template(messages, tools=list(tools) or None, tokenize=False,
                                         add_generation_prompt=True)
    if tools and not all(t["function"]["description"] in text for t in tools):  # the template ignores tools
        messages.insert(0, {"role": "system", "content": hermes_tools_text(tools)})
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text


def prompt_ids(tokenizer: Any, prompt: str, tools: Sequence[dict] = ()) -> list[int]:
    """Token ids of :func:`prompt_text` (special tokens as the template writes them, none added)."""
    text = prompt_text(tokenizer, prompt, tools)
    special = not getattr(tokenizer, "chat_template", None)  # raw text: the tokenizer's BOS, as for "tags"
    return list(tokenizer(text, add_special_tokens=special)["input_ids"])


def reply_frame(tokenizer: Any, role: str) -> tuple[str, str]:
    """``(before, after)`` the content of a ``role`` message that follows an assistant turn: ``before`` closes
    the assistant turn and opens the message, ``after`` closes it and opens the next assistant turn.

    Read off the template by rendering placeholders, so it is exactly what the template writes."""
    if role not in RAW_REPLY:
        raise ValueError(f"expected role 'tool' or 'user', got {role!r}")
    if not getattr(tokenizer, "chat_template", None):
        return RAW_REPLY[role]
    messages = [{"role": "user", "content": "?"}, {"role": "assistant", "content": _A},
                {"role": role, "content": _B}]
    try:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception:  # a template that rejects a tool message without a preceding tool call
        return RAW_REPLY[role]
    if _A not in text or _B not in text:
        return RAW_REPLY[role]
    before, after = text[text.index(_A) + len(_A):].split(_B, 1)
    return before, after


def reply_ids(tokenizer: Any, content_ids: Sequence[int], role: str, after_eos: bool = False,
              frames: dict | None = None) -> list[int]:
    """Ids of one environment reply as the template's ``role`` message around ``content_ids`` (the content's
    own ids, already cut to the observation limit). ``after_eos``: the policy's turn ended with the EOS token,
    which already closed the assistant turn (the frame's copy of it is dropped). ``frames``: a cache dict."""
    key = (role, after_eos)
    if frames is None or key not in frames:
        before, after = reply_frame(tokenizer, role)
        eos = getattr(tokenizer, "eos_token", None)
        if after_eos and eos and before.startswith(eos):
            before = before[len(eos):]
        ids = (_ids(tokenizer, before), _ids(tokenizer, after))
        if frames is None:
            return ids[0] + list(content_ids) + ids[1]
        frames[key] = ids
    head, tail = frames[key]
    return head + list(content_ids) + tail


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []
