"""vLLM backend and policy engine: import guard here; real runs only where vLLM is installed (CUDA)."""
import importlib.util

import pytest

from zerosearch_gym.backends import make_backend

HAS_VLLM = importlib.util.find_spec("vllm") is not None


@pytest.mark.skipif(HAS_VLLM, reason="checks the error shown when vLLM is missing")
def test_missing_vllm_names_the_extra():
    with pytest.raises(ImportError, match=r"install zerosearch-gym\[vllm\]"):
        make_backend("vllm:sunhaonlp/Simulation_LLM_google_3B_V2")
    from agents.train.vllm_engine import VLLMPolicyEngine

    with pytest.raises(ImportError, match=r"zerosearch-gym\[vllm\]"):
        VLLMPolicyEngine("some/model", tokenizer=None)


def test_bad_spec_options_are_rejected():
    with pytest.raises(ValueError, match="unknown option 'colour' for the vllm backend"):
        make_backend("vllm:m?colour=red")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A tiny random Llama with the SmolLM2 tokenizer, saved as a plain checkpoint vLLM can load."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    from zerosearch_gym.llm.models import smollm2_tokenizer

    tok = smollm2_tokenizer()
    config = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    path = tmp_path_factory.mktemp("tiny")
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return str(path), model, tok


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not installed (CUDA-only optional extra)")
def test_policy_engine_greedy_and_weight_sync(tiny_checkpoint):
    import torch

    from agents.train.vllm_engine import VLLMPolicyEngine
    from zerosearch_gym.llm import generate

    path, model, tok = tiny_checkpoint
    engine = VLLMPolicyEngine(path, tok, dtype="float32", gpu_memory_utilization=0.2, enforce_eager=True)
    prompts = [tok("Hello there")["input_ids"], tok("The capital of France is")["input_ids"]]
    want = generate(model, tok, prompts, max_new_tokens=12, temperature=0, engine="hf")
    got = engine.generate(prompts, max_new_tokens=12, temperature=0, return_logprobs=True)
    assert [g.token_ids for g in got] == [g.token_ids for g in want]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    engine.load_weights(model)
    want = generate(model, tok, prompts, max_new_tokens=12, temperature=0, engine="hf")
    got = engine.generate(prompts, max_new_tokens=12, temperature=0)
    assert [g.token_ids for g in got] == [g.token_ids for g in want]


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not installed (CUDA-only optional extra)")
def test_backend_answers_a_batch(tiny_checkpoint):
    from zerosearch_gym.backends import SearchRequest

    path, _, _ = tiny_checkpoint
    backend = make_backend(f"vllm:{path}?mode=prompt&max_new_tokens=40&gpu_memory_utilization=0.2")
    requests = [SearchRequest("q", "who?", ("a",), useful=u, seed=1) for u in (True, False)]
    results = backend.search(requests)
    assert len(results) == 2 and backend.last_stats["generated_tokens"] > 0


def test_train_refuses_the_vllm_rollout_engine_without_vllm():
    pytest.importorskip("torch")
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed")
    from agents.train.config import TrainConfig

    with pytest.raises(ImportError, match=r"zerosearch-gym\[vllm\]"):
        TrainConfig(rollout_engine="vllm").validate()
    with pytest.raises(ValueError, match="rollout-engine"):
        TrainConfig(rollout_engine="sglang").validate()
