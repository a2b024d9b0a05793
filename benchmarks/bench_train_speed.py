"""Speed of the trainer's embedded CPU default against plain baselines, in one run on this CPU.

Generation: one turn for the default's 8 first-turn prompts (2 wiki:train questions x 4 rollouts), 96 new
tokens, temperature 1, top-p 0.95, one seed: ``Policy.generate_turns`` on the policy as the trainer builds it
(LoRA r16) and on the plain model, vs plain ``model.generate`` (left padding, no stop strings). Fresh
adapters are zero, so all three sample the same tokens. Training: 8 sequences of ~460 tokens, ~120 policy
tokens each (the default's rollout shape): ``update()`` with the default TrainConfig (LoRA, activation
checkpointing, chunked LM head, old and reference log-probs without grad), its phases timed by wrapping
``score`` and ``optimizer.step``, vs a naive full fine-tuning step (full-vocabulary logits, no checkpointing,
same loss and micro-batches, AdamW), each in a fresh subprocess. Memory: peak RSS above the RSS before
(VmHWM, reset per phase via /proc/self/clear_refs; Linux), freed memory that glibc malloc keeps included
(MALLOC_MMAP_THRESHOLD_=65536 in the environment shows live memory). Times: wall and process CPU time.

    nice -n 19 .venv/bin/python -m pytest benchmarks/bench_train_speed.py -o addopts="" -p no:cacheprovider -s
Env: ZS_BENCH_THREADS (torch threads, default 2); ZS_BENCH_MODEL ("" = SmolLM2-135M-Instruct, "tiny:llama" =
a random 2-layer model for a dry run); ZS_BENCH_MICRO_BATCH (sequences per forward/backward, default:
the trainer's). One training variant alone: ``python <this file> default``.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the subprocess runs this file as a script

from agents.episodes import Episode
from agents.policy import STOP_STRINGS, Policy
from agents.train.algorithms import LossConfig, compute_advantages, policy_loss
from agents.train.build import build_policy, build_reference, make_optimizer
from agents.train.config import TrainConfig
from agents.train.rollout import RolloutBatch, _pad
from agents.train.update import update
from zerosearch_gym import load_qa_dataset
from zerosearch_gym.llm.generation import eos_ids, finish, generate
from zerosearch_gym.protocol import policy_prompt

THREADS = int(os.environ.get("ZS_BENCH_THREADS", "2"))
CFG = TrainConfig(model=os.environ.get("ZS_BENCH_MODEL", ""), device="cpu", progress=False)  # the default
if os.environ.get("ZS_BENCH_MICRO_BATCH"):
    CFG = dataclasses.replace(CFG, micro_batch_size=int(os.environ["ZS_BENCH_MICRO_BATCH"]))
PLAIN = dataclasses.replace(CFG, lora_rank=0, activation_checkpointing=False)
CPU = torch.device("cpu")
SEQ_LEN, POLICY_TOKENS, SEED = 460, 120, 1234
RESULTS: dict = {"generation": {}, "train": {}}
torch.set_num_threads(THREADS)


def first_turn_prompts(policy: Policy) -> list[list[int]]:
    """Token ids of the first turn of the default's rollouts: 2 wiki:train questions x 4 rollouts."""
    questions = [ex.question for ex in load_qa_dataset(CFG.dataset)[:CFG.questions_per_step]]
    return [policy.prompt_ids(policy_prompt(q)) for q in questions for _ in range(CFG.rollouts_per_question)]


def _status_kb(key: str) -> int:
    return int(re.search(rf"{key}:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1))


def _reset_peak() -> int:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS: the next read is the peak from now on
    return _status_kb("VmRSS")


def _warm(model) -> None:
    with torch.no_grad():  # first-call costs (kernel selection, lazy init) out of the timing
        model(input_ids=torch.full((1, 16), 3))


# ------------------------------------------------------------------------------------------ generation
def _trainer(policy, plain, prompts):
    turns = policy.generate_turns(prompts, CFG.max_new_tokens, CFG.temperature, CFG.top_p, seed=SEED)
    return [t.token_ids for t in turns]


def _ours_plain(policy, plain, prompts):
    return [g.token_ids for g in generate(plain, policy.tokenizer, prompts, max_new_tokens=CFG.max_new_tokens,
                                          temperature=CFG.temperature, top_p=CFG.top_p, seed=SEED,
                                          stop_strings=STOP_STRINGS)]


@torch.no_grad()
def _transformers(policy, plain, prompts):
    pad, width = policy.tokenizer.pad_token_id, max(len(p) for p in prompts)
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])  # left padding
    attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    torch.manual_seed(SEED)
    out = plain.generate(input_ids=ids, attention_mask=attention, do_sample=True, temperature=CFG.temperature,
                         top_p=CFG.top_p, top_k=0, max_new_tokens=CFG.max_new_tokens, pad_token_id=pad)
    eos = eos_ids(plain, policy.tokenizer)  # each row up to its first EOS: what the row really sampled
    return [finish(policy.tokenizer, row.tolist(), None, eos, (), CFG.max_new_tokens).token_ids
            for row in out[:, width:]]


GENERATORS = {"trainer (LoRA policy)": _trainer, "ours, plain model": _ours_plain,
              "transformers generate": _transformers}


@pytest.fixture(scope="module")
def models():
    policy = build_policy(CFG, CPU).eval()  # as collect_rollouts samples: LoRA-wrapped, eval mode
    plain = build_policy(PLAIN, CPU).model.eval()
    _warm(policy.model)
    _warm(plain)
    return policy, plain, first_turn_prompts(policy)


@pytest.mark.parametrize("name", list(GENERATORS))
def test_generation(benchmark, models, name):
    cpu, peak = [], []

    def call():
        rss, t0 = _reset_peak(), time.process_time()
        rows = GENERATORS[name](*models)
        cpu.append(time.process_time() - t0)
        peak.append((_status_kb("VmHWM") - rss) / 1024)
        return rows

    rows = benchmark.pedantic(call, rounds=2, iterations=1, warmup_rounds=0)
    g = RESULTS["generation"][name] = {"seconds": benchmark.stats["mean"], "cpu": sum(cpu) / len(cpu),
                                       "tokens": sum(map(len, rows)), "steps": max(map(len, rows)),
                                       "peak_mb": max(peak), "rows": rows}
    print(f"\n{name}: {g['seconds']:.2f} s ({g['cpu']:.2f} CPU-s), {g['tokens']} tokens in {g['steps']} "
          f"decode steps, peak RSS +{g['peak_mb']:.0f} MB")


# ------------------------------------------------------------------------------------- training step
class Phases:
    """Wall time, CPU time and peak RSS (MB above the RSS at creation) of named phases (they add up)."""

    def __init__(self):
        self.base_kb, self.name, self.t0, self.c0 = _status_kb("VmRSS"), None, 0.0, 0.0
        self.stats: dict[str, list[float]] = {}  # name -> [seconds, CPU seconds, peak MB]

    def enter(self, name: str | None) -> None:
        if self.name is not None:
            s = self.stats.setdefault(self.name, [0.0, 0.0, 0.0])
            s[0] += time.perf_counter() - self.t0
            s[1] += time.process_time() - self.c0
            s[2] = max(s[2], (_status_kb("VmHWM") - self.base_kb) / 1024)
        _reset_peak()
        self.name, self.t0, self.c0 = name, time.perf_counter(), time.process_time()

    def result(self, batch: RolloutBatch, trainable: int) -> dict:
        seconds, cpu, peaks = zip(*self.stats.values())
        return {"seconds": sum(seconds), "cpu": sum(cpu), "peak_mb": max(peaks), "phases": self.stats,
                "rss_before_mb": self.base_kb / 1024, "tokens": int(batch.attention_mask.sum()),
                "policy_tokens": int(batch.loss_mask.sum()), "shape": list(batch.input_ids.shape),
                "trainable": trainable}


def rollout_batch(policy: Policy) -> RolloutBatch:
    """The default's rollout shape, built and padded by the rollout's own code: real prompt (mask 0), a
    search turn (mask 1), documents (mask 0), an answer turn (mask 1); random ids, random rewards."""
    g = torch.Generator().manual_seed(SEED)
    ids = lambda n: torch.randint(3, policy.model.config.vocab_size, (n,), generator=g).tolist()
    episodes = []
    for prompt in first_turn_prompts(policy):
        a, b, c = torch.randint(-30, 31, (3,), generator=g).tolist()  # jitter
        search = 65 + a // 2  # 50..80 tokens, then the answer turn: ~POLICY_TOKENS in all
        answer = POLICY_TOKENS - search + b // 3
        docs = SEQ_LEN + c - len(prompt) - search - answer
        e = Episode(None)
        e.add_context(prompt)
        e.add_turn(ids(search))
        e.add_context(ids(docs))
        e.add_turn(ids(answer))
        e.reward = float(torch.rand((), generator=g))
        episodes.append(e)
    return _pad(episodes, CFG.rollouts_per_question, policy.tokenizer.pad_token_id)


def run_default() -> dict:
    policy = build_policy(CFG, CPU)
    ref = build_reference(CFG, policy, Path("."))  # LoRA: the same model with its adapters off
    optimizer, batch = make_optimizer(CFG, policy, None), rollout_batch(policy)
    _warm(policy.model)
    phases = Phases()
    score, ref_score, step = policy.score, ref.score, optimizer.step

    def timed_score(*args, **kwargs):
        if phases.name == "reference log-probs (no grad)":  # AdaptersOff.score calls policy.score
            return score(*args, **kwargs)
        grad = torch.is_grad_enabled()
        phases.enter("train forward (score)" if grad else "old log-probs + entropy (no grad)")
        out = score(*args, **kwargs)
        phases.enter("loss + backward + clip" if grad else "advantages, other")
        return out

    def timed(fn, name):
        def wrapped(*args, **kwargs):
            phases.enter(name)
            out = fn(*args, **kwargs)
            phases.enter("advantages, other")
            return out
        return wrapped

    policy.score = timed_score
    ref.score, optimizer.step = timed(ref_score, "reference log-probs (no grad)"), timed(step, "AdamW step")
    policy.eval()  # as loop.train leaves it after the rollouts
    phases.enter("advantages, other")
    update(policy, ref, batch, optimizer, CFG, CPU)
    phases.enter(None)
    return phases.result(batch, sum(p.numel() for p in policy.parameters() if p.requires_grad))


def run_naive() -> dict:
    policy = build_policy(PLAIN, CPU)  # full precision, no LoRA, no activation checkpointing
    model, batch = policy.model.train(), rollout_batch(policy)
    optimizer = torch.optim.AdamW(model.parameters(), lr=CFG.lr, weight_decay=CFG.weight_decay)
    mask = batch.loss_mask.float()
    adv, _ = compute_advantages("grpo", batch.rewards, batch.group_ids, mask)
    loss_cfg, n_tokens = LossConfig(CFG.clip_eps, 0.0, CFG.kl_estimator, 0.0), mask.sum().item()
    _warm(model)
    phases = Phases()

    def micro_step(rows):
        ids, attn = batch.input_ids[rows], batch.attention_mask[rows]
        phases.enter("body forward")  # model(ids).logits, in its two halves to see each one's memory
        hidden = model.get_decoder()(input_ids=ids, attention_mask=attn).last_hidden_state
        phases.enter("full logits + log_softmax + loss")
        logp = model.get_output_embeddings()(hidden[:, :-1]).float().div(CFG.temperature).log_softmax(-1)
        lp = torch.zeros_like(mask[rows])
        lp[:, 1:] = logp.gather(-1, ids[:, 1:, None]).squeeze(-1)
        loss, _ = policy_loss(lp, lp.detach(), adv[rows], mask[rows], loss_cfg, num_tokens=n_tokens)
        phases.enter("backward")
        loss.backward()

    optimizer.zero_grad(set_to_none=True)
    for rows in torch.arange(len(batch)).split(CFG.micro_batch_size):
        micro_step(rows)
    phases.enter("clip + AdamW step")
    torch.nn.utils.clip_grad_norm_(model.parameters(), CFG.max_grad_norm)
    optimizer.step()
    phases.enter(None)
    return phases.result(batch, sum(p.numel() for p in model.parameters()))


VARIANTS = {"default": run_default, "naive": run_naive}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_train_step(variant):
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS), ZS_BENCH_THREADS=str(THREADS))
    proc = subprocess.run([sys.executable, __file__, variant], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"expected the {variant} step to run, got:\n{proc.stderr[-3000:]}"
    r = RESULTS["train"][variant] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\n{variant}: {r['seconds']:.1f} s ({r['cpu']:.1f} CPU-s) for {r['tokens']} tokens "
          f"({r['policy_tokens']} policy tokens, padded {r['shape']}), peak RSS +{r['peak_mb']:.0f} MB over "
          f"{r['rss_before_mb']:.0f} MB, {r['trainable'] / 1e6:.2f}M trainable parameters")
    for name, (sec, cpu, peak) in r["phases"].items():
        print(f"  {name:34s} {sec:7.2f} s {cpu:7.2f} CPU-s {100 * cpu / r['cpu']:5.1f} %  +{peak:5.0f} MB")


def _rates(r: dict) -> tuple[float, float]:
    return r["tokens"] / r["seconds"], r["tokens"] / r["cpu"]  # tokens/s (wall), tokens per CPU-second


def _line(name: str, r: dict, extra: str = "") -> str:
    wall, cpu = _rates(r)
    return f"{name:46s} {wall:9.1f} {cpu:12.1f} {extra}"


def _ratio(a: dict, b: dict) -> str:
    (wall_a, cpu_a), (wall_b, cpu_b) = _rates(a), _rates(b)
    return f"{cpu_a / cpu_b:.2f}x tokens/CPU-s ({wall_a / wall_b:.2f}x tokens/s wall)"


def test_summary():
    gen, train, load = RESULTS["generation"], RESULTS["train"], os.getloadavg()[0]
    if THREADS > 1 and load + THREADS > 1.5 * os.cpu_count():  # each parallel op then waits for a CPU
        print(f"\nwarning: load average {load:.1f} on {os.cpu_count()} CPUs: {THREADS} threads measure "
              "OpenMP waits more than the code; rerun on a quiet machine or with ZS_BENCH_THREADS=1")
    print(f"\n{CFG.model or 'SmolLM2-135M-Instruct'}, {THREADS} torch threads, load average {load:.1f}\n"
          f"{'variant':46s} {'tokens/s':>9s} {'tokens/CPU-s':>12s} {'CPU ms/step':>11s} {'peak +MB':>12s}")
    for name, g in gen.items():
        print(_line("generate: " + name, g, f"{1000 * g['cpu'] / g['steps']:11.1f} {g['peak_mb']:12.0f}"))
    for name, r in train.items():
        print(_line("train: " + name, r, f"{'':11s} {r['peak_mb']:12.0f}"))
    if "default" in train:  # the phases with grad: what a trainer without old / reference scoring would pay
        d = train["default"]
        sec, cpu, _ = zip(*(s for k, s in d["phases"].items() if "no grad" not in k))
        print(_line("train: default, grad step only (no old/ref)", dict(d, seconds=sum(sec), cpu=sum(cpu))))
    trainer, plain = gen.get("trainer (LoRA policy)"), gen.get("transformers generate")
    if trainer and plain:
        same = sum(p[:len(t)] == t for t, p in zip(trainer["rows"], plain["rows"]))
        print(f"generate, trainer / transformers: {_ratio(trainer, plain)} ({same}/{len(plain['rows'])} rows "
              "sampled the same tokens)")
    if len(train) == 2:
        d, n = train["default"], train["naive"]
        print(f"train, default / naive: {_ratio(d, n)}, {d['peak_mb'] / n['peak_mb']:.2f}x peak RSS growth")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)
    print(json.dumps(VARIANTS[sys.argv[1]]()))
