"""Backend spec strings: one grammar, typed option tables per kind, lazy ``module:factory`` registration."""
from __future__ import annotations

import sys

import pytest

from zerosearch_gym.backends import backend_kinds, make_backend, parse_spec, register_backend
from zerosearch_gym.backends.registry import _REGISTRY


@pytest.fixture
def scratch_kinds():
    """Register test kinds freely; the registry is restored afterwards."""
    saved = dict(_REGISTRY)
    yield
    _REGISTRY.clear()
    _REGISTRY.update(saved)


@pytest.mark.parametrize("spec, kind, argument, options", [
    ("bm25", "bm25", "", {}),
    ("BM25:/data/c.jsonl", "bm25", "/data/c.jsonl", {}),
    ("hf:?max_new_tokens=64&mode=prompt", "hf", "", {"max_new_tokens": 64, "mode": "prompt"}),
    ("hf?temperature=0.5", "hf", "", {"temperature": 0.5}),
    ("hf:/m/sim?seeding=batch&top_p=0.9", "hf", "/m/sim", {"seeding": "batch", "top_p": 0.9}),
    ("openai:http://a:1/v1,http://b:2/v1?model=sim%2014b&timeout=3", "openai", "http://a:1/v1,http://b:2/v1",
     {"model": "sim 14b", "timeout": 3.0}),
    ("http-retriever:http://h/retrieve?max_retry_after=2&max_body_bytes=1000", "http-retriever",
     "http://h/retrieve", {"max_retry_after": 2.0, "max_body_bytes": 1000}),
])
def test_specs_are_parsed_once_with_typed_options(spec, kind, argument, options):
    parsed = parse_spec(spec)
    assert (parsed.kind, parsed.argument, parsed.options) == (kind, argument, options)
    assert all(type(v) is type(options[k]) for k, v in parsed.options.items())


@pytest.mark.parametrize("spec, message", [
    ("hf:?max_new_tokens=abc", "expected max_new_tokens to be int, got 'abc'"),
    ("hf?temperature=warm", "expected temperature to be float, got 'warm'"),
    ("vllm:m?gpu_memory_utilization=most", "expected gpu_memory_utilization to be float, got 'most'"),
    ("openai:http://a/v1?concurrency=many", "expected concurrency to be int, got 'many'"),
    ("hf:?bogus=1", "unknown option 'bogus' for the hf backend .*valid options: mode, max_new_tokens, "
                    "temperature, top_p, verify, device, seeding"),
    ("bm25?k=3", "unknown option 'k' for the bm25 backend .*valid options: none"),
    ("hf:?max_new_tokens", "expected max_new_tokens=VALUE"),
    ("hf:?mode=sft&mode=prompt", "option 'mode' is given twice"),
    ("elastic:http://x", "unknown backend kind 'elastic'.*expected one of bm25, hf, http-retriever, openai"),
])
def test_bad_specs_say_what_was_expected(spec, message):
    with pytest.raises(ValueError, match=message):
        make_backend(spec)


def test_option_errors_come_before_any_heavy_import():
    """A typo in an option is reported without loading torch or a model."""
    had_torch = "torch" in sys.modules
    with pytest.raises(ValueError, match="expected max_new_tokens to be int"):
        make_backend("hf:/no/such/model?max_new_tokens=lots")
    assert ("torch" in sys.modules) == had_torch


def test_registration_is_lazy_and_extensible(scratch_kinds):
    register_backend("ghost", "no_such_module_zs:factory", argument="x")  # nothing is imported here
    assert "ghost" in backend_kinds() and "no_such_module_zs" not in sys.modules
    with pytest.raises(ImportError, match="backend kind 'ghost' is registered as 'no_such_module_zs:factory'"):
        make_backend("ghost")
    register_backend("corpus", "zerosearch_gym.backends.retrieval:BM25Backend.from_spec", doc="same engine")
    assert type(make_backend("corpus")).__name__ == "BM25Backend"

    seen = {}

    @register_backend("echo", options={"n": int, "loud": bool}, argument="prefix")
    def make_echo(prefix: str, n: int = 1, loud: bool = False):
        seen.update(prefix=prefix, n=n, loud=loud)
        return type("Echo", (), {"search": lambda self, requests: [[prefix] * n for _ in requests]})()

    backend = make_backend("echo:hi?n=3&loud=yes")
    assert seen == {"prefix": "hi", "n": 3, "loud": True} and callable(backend.search)
    assert backend_kinds()["echo"].usage() == "echo:prefix[?n=int&loud=bool]"
    with pytest.raises(ValueError, match="expected loud to be bool"):
        make_backend("echo?loud=maybe")
    with pytest.raises(TypeError, match="expected option 'x' of backend 'bad' to be int, float, str or bool"):
        register_backend("bad", "m:f", options={"x": list})


def test_backend_objects_pass_through_and_non_backends_are_rejected(backend):
    assert make_backend(backend) is backend
    with pytest.raises(TypeError, match="expected a backend spec string or an object with .search"):
        make_backend(42)


def test_every_builtin_kind_documents_its_argument_and_options():
    for kind in backend_kinds().values():
        assert kind.doc and kind.usage().startswith(kind.name)
