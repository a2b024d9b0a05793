"""ToolEnv: the episode state machine that every tool environment shares (search, calculator, …).

One episode is one :class:`QAExample`. ``reset`` picks it and fixes the episode's noise probability ``p``; each
``step`` parses one policy turn and is either the answer (the episode terminates with the subclass's reward), a
tool call (one 64-bit draw of the env's generator gives the noisy coin and the call's seed), an invalid turn (the
subclass's corrective message) or, past ``max_turns``, the end (truncated). ``step`` is
``finish_step(begin_step(action), result)`` with the tool called in between (:mod:`zerosearch_gym.turn`), so a
batching layer can send the calls of many envs as one batch.

A subclass says only what differs: :attr:`tool` (the action tag), :attr:`invalid_message`, :attr:`reset_options`
and the hooks ``_prompt``, ``_default_noise``, ``_parse``, ``_request``, ``_call``, ``_observe``, ``_score``,
``_begin_info``, ``_reset_info`` and ``_finish_info``. It does not import :mod:`zerosearch_gym.env`.
"""
import time
from typing import Any, Sequence

import gymnasium as gym
import numpy as np

from . import protocol
from .curriculum import check_probability
from .data import QAExample
from .spaces import UnicodeText
from .turn import PendingTurn

_NO_OPTIONS: dict = {}  # reset's options when none are given (never written to)


class ToolEnv(gym.Env):
    """The shared state machine of :class:`~zerosearch_gym.ZeroSearchEnv` and
    :class:`~zerosearch_gym.CalculatorEnv`: one question, tool calls with a noisy coin, then the answer.

    Args:
        max_turns: tool turns before the final answer turn (an int >= 0).
        max_action_chars: the length limit of a turn (longer turns are cut with a marker).
        max_obs_chars: the observation space's length limit.
        debug: put the gold answers into info.

    Subclasses set ``self.examples`` (a non-empty list of :class:`QAExample`) in their constructor.
    """

    tool: str  # the action tag: <tool>…</tool>
    invalid_message: str  # the observation after an invalid turn
    reset_options: tuple[str, ...] = ("example", "noise_probability")  # the keys reset(options=...) accepts
    examples: list[QAExample]

    def __init__(self, max_turns: int, max_action_chars: int, max_obs_chars: int, debug: bool):
        if not isinstance(max_turns, int) or max_turns < 0:
            raise ValueError(f"expected max_turns to be an int >= 0, got {max_turns!r}")
        self.max_turns, self.max_action_chars, self.debug = max_turns, max_action_chars, debug
        self.action_space = UnicodeText(max_action_chars)
        self.observation_space = UnicodeText(max_obs_chars)
        self._example: QAExample | None = None
        self._done = True

    # -- gymnasium API ----------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        return self._start(seed, options), self._reset_info()

    def _start(self, seed: int | None, options: dict | None) -> str:
        """``reset`` without its info (the vector env reads the info as a row): the new episode's prompt."""
        super().reset(seed=seed)
        if options:
            unknown = options.keys() - self.reset_options
            if unknown:
                raise ValueError(f"unknown reset options {sorted(unknown)}; expected {', '.join(self.reset_options)}")
        else:
            options = _NO_OPTIONS
        self._example = pick_example(self.examples, options.get("example"), self.np_random)
        self._p = self._noise_probability(options)
        self._turn, self._calls, self._invalid_turns, self._done = 0, 0, 0, False
        prompt = self._prompt(self._example)
        self._transcript = [prompt] if self.render_mode == "ansi" else []
        return prompt

    def step(self, action: str):
        pending = self.begin_step(action)
        result = self._call(pending.request) if pending.request is not None else None
        return self.finish_step(pending, result)

    # -- the two halves of a step: the batched-step protocol (see zerosearch_gym.turn) ------------------------
    def begin_step(self, action: str) -> PendingTurn:
        """Parse one turn and say which tool call it needs (``pending.request``, ``None`` when none).

        Changes nothing but the env's random generator (the noisy draw and the request's seed); the episode
        moves on in :meth:`finish_step`. ``step(action)`` is ``finish_step(begin_step(action), result)``.
        """
        parsed, request, noisy, cut_action, turn = self._begin(action)
        return PendingTurn(parsed, request, self._begin_info(parsed, request, noisy, cut_action), time.perf_counter(),
                           turn)

    def finish_step(self, pending: PendingTurn, result: Any = None):
        """Finish the turn ``pending`` with its tool ``result`` (a result or a :class:`BackendError`; ``None``
        when ``pending.request`` is ``None``); returns ``step``'s ``(obs, reward, terminated, truncated, info)``."""
        if self._done or pending.turn != self._turn + 1:
            raise RuntimeError(f"expected the pending turn {self._turn + 1} of this episode from begin_step(), "
                               f"got turn {pending.turn}" + (" of an ended episode" if self._done else ""))
        obs, reward, terminated, truncated, scores, call = self._advance(pending.action, pending.turn, result,
                                                                         pending.start)
        return obs, reward, terminated, truncated, self._finish_info(pending, reward, scores, call)

    # -- the state machine itself, as plain tuples (the vector env steps many envs with these, no per-env objects)
    def _begin(self, action: str) -> tuple:
        """``begin_step`` as a tuple ``(parsed, request, noisy, cut_action, turn)``."""
        if self._done:
            raise RuntimeError("call reset() before step()" if self._example is None
                               else "the episode has ended; call reset() before step()")
        cut_action = False
        if isinstance(action, str) and len(action) > self.max_action_chars:
            action, cut_action = protocol.cut(action, self.max_action_chars)
        parsed = self._parse(action)
        turn, request, noisy = self._turn + 1, None, False
        if parsed.kind == self.tool and turn <= self.max_turns:
            # one 64-bit draw: the noisy coin and the seed (_start made the generator: no property call here)
            bits = self._np_random.bit_generator.random_raw()
            noisy = (bits >> 32) * 2.0**-32 < self._p
            request = self._request(parsed.content, noisy, bits & 0x7FFFFFFF)
        if self.render_mode == "ansi":
            self._transcript.append(action if isinstance(action, str) else repr(action))
        return parsed, request, noisy, cut_action, turn

    def _advance(self, parsed: protocol.Action, turn: int, result: Any, start: float) -> tuple:
        """``finish_step`` without its info: ``(obs, reward, terminated, truncated, scores, call)``, the last two
        for the info (``scores`` is ``None`` unless the turn answered, ``call`` unless it called the tool)."""
        self._turn = turn
        kind = parsed.kind
        obs, reward, terminated, truncated, scores, call = "", 0.0, False, False, None, None
        if kind == "answer":
            terminated = True
            reward, scores = self._score(parsed.content)
        elif turn > self.max_turns:
            truncated = True
        elif kind == self.tool:
            self._calls += 1
            obs, call = self._observe(result, start)
        else:
            self._invalid_turns += 1
            obs = self.invalid_message
        self._done = terminated or truncated
        if self.render_mode == "ansi":
            self._transcript.append(obs)
        return obs, float(reward), terminated, truncated, scores, call

    @property
    def example(self) -> QAExample | None:
        """The question (or problem) of the current episode."""
        return self._example

    # -- what a tool env says for itself ----------------------------------------------------------------------
    def _prompt(self, example: QAExample) -> str:
        """The policy prompt holding ``example``'s question."""
        raise NotImplementedError

    def _noise_probability(self, options: dict) -> float:
        """The episode's ``p``: ``options["noise_probability"]`` when given, else :meth:`_default_noise`."""
        p = options.get("noise_probability")
        return self._default_noise() if p is None else check_probability(p)

    def _default_noise(self) -> float:
        """``p`` when reset is not given one (the schedule's value, a constructor argument, …)."""
        raise NotImplementedError

    def _parse(self, action: str) -> protocol.Action:
        """The parsed turn: the first ``<tool>…</tool>`` or ``<answer>…</answer>`` wins."""
        return protocol.parse_tool_action(action, self.tool)

    def _request(self, content: str, noisy: bool, seed: int) -> Any:
        """The call to send for a tool turn with ``content`` (the query, the expression, …)."""
        raise NotImplementedError

    def _call(self, request: Any) -> Any:
        """Send one request (what ``step`` does between the halves); never raises."""
        raise NotImplementedError

    def _observe(self, result: Any, start: float) -> tuple[str, Any]:
        """``(observation, call details for _finish_info)`` of one tool result; ``start`` is when the turn was
        parsed (``time.perf_counter()``, for the call's latency)."""
        raise NotImplementedError

    def _score(self, answer: str) -> tuple[float, Any]:
        """``(reward, scores for _finish_info)`` of the final answer."""
        raise NotImplementedError

    def _begin_info(self, parsed: protocol.Action, request: Any, noisy: bool, cut_action: bool) -> dict:
        """The step's info known before the call (``pending.info``)."""
        raise NotImplementedError

    def _reset_info(self) -> dict:
        """The info of ``reset`` (the episode's ids and ``noise_probability``)."""
        raise NotImplementedError

    def _finish_info(self, pending: PendingTurn, reward: float, scores: Any, call: Any) -> dict:
        """The step's info; ``scores`` is ``None`` unless the turn answered, ``call`` unless it called the tool."""
        raise NotImplementedError


def pick_example(examples: Sequence[QAExample], choice: Any, np_random: np.random.Generator) -> QAExample:
    """The episode's example from ``options["example"]``: None draws one with ``np_random``, an int indexes
    ``examples``, a :class:`QAExample` is used as given; anything else is a ValueError."""
    if choice is None:
        return examples[np_random.bit_generator.random_raw() % len(examples)]
    if isinstance(choice, QAExample):
        return choice
    if isinstance(choice, (int, np.integer)) and 0 <= choice < len(examples):
        return examples[int(choice)]
    raise ValueError(f"expected options['example'] to be a QAExample or an index in [0, {len(examples)}), "
                     f"got {choice!r}")
