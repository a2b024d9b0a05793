"""ZeroSearchTokenEnv: ZeroSearch-v0 as a token MDP, for libraries that need numeric spaces (RLlib, SB3).

One step = one token. Tokens collect into a turn until the decoded turn holds ``</search>`` or ``</answer>``
(``</tool_call>`` or ``</answer>`` with ``action_format="tool_call"``, whose prompt carries the tool's schema and
whose replies are the chat template's tool / user messages, :mod:`zerosearch_gym.wrappers.chat_template`),
the tokenizer's end-of-sequence token is chosen, or the turn reaches ``max_turn_tokens``; then the text env
steps with the decoded turn, and its observation (documents, corrective message) is tokenized and appended
to the context. Torch is never imported; the tokenizer is any object with ``encode``, ``decode`` and ``len``.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from . import chat_template

STOP_STRINGS = ("</search>", "</answer>")


class ZeroSearchTokenEnv(gym.Env):
    """ZeroSearch-v0 seen token by token.

    **Action space**: ``Discrete(vocab_size)``: the next token id of the policy's turn.

    **Observation space**: ``Dict(ids=Box(0, vocab_size - 1, (context_len,), int64), mask=MultiBinary(context_len))``:
    the last ``context_len`` tokens of the episode (prompt, the policy's own tokens, observation tokens),
    left-padded with ``pad_id``; ``mask`` is 1 on real tokens.

    **Rewards**: 0 on every token except the last one of a turn, which gets the text env's reward for that turn
    (F1 when the turn answered).

    **Episode end**: when the text env's episode ends (answer, or turns used up).

    **Info**: ``turn_end`` (bool) on every step; on the last token of a turn, also the text env's step info
    (``action``, ``query``, ``f1`` …), ``turn_tokens`` and ``turn_stop`` ("stop_string", "eos" or "token_cap").

    Args:
        env: a ZeroSearch text env (``gym.make("ZeroSearch-v0", ...)``) or a dict of its keyword arguments.
        tokenizer: a Hugging Face tokenizer (or a path to load one with ``AutoTokenizer``).
        context_len: tokens in the observation window.
        max_turn_tokens: a turn ends after this many tokens even without a stop string.
        chat_template: wrap the prompt in the tokenizer's chat template (when it has one).
        seed: the seed of the first ``reset`` when ``reset`` gets none (distinct per RLlib worker).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(self, env: "gym.Env | dict | None" = None, tokenizer: Any = None, context_len: int = 256,
                 max_turn_tokens: int = 64, chat_template: bool = True, seed: int | None = None,
                 render_mode: str | None = None):
        if tokenizer is None:
            raise ValueError("expected a tokenizer (an object with encode/decode, or a path), got None")
        if isinstance(tokenizer, str):
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(tokenizer)
        for name, value in (("context_len", context_len), ("max_turn_tokens", max_turn_tokens)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"expected {name} to be an int >= 1, got {value!r}")
        if env is None or isinstance(env, dict):
            env = gym.make("ZeroSearch-v0", **(env or {}), render_mode=render_mode)
        self.env, self.tokenizer, self.render_mode = env, tokenizer, render_mode
        self.context_len, self.max_turn_tokens = context_len, max_turn_tokens
        self.chat_template = chat_template and bool(getattr(tokenizer, "chat_template", None))
        self.vocab_size = len(tokenizer)
        self.eos_id = getattr(tokenizer, "eos_token_id", None)
        pad = getattr(tokenizer, "pad_token_id", None)
        self.pad_id = int(pad if pad is not None else (self.eos_id or 0))
        text_env = env.unwrapped
        self._format = getattr(text_env, "format", None) if getattr(text_env, "action_format", "tags") != "tags" else None
        self._stops = self._format.stop_strings if self._format is not None else STOP_STRINGS
        self._stop_window = check_stop_strings(tokenizer, self._stops)
        self._frames: dict = {}  # the chat template's reply frames (action_format="tool_call")
        self.action_space = spaces.Discrete(self.vocab_size)
        self.observation_space = spaces.Dict({
            "ids": spaces.Box(0, self.vocab_size - 1, (context_len,), np.int64),
            "mask": spaces.MultiBinary(context_len),
        })
        self._first_seed = seed
        self._closing: dict[int, bool] = {}
        self._buf = np.full(2 * context_len, self.pad_id, dtype=np.int64)  # the context; the window is its tail
        self._n = 0
        self._prompt_cache: dict[str, list[int]] = {}
        self._turn: list[int] = []
        self._done = True

    # -- curriculum: reached by RLlib callbacks through VectorEnv.call -----------------------------------------
    def set_curriculum_step(self, step: int, total_steps: int | None = None) -> None:
        """Forward to the text env (next reset on)."""
        self.env.unwrapped.set_curriculum_step(step, total_steps)

    # -- gymnasium API ----------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is None and self._first_seed is not None:
            seed, self._first_seed = self._first_seed, None
        super().reset(seed=seed)
        prompt, info = self.env.reset(seed=seed, options=options)
        self._n = 0
        self._append(self._prompt_ids(prompt))
        self._turn, self._done = [], False
        return self._obs(), dict(info, turn_end=False)

    def step(self, action):
        if self._done:
            raise RuntimeError("the episode has ended (or reset() was never called); call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"expected a token id in [0, {self.vocab_size}), got {action!r}")
        token = int(action)
        self._turn.append(token)
        self._append((token,))
        stop = self._turn_stop(token)
        if stop is None:
            return self._obs(), 0.0, False, False, {"turn_end": False}
        text = self.tokenizer.decode(self._turn, skip_special_tokens=True)
        obs_text, reward, terminated, truncated, info = self.env.step(text)
        info = dict(info, turn_end=True, turn_tokens=len(self._turn), turn_stop=stop)
        if obs_text:
            ids = self.tokenizer.encode(obs_text, add_special_tokens=False)
            if self._format is not None:  # the reply as the chat template's tool (documents) or user message
                role = self._format.observation_role if info.get("action") == "search" else "user"
                ids = chat_template.reply_ids(self.tokenizer, ids, role, stop == "eos", self._frames)
            self._append(ids)
        self._turn, self._done = [], bool(terminated or truncated)
        return self._obs(), float(reward), bool(terminated), bool(truncated), info

    def render(self) -> str | None:
        return self.env.render() if self.render_mode == "ansi" else None

    def close(self) -> None:
        self.env.close()

    # -- helpers ----------------------------------------------------------------------------------------------
    def _prompt_ids(self, prompt: str) -> list[int]:
        ids = self._prompt_cache.get(prompt)
        if ids is None:
            if len(self._prompt_cache) >= 4096:
                self._prompt_cache.clear()
            ids = self._prompt_cache[prompt] = self._tokenize_prompt(prompt)
        return ids

    def _tokenize_prompt(self, prompt: str) -> list[int]:
        if self._format is not None:
            return chat_template.prompt_ids(self.tokenizer, prompt, self._format.tools)
        if self.chat_template:
            ids = self.tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                                     add_generation_prompt=True, tokenize=True)
            return list(ids["input_ids"] if hasattr(ids, "keys") else ids)
        return list(self.tokenizer.encode(prompt, add_special_tokens=False))

    def _turn_stop(self, token: int) -> str | None:
        if token == self.eos_id:
            return "eos"
        if self._closes(token):  # decode the tail only when this token can complete a stop string
            tail = self.tokenizer.decode(self._turn[-self._stop_window:], skip_special_tokens=True)
            if any(s in tail for s in self._stops):
                return "stop_string"
        return "token_cap" if len(self._turn) >= self.max_turn_tokens else None

    def _closes(self, token: int) -> bool:
        """Whether the token's text holds a stop string's last character (cached per token id)."""
        closes = self._closing.get(token)
        if closes is None:
            closes = self._closing[token] = any(s[-1] in self.tokenizer.decode([token]) for s in self._stops)
        return closes

    def _append(self, ids) -> None:
        """Append tokens to the context buffer, keeping at least the last ``context_len`` of them."""
        size, window = len(self._buf), self.context_len
        if len(ids) >= window:
            ids = ids[-window:]
        if self._n + len(ids) > size:  # move the newest ``window - len(ids)`` tokens to the front
            keep = window - len(ids)
            self._buf[:keep] = self._buf[self._n - keep:self._n]
            self._n = keep
        self._buf[self._n:self._n + len(ids)] = ids
        self._n += len(ids)

    def _obs(self) -> dict:
        k = min(self._n, self.context_len)
        ids = np.full(self.context_len, self.pad_id, dtype=np.int64)
        mask = np.zeros(self.context_len, dtype=np.int8)
        if k:
            ids[-k:] = self._buf[self._n - k:self._n]
            mask[-k:] = 1
        return {"ids": ids, "mask": mask}

def check_stop_strings(tokenizer: Any, stops: tuple[str, ...] = STOP_STRINGS) -> int:
    """Check that ``tokenizer`` can write each stop string; return the token window that can hold one.

    A tokenizer that cannot (unknown characters, lossy decoding) would never end a turn with an action.
    """
    window = 1
    for stop in stops:
        ids = tokenizer.encode(stop, add_special_tokens=False)
        back = tokenizer.decode(ids, skip_special_tokens=True)
        if stop not in back:
            raise ValueError(f"expected the tokenizer to encode the stop string {stop!r} losslessly, got {back!r} "
                             f"from ids {list(ids)}; a policy with this tokenizer could never end a turn")
        window = max(window, len(stop) + 1)  # a stop string spans at most len(stop) tokens, plus one boundary
    return window


def make_token_env(tokenizer: Any = "smollm2", context_len: int = 256, max_turn_tokens: int = 64,
                   chat_template: bool = True, seed: int | None = None, render_mode: str | None = None,
                   **env_kwargs: Any) -> ZeroSearchTokenEnv:
    """The entry point of ``ZeroSearchToken-v0``: the token view over a ZeroSearchEnv built from ``env_kwargs``.

    ``tokenizer``: ``"smollm2"`` (the offline SmolLM2 tokenizer), a tokenizer folder, or a tokenizer object.
    Unknown keyword arguments are a ``ValueError`` naming the known ones (RLlib passes ``env_config`` here).
    """
    import inspect

    from ..env import ZeroSearchEnv

    known = set(inspect.signature(ZeroSearchEnv.__init__).parameters) - {"self", "render_mode"}
    unknown = sorted(set(env_kwargs) - known)
    if unknown:
        token_args = ["tokenizer", "context_len", "max_turn_tokens", "chat_template", "seed"]
        raise ValueError(f"unknown ZeroSearchToken-v0 options {unknown}; expected some of "
                         f"{sorted(known | set(token_args))}")
    if tokenizer == "smollm2":
        from ..llm.models import smollm2_tokenizer

        tokenizer = smollm2_tokenizer()
    text_env = ZeroSearchEnv(render_mode=render_mode, **env_kwargs)
    return ZeroSearchTokenEnv(text_env, tokenizer, context_len=context_len, max_turn_tokens=max_turn_tokens,
                              chat_template=chat_template, seed=seed, render_mode=render_mode)
