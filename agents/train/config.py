"""Train a policy LLM to search, against ZeroSearch-v0.

With no flags this runs the embedded CPU default: SmolLM2-135M-Instruct (offline) with LoRA adapters, started
from the shipped warm start (an SFT adapter on scripted search trajectories: a 135M model does not follow the
search/answer format unaided), then
GRPO against the shipped tuned search simulator (SmolLM2 + a LoRA adapter writing useful or noisy documents)
with the noise curriculum, on cloze questions from the offline Wikipedia summaries (wiki:train), and evaluates
the starting and the final policy on a few held-out wiki:dev questions against BM25. It writes
metrics.jsonl, episodes.jsonl, reward.png and a resumable checkpoint (the LoRA adapters) to --output-dir.
Evaluate the policy against the real engine: zerosearch eval --policy RUN_DIR --datasets wiki:dev --backend
bm25; zerosearch export RUN_DIR OUT (or --export) writes it as a merged Hugging Face folder.

--preset paper is ZeroSearch's GPU recipe (a 3B+ policy, a served simulator, 203 steps). Any flag given
after the preset overrides it. A killed run continues with the same flags plus --resume.
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field, fields


def arg(default, help: str):  # noqa: A002 - the dataclass field's --help line
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Every knob of ``zerosearch train``; each field's metadata["help"] is its --help line."""

    model: str = arg("", "policy checkpoint folder or hub id; '' = SmolLM2-135M-Instruct from the offline cache")
    algo: str = arg("grpo", "ppo | grpo | reinforce_pp")
    backend: str = arg("hf?max_new_tokens=256", "search backend spec: hf = the shipped tuned SmolLM2 simulator "
                       "(five ~30-word useful or noisy documents, so the curriculum acts); bm25, hf:<model>, "
                       "openai:<url>, ...")
    dataset: str = arg("wiki:train", "QA dataset: wiki:train (cloze questions from the offline Wikipedia "
                       "summaries; wiki:dev is held out), sample:in-wiki, a file path or a hub id")
    output_dir: str = arg("runs/zerosearch", "checkpoints, metrics.jsonl, the plot and the final policy go here")
    steps: int = arg(3, "RL steps (the curriculum's total m); 0 = the warm start only, exported as the policy")
    questions_per_step: int = arg(2, "questions per step")
    rollouts_per_question: int = arg(4, "G: rollouts per question (the group of GRPO / REINFORCE++)")
    max_turns: int = arg(1, "search turns before the forced answer turn")
    top_k: int = arg(3, "documents per search")
    max_new_tokens: int = arg(96, "max generated tokens per policy turn (a think + search turn that repeats "
                              "a long question needs ~80)")
    max_obs_tokens: int = arg(256, "observation (documents) tokens kept per search, the rest is cut")
    max_seq_len: int = arg(768, "context limit per episode; overflow ends the episode as truncated")
    temperature: float = arg(1.0, "sampling temperature (log-probs are computed at the same temperature)")
    top_p: float = arg(0.95, "nucleus sampling")
    lr: float = arg(1e-4, "actor learning rate (AdamW); the paper preset uses 1e-6 for full fine-tuning")
    critic_lr: float = arg(1e-5, "critic learning rate (PPO value head or --critic-model); ZeroSearch: 1e-5")
    critic_model: str = arg("", "PPO: a separate critic model (folder or hub id, same tokenizer); '' = a "
                            "value head on the policy")
    warmup_ratio: float = arg(0.0, "share of the optimizer steps with a linear actor lr warmup")
    critic_warmup_ratio: float = arg(0.0, "share of the optimizer steps with a linear critic lr warmup")
    lora_rank: int = arg(16, "LoRA rank of the policy adapters (0 = full fine-tuning); the KL reference is "
                         "the base with adapters off")
    lora_alpha: float = arg(32.0, "LoRA alpha (scale = alpha / rank)")
    weight_decay: float = arg(0.0, "AdamW weight decay")
    max_grad_norm: float = arg(1.0, "gradient clipping")
    clip_eps: float = arg(0.2, "PPO ratio clip")
    kl_coef: float = arg(0.001, "beta: KL(policy || reference) weight (0 = no reference model)")
    kl_estimator: str = arg("k3", "k1 | k3")
    kl_in_reward: bool = arg(False, "PPO: put -beta * KL into the per-token reward instead of the loss "
                             "(ZeroSearch's PPO)")
    entropy_coef: float = arg(0.0, "entropy bonus")
    value_coef: float = arg(0.5, "critic loss weight (PPO)")
    ppo_epochs: int = arg(1, "passes over each rollout batch")
    mini_batches: int = arg(1, "optimizer steps per epoch")
    micro_batch_size: int = arg(2, "sequences per forward/backward (gradient accumulation in a mini-batch; "
                                             "fewer = less peak memory)")
    logprob_chunk: int = arg(512, "policy tokens per chunk when computing log-probs")
    tis_cap: float = arg(0.0, "truncated importance sampling: weight tokens by min(p_trainer / p_sampler, "
                         "cap) to correct for the rollout engine's numerics (0 = off)")
    format_reward: bool = arg(True, "Search-R1 format-shaped reward (0.2 well-formed wrong / 0.1 malformed)")
    action_format: str = arg("tags", "tags (<search>/<answer>) | tool_call (a JSON <tool_call>, Hermes/Qwen form; "
                             "use --warmstart none: the warm starts write tags)")
    report_to: str = arg("none", "training dashboard: none | tensorboard | wandb (WANDB_MODE=offline needs no "
                         "account)")
    warmstart: str = arg("shipped", "the policy's starting point before RL: shipped (the committed SFT adapter "
                         "for SmolLM2-135M-Instruct: 1,024 scripted wiki:train trajectories, scripts/"
                         "build_warmstart.py) | build (--warmstart-steps SFT steps on scripted trajectories in "
                         "this run) | none | a folder scripts/build_warmstart.py wrote")
    warmstart_steps: int = arg(4, "with --warmstart build: SFT steps on scripted trajectories before RL")
    warmstart_lr: float = arg(1e-3, "learning rate of the warm-start SFT")
    noise_start: float = arg(0.0, "curriculum p_s: noise probability at step 0")
    noise_end: float = arg(0.5, "curriculum p_e: noise probability at the last step")
    noise_base: float = arg(4.0, "curriculum base b")
    noise_kind: str = arg("exponential", "exponential (ZeroSearch's curriculum) | fixed (always --noise-end) | "
                          "random (p uniform in [--noise-start, --noise-end] per episode): the ablations")
    device: str = arg("auto", "auto | cpu | cuda")
    rollout_engine: str = arg("fastgen", "fastgen (CUDA-graph decoder / transformers) | vllm (extra; weights "
                              "synced each step)")
    bf16: bool = arg(True, "bfloat16 autocast on CUDA (ignored on CPU)")
    activation_checkpointing: bool = arg(True, "recompute each layer's activations in the backward pass "
                                         "(less peak memory, a slower update)")
    seed: int = arg(0, "RNG seed (data order, sampling, env)")
    save_every: int = arg(3, "checkpoint every N steps (0 = only at the end)")
    keep_checkpoints: int = arg(1, "checkpoints kept on disk (the newest K)")
    resume: bool = arg(False, "continue from output_dir/checkpoint (model, optimizer, RNG, step, data position)")
    export: bool = arg(False, "also write the policy as a merged Hugging Face folder, output_dir/final (a "
                       "full model: 538 MB for SmolLM2-135M); without it, eval --policy RUN_DIR and export "
                       "RUN_DIR OUT rebuild it from the checkpoint. Always on with --steps 0")
    plot: bool = arg(True, "write reward.png at the end")
    save_episodes: bool = arg(True, "append every episode with its turns to output_dir/episodes.jsonl "
                              "(zerosearch view episodes.jsonl -o page.html)")
    eval_every: int = arg(0, "held-out evaluation (greedy) after every N steps and the last; 0 = none")
    eval_dataset: str = arg("wiki:dev", "held-out set(s) for --eval-every, comma-separated (zerosearch "
                            "eval --datasets names)")
    eval_backend: str = arg("bm25", "search backend of the held-out evaluation (the real engine)")
    eval_limit: int = arg(16, "questions per held-out set (0 = all)")
    eval_ends: bool = arg(True, "held-out evaluation (greedy) of the starting policy before the first step and "
                          "of the final one; the summary prints both")
    progress: bool = arg(True, "tqdm progress bar")

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the field and the fix for values the trainer cannot use."""
        from .algorithms import ALGORITHMS

        if self.algo not in ALGORITHMS:
            raise ValueError(f"expected --algo in {ALGORITHMS}, got {self.algo!r}")
        if self.action_format not in ("tags", "tool_call"):
            raise ValueError(f"expected --action-format tags or tool_call, got {self.action_format!r}")
        if self.report_to not in ("none", "tensorboard", "wandb"):
            raise ValueError(f"expected --report-to tensorboard, wandb or none, got {self.report_to!r}")
        if self.kl_estimator not in ("k1", "k3"):
            raise ValueError(f"expected --kl-estimator k1 or k3, got {self.kl_estimator!r}")
        no_start = self.warmstart == "none" or (self.warmstart == "build" and self.warmstart_steps <= 0)
        if self.steps < 0 or (self.steps == 0 and no_start):
            raise ValueError(f"expected --steps >= 1 (or 0 with a warm start: the warm start only), got --steps "
                             f"{self.steps} --warmstart {self.warmstart} --warmstart-steps {self.warmstart_steps}")
        for name in ("questions_per_step", "rollouts_per_question", "max_new_tokens",
                     "micro_batch_size", "ppo_epochs", "mini_batches", "max_seq_len", "logprob_chunk",
                     "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"expected --{name.replace('_', '-')} >= 1, got {getattr(self, name)}")
        if self.algo == "grpo" and self.rollouts_per_question < 2:
            raise ValueError("expected --rollouts-per-question >= 2 for grpo (a group of one has no "
                             f"advantage), got {self.rollouts_per_question}")
        if self.kl_in_reward and self.algo == "grpo":
            raise ValueError("expected --kl-in-reward with --algo ppo or reinforce_pp (GRPO's reward is one "
                             "scalar per sequence), got grpo")
        if self.critic_model and self.algo != "ppo":
            raise ValueError(f"expected --critic-model only with --algo ppo, got --algo {self.algo}")
        if not 0.0 < self.top_p <= 1.0 or self.temperature <= 0:
            raise ValueError(f"expected 0 < top_p <= 1 and temperature > 0, got top_p={self.top_p}, "
                             f"temperature={self.temperature}")
        for name in ("warmup_ratio", "critic_warmup_ratio"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"expected 0 <= --{name.replace('_', '-')} < 1, got {getattr(self, name)}")
        if self.lora_rank < 0 or self.tis_cap < 0:
            raise ValueError(f"expected --lora-rank >= 0 and --tis-cap >= 0, got {self.lora_rank}, {self.tis_cap}")
        from zerosearch_gym.curriculum import KINDS, check_probability

        if self.noise_kind not in KINDS:
            raise ValueError(f"expected --noise-kind in {', '.join(KINDS)}, got {self.noise_kind!r}")
        check_probability(self.noise_start, "--noise-start")
        check_probability(self.noise_end, "--noise-end")
        return self._check_outside()

    def _check_outside(self) -> TrainConfig:
        """The parts of the config that name things outside it: backends, device, engine, warm start."""
        from zerosearch_gym.backends.registry import parse_spec

        parse_spec(self.backend)  # an unknown kind or option fails here, before any model loads
        if self.eval_every > 0 or self.eval_ends:
            parse_spec(self.eval_backend)
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"expected --device auto, cpu or cuda, got {self.device!r}")
        if self.rollout_engine not in ("fastgen", "vllm"):
            raise ValueError(f"expected --rollout-engine fastgen or vllm, got {self.rollout_engine!r}")
        if self.rollout_engine == "vllm":
            from zerosearch_gym.llm.models import import_vllm

            import_vllm()  # a clear "install zerosearch-gym[vllm]" before any work
        if self.warmstart not in ("build", "none"):
            from ..warmstart_adapter import adapter_folder, check_adapter

            check_adapter(adapter_folder(self.warmstart), self.model)  # base model, rank, sha256: no model loads
        return self


PRESETS: dict[str, dict] = {
    # ZeroSearch's recipe (GPU, 3B+ policies that follow the format without help). PPO settings follow the
    # verl scripts of Search-R1 that ZeroSearch builds on: actor lr 1e-6 with warmup ratio 0.285, critic lr
    # 1e-5 with warmup ratio 0.015, KL in the reward, entropy coefficient 0.001.
    "paper": {
        "model": "Qwen/Qwen2.5-3B", "dataset": "sunhaonlp/ZeroSearch_dataset",
        "backend": "openai:http://127.0.0.1:8000/v1",  # a served simulator, e.g. Simulation_LLM_google_14B_V2
        "lr": 1e-6, "critic_lr": 1e-5, "warmup_ratio": 0.285, "critic_warmup_ratio": 0.015,
        "entropy_coef": 0.001, "kl_coef": 0.001, "clip_eps": 0.2, "questions_per_step": 64,
        "rollouts_per_question": 5, "steps": 203, "temperature": 1.0, "top_p": 0.95, "noise_start": 0.0,
        "noise_end": 0.5, "noise_base": 4.0, "max_turns": 4, "top_k": 5, "max_new_tokens": 500,
        "max_obs_tokens": 500, "max_seq_len": 4096, "format_reward": False, "warmstart_steps": 0,
        "micro_batch_size": 8, "save_every": 20, "lora_rank": 0, "export": True, "warmstart": "none",
    },
    # The embedded CPU default (the dataclass defaults), named for clarity.
    "cpu-demo": {},
    # A tiny random model; for tests and smoke runs (seconds).
    "tiny": {
        "backend": "bm25", "steps": 2, "questions_per_step": 2, "rollouts_per_question": 2, "max_turns": 1,
        "max_new_tokens": 8,
        "max_obs_tokens": 32, "max_seq_len": 512, "warmstart_steps": 2, "save_every": 1, "plot": False,
        "progress": False, "lora_rank": 0, "lr": 1e-5, "warmstart_lr": 1e-4, "export": False,
        "warmstart": "build", "eval_ends": False,
    },
}


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    """An argparse parser with one --flag per TrainConfig field plus --preset."""
    import sys

    parser = argparse.ArgumentParser(prog="zerosearch train", description=sys.modules[__name__].__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu-demo",
                        help="start from a preset, then apply the flags given")
    for f in fields(TrainConfig):
        kind = {bool: _parse_bool, int: int, float: float}.get(type(f.default), str)
        flag_only = {"nargs": "?", "const": True} if kind is _parse_bool else {}
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=kind, default=None,
                            **flag_only, metavar=type(f.default).__name__.upper(),
                            help=f"{f.metadata['help']} (default: {f.default!r})")
    return parser


def parse_config(argv: list[str] | None = None) -> TrainConfig:
    """Command line -> validated TrainConfig (preset first, explicit flags override it)."""
    args = vars(build_parser().parse_args(argv))
    preset = PRESETS[args.pop("preset")]
    overrides = {k: v for k, v in args.items() if v is not None}
    return dataclasses.replace(TrainConfig(), **{**preset, **overrides}).validate()
