"""The policy: an HF causal LM + tokenizer that writes one turn for many episodes at once, and scores
token sequences (log-probs, entropy, values) in chunks.

- Prompts go through the tokenizer's chat template when it has one (ZeroSearch does this even for base
  models); observations are tokenized on their own, without special tokens.
- ``generate_turns`` samples with temperature / top-p and stops at ``</search>`` or ``</answer>`` (or EOS,
  or ``max_new_tokens``). It returns the **exact sampled ids**: the rollout never re-tokenizes policy text.
- ``score`` computes log p(token) only at loss-mask positions, in chunks of policy tokens, each chunk under
  activation checkpointing, so full-vocab fp32 logits never exist for the whole batch.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

STOP_STRINGS = ("</search>", "</answer>")


@dataclass
class Turn:
    """One generated policy turn: the sampled ids, their text, and why generation stopped."""

    token_ids: list[int]
    text: str
    finish_reason: str  # "stop" (stop string), "eos", or "length"
    logprobs: list[float] | None = None  # the sampler's log-prob of each sampled id, when requested


def resolve_model_path(model: str) -> str:
    """``""`` -> the offline SmolLM2 checkpoint; a local folder must exist; anything else is a hub id."""
    if not model:
        from zerosearch_gym.llm import smollm2_path

        return str(smollm2_path())
    path = os.path.expanduser(model)
    is_hub_id = model.count("/") == 1 and not model.startswith((".", "/", "~")) and not os.path.exists(path)
    if not is_hub_id and not os.path.isfile(os.path.join(path, "config.json")):
        raise FileNotFoundError(f"expected a model folder with config.json at --model {model!r}, got none; "
                                "pass a checkpoint folder, a hub id, or leave --model empty for SmolLM2")
    return path if not is_hub_id else model


class Policy(torch.nn.Module):
    """A causal LM policy (optionally with a scalar value head for PPO)."""

    def __init__(self, model, tokenizer, value_head: bool = False):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.engine = None  # e.g. agents.train.vllm_engine.VLLMPolicyEngine; None = zerosearch_gym.llm
        self.autocast_dtype = None  # torch.bfloat16: score() runs under autocast (fp32 master weights)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        hidden = model.config.hidden_size
        self.value_head = torch.nn.Linear(hidden, 1) if value_head else None
        if self.value_head is not None:
            torch.nn.init.zeros_(self.value_head.weight)
            torch.nn.init.zeros_(self.value_head.bias)
            self.value_head.to(next(model.parameters()).device)

    @classmethod
    def load(cls, model: str = "", device: str = "cpu", dtype=torch.float32, value_head: bool = False):
        """Load a checkpoint folder / hub id ("" = offline SmolLM2-135M-Instruct)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = resolve_model_path(model)
        tokenizer = AutoTokenizer.from_pretrained(path)
        lm = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device)
        return cls(lm, tokenizer, value_head=value_head)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # ------------------------------------------------------------------------------------------- LoRA
    def add_lora(self, rank: int, alpha: float) -> None:
        """Wrap the LM in fresh peft LoRA adapters on every linear layer; the base weights are frozen."""
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules="all-linear")
        with warnings.catch_warnings():  # peft reads a property transformers deprecated: not the user's concern
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
            self.model = get_peft_model(self.model, config)

    @property
    def has_lora(self) -> bool:
        return hasattr(self.model, "disable_adapter")

    def merge_lora(self) -> None:
        """Fold the adapters into the base weights (in place) and drop them."""
        if self.has_lora:
            self.model = self.model.merge_and_unload()
            self.model.requires_grad_(True)

    @contextlib.contextmanager
    def merged(self):
        """Context in which the LM runs as one plain model with the LoRA adapters folded in: each adapted
        layer's weight is swapped for ``W + scale * B @ A`` (a new tensor) and the adapters are off, so
        generation costs what the plain model's does (RESULTS 2c: 15 % slower unmerged). The original
        weight tensors are put back untouched on exit (no merge/unmerge rounding)."""
        if not self.has_lora:
            yield
            return
        from peft.tuners.lora import LoraLayer

        swapped = []
        with torch.no_grad():
            for module in self.model.modules():
                if isinstance(module, LoraLayer) and module.active_adapters[0] in module.lora_A:
                    weight = module.get_base_layer().weight
                    swapped.append((weight, weight.data))
                    weight.data = weight.data + module.get_delta_weight(module.active_adapters[0])
        try:
            with self.model.disable_adapter():
                yield
        finally:
            for weight, data in swapped:
                weight.data = data

    def adapters_off(self):
        """Context in which the LM is its base (LoRA adapters disabled): the KL reference, no second copy."""
        return self.model.disable_adapter()

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """The parameters that training changes (all, or the adapters + value head with LoRA), by name."""
        return {name: p.detach() for name, p in self.named_parameters() if p.requires_grad}

    # ------------------------------------------------------------------------------------ tokenization
    def prompt_ids(self, prompt: str) -> list[int]:
        """Token ids of the env's prompt as a user chat message + generation prompt (raw text without a
        chat template)."""
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            prompt = tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                             add_generation_prompt=True)
            return tok(prompt, add_special_tokens=False)["input_ids"]
        return tok(prompt)["input_ids"]

    def text_ids(self, text: str, max_tokens: int | None = None) -> tuple[list[int], bool]:
        """Ids of an observation text (no special tokens), cut to ``max_tokens``; returns (ids, was_cut)."""
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if max_tokens is not None and len(ids) > max_tokens:
            return ids[:max_tokens], True
        return ids, False

    # -------------------------------------------------------------------------------------- generation
    @torch.no_grad()
    def generate_turns(self, contexts: list[list[int]], max_new_tokens: int, temperature: float = 1.0,
                       top_p: float = 1.0, seed: int | None = None,
                       stop_strings: tuple[str, ...] = STOP_STRINGS, return_logprobs: bool = False) -> list[Turn]:
        """Sample one turn per context (a list of token ids); stops at a stop string, EOS or the limit.

        Uses ``self.engine`` when set (vLLM), else ``zerosearch_gym.llm`` (a CUDA-graph decoder on GPU,
        transformers ``generate`` on CPU)."""
        if not contexts:
            return []
        from zerosearch_gym.llm import generate

        kwargs = dict(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                      stop_strings=stop_strings, seed=seed, return_logprobs=return_logprobs)
        if self.engine is not None:
            gens = self.engine.generate(contexts, **kwargs)
        else:
            gens = generate(self.model, self.tokenizer, contexts, **kwargs)
        return [Turn(list(g.token_ids), g.text, g.finish_reason, g.logprobs) for g in gens]

    # ----------------------------------------------------------------------------------------- scoring
    def score(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, loss_mask: torch.Tensor,
              temperature: float = 1.0, chunk: int = 512, entropy: bool = False, values: bool = False):
        """Per-token log p(input_ids[t] | ids[:t]) at positions where ``loss_mask`` is 1 (0 elsewhere).

        Returns (logprobs [B, T], entropy [B, T] or None, values [B, T] or None). Only the policy tokens'
        hidden states go through the LM head, ``chunk`` at a time, each chunk recomputed in backward.
        """
        dtype = self.autocast_dtype
        with torch.autocast(input_ids.device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            return self._score(input_ids, attention_mask, loss_mask, temperature, chunk, entropy, values)

    def _score(self, input_ids, attention_mask, loss_mask, temperature, chunk, entropy, values):
        base = self.model.get_decoder() if hasattr(self.model, "get_decoder") else self.model.base_model
        hidden = base(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
        rows, cols = (loss_mask[:, 1:] > 0).nonzero(as_tuple=True)
        states = hidden[rows, cols]  # state before emitting token cols + 1
        targets = input_ids[rows, cols + 1]
        head = self.model.get_output_embeddings()
        logps, ents = [], []
        for start in range(0, states.shape[0], chunk):
            h, y = states[start:start + chunk], targets[start:start + chunk]
            if torch.is_grad_enabled():
                lp, ent = checkpoint(_chunk_logprobs, head, h, y, temperature, entropy, use_reentrant=False)
            else:
                lp, ent = _chunk_logprobs(head, h, y, temperature, entropy)
            logps.append(lp)
            ents.append(ent)
        out_lp = torch.zeros(input_ids.shape, dtype=torch.float32, device=input_ids.device)
        flat = torch.cat(logps) if logps else out_lp.new_zeros(0)
        out_lp = out_lp.index_put((rows, cols + 1), flat)
        out_ent = None
        if entropy:
            out_ent = torch.zeros_like(out_lp).index_put((rows, cols + 1), torch.cat(ents) if ents else flat)
        out_v = None
        if values:
            if self.value_head is None:
                raise ValueError("expected a Policy built with value_head=True for values, got none")
            v = self.value_head(states.to(self.value_head.weight.dtype)).squeeze(-1).float()
            out_v = torch.zeros_like(out_lp).index_put((rows, cols + 1), v)
        return out_lp, out_ent, out_v


def _chunk_logprobs(head, h, y, temperature: float, with_entropy: bool):
    """log-softmax of one chunk of LM-head logits in fp32, gathered at the targets (+ entropy)."""
    logits = head(h).float() / temperature
    logp_all = F.log_softmax(logits, dim=-1)
    lp = logp_all.gather(-1, y[:, None]).squeeze(-1)
    ent = -(logp_all.exp() * logp_all).sum(-1) if with_entropy else lp.new_zeros(0)
    return lp, ent
