"""``zerosearch train``: token-masked PPO / GRPO / REINFORCE++ against ZeroSearch-v0, top to bottom.

:func:`train` reads as the algorithm: :func:`setup` (config, data, envs; a fresh run's policy, warm start,
reference and optimizer, or the run restored from its checkpoint), then for each step :func:`iteration`
(rollouts -> update) -> log -> save, then :func:`finish` (plot, export, summary). ``zerosearch train --help``
lists every flag (the command is :mod:`agents.train_command`); ``--preset paper`` is ZeroSearch's GPU recipe.
"""
from __future__ import annotations

import dataclasses
import json
import random
import resource
import time
from pathlib import Path

import numpy as np
import torch

from zerosearch_gym.seeding import spawn_seeds

from . import build
from .checkpoint import (
    Run,
    assemble_run,
    load_run,
    recover_checkpoint,
    save_checkpoint,
    truncate_metrics,
    verify_checkpoint,
)
from .config import TrainConfig
from .health import collapse_warnings, zero_advantage_share
from .memory import limit_heap, trim
from .rollout import RolloutConfig, collect_rollouts
from .update import update

__all__ = ["questions_for_step", "step_seeds", "train", "update"]


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


def step_seeds(seed: int, step: int, num_envs: int) -> tuple[list[int], int]:
    """Independent seeds for one step: one reset seed per env and one sampling seed, spawned per step
    (:func:`zerosearch_gym.seeding.spawn_seeds`: env i at step s+1 never replays env i+1 at step s)."""
    seeds = spawn_seeds(seed, num_envs + 1, step)
    return seeds[:num_envs], seeds[num_envs]


def _log(msg: str) -> None:
    print(f"[zerosearch train] {msg}", flush=True)


def train(cfg: TrainConfig, log=_log, backend=None, extra_metrics=None) -> list[dict]:
    """Run the whole training; returns the per-step metrics (also in ``output_dir/metrics.jsonl``).

    ``backend`` (an object with ``.search``) overrides ``cfg.backend``; ``extra_metrics(step, policy)``
    returns a dict merged into each step's row (e.g. a held-out evaluation every N steps)."""
    began = time.perf_counter()
    run, envs, examples, written = setup(cfg, log, backend)
    out = Path(cfg.output_dir)
    start = run.state["step"] if run.state is not None else 0
    rcfg = RolloutConfig(cfg.max_new_tokens, cfg.max_obs_tokens, cfg.max_seq_len, cfg.temperature, cfg.top_p,
                         sampler_logprobs=cfg.tis_cap > 0 or cfg.rollout_engine == "vllm")
    history: list[dict] = []
    if extra_metrics is not None and cfg.eval_ends and start == 0:  # the starting point, for the summary
        with run.policy.merged():
            record(cfg, out, {"val_start": True, **extra_metrics(-1, run.policy)}, [])
    bar = _progress(cfg, start)

    for step in range(start, cfg.steps):
        row, batch = iteration(run, envs, examples, step, rcfg)  # rollouts -> update -> the step's metrics
        with run.policy.merged():  # e.g. a held-out evaluation
            row.update(extra_metrics(step, run.policy) if extra_metrics is not None else {})
        record(cfg, out, row, batch.records)
        history.append(row)
        for warning in collapse_warnings(history):
            log(f"warning at step {step + 1}: {warning}")
        _report(cfg, bar, row, log)
        done = step + 1
        if (cfg.save_every and done % cfg.save_every == 0) or done == cfg.steps:
            written += save(run, out, done)

    bar.close()
    envs.close()
    finish(run, out, written, time.perf_counter() - began, log)
    return history


def setup(cfg: TrainConfig, log, backend) -> tuple[Run, object, list, int]:
    """Everything before the first step: (run, envs, examples, bytes written). What can fail cheaply comes
    before any model loads; a fresh run warm-starts, ``--resume`` restores the run at its checkpoint."""
    from zerosearch_gym import load_qa_dataset

    cfg.validate()
    out = Path(cfg.output_dir)
    examples = load_qa_dataset(cfg.dataset or None)  # a dataset without answers raises here
    if cfg.resume:
        recover_checkpoint(out)  # a kill between the two renames of a save leaves .checkpoint-old
        verify_checkpoint(out, dataclasses.asdict(cfg))
    device = build.pick_device(cfg)
    if device.type == "cpu":
        limit_heap()  # CPU runs otherwise keep GBs of freed activations resident (memory.py)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if not cfg.resume:
        run, envs, written = start_fresh(cfg, device, examples, backend, log)
        return run, envs, examples, written
    envs = build.make_envs(cfg, examples, backend)
    run = load_run(out, cfg, reference=True)
    start = run.state["step"]
    truncate_metrics(out / "metrics.jsonl", start)  # rows after the checkpoint are written again
    truncate_metrics(out / "episodes.jsonl", start)
    log(f"resumed at step {start} (curriculum step {run.state['curriculum_step']}, data position "
        f"{run.state['data_position']})")
    return run, envs, examples, 0


def start_fresh(cfg: TrainConfig, device: torch.device, examples: list, backend, log) -> tuple[Run, object, int]:
    """A new run: policy (and critic), envs, the scripted warm start, and what resume needs to rebuild it."""
    from .warmstart import warm_start

    out = Path(cfg.output_dir)
    policy = build.build_policy(cfg, device)
    critic = build.build_critic(cfg, device, policy.tokenizer)
    envs = build.make_envs(cfg, examples, backend)
    out.mkdir(parents=True, exist_ok=True)
    build.record_adapter(cfg, out)
    rows = warm_start(policy, envs, examples, cfg, device, log=log) if cfg.warmstart == "build" else []
    (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    written = build.finish_warm_start(policy, cfg, out)
    return assemble_run(cfg, device, policy, critic, out), envs, written


def iteration(run: Run, envs, examples: list, step: int, rcfg: RolloutConfig) -> tuple[dict, object]:
    """One training step: G rollouts per question at this step's curriculum, one update; (metrics row, batch)."""
    cfg, policy = run.cfg, run.policy
    # ---- rollouts: G per question, the curriculum at this step, independent seeds per env
    t0 = time.perf_counter()
    picks = questions_for_step(len(examples), step, cfg.questions_per_step, cfg.seed)
    envs.unwrapped.call("set_curriculum_step", step)  # m = cfg.steps is in the envs' NoiseSchedule
    env_seeds, sample_seed = step_seeds(cfg.seed, step, envs.num_envs)
    policy.eval()
    with policy.merged():  # LoRA folded in: generation at the plain model's speed
        batch = collect_rollouts(envs, policy, [examples[i] for i in picks], cfg.rollouts_per_question, rcfg,
                                 seed=env_seeds, sample_seed=sample_seed)
    trim()  # the generation's freed buffers
    # ---- update
    t1 = time.perf_counter()
    build.set_learning_rates(run.optimizer, cfg, step)
    stats = update(policy, run.ref, batch, run.optimizer, cfg, run.device, critic=run.critic)
    if policy.engine is not None:  # vLLM generates the next rollouts with the updated weights
        policy.engine.load_weights(policy.model)
    t2 = time.perf_counter()
    row = {"step": step, **batch.stats, **stats,
           "zero_adv_groups": zero_advantage_share(batch.rewards, batch.group_ids),
           "lr": run.optimizer.param_groups[0]["lr"], "rollout_s": t1 - t0, "update_s": t2 - t1,
           "tokens_per_s": batch.stats["seq_tokens"] / (t2 - t0)}
    return row, batch


def record(cfg: TrainConfig, out: Path, row: dict, episodes: list[dict]) -> None:
    """Append the step's row to metrics.jsonl and, with ``save_episodes``, its episodes to episodes.jsonl."""
    with open(out / "metrics.jsonl", "a") as handle:
        handle.write(json.dumps(row) + "\n")
    if cfg.save_episodes and episodes:  # every episode with its turns, for `zerosearch view`
        with open(out / "episodes.jsonl", "a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(dict(r, dataset=f"step {row['step']}", step=row["step"])) + "\n"
                              for r in episodes)


def save(run: Run, out: Path, done: int) -> int:
    """The checkpoint after ``done`` steps (trainable parameters, optimizer, RNG, data position); bytes."""
    cfg = run.cfg
    return save_checkpoint(out, _trainable(run.trained()), run.optimizer, {
        "step": done, "curriculum_step": done, "data_position": done * cfg.questions_per_step,
        "config": dataclasses.asdict(cfg)}, keep=cfg.keep_checkpoints)


def finish(run: Run, out: Path, written: int, seconds: float, log) -> None:
    """After the last step: the reward plot, the exported policy (``--export`` or ``--steps 0``; otherwise the
    checkpoint is the policy, which eval and export rebuild), the summary."""
    cfg, metrics = run.cfg, out / "metrics.jsonl"
    if cfg.plot and metrics.is_file() and _read_rows(metrics):
        from .plot import plot_metrics

        plot_metrics(metrics, out / "reward.png")
    export_dir = None
    if cfg.export or cfg.steps == 0:
        from .export import export_policy

        export_dir = out / "final"
        written += export_policy(run.policy, export_dir, cfg)
    written += metrics.stat().st_size
    log(summary(cfg, _read_rows(metrics), out, export_dir, written, seconds))
    held_out = held_out_line(cfg, metrics)
    if held_out:
        log(held_out)


def held_out_line(cfg: TrainConfig, metrics: Path) -> str:
    """The held-out F1 / EM / valid actions of the starting policy vs the final one (``--eval-ends``)."""
    rows = [json.loads(x) for x in metrics.read_text().splitlines() if x.strip()]
    start = next((r for r in rows if r.get("val_start") and "val_f1" in r), None)
    end = next((r for r in reversed(rows) if "step" in r and "val_f1" in r), None)
    if start is None or end is None:
        return ""
    return (f"held-out {cfg.eval_dataset} ({cfg.eval_limit or 'all'} questions, {cfg.eval_backend}, greedy), start "
            f"-> end: F1 {100 * start['val_f1']:.1f} -> {100 * end['val_f1']:.1f}, EM {100 * start['val_em']:.1f} -> "
            f"{100 * end['val_em']:.1f}, valid actions {start['val_valid_action_rate']:.2f} -> "
            f"{end['val_valid_action_rate']:.2f} (a few questions: a direction, not a measurement)")


def _trainable(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach() for n, p in module.named_parameters() if p.requires_grad}


def _read_rows(path: Path) -> list[dict]:
    return [r for r in (json.loads(x) for x in path.read_text().splitlines() if x.strip()) if "step" in r]


def _progress(cfg: TrainConfig, start: int):
    from tqdm import tqdm

    return tqdm(total=cfg.steps, initial=start, disable=not cfg.progress, desc="train")


def _report(cfg: TrainConfig, bar, row: dict, log) -> None:
    bar.update(1)
    bar.set_postfix(reward=f"{row['reward']:.3f}", f1=f"{row['f1']:.3f}", p=f"{row['noise_p']:.2f}",
                    searches=f"{row['searches']:.2f}", tok_s=f"{row['tokens_per_s']:.0f}")
    if not cfg.progress:
        log(f"step {row['step'] + 1}/{cfg.steps}: reward {row['reward']:.3f} f1 {row['f1']:.3f} noise p "
            f"{row['noise_p']:.2f} searches {row['searches']:.2f} valid {row['valid_action_rate']:.2f} "
            f"entropy {row['entropy']:.2f} {row['tokens_per_s']:.0f} tok/s")


def summary(cfg: TrainConfig, rows: list[dict], out: Path, export_dir: Path | None, written: int,
            seconds: float = float("nan")) -> str:
    """A short end-of-run report: reward / F1 / format of the first vs the last steps, paths, time, memory,
    disk, and what to run next."""
    k = max(1, min(3, len(rows) // 2))

    def mean(part, key):
        return sum(r[key] for r in part) / len(part) if part else float("nan")

    first, last = rows[:k], rows[-k:]
    if not rows:  # --steps 0: the warm start only
        start = f"{cfg.warmstart_steps} SFT steps" if cfg.warmstart == "build" else f"--warmstart {cfg.warmstart}"
        lines = [f"done: warm start only ({start}, no RL)"]
    else:
        lines = [f"done: {cfg.steps} steps of {cfg.algo} ({len(rows)} logged)",
                 f"  reward {mean(first, 'reward'):.3f} -> {mean(last, 'reward'):.3f}, F1 {mean(first, 'f1'):.3f}"
                 f" -> {mean(last, 'f1'):.3f} (mean of the first vs last {k} steps)",
                 f"  valid actions {mean(first, 'valid_action_rate'):.2f} -> {mean(last, 'valid_action_rate'):.2f},"
                 f" searches per episode {mean(first, 'searches'):.2f} -> {mean(last, 'searches'):.2f},"
                 f" noise p {rows[0]['noise_p']:.2f} -> {rows[-1]['noise_p']:.2f}"]
    lines.append(f"  checkpoint {out / 'checkpoint'}   metrics {out / 'metrics.jsonl'}" if rows else
                 f"  metrics {out / 'metrics.jsonl'} (warm-start losses)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    if export_dir is not None:
        lines.append(f"  final policy (Hugging Face folder) {export_dir}")
    lines.append(f"  {seconds / 60:.1f} min, peak memory {peak:.0f} MiB, disk written {written / 2**20:.0f} MiB")
    lines.append(f"next: zerosearch eval --policy {export_dir or out} --datasets wiki:dev --backend bm25   "
                 f"(held-out questions, the real engine)")
    if export_dir is None:
        lines.append(f"      zerosearch export {out} {out / 'final'}   (a merged Hugging Face folder: vllm serve, "
                     f"transformers)")
    if cfg.save_episodes and rows:
        lines.append(f"      zerosearch view {out / 'episodes.jsonl'} -o episodes.html   (read the episodes)")
    return "\n".join(lines)
