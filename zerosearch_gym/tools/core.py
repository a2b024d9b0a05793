"""The simulator pattern for any tool: prompt templates with a useful/noisy switch, a parser, the same backends.

ZeroSearch replaces a search engine with an LLM prompted to write *useful* or *noisy* documents. Nothing in
that is specific to search: a :class:`SimulatedTool` is a pair of prompt templates (the quality switch) and a
parser of the simulator's text. Search documents are one instance of it
(:func:`zerosearch_gym.backends.simulator_prompts.search_tool`); a calculator is another
(:mod:`zerosearch_gym.tools.calculator`).

A tool runs on any simulator backend that has ``complete(conversations, seeds)`` — ``hf:``, ``openai:``,
``vllm:`` and ``self:`` all do (the layer their ``search`` is built on)::

    backend = make_backend("openai:http://127.0.0.1:8000/v1")
    results = CALCULATOR.run(backend, [ToolCall("6 * 7", useful=True, context={"question": "…"})])

``run`` never raises for one bad call: a prompt that cannot be built, an engine error, or output the parser
rejects becomes a :class:`BackendError` in that call's place, and its batch mates are unaffected.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, runtime_checkable

from ..results import BackendError, Completion, ToolOutputError


@dataclass(frozen=True)
class ToolCall:
    """One call of a tool by one episode.

    ``input`` is what the policy wrote (a query, an expression); ``context`` fills the template's other slots
    (the episode's question and answer, ``top_k``, …); ``useful`` picks the template; ``seed`` makes sampling
    backends reproducible.
    """

    input: str
    useful: bool = True
    context: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None


@runtime_checkable
class CompletionBackend(Protocol):
    """A backend that turns chat conversations into texts, one per conversation, in order (a failed one is a
    :class:`BackendError`)."""

    def complete(self, conversations: Sequence[list[dict]], seeds: Sequence[int | None]
                 ) -> list[Completion | BackendError]: ...


@dataclass(frozen=True)
class SimulatedTool:
    """A tool answered by a simulator LLM.

    Args:
        name: the tool's name (in error messages).
        useful: the prompt template for a correct result (``str.format`` slots: ``input`` and the call's
            ``context``).
        noisy: the template for a plausible but wrong or unhelpful result.
        parse: ``parse(text, call) -> result``; raises :class:`ToolOutputError` for text that is no valid output.
        system: the system message sent with the prompt (ZeroSearch sends an empty one).
        enough: ``enough(text, call) -> bool``, optional: the text already holds all that ``parse`` keeps
            (monotone in the text). A backend with ``stops_early = True`` (``hf``) then ends that row there.

    >>> echo = SimulatedTool("echo", "Say {input}.", "Say anything but {input}.", lambda text, call: text.strip())
    >>> echo.prompt(ToolCall("hi", useful=False))
    'Say anything but hi.'
    >>> echo.result(" hi ", ToolCall("hi"), "demo")
    'hi'
    >>> echo.result(None, ToolCall("hi"), "demo")
    BackendError(message='demo: expected simulator output text, got NoneType')
    """

    name: str
    useful: str
    noisy: str
    parse: Callable[[str, ToolCall], Any]
    system: str = ""
    enough: Callable[[str, ToolCall], bool] | None = None

    def prompt(self, call: ToolCall) -> str:
        """The user message for ``call``: its template (useful or noisy) filled with its input and context."""
        return (self.useful if call.useful else self.noisy).format(**{**call.context, "input": call.input})

    def messages(self, call: ToolCall) -> list[dict]:
        """Chat messages for the simulator: the system message and the prompt as the user message."""
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.prompt(call)}]

    def result(self, text: Any, call: ToolCall, source: str, detail: str = "") -> Any:
        """The parsed result of ``text``, or a :class:`BackendError` that says why there is none."""
        if not isinstance(text, str):
            return BackendError(f"{source}: expected simulator output text, got {type(text).__name__}{detail}")
        try:
            return self.parse(text, call)
        except ToolOutputError as exc:
            return BackendError(f"{source}: {exc}{detail}")
        except Exception as exc:  # noqa: BLE001  a parser bug must not escape env.step as a traceback
            return BackendError(f"{source}: the {self.name} parser raised {type(exc).__name__}: {exc}{detail}")

    def run(self, backend: CompletionBackend | str, calls: Sequence[ToolCall], *, catch: bool = True) -> list[Any]:
        """Results (or :class:`BackendError`) for ``calls``, in order, from one batch sent to ``backend`` (a
        simulator backend object or a spec string such as ``"openai:http://127.0.0.1:8000/v1"``).

        A call whose prompt cannot be built, or whose output the parser rejects, gets its own error. With
        ``catch=False`` an exception of ``backend.complete`` itself propagates (the search backends' ``search``
        leaves it to :func:`~zerosearch_gym.backends.search_batch`); by default it is every call's error.
        """
        calls = list(calls)
        if not calls:
            return []
        backend = _completion_backend(backend)
        results: list[Any] = [None] * len(calls)
        conversations, sent = [], []
        for i, call in enumerate(calls):
            try:
                conversations.append(self.messages(call))
                sent.append(i)
            except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
                results[i] = BackendError(f"{self.name} tool: could not build the simulator prompt: "
                                          f"{type(exc).__name__}: {exc}")
        seeds = [calls[i].seed for i in sent]
        extra = {}
        if self.enough is not None and getattr(backend, "stops_early", False):
            extra["done"] = [partial(_enough, self.enough, calls[i]) for i in sent]
        outputs = complete_batch(backend, conversations, seeds, **extra) if catch else (
            backend.complete(conversations, seeds, **extra) if conversations else [])
        if len(outputs) != len(conversations):
            raise ValueError(f"expected {len(conversations)} outputs from {type(backend).__name__}.complete, "
                             f"got {len(outputs)}")
        for i, out in zip(sent, outputs):
            results[i] = out if isinstance(out, BackendError) else self.result(out.text, calls[i], out.source,
                                                                                out.detail)
        return results

    def executor(self, backend: CompletionBackend | str) -> Callable[[Sequence[ToolCall]], list[Any]]:
        """``calls -> results`` on ``backend``: what a tool env takes (see :func:`real_executor` for the real tool)."""
        backend = _completion_backend(backend)
        return lambda calls: self.run(backend, calls)


def _enough(test: Callable[[str, ToolCall], bool], call: ToolCall, text: str) -> bool:
    return test(text, call)


def complete_batch(backend: CompletionBackend, conversations: Sequence[list[dict]],
                   seeds: Sequence[int | None], **extra) -> list[Completion | BackendError]:
    """``backend.complete`` that never raises: a crash or a wrong number of outputs is a :class:`BackendError`
    for every conversation of the batch. ``extra``: keyword arguments of that backend's ``complete``."""
    if not conversations:
        return []
    name = type(backend).__name__
    try:
        outputs = backend.complete(list(conversations), list(seeds), **extra)
    except Exception as exc:  # noqa: BLE001  an engine failure is every call's error, never a crash of the env
        return [BackendError(f"{name}.complete raised {type(exc).__name__}: {exc}")] * len(conversations)
    if not isinstance(outputs, (list, tuple)) or len(outputs) != len(conversations):
        got = len(outputs) if isinstance(outputs, (list, tuple)) else type(outputs).__name__
        return [BackendError(f"expected {len(conversations)} outputs from {name}.complete, got {got}")] * len(
            conversations)
    return list(outputs)


def real_executor(function: Callable[[str], Any], name: str = "tool") -> Callable[[Sequence[ToolCall]], list[Any]]:
    """``calls -> results`` running the real tool ``function(input)`` on each call (``useful`` is ignored: a
    real tool is never noisy). An exception becomes that call's :class:`BackendError`.

    >>> run = real_executor(int, "int")
    >>> run([ToolCall("7"), ToolCall("x")])
    [7, BackendError(message="int: invalid literal for int() with base 10: 'x'")]
    """
    def execute(calls: Sequence[ToolCall]) -> list[Any]:
        results = []
        for call in calls:
            try:
                results.append(function(call.input))
            except Exception as exc:  # noqa: BLE001  one bad call must not spoil the batch
                results.append(BackendError(f"{name}: {exc}"))
        return results

    return execute


def _completion_backend(backend: CompletionBackend | str) -> CompletionBackend:
    if isinstance(backend, str):
        from ..backends.registry import make_backend

        backend = make_backend(backend)
    if not callable(getattr(backend, "complete", None)):
        raise TypeError(f"expected a simulator backend with .complete(conversations, seeds) (hf, openai, vllm, "
                        f"self) or its spec string, got {type(backend).__name__}")
    return backend
