"""Beyond search: the simulator pattern for any tool, and a second environment that uses it.

- :class:`SimulatedTool` — prompt templates with a useful/noisy switch, a parser, run in batches on the
  simulator backends (``hf:``, ``openai:``, ``vllm:``, ``self:``). Search documents are one instance
  (:func:`zerosearch_gym.backends.simulator_prompts.search_tool`).
- :func:`real_executor` — the real tool for evaluation (train against the simulator, test against the real thing).
- :data:`CALCULATOR`, :func:`evaluate_arithmetic`, :func:`arithmetic_problems` — a simulated calculator, a safe
  real one, and a seeded word-problem generator, used by ``ZeroSearchCalculator-v0``
  (:class:`zerosearch_gym.tools.calculator_env.CalculatorEnv`).
"""
from ..results import Completion, ToolOutputError
from .calculator import CALCULATOR, arithmetic_problems, evaluate_arithmetic, format_number, parse_number
from .core import CompletionBackend, SimulatedTool, ToolCall, complete_batch, real_executor

__all__ = [
    "CALCULATOR",
    "Completion",
    "CompletionBackend",
    "SimulatedTool",
    "ToolCall",
    "ToolOutputError",
    "arithmetic_problems",
    "complete_batch",
    "evaluate_arithmetic",
    "format_number",
    "parse_number",
    "real_executor",
]
