"""``zerosearch train``: token-masked PPO / GRPO / REINFORCE++ against ZeroSearch-v0, top to bottom.

Each step: pick questions -> set the curriculum step -> G rollouts per question (policy tokens mask 1,
documents mask 0) -> old / reference log-probs (and values for PPO) -> advantages -> clipped masked loss
+ beta * KL, micro-batched with gradient accumulation -> optimizer step -> metrics, checkpoint.

Run ``python -m agents.train --help`` for every flag; ``--preset paper`` is ZeroSearch's GPU recipe.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from .algorithms import LossConfig, compute_advantages, kl_penalty, masked_mean, policy_loss, value_loss
from .checkpoint import CheckpointError, _sha256, load_checkpoint, save_checkpoint, verify_checkpoint
from .config import TrainConfig, parse_config
from .policy import Policy
from .rollout import RolloutConfig, collect_rollouts


def pick_device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("expected a CUDA device for --device cuda, got none; use --device cpu or auto")
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


def autocast(device: torch.device, cfg: TrainConfig):
    """bf16 autocast on CUDA (fp32 master weights, so lr 1e-6 updates are not lost); a no-op on CPU."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda" and cfg.bf16)


def build_policy(cfg: TrainConfig, device: torch.device) -> Policy:
    """``tiny:llama`` / ``tiny:qwen2``: a random 2-layer test model; else a checkpoint ("" = SmolLM2)."""
    value_head = cfg.algo == "ppo"
    if cfg.model.startswith("tiny:"):
        from zerosearch_gym.llm.models import tiny_model

        model, tokenizer = tiny_model(cfg.model.split(":", 1)[1], seed=cfg.seed)
        return Policy(model.to(device), tokenizer, value_head=value_head)
    policy = Policy.load(cfg.model, device=str(device), value_head=value_head)
    if cfg.rollout_engine == "vllm":
        from .policy import resolve_model_path
        from .vllm_engine import VLLMPolicyEngine

        policy.engine = VLLMPolicyEngine(resolve_model_path(cfg.model), policy.tokenizer, gpu_memory_utilization=0.3)
    return policy


def make_envs(cfg: TrainConfig, num_envs: int, examples, backend=None):
    import gymnasium

    from zerosearch_gym import NoiseSchedule

    noise = NoiseSchedule(p_start=cfg.noise_start, p_end=cfg.noise_end, total_steps=cfg.steps,
                          base=cfg.noise_base)
    return gymnasium.make_vec("ZeroSearch-v0", num_envs=num_envs, vectorization_mode="vector_entry_point",
                              backend=backend if backend is not None else cfg.backend, dataset=examples,
                              max_turns=cfg.max_turns, top_k=cfg.top_k,
                              format_reward=cfg.format_reward, noise=noise)


def questions_for_step(n_examples: int, step: int, per_step: int, seed: int) -> list[int]:
    """Dataset indices for ``step``: consecutive slices of a fresh seeded permutation per epoch, so the
    data position is a function of the step (resume continues exactly where it stopped)."""
    orders: dict[int, np.ndarray] = {}  # one permutation per epoch touched by this step
    out = []
    for pos in range(step * per_step, (step + 1) * per_step):
        epoch, offset = divmod(pos, n_examples)
        if epoch not in orders:
            orders[epoch] = np.random.default_rng([seed, epoch]).permutation(n_examples)
        out.append(int(orders[epoch][offset]))
    return out


@torch.no_grad()
def _score_all(policy: Policy, batch, device, cfg, values=False):
    """Log-probs (and values) of the whole batch without grad, micro-batch by micro-batch."""
    lps, vs = [], []
    for s in range(0, len(batch), cfg.micro_batch_size):
        sl = slice(s, s + cfg.micro_batch_size)
        with autocast(device, cfg):
            lp, _, v = policy.score(batch.input_ids[sl].to(device), batch.attention_mask[sl].to(device),
                                    batch.loss_mask[sl].to(device), cfg.temperature, cfg.logprob_chunk,
                                    values=values)
        lps.append(lp)
        vs.append(v)
    return torch.cat(lps), (torch.cat(vs) if values else None)


def update(policy: Policy, ref: Policy | None, batch, optimizer, cfg: TrainConfig, device) -> dict:
    """Advantages + ``ppo_epochs`` x ``mini_batches`` optimizer steps over the batch; returns stats."""
    mask = batch.loss_mask.to(device).float()
    old_lp, old_v = _score_all(policy, batch, device, cfg, values=cfg.algo == "ppo")
    ref_lp = _score_all(ref, batch, device, cfg)[0] if ref is not None else None
    kl_reward = cfg.algo == "reinforce_pp" and ref_lp is not None
    kl = kl_penalty(old_lp, ref_lp, "k1") * mask if kl_reward else None
    adv, returns = compute_advantages(cfg.algo, batch.rewards.to(device), batch.group_ids.to(device), mask,
                                      values=old_v, kl=kl, kl_coef=cfg.kl_coef)
    loss_cfg = LossConfig(cfg.clip_eps, cfg.kl_coef, cfg.kl_estimator, cfg.entropy_coef,
                          value_coef=cfg.value_coef)
    stats: dict[str, float] = {}
    policy.train()
    for _ in range(cfg.ppo_epochs):
        for mb in torch.randperm(len(batch)).chunk(cfg.mini_batches):
            mb_tokens = mask[mb].sum().item()
            optimizer.zero_grad(set_to_none=True)
            for micro in mb.split(cfg.micro_batch_size):
                stats = _micro_step(policy, batch, micro, device, cfg, loss_cfg, mask, old_lp, ref_lp, adv,
                                    old_v, returns, mb_tokens, kl_in_loss=not kl_reward)
            stats["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm))
            optimizer.step()
    if ref_lp is not None:
        stats["kl_ref"] = float(masked_mean(kl_penalty(old_lp, ref_lp, cfg.kl_estimator), mask))
    return stats


def _micro_step(policy, batch, idx, device, cfg, loss_cfg, mask, old_lp, ref_lp, adv, old_v, returns,
                num_tokens, kl_in_loss) -> dict:
    m = mask[idx]
    with autocast(device, cfg):
        lp, ent, v = policy.score(batch.input_ids[idx].to(device), batch.attention_mask[idx].to(device),
                                  batch.loss_mask[idx].to(device), cfg.temperature, cfg.logprob_chunk,
                                  entropy=cfg.entropy_coef > 0, values=cfg.algo == "ppo")
    loss, stats = policy_loss(lp, old_lp[idx], adv[idx], m, loss_cfg,
                              ref_logprobs=None if ref_lp is None else ref_lp[idx], entropy=ent,
                              num_tokens=num_tokens, kl_in_loss=kl_in_loss)
    if v is not None:
        vl = value_loss(v, old_v[idx], returns[idx], m, loss_cfg, num_tokens)
        loss = loss + vl
        stats["value_loss"] = vl.item()
    loss.backward()
    return stats


def frozen_copy(policy: Policy, dtype: torch.dtype | None = None) -> Policy:
    """A frozen copy of the policy's LM as the KL reference (``dtype`` bf16 on CUDA halves its memory)."""
    model = copy.deepcopy(policy.model)
    ref = Policy(model.to(dtype) if dtype is not None else model, policy.tokenizer)
    ref.requires_grad_(False)
    return ref.eval()


def _log(msg: str) -> None:
    print(f"[zerosearch train] {msg}", flush=True)


def _preflight(cfg: TrainConfig, config: dict, ref_path: Path):
    """Everything that can fail cheaply, before any model is loaded: config, dataset, checkpoint."""
    from zerosearch_gym import load_qa_dataset

    cfg.validate()
    examples = load_qa_dataset(cfg.dataset or None)  # a dataset without answers raises here
    state = verify_checkpoint(ref_path.parent, config) if cfg.resume else None  # corrupt / other config
    if state is not None and cfg.kl_coef > 0 and (
            not ref_path.is_file() or _sha256(ref_path) != state.get("reference_sha256")):
        raise CheckpointError(f"expected the KL reference weights {ref_path} saved by this run, got a "
                              "missing or different file; restart the run without --resume")
    return examples, state


def train(cfg: TrainConfig, log=_log, backend=None) -> list[dict]:
    """Run the whole training; returns the per-step metrics (also in ``output_dir/metrics.jsonl``).

    ``backend`` (an object with ``.search``) overrides ``cfg.backend``."""
    out, config = Path(cfg.output_dir), dataclasses.asdict(cfg)
    ref_path = out / "reference.pt"
    examples, state = _preflight(cfg, config, ref_path)
    device = pick_device(cfg)
    torch.manual_seed(cfg.seed)
    policy = build_policy(cfg, device)
    n_envs = cfg.questions_per_step * cfg.rollouts_per_question
    envs = make_envs(cfg, n_envs, examples, backend)
    if state is None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.jsonl").write_text("")
        from .warmstart import warm_start

        for row in warm_start(policy, envs, examples, cfg, device, log=log):
            _append(out / "metrics.jsonl", row)
        if cfg.kl_coef > 0:
            torch.save(policy.model.state_dict(), ref_path)
    ref_dtype = torch.bfloat16 if device.type == "cuda" and cfg.bf16 else None
    ref = frozen_copy(policy, ref_dtype) if cfg.kl_coef > 0 else None
    optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start = 0
    if state is not None:
        if ref is not None:
            ref.model.load_state_dict(torch.load(ref_path, map_location=device, weights_only=True))
        state = load_checkpoint(out, policy, optimizer, config)
        start = state["step"]
        log(f"resumed at step {start} (curriculum step {state['curriculum_step']}, data position "
            f"{state['data_position']})")
    ref_sha = _sha256(ref_path) if ref is not None else None
    history = _loop(cfg, policy, ref, envs, examples, optimizer, device, out, start, ref_sha, log)
    envs.close()
    if cfg.plot and (out / "metrics.jsonl").is_file():
        from .plot import plot_metrics

        png = plot_metrics(out / "metrics.jsonl", out / "reward.png")
        log(f"plot written to {png}")
    return history


def _loop(cfg, policy, ref, envs, examples, optimizer, device, out, start, ref_sha, log) -> list[dict]:
    from tqdm import tqdm

    rcfg = RolloutConfig(cfg.max_new_tokens, cfg.max_obs_tokens, cfg.max_seq_len, cfg.temperature, cfg.top_p)
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, disable=not cfg.progress,
               desc="train")
    history = []
    for step in bar:
        t0 = time.perf_counter()
        picks = questions_for_step(len(examples), step, cfg.questions_per_step, cfg.seed)
        envs.unwrapped.call("set_curriculum_step", step)  # m = cfg.steps is in the envs' NoiseSchedule
        policy.eval()
        batch = collect_rollouts(envs, policy, [examples[i] for i in picks], cfg.rollouts_per_question, rcfg,
                                 seed=cfg.seed * 100_003 + step)
        t1 = time.perf_counter()
        stats = update(policy, ref, batch, optimizer, cfg, device)
        if policy.engine is not None:  # vLLM generates the next rollouts with the updated weights
            policy.engine.load_weights(policy.model)
        t2 = time.perf_counter()
        row = {"step": step, **batch.stats, **stats, "rollout_s": t1 - t0, "update_s": t2 - t1,
               "tokens_per_s": batch.stats["seq_tokens"] / (t2 - t0)}
        _append(out / "metrics.jsonl", row)
        history.append(row)
        bar.set_postfix(reward=f"{row['reward']:.3f}", f1=f"{row['f1']:.3f}", p=f"{row['noise_p']:.2f}",
                        searches=f"{row['searches']:.2f}", tok_s=f"{row['tokens_per_s']:.0f}")
        done = step + 1
        if (cfg.save_every and done % cfg.save_every == 0) or done == cfg.steps:
            save_checkpoint(out, policy, optimizer, {
                "step": done, "curriculum_step": done, "data_position": done * cfg.questions_per_step,
                "config": dataclasses.asdict(cfg), "reference_sha256": ref_sha})
        if not cfg.progress:
            log(f"step {step + 1}/{cfg.steps}: reward {row['reward']:.3f} f1 {row['f1']:.3f} noise p "
                f"{row['noise_p']:.2f} searches {row['searches']:.2f} valid {row['valid_action_rate']:.2f} "
                f"{row['tokens_per_s']:.0f} tok/s")
    return history


def _append(path: Path, row: dict) -> None:
    with open(path, "a") as handle:
        handle.write(json.dumps(row) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``zerosearch train`` and ``python -m agents.train``."""
    cfg = parse_config(argv)
    train(cfg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
