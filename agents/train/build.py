"""What ``train`` sets up before its loop: device, policy (+ LoRA, critic), reference, optimizer, envs.

Each builder takes the config and returns one object, so ``loop.train`` reads as a list of steps. A run is
rebuilt from its config alone: the reference model is never copied to disk when it equals the starting
weights (the model id is loaded again; with LoRA the reference is the base with the adapters switched off).
The shipped warm-start adapter (``--warmstart shipped``, the default) is merged into the loaded weights
every time the policy is built. Only a full fine-tune after an in-run warm start (``--warmstart build``)
stores ``reference.safetensors``; an in-run LoRA warm start stores its small adapter
(``warmstart.safetensors``), which resume merges into the base again.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..policy import Policy
from .config import TrainConfig

WARMSTART_FILE, REFERENCE_FILE = "warmstart.safetensors", "reference.safetensors"
ADAPTER_RECORD = "warmstart_adapter.json"  # which shipped / built adapter a run started from


def pick_device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("expected a CUDA device for --device cuda, got none; use --device cpu or auto")
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


def build_policy(cfg: TrainConfig, device: torch.device) -> Policy:
    """``tiny:llama`` / ``tiny:qwen2``: a random 2-layer test model; else a checkpoint ("" = SmolLM2).
    ``cfg.warmstart`` names an adapter (shipped or a folder): it is merged into the weights first. With
    ``cfg.lora_rank`` the LM then gets fresh LoRA adapters; PPO without ``critic_model`` a value head."""
    value_head = cfg.algo == "ppo" and not cfg.critic_model
    if cfg.model.startswith("tiny:"):
        from zerosearch_gym.llm.models import tiny_model

        model, tokenizer = tiny_model(cfg.model.split(":", 1)[1], seed=cfg.seed)
        policy = Policy(model.to(device), tokenizer, value_head=value_head)
    else:
        policy = Policy.load(cfg.model, device=str(device), value_head=value_head)
    if cfg.warmstart not in ("build", "none"):  # the shipped (or a built) SFT adapter, merged into the weights
        from ..warmstart_adapter import adapter_folder, apply_adapter, check_adapter

        folder = adapter_folder(cfg.warmstart)
        apply_adapter(policy, folder, check_adapter(folder, cfg.model))
    if cfg.activation_checkpointing:  # set on the decoder layers: survives LoRA wrapping and merging
        if hasattr(policy.model, "activation_checkpointing_enable"):  # transformers >= 5.2x
            policy.model.activation_checkpointing_enable({"use_reentrant": False})
        else:
            policy.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if cfg.lora_rank:
        policy.add_lora(cfg.lora_rank, cfg.lora_alpha)
    if device.type == "cuda" and cfg.bf16:
        policy.autocast_dtype = torch.bfloat16
    return policy


def build_critic(cfg: TrainConfig, device: torch.device, tokenizer) -> Policy | None:
    """PPO's separate critic model (a value head on its own LM), or None when the policy carries one."""
    if not cfg.critic_model:
        return None
    critic = build_policy(TrainConfig(model=cfg.critic_model, algo="ppo", lora_rank=0, seed=cfg.seed,
                                      bf16=cfg.bf16, warmstart="none"), device)
    if critic.tokenizer.get_vocab() != tokenizer.get_vocab():
        raise ValueError(f"expected --critic-model {cfg.critic_model!r} to share the policy's tokenizer, "
                         "got a different vocabulary")
    return critic


def attach_rollout_engine(cfg: TrainConfig, policy: Policy) -> None:
    if cfg.rollout_engine == "vllm":
        from ..policy import resolve_model_path
        from .vllm_engine import VLLMPolicyEngine

        policy.engine = VLLMPolicyEngine(resolve_model_path(cfg.model), policy.tokenizer, gpu_memory_utilization=0.3)


def make_envs(cfg: TrainConfig, examples, backend=None):
    import gymnasium

    from zerosearch_gym import NoiseSchedule

    noise = NoiseSchedule(kind=cfg.noise_kind, p_start=cfg.noise_start, p_end=cfg.noise_end,
                          total_steps=max(cfg.steps, 1), base=cfg.noise_base)
    return gymnasium.make_vec("ZeroSearch-v0", num_envs=cfg.questions_per_step * cfg.rollouts_per_question,
                              vectorization_mode="vector_entry_point",
                              backend=backend if backend is not None else cfg.backend, dataset=examples,
                              max_turns=cfg.max_turns, top_k=cfg.top_k, format_reward=cfg.format_reward,
                              action_format=cfg.action_format,
                              noise=noise)


def finish_warm_start(policy: Policy, cfg: TrainConfig, out: Path) -> int:
    """After the warm start: keep what resume needs to rebuild the RL starting point; returns bytes written.

    LoRA: save the warm-start adapter, merge it into the base, add fresh adapters for RL (so the reference,
    the base with adapters off, is the warm-started policy). Full fine-tune: save the reference weights."""
    if cfg.warmstart != "build" or cfg.warmstart_steps <= 0:
        return 0
    if policy.has_lora:
        save_file({n: t.contiguous() for n, t in policy.trainable_state().items() if "lora_" in n},
                  out / WARMSTART_FILE)
        policy.merge_lora()
        policy.add_lora(cfg.lora_rank, cfg.lora_alpha)
        return (out / WARMSTART_FILE).stat().st_size
    if cfg.kl_coef > 0:
        save_file({n: p.detach().contiguous() for n, p in policy.model.named_parameters()}, out / REFERENCE_FILE)
        return (out / REFERENCE_FILE).stat().st_size
    return 0


def record_adapter(cfg: TrainConfig, out: Path) -> None:
    """Note which warm-start adapter (sha256) a fresh run started from, so resume can check it."""
    if cfg.warmstart in ("build", "none"):
        return
    from ..warmstart_adapter import adapter_folder, check_adapter

    meta = check_adapter(adapter_folder(cfg.warmstart), cfg.model)
    (out / ADAPTER_RECORD).write_text(json.dumps({"warmstart": cfg.warmstart, "sha256": meta["sha256"]}) + "\n")


def check_recorded_adapter(cfg: TrainConfig, run_dir: Path) -> None:
    """Before a run is rebuilt: its warm-start adapter must be the one it started from."""
    path = run_dir / ADAPTER_RECORD
    if cfg.warmstart in ("build", "none") or not path.is_file():
        return
    from ..warmstart_adapter import adapter_folder, check_adapter
    from .checkpoint import CheckpointError

    recorded = json.loads(path.read_text()).get("sha256")
    folder = adapter_folder(cfg.warmstart)
    if check_adapter(folder, cfg.model)["sha256"] != recorded:
        raise CheckpointError(f"expected the warm-start adapter this run started from (sha256 {str(recorded)[:12]}), "
                              f"got a different one at {folder}; restore that adapter or start a new --output-dir")


def redo_warm_start(policy: Policy, cfg: TrainConfig, out: Path) -> None:
    """On resume (LoRA): put the warm-start adapter back, merge it and add fresh RL adapters."""
    if cfg.warmstart != "build" or cfg.warmstart_steps <= 0 or not policy.has_lora:
        return
    path = out / WARMSTART_FILE
    if not path.is_file():
        from .checkpoint import CheckpointError

        raise CheckpointError(f"expected the warm-start adapter {path} saved by this run, got none; restart "
                              "the run without --resume")
    _copy_into(policy, load_file(path, device=str(policy.device)))
    policy.merge_lora()
    policy.add_lora(cfg.lora_rank, cfg.lora_alpha)


def build_reference(cfg: TrainConfig, policy: Policy, out: Path):
    """The KL reference: None without KL; the policy with adapters off under LoRA; else a frozen copy of the
    starting weights (bf16 on CUDA), read back from ``reference.safetensors`` after a full warm start."""
    if cfg.kl_coef <= 0:
        return None
    if policy.has_lora:
        return AdaptersOff(policy)
    model = copy.deepcopy(policy.model)
    if cfg.warmstart == "build" and cfg.warmstart_steps > 0 and (out / REFERENCE_FILE).is_file():
        _copy_into(model, load_file(out / REFERENCE_FILE, device=str(policy.device)))
    ref = Policy(model.to(torch.bfloat16) if policy.autocast_dtype else model, policy.tokenizer)
    ref.requires_grad_(False)
    return ref.eval()


class AdaptersOff:
    """The KL reference of a LoRA policy: the same model with its adapters disabled (no second copy)."""

    def __init__(self, policy: Policy):
        self.policy = policy

    def score(self, *args, **kwargs):
        with self.policy.adapters_off():
            return self.policy.score(*args, **kwargs)


def make_optimizer(cfg: TrainConfig, policy: Policy, critic: Policy | None) -> torch.optim.AdamW:
    """AdamW with an ``actor`` group (lr) and, for PPO, a ``critic`` group (critic_lr): the value head or
    the separate critic model."""
    actor = [p for n, p in policy.named_parameters() if p.requires_grad and not n.startswith("value_head.")]
    critic_params = list(critic.parameters()) if critic is not None else (
        list(policy.value_head.parameters()) if policy.value_head is not None else [])
    groups = [{"params": actor, "lr": cfg.lr, "name": "actor"}]
    if critic_params:
        groups.append({"params": critic_params, "lr": cfg.critic_lr, "name": "critic"})
    return torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)


def set_learning_rates(optimizer, cfg: TrainConfig, step: int) -> None:
    """Linear warmup over the first ``warmup_ratio`` (critic: ``critic_warmup_ratio``) of the steps."""
    for group in optimizer.param_groups:
        base, ratio = (cfg.critic_lr, cfg.critic_warmup_ratio) if group.get("name") == "critic" else (
            cfg.lr, cfg.warmup_ratio)
        warm = ratio * cfg.steps
        group["lr"] = base * min(1.0, (step + 1) / warm) if warm > 0 else base


def _copy_into(module: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    params = dict(module.named_parameters())
    unknown = sorted(set(tensors) - set(params))
    if unknown:
        raise ValueError(f"expected weights named like the model's parameters, got unknown {unknown[:3]}")
    with torch.no_grad():
        for name, value in tensors.items():
            params[name].copy_(value)
