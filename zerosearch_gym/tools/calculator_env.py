"""CalculatorEnv (``ZeroSearchCalculator-v0``): the ZeroSearch recipe with a calculator instead of a search engine."""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from .. import protocol
from ..curriculum import check_probability
from ..data import QAExample, load_qa_dataset
from ..results import BackendError
from ..reward import exact_match
from ..tool_env import ToolEnv
from ..turn import PendingTurn
from .calculator import CALCULATOR, arithmetic_problems, evaluate_arithmetic, parse_number
from .core import ToolCall, real_executor

PROMPT = (
    "Solve the given math word problem. You must conduct reasoning inside <think> and </think> first every time "
    "you get new information. You can call a calculator by <calculate> expression </calculate> and it will return "
    "the result between <result> and </result>. When you know the answer, provide it inside <answer> and "
    "</answer>, as a number only. For example, <answer> 42 </answer>. Question: {question}\n"
)
INVALID_MESSAGE = (
    "\nMy previous action is invalid. If I want to calculate, I should put the expression between <calculate> and "
    "</calculate>. If I want to give the final answer, I should put the answer between <answer> and </answer>. "
    "Let me try again.\n"
)
Executor = Callable[[Sequence[ToolCall]], list]


def numeric_match(prediction: str, golds: Sequence[str], rel_tol: float = 1e-6) -> float:
    """1.0 when ``prediction`` states a number within ``rel_tol`` of a gold number (or, for a non-numeric gold,
    matches it exactly after SQuAD normalization), else 0.0.

    >>> numeric_match("1,200.0", ["1200"]), numeric_match("$12", ["12"]), numeric_match("13", ["12"])
    (1.0, 1.0, 0.0)
    """
    value = parse_number(prediction)
    for gold in golds:
        target = parse_number(gold)
        if target is None:
            if exact_match(prediction, [gold]):
                return 1.0
        elif value is not None and abs(value - target) <= rel_tol * max(abs(target), 1):
            return 1.0
    return 0.0


def result_observation(result: Any) -> tuple[str, str]:
    """The observation for one calculator result and the error it carries ("" when none).

    >>> result_observation("42")
    ('\\n\\n<result>42</result>\\n\\n', '')
    >>> result_observation(BackendError("division by zero"))[0]
    '\\n\\n<result>error: division by zero</result>\\n\\n'
    """
    if isinstance(result, BackendError) or not isinstance(result, str):
        error = str(result) if isinstance(result, BackendError) else f"expected a result string, got {result!r}"
        return f"\n\n<result>error: {error}</result>\n\n", error
    return f"\n\n<result>{result}</result>\n\n", ""


class CalculatorEnv(ToolEnv):
    """Solve an arithmetic word problem, calling a calculator as often as needed: the simulator pattern beyond search.

    Each episode is one word problem. ``reset`` returns the policy prompt holding it. Each ``step`` takes one
    policy turn, ``<think>…</think>`` then ``<calculate>expression</calculate>`` or ``<answer>number</answer>``,
    and returns the text the environment appends.

    **Action space**: :class:`UnicodeText` of up to ``max_action_chars`` characters. The first
    ``<calculate>…</calculate>`` or ``<answer>…</answer>`` of a turn counts.

    **Observation space**: :class:`UnicodeText`. After ``reset``: the prompt. After a calculation:
    ``"\\n\\n<result>42</result>\\n\\n"`` (``<result>error: …</result>`` when the calculator, real or simulated,
    gave no number). After an invalid turn: a corrective message. After the answer: ``""``.

    **Rewards**: 0 until the answer; then 1.0 when the answer's number is within ``rel_tol`` of the gold number
    (:func:`numeric_match`), else 0.0. A truncated episode earns 0.

    **Calculator**: ``backend=None`` is the real one (:func:`evaluate_arithmetic`: exact, no ``eval``), for
    evaluation; a simulator backend (a spec such as ``"openai:http://127.0.0.1:8000/v1"`` or ``"hf:PATH"``, or a
    backend object with ``complete``) runs :data:`CALCULATOR`, a :class:`SimulatedTool`: with probability
    ``noise_probability`` a call asks for a plausible wrong result (noisy), else for the exact one (useful). Any
    ``executor(calls) -> results`` can be passed instead.

    **Episode end**: terminated on an answer; truncated when turn ``max_turns + 1`` is not an answer.

    **Info**: ``question_id``, ``noise_probability`` (reset and step); per step ``action`` ("calculate" / "answer"
    / "invalid"), ``expression``, ``noisy``, ``calls``, ``turn``, ``correct``, ``tool_error`` ("" when none),
    ``invalid_reason``, ``tool_latency_s``. The gold answer is in info (``golden_answers``) only with ``debug=True``.

    Args:
        backend: ``None`` (the real calculator), a simulator spec string or backend object.
        dataset: ``None`` (:func:`arithmetic_problems` with ``num_problems`` and ``seed``) or a list of
            :class:`QAExample` / dicts with ``question`` and ``golden_answers``.
        executor: ``calls -> results`` replacing ``backend`` (see :mod:`zerosearch_gym.tools.core`).
        noise_probability: the probability that a calculator call is noisy (simulators only).
        max_turns: calculator turns before the final answer turn.
        rel_tol: relative tolerance of the numeric reward.
        num_problems, seed: the built-in dataset's size and seed.
        max_action_chars: the length limit of a turn.
        debug: put the gold answers into info.

    Example::

        >>> import gymnasium as gym, zerosearch_gym
        >>> env = gym.make("ZeroSearchCalculator-v0")
        >>> prompt, info = env.reset(seed=0, options={"example": 0})
        >>> env.unwrapped.example.golden_answers
        ('135',)
        >>> env.step("<think>2 tickets and a snack</think><calculate> 65 * 2 + 5 </calculate>")[0]
        '\\n\\n<result>135</result>\\n\\n'
        >>> env.step("<answer>135</answer>")[1:3]
        (1.0, True)
    """

    metadata = {"render_modes": []}
    tool = "calculate"
    invalid_message = INVALID_MESSAGE

    def __init__(self, backend: Any = None, dataset: Sequence | None = None, executor: Executor | None = None,
                 noise_probability: float = 0.0, max_turns: int = 4, rel_tol: float = 1e-6, num_problems: int = 200,
                 seed: int = 0, max_action_chars: int = 2000, debug: bool = False):
        super().__init__(max_turns, max_action_chars, 20_000, debug)
        if executor is not None and backend is not None:
            raise ValueError("expected a backend or an executor, got both")
        if executor is None:
            executor = (real_executor(evaluate_arithmetic, "calculator") if backend is None
                        else CALCULATOR.executor(backend))
        self.executor = executor
        self.examples = load_qa_dataset(arithmetic_problems(num_problems, seed) if dataset is None else dataset)
        self.noise_probability = check_probability(noise_probability)
        self.rel_tol = rel_tol

    # -- what the calculator adds to the tool-env state machine (zerosearch_gym.tool_env) ----------------------
    def _prompt(self, example: QAExample) -> str:
        return PROMPT.format(question=protocol.normalize_question(example.question))

    def _default_noise(self) -> float:
        return self.noise_probability

    def _request(self, content: str, noisy: bool, seed: int) -> ToolCall:
        return ToolCall(content, not noisy, {"question": self._example.question}, seed)

    def _call(self, call: ToolCall) -> Any:
        try:
            results = self.executor([call])
        except Exception as exc:  # noqa: BLE001  an executor bug must not escape step as a traceback
            return BackendError(f"calculator executor raised {type(exc).__name__}: {exc}")
        if not isinstance(results, (list, tuple)) or len(results) != 1:
            return BackendError(f"expected 1 result from the calculator executor, got {results!r:.80}")
        return results[0]

    def _observe(self, result: Any, start: float) -> tuple[str, tuple[str, float]]:
        obs, error = result_observation(result)
        return obs, (error, time.perf_counter() - start)

    def _score(self, answer: str) -> tuple[float, None]:
        return numeric_match(answer, self._example.golden_answers, self.rel_tol), None

    def _begin_info(self, parsed: protocol.Action, request: ToolCall | None, noisy: bool, cut_action: bool) -> dict:
        return {"expression": parsed.content if parsed.kind == self.tool else "", "noisy": noisy}

    def _reset_info(self) -> dict:
        info = {"question_id": self._example.id, "noise_probability": self._p}
        if self.debug:
            info["golden_answers"] = list(self._example.golden_answers)
        return info

    def _finish_info(self, pending: PendingTurn, reward: float, scores: None, call: tuple[str, float] | None) -> dict:
        error, latency = call or ("", 0.0)
        return {**self._reset_info(), "action": pending.action.kind, **pending.info, "calls": self._calls,
                "turn": self._turn, "correct": reward == 1.0, "tool_error": error,
                "invalid_reason": pending.action.reason, "tool_latency_s": latency}
