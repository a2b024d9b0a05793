"""Backend spec strings: one grammar, one registry of kinds with typed options, lazy factories.

A spec is ``kind[:argument][?name=value&…]``: ``bm25``, ``bm25:/data/corpus.jsonl``,
``hf:?max_new_tokens=64`` (also written ``hf?max_new_tokens=64``), ``openai:http://a:8000/v1,http://b:8000/v1
?model=sim&timeout=10``. :func:`parse_spec` splits it once; each option value is converted with the type its
kind declares, so a bad value or name is a clear ``ValueError`` before anything heavy is imported.

Registering a kind (as Gymnasium registers environments: the factory is named by a ``"module:attribute"``
string and imported only when a spec of that kind is built, so registering has no import side effects)::

    register_backend("mine", "my_package.search:make_mine", options={"top_n": int, "fast": bool},
                     argument="index folder", doc="my engine")
    make_backend("mine:/index?top_n=3")   # calls make_mine("/index", top_n=3)

The factory gets the argument text ("" when none) and the options given, converted (``int``, ``float``,
``str`` or ``bool``: true/false/1/0/yes/no). To add an option to a built-in kind, add it to that kind's
``options`` table below and a keyword argument of the same name to its factory.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Union
from urllib.parse import unquote_plus

EntryPoint = Union[str, Callable[..., Any]]
_BOOLS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


@dataclass(frozen=True)
class BackendKind:
    """One registered kind: its factory (a ``"module:attribute"`` string or a callable), the option table
    (name → ``int``/``float``/``str``/``bool``), what the argument after the colon means, and a one-line doc."""

    name: str
    entry_point: EntryPoint
    options: dict = field(default_factory=dict)
    argument: str = ""
    doc: str = ""
    wraps: bool = False  # the argument is another spec; options not in the table stay with it
    real: bool = False  # a real engine: its documents do not depend on the useful/noisy request

    def factory(self) -> Callable[..., Any]:
        if callable(self.entry_point):
            return self.entry_point
        module, _, attribute = self.entry_point.partition(":")
        try:
            target: Any = importlib.import_module(module)
            for part in attribute.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError) as exc:
            raise ImportError(f"backend kind {self.name!r} is registered as {self.entry_point!r}, which could not "
                              f"be loaded: {type(exc).__name__}: {exc}") from exc
        return target

    def usage(self) -> str:
        arg = f":{self.argument}" if self.argument else ""
        opts = "&".join(f"{n}={t.__name__}" for n, t in self.options.items())
        return f"{self.name}{arg}" + (f"[?{opts}]" if opts else "")


@dataclass(frozen=True)
class BackendSpec:
    """A parsed spec: ``kind``, the ``argument`` after the colon ("" when none), converted ``options``."""

    kind: str
    argument: str
    options: dict


_REGISTRY: dict[str, BackendKind] = {}


def register_backend(kind: str, entry_point: EntryPoint | None = None, *, options: dict | None = None,
                     argument: str = "", doc: str = "", wraps: bool = False, real: bool = False):
    """Register ``kind`` (see the module docstring); without ``entry_point`` it is a decorator.

    ``wraps=True`` declares a wrapper kind (``ray:hf:MODEL?replicas=2&max_new_tokens=64``): its argument is an
    inner spec, its own options are taken from the query and the other options stay with the inner spec.
    ``real=True`` declares a real search engine (its documents ignore ``SearchRequest.useful``).

    Re-registering a kind replaces it (so a user can swap a built-in for their own).
    """
    options = dict(options or {})
    for name, typ in options.items():
        if typ not in (int, float, str, bool):
            raise TypeError(f"expected option {name!r} of backend {kind!r} to be int, float, str or bool, got {typ!r}")

    def wrap(factory: EntryPoint):
        _REGISTRY[kind.strip().lower()] = BackendKind(kind.strip().lower(), factory, options, argument, doc, wraps,
                                                      real)
        return factory

    return wrap if entry_point is None else wrap(entry_point)


def backend_kinds() -> dict[str, BackendKind]:
    """The registered kinds by name (for help texts: ``kind.usage()``, ``kind.doc``)."""
    return dict(_REGISTRY)


def _convert(kind: str, name: str, typ: type, text: str) -> Any:
    if typ is bool:
        if text.strip().lower() in _BOOLS:
            return _BOOLS[text.strip().lower()]
        raise ValueError(f"expected {name} to be bool (true/false), got {text!r} in the {kind} backend spec")
    try:
        return typ(text)
    except ValueError:
        raise ValueError(f"expected {name} to be {typ.__name__}, got {text!r} in the {kind} backend spec") from None


def parse_spec(spec: str) -> BackendSpec:
    """Split and check ``kind[:argument][?name=value&…]`` against the registry.

    >>> parse_spec("hf:?max_new_tokens=64&mode=prompt")
    BackendSpec(kind='hf', argument='', options={'max_new_tokens': 64, 'mode': 'prompt'})
    >>> parse_spec("hf?max_new_tokens=abc")
    Traceback (most recent call last):
    ...
    ValueError: expected max_new_tokens to be int, got 'abc' in the hf backend spec
    """
    if not isinstance(spec, str):
        raise TypeError(f"expected a backend spec string, got {type(spec).__name__}")
    head, _, query = spec.partition("?")
    kind, _, argument = head.partition(":")
    kind = kind.strip().lower()
    if kind not in _REGISTRY:
        raise ValueError(f"unknown backend kind {kind!r} in spec {spec!r}; expected one of {', '.join(sorted(_REGISTRY))}")
    table = _REGISTRY[kind].options
    options: dict = {}
    inner: list[str] = []
    for pair in filter(None, query.split("&")):
        name, eq, value = pair.partition("=")
        name, value = unquote_plus(name).strip(), unquote_plus(value)
        if _REGISTRY[kind].wraps and name not in table:
            inner.append(pair)  # an option of the wrapped spec, checked when that spec is built
            continue
        if name not in table:
            valid = ", ".join(table) if table else "none (it takes no options)"
            raise ValueError(f"unknown option {name!r} for the {kind} backend in spec {spec!r}; valid options: {valid}")
        if not eq:
            raise ValueError(f"expected {name}=VALUE in the {kind} backend spec, got {pair!r}")
        if name in options:
            raise ValueError(f"option {name!r} is given twice in the {kind} backend spec {spec!r}")
        options[name] = _convert(kind, name, table[name], value)
    argument = argument.strip() + ("?" + "&".join(inner) if inner else "")
    return BackendSpec(kind, argument, options)


def make_backend(spec):
    """Build a backend from a spec string (see :func:`parse_spec`) or a parsed :class:`BackendSpec`, or pass a
    backend object through.

    >>> make_backend("nope:x")
    Traceback (most recent call last):
    ...
    ValueError: unknown backend kind 'nope' in spec 'nope:x'; expected one of bm25, hf, http-retriever, openai, ray, self, vllm
    """
    if not isinstance(spec, (str, BackendSpec)):
        if not callable(getattr(spec, "search", None)):
            raise TypeError(f"expected a backend spec string or an object with .search(requests), got {spec!r}")
        return spec
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    options = dict(parsed.options)
    verify = options.pop("verify", None)  # verified simulation (zerosearch_gym.backends.verify) wraps the backend
    backend = _REGISTRY[parsed.kind].factory()(parsed.argument, **options)
    if verify is None:
        return backend
    from .verify import with_verification

    return with_verification(backend, verify)


def is_real_engine(spec: str) -> bool:
    """Whether ``spec`` names a real search engine (``bm25``, ``http-retriever``, or a wrapper of one), whose
    documents do not change with the useful/noisy request; False for simulators. Nothing is built.

    >>> is_real_engine("bm25"), is_real_engine("ray:bm25?replicas=2"), is_real_engine("hf:?max_new_tokens=64")
    (True, True, False)
    """
    parsed = parse_spec(spec)
    kind = _REGISTRY[parsed.kind]
    return is_real_engine(parsed.argument) if kind.wraps and parsed.argument else kind.real


# -- built-in kinds ---------------------------------------------------------------------------------------
_HTTP = {"timeout": float, "max_retries": int, "backoff": float, "deadline": float, "max_retry_after": float,
         "max_body_bytes": int}
_SAMPLING = {"mode": str, "max_new_tokens": int, "temperature": float, "top_p": float, "verify": int}

register_backend("bm25", "zerosearch_gym.backends.retrieval:BM25Backend.from_spec", argument="corpus.jsonl",
                 real=True, doc="BM25 over a JSONL corpus (default: the offline Wikipedia summaries)")
register_backend("hf", "zerosearch_gym.backends.hf:from_spec", argument="model",
                 options={**_SAMPLING, "device": str, "seeding": str, "adapter": str},
                 doc="a simulator LLM run locally with transformers (default: the offline SmolLM2-135M-Instruct "
                     "with the shipped tuned adapter; adapter=none for the untuned one)")
register_backend("self", "zerosearch_gym.backends.self_search:from_spec", argument="model",
                 options={**_SAMPLING, "device": str, "seeding": str},
                 doc="self-search (SSRL): the policy's own weights write the documents (attach() or a model folder)")
register_backend("vllm", "zerosearch_gym.backends.vllm:from_spec", argument="model",
                 options={**_SAMPLING, "gpu_memory_utilization": float, "max_model_len": int},
                 doc="a simulator LLM inside this process on vLLM")
register_backend("openai", "zerosearch_gym.backends.openai_compat:from_spec", argument="URL[,URL…]",
                 options={"model": str, "mode": str, "temperature": float, "max_tokens": int, "top_p": float,
                          "concurrency": int, "verify": int, **_HTTP},
                 doc="a simulator LLM behind OpenAI-compatible chat-completions servers")
register_backend("http-retriever", "zerosearch_gym.backends.http_retriever:from_spec", argument="URL[,URL…]",
                 options=dict(_HTTP), real=True, doc="a real retriever behind Search-R1's /retrieve API")
register_backend("ray", "zerosearch_gym.backends.ray_pool:from_spec", argument="inner spec", wraps=True,
                 options={"replicas": int, "num_gpus": float, "num_cpus": float, "max_batch": int,
                          "timeout_s": float, "address": str},
                 doc="replicas of any backend as Ray actors (e.g. ray:hf:MODEL?replicas=2)")
