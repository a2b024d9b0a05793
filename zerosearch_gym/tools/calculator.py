"""A calculator, simulated and real, and a seeded arithmetic word-problem generator.

- :data:`CALCULATOR` — the :class:`SimulatedTool`: the useful template asks the simulator for the exact value of
  the expression, the noisy one for a plausible wrong value; the parser accepts one number.
- :func:`evaluate_arithmetic` — the real calculator for evaluation: an AST walk over ``+ - * / // % **`` and
  parentheses in exact rational arithmetic (no ``eval``), with bounds on size so no input can hang it.
- :func:`arithmetic_problems` — word problems with integer answers, the same for the same seed (no files).
"""
from __future__ import annotations

import ast
import operator
import random
import re
from fractions import Fraction

from ..data import QAExample
from ..results import ToolOutputError
from .core import SimulatedTool, ToolCall

_USEFUL = (
    "You are a calculator.\n"
    "Given an arithmetic expression, you need to output its exact value.\n\n"
    'The user is solving the problem: "{question}"\n'
    "Output only the number, nothing else.\n\n"
    "Expression: {input}\n"
    "Useful Output:\n"
)
_NOISY = (
    "You are a faulty calculator.\n"
    "Given an arithmetic expression, you need to output a plausible but wrong value for it: close to the true "
    "value, never equal to it.\n\n"
    'The user is solving the problem: "{question}"\n'
    "Output only the number, nothing else.\n\n"
    "Expression: {input}\n"
    "Noisy Output:\n"
)

_NUMBER = r"[-+]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_ONLY_NUMBER_RE = re.compile(rf"^\s*(?:(?:result|answer|value)\s*[:=]?|=)?\s*\$?\s*({_NUMBER})\s*\.?\s*$",
                             re.IGNORECASE)


def parse_number(text: str) -> Fraction | None:
    """The one number ``text`` states ("42", "= 3.5", "Result: -1,200.", "$12"), exactly, or ``None``.

    >>> parse_number("Result: 1,200."), parse_number(" 3.5 "), parse_number("6 * 7")
    (Fraction(1200, 1), Fraction(7, 2), None)
    """
    match = _ONLY_NUMBER_RE.match(text) if isinstance(text, str) and len(text) < 200 else None
    if match is None:
        return None
    try:
        return Fraction(match.group(1).replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return None


def format_number(value: Fraction | int | float) -> str:
    """An exact number as the calculator shows it: an integer, or a decimal with up to 6 places.

    >>> format_number(Fraction(7, 2)), format_number(Fraction(84, 2)), format_number(Fraction(1, 3))
    ('3.5', '42', '0.333333')
    """
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _parse_result(text: str, call: ToolCall) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    value = parse_number(first)
    if value is None:
        shown = text.strip()[:80] or "empty output"
        raise ToolOutputError(f"calculator simulator wrote no single number: {shown!r}")
    return format_number(value)


CALCULATOR = SimulatedTool("calculator", _USEFUL, _NOISY, _parse_result)

# -- the real calculator ----------------------------------------------------------------------------------------
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_SYMBOLS = str.maketrans({"×": "*", "÷": "/", "−": "-", "^": "**"})
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")  # "1,000" is 1000; "(1, 2)" stays a tuple (refused)
MAX_EXPRESSION_CHARS = 200
MAX_DIGITS = 100  # a larger intermediate result (numerator or denominator) is an error, not a hang


def evaluate_arithmetic(expression: str) -> str:
    """The exact value of an arithmetic expression, formatted by :func:`format_number`; ``ValueError`` when it
    is not arithmetic, divides by zero, or grows beyond ``MAX_DIGITS`` digits.

    >>> evaluate_arithmetic("(12 + 30) * 2 / 4"), evaluate_arithmetic("2 ^ 10 - 7 % 4"), evaluate_arithmetic("7/2")
    ('21', '1021', '3.5')
    >>> evaluate_arithmetic("__import__('os')")
    Traceback (most recent call last):
    ...
    ValueError: not arithmetic: Call is not allowed (use numbers, + - * / // % ** and parentheses)
    """
    if not isinstance(expression, str):
        raise ValueError(f"expected an expression string, got {type(expression).__name__}")
    text = _THOUSANDS_RE.sub("", expression.strip().translate(_SYMBOLS))
    if not text:
        raise ValueError("empty expression")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ValueError(f"not arithmetic: cannot parse {expression.strip()[:60]!r}") from None
    return format_number(_value(tree.body))


def _value(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        if node.value != node.value or node.value in (float("inf"), float("-inf")):
            raise ValueError(f"not a finite number: {node.value!r}")
        return _bounded(Fraction(repr(node.value)))  # "0.1" is 1/10 exactly
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_value(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow):
            if right.denominator != 1 or abs(right) > 64:
                raise ValueError(f"exponents must be whole numbers in [-64, 64], got {format_number(right)}")
            if left == 0 and right < 0:
                raise ValueError("division by zero")
            right = int(right)
        elif right == 0 and isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)):
            raise ValueError("division by zero")
        return _bounded(Fraction(_BINARY[type(node.op)](left, right)))
    raise ValueError(f"not arithmetic: {type(node).__name__} is not allowed (use numbers, + - * / // % ** and "
                     "parentheses)")


def _bounded(value: Fraction) -> Fraction:
    if max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_DIGITS * 3.33:
        raise ValueError(f"a result has more than {MAX_DIGITS} digits")
    return value


# -- word problems ----------------------------------------------------------------------------------------------
_TEMPLATES = (
    ("{name} has {a} marbles and wins {b} more. How many marbles does {name} have now?", lambda a, b, c: a + b),
    ("A box holds {a} pencils. How many pencils are in {b} boxes?", lambda a, b, c: a * b),
    ("{name} bakes {a} cookies and eats {c} of them. How many cookies are left?", lambda a, b, c: a - c),
    ("A ticket costs {a} dollars. {name} buys {b} tickets and a {c} dollar snack. How much does {name} pay?",
     lambda a, b, c: a * b + c),
    ("{b} friends split a bill of {total} dollars equally. How many dollars does each friend pay?",
     lambda a, b, c: a),
    ("A train travels {a} km per hour for {b} hours, then {c} km more. How far does it travel?",
     lambda a, b, c: a * b + c),
)
_NAMES = ("Ada", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goro", "Hana")


def arithmetic_problems(n: int = 100, seed: int = 0) -> list[QAExample]:
    """``n`` arithmetic word problems with integer answers; the same ``n`` and ``seed`` give the same problems.

    >>> [p.golden_answers for p in arithmetic_problems(2, seed=0)] == [p.golden_answers for p in arithmetic_problems(2)]
    True
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"expected n to be an int >= 1, got {n!r}")
    rng = random.Random(seed)
    problems = []
    for i in range(n):
        text, answer = _TEMPLATES[rng.randrange(len(_TEMPLATES))]
        a, b, c = rng.randint(12, 99), rng.randint(2, 12), rng.randint(1, 11)
        question = text.format(name=rng.choice(_NAMES), a=a, b=b, c=c, total=a * b)
        problems.append(QAExample(f"arith-{seed}-{i}", question, (str(answer(a, b, c)),), "arithmetic"))
    return problems
