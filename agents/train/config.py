"""The training configuration: one dataclass, one help line per field, presets, and an argparse bridge.

``TrainConfig()`` is the embedded default: SmolLM2-135M-Instruct on CPU against the offline BM25 backend,
a handful of steps (about 10 minutes on 2 cores), warm-started by a short SFT on scripted trajectories and
trained with the format-shaped reward, because a 135M policy does not follow the paper's format unaided.

``PRESETS["paper"]`` is ZeroSearch's GPU recipe for 3B+ policies (pure F1 reward, no warm start):
lr 1e-6, KL 0.001, clip 0.2, 64 questions x 5 rollouts, 203 steps, temperature 1.0, top-p 0.95,
curriculum p_s = 0 -> p_e = 0.5 with base b = 4.
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, fields


@dataclass
class TrainConfig:
    """Every knob of ``zerosearch train``; the comment after each field is its --help line."""

    model: str = ""  # policy checkpoint folder or hub id; "" = SmolLM2-135M-Instruct from the offline cache
    algo: str = "grpo"  # ppo | grpo | reinforce_pp
    backend: str = "bm25"  # search backend spec (bm25, hf:<simulator>, openai:<url>, ...)
    dataset: str = "sample:in-wiki"  # QA dataset path, hub id or "sample:in-wiki" (sample questions bm25 can answer); "" = the whole sample
    output_dir: str = "runs/zerosearch"  # checkpoints, metrics.jsonl and the plot go here
    steps: int = 5  # training steps (curriculum total m)
    questions_per_step: int = 2  # questions per step
    rollouts_per_question: int = 4  # G: rollouts per question (the group of GRPO / REINFORCE++)
    max_turns: int = 1  # search turns before the forced answer turn
    top_k: int = 3  # documents per search
    max_new_tokens: int = 40  # max generated tokens per policy turn
    max_obs_tokens: int = 96  # observation (documents) tokens kept per search, the rest is cut
    max_seq_len: int = 512  # context limit per episode; overflow ends the episode as truncated
    temperature: float = 1.0  # sampling temperature (log-probs are computed at the same temperature)
    top_p: float = 0.95  # nucleus sampling
    lr: float = 1e-5  # AdamW learning rate (the paper preset uses 1e-6)
    weight_decay: float = 0.0  # AdamW weight decay
    max_grad_norm: float = 1.0  # gradient clipping
    clip_eps: float = 0.2  # PPO ratio clip
    kl_coef: float = 0.001  # beta: KL(policy || reference) added to the loss (0 = no reference model)
    kl_estimator: str = "k3"  # k1 | k3
    entropy_coef: float = 0.0  # entropy bonus
    value_coef: float = 0.5  # critic loss weight (PPO)
    ppo_epochs: int = 1  # passes over each rollout batch
    mini_batches: int = 1  # optimizer steps per epoch
    micro_batch_size: int = 4  # sequences per forward/backward (gradient accumulation inside a mini-batch)
    logprob_chunk: int = 512  # policy tokens per chunk when computing log-probs (no full-vocab fp32 batch)
    format_reward: bool = True  # Search-R1 format-shaped reward (0.2 well-formed wrong / 0.1 malformed)
    warmstart_steps: int = 8  # SFT steps on scripted trajectories before RL (0 = none)
    warmstart_lr: float = 1e-4  # learning rate of the warm-start SFT
    noise_start: float = 0.0  # curriculum p_s: noise probability at step 0
    noise_end: float = 0.5  # curriculum p_e: noise probability at the last step
    noise_base: float = 4.0  # curriculum base b
    device: str = "auto"  # auto | cpu | cuda
    rollout_engine: str = "fastgen"  # fastgen (CUDA-graph decoder / transformers) | vllm (extra; weights synced each step)
    bf16: bool = True  # bfloat16 weights + autocast on CUDA (ignored on CPU)
    seed: int = 0  # RNG seed (data order, sampling, env)
    save_every: int = 3  # checkpoint every N steps (0 = only at the end)
    resume: bool = False  # continue from output_dir/checkpoint (model, optimizer, RNG, step, data position)
    plot: bool = True  # write reward.png at the end
    progress: bool = True  # tqdm progress bar

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the field and the fix for values the trainer cannot use."""
        from .algorithms import ALGORITHMS

        if self.algo not in ALGORITHMS:
            raise ValueError(f"expected --algo in {ALGORITHMS}, got {self.algo!r}")
        if self.kl_estimator not in ("k1", "k3"):
            raise ValueError(f"expected --kl-estimator k1 or k3, got {self.kl_estimator!r}")
        for name in ("steps", "questions_per_step", "rollouts_per_question", "max_new_tokens",
                     "micro_batch_size", "ppo_epochs", "mini_batches", "max_seq_len", "logprob_chunk"):
            if getattr(self, name) < 1:
                raise ValueError(f"expected --{name.replace('_', '-')} >= 1, got {getattr(self, name)}")
        if self.algo == "grpo" and self.rollouts_per_question < 2:
            raise ValueError("expected --rollouts-per-question >= 2 for grpo (a group of one has no "
                             f"advantage), got {self.rollouts_per_question}")
        if not 0.0 < self.top_p <= 1.0 or self.temperature <= 0:
            raise ValueError(f"expected 0 < top_p <= 1 and temperature > 0, got top_p={self.top_p}, "
                             f"temperature={self.temperature}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"expected --device auto, cpu or cuda, got {self.device!r}")
        if self.rollout_engine not in ("fastgen", "vllm"):
            raise ValueError(f"expected --rollout-engine fastgen or vllm, got {self.rollout_engine!r}")
        if self.rollout_engine == "vllm":
            from zerosearch_gym.llm.models import import_vllm

            import_vllm()  # a clear "install zerosearch-gym[vllm]" before any work
        return self


PRESETS: dict[str, dict] = {
    # ZeroSearch's recipe (GPU, 3B+ policies that follow the format without help).
    "paper": {
        "model": "Qwen/Qwen2.5-3B", "dataset": "sunhaonlp/ZeroSearch_dataset",
        "backend": "openai:http://127.0.0.1:8000/v1",  # a served simulator, e.g. Simulation_LLM_google_14B_V2
        "lr": 1e-6, "kl_coef": 0.001, "clip_eps": 0.2, "questions_per_step": 64, "rollouts_per_question": 5,
        "steps": 203, "temperature": 1.0, "top_p": 0.95, "noise_start": 0.0, "noise_end": 0.5,
        "noise_base": 4.0, "max_turns": 4, "top_k": 5, "max_new_tokens": 500, "max_obs_tokens": 500,
        "max_seq_len": 4096, "format_reward": False, "warmstart_steps": 0, "micro_batch_size": 8,
        "save_every": 20,
    },
    # The embedded CPU default (the dataclass defaults), named for clarity.
    "cpu-demo": {},
    # A tiny random model; for tests and smoke runs (seconds).
    "tiny": {
        "steps": 2, "questions_per_step": 2, "rollouts_per_question": 2, "max_turns": 1, "max_new_tokens": 8,
        "max_obs_tokens": 32, "max_seq_len": 512, "warmstart_steps": 2, "save_every": 1, "plot": False,
        "progress": False,
    },
}


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _help_lines() -> dict[str, str]:
    """Field name -> the comment after it in the source, used as the --help text."""
    import inspect

    helps = {}
    for line in inspect.getsource(TrainConfig).splitlines():
        name, sep, rest = line.strip().partition(":")
        if sep and "#" in rest and name.isidentifier():
            helps[name] = rest.split("#", 1)[1].strip()
    return helps


def build_parser() -> argparse.ArgumentParser:
    """An argparse parser with one --flag per TrainConfig field plus --preset."""
    parser = argparse.ArgumentParser(prog="zerosearch train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu-demo",
                        help="start from a preset, then apply the flags given")
    helps = _help_lines()
    for f in fields(TrainConfig):
        kind = {bool: _parse_bool, int: int, float: float}.get(type(f.default), str)
        flag_only = {"nargs": "?", "const": True} if kind is _parse_bool else {}
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=kind, default=None,
                            **flag_only,
                            metavar=type(f.default).__name__.upper(),
                            help=f"{helps.get(f.name, '')} (default: {f.default!r})")
    return parser


def parse_config(argv: list[str] | None = None) -> TrainConfig:
    """Command line -> validated TrainConfig (preset first, explicit flags override it)."""
    args = vars(build_parser().parse_args(argv))
    preset = PRESETS[args.pop("preset")]
    overrides = {k: v for k, v in args.items() if v is not None}
    return dataclasses.replace(TrainConfig(), **{**preset, **overrides}).validate()
