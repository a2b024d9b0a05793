"""ZeroSearchChatEnv: ZeroSearch-v0 seen as a chat, for trainers that feed messages to a chat template."""
from __future__ import annotations

import gymnasium as gym
from gymnasium import spaces

from ..spaces import UnicodeText

ROLES = ("user", "assistant", "tool")


class ZeroSearchChatEnv(gym.Wrapper):
    """The text env with the whole conversation as the observation.

    **Observation**: a tuple of messages ``{"role": ..., "content": ...}``: the prompt as a ``user`` message,
    then each policy turn as an ``assistant`` message and each environment reply (documents, corrective
    message) as an ``obs_role`` message (``"user"``, the default, or ``"tool"``).
    **Action**: one assistant turn (text), as in the text env. Rewards, episode end and info are the text env's.

    Example::

        >>> import gymnasium as gym, zerosearch_gym
        >>> from zerosearch_gym import QAExample
        >>> from zerosearch_gym.wrappers import ZeroSearchChatEnv
        >>> class Echo:
        ...     def search(self, requests):
        ...         return [["Paris is in France."] * r.top_k for r in requests]
        >>> env = ZeroSearchChatEnv(gym.make("ZeroSearch-v0", backend=Echo(),
        ...                                  dataset=[QAExample("q", "Capital of France", ("Paris",))]))
        >>> messages, info = env.reset(seed=0)
        >>> messages, reward, *_ = env.step("<search>France</search>")
        >>> [m["role"] for m in messages]
        ['user', 'assistant', 'user']
    """

    def __init__(self, env: gym.Env, obs_role: str = "user"):
        super().__init__(env)
        if obs_role not in ("user", "tool"):
            raise ValueError(f"expected obs_role 'user' or 'tool', got {obs_role!r}")
        self.obs_role = obs_role
        content = env.observation_space if isinstance(env.observation_space, UnicodeText) else UnicodeText(20_000)
        message = spaces.Dict({"role": spaces.Text(16, charset="abcdefghijklmnopqrstuvwxyz"), "content": content})
        self.observation_space = spaces.Sequence(message, stack=False)
        self._messages: list[dict] = []

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        prompt, info = self.env.reset(seed=seed, options=options)
        self._messages = [{"role": "user", "content": prompt}]
        return tuple(self._messages), info

    def step(self, action: str):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._messages.append({"role": "assistant", "content": action if isinstance(action, str) else repr(action)})
        if obs:
            self._messages.append({"role": self.obs_role, "content": obs})
        return tuple(self._messages), reward, terminated, truncated, info

    @property
    def messages(self) -> list[dict]:
        """The conversation so far (a copy)."""
        return [dict(m) for m in self._messages]
