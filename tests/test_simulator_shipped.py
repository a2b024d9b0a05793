"""The shipped tuned simulator: SmolLM2-135M-Instruct + the committed LoRA adapter is the default `hf`."""
from __future__ import annotations

import json

from zerosearch_gym import make_backend
from zerosearch_gym.backends import SearchRequest
from zerosearch_gym.backends._adapter import SHIPPED_ADAPTER


def test_shipped_adapter_is_small_and_matches_smollm2():
    files = {p.name: p.stat().st_size for p in SHIPPED_ADAPTER.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "zerosearch_base.json"} <= set(files)
    assert files["adapter_model.safetensors"] < 5_000_000
    meta = json.loads((SHIPPED_ADAPTER / "zerosearch_base.json").read_text())
    assert meta["hidden_size"] == 576 and meta["num_hidden_layers"] == 30 and meta["tuning"]["steps"] > 0
    config = json.loads((SHIPPED_ADAPTER / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] is None  # no machine-local path ships


def test_default_hf_simulator_is_the_tuned_one_in_its_tuned_mode():
    backend = make_backend("hf?max_new_tokens=24&temperature=0")
    tuned_mode = json.loads((SHIPPED_ADAPTER / "zerosearch_base.json").read_text()).get("mode", "sft")
    assert backend.mode == tuned_mode and backend.adapter == str(SHIPPED_ADAPTER)
    untuned = make_backend("hf:?adapter=none&max_new_tokens=24&temperature=0")
    assert untuned.mode == "prompt" and untuned.adapter is None
    request = SearchRequest("Stanley Kubrick film 1968", "2001: A Space Odyssey is a film directed by whom?",
                            ("Stanley Kubrick",), useful=True, seed=0)
    [tuned_out], [plain_out] = backend.search([request]), untuned.search([request])
    assert tuned_out != plain_out  # the adapter changed the weights (merged), not just the prompt
    # merged LoRA: the model is a plain transformers model again (fast engine / vLLM-free)
    assert type(backend.model).__name__ == "LlamaForCausalLM"
