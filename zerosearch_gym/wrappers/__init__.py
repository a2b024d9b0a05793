"""Other views of ZeroSearch-v0: token by token (RLlib, SB3) and as a chat (message-based trainers).

- :class:`ZeroSearchTokenEnv` — ``Discrete(vocab)`` actions, ``Dict(ids, mask)`` observations; registered as
  ``ZeroSearchToken-v0`` (``gym.make("ZeroSearchToken-v0", tokenizer="smollm2", backend="bm25")``).
- :class:`ZeroSearchChatEnv` — the conversation as a tuple of ``{"role", "content"}`` messages.

Neither imports torch; a tokenizer given as a path loads ``transformers`` on use.
"""
from .chat import ZeroSearchChatEnv
from .token import STOP_STRINGS, ZeroSearchTokenEnv, check_stop_strings, make_token_env

__all__ = ["STOP_STRINGS", "ZeroSearchChatEnv", "ZeroSearchTokenEnv", "check_stop_strings", "make_token_env"]
