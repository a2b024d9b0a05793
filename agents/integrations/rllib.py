"""RLlib (new API stack, ray 2.60) glue: an env creator, a curriculum callback and an RLModule on a causal LM.

- ``config.environment("zerosearch_gym:ZeroSearchToken-v0", env_config={...})`` needs nothing from here: the
  registered token view takes ``env_config`` as keyword arguments (every sub-env gets the same ``seed``).
- :func:`env_creator` — ``ray.tune.register_env("zerosearch-token", env_creator)``: the token view of
  ZeroSearch-v0 built from ``env_config``; honours ``EnvContext`` (worker and vector index -> distinct seeds) and
  returns a VectorEnv when ``num_envs`` is in the config (``gym_env_vectorize_mode="vector_entry_point"``).
- :class:`CurriculumCallback` — RLlib never passes reset options, so after every ``train()`` it calls
  ``set_curriculum_step(iteration)`` on every env of every env runner (and again on recreated runners).
- :class:`CausalLMModule` — a ``TorchRLModule`` + ``ValueFunctionAPI`` around a Hugging Face causal LM with a
  value head; it samples the next token *inside* the module, so env runners ship one id and one log-prob per
  step instead of ``vocab_size`` logits (use with ``training(use_kl_loss=False)``).

Each step re-encodes the whole context window (an RLModule has no KV cache across steps): this is for small
models and many env runners; the project's own trainer (``agents.train``) is the path for real LLMs.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.apis import ValueFunctionAPI
from ray.rllib.core.rl_module.torch import TorchRLModule

import zerosearch_gym  # noqa: F401  (registers ZeroSearch-v0 in this process)
from zerosearch_gym.seeding import spawn_seeds
from zerosearch_gym.wrappers import ZeroSearchTokenEnv, make_token_env


def load_tokenizer(spec: Any):
    """``None``/``"smollm2"``: the offline SmolLM2 tokenizer; a str: a tokenizer folder; else the object itself."""
    if spec is None or spec == "smollm2":
        from zerosearch_gym.llm import smollm2_tokenizer

        return smollm2_tokenizer()
    if isinstance(spec, str):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(spec)
    return spec


def env_creator(config: dict) -> "gym.Env | gym.vector.VectorEnv":
    """Build the token view from an RLlib ``EnvContext`` (or a plain dict).

    Keys: ``tokenizer``, ``context_len``, ``max_turn_tokens``, ``chat_template``, ``seed`` (base seed), and any
    ZeroSearchEnv argument (``backend``, ``dataset``, ``max_turns``, ``noise`` …). With ``num_envs`` it returns a
    ``SyncVectorEnv`` of that many token envs sharing one backend (next-step autoreset, as RLlib needs).
    """
    cfg = dict(config)
    worker = getattr(config, "worker_index", 0)
    vector = getattr(config, "vector_index", 0)
    num_envs, base_seed = cfg.pop("num_envs", None), cfg.pop("seed", None)
    cfg["tokenizer"] = load_tokenizer(cfg.get("tokenizer"))
    cfg["backend"] = zerosearch_gym.make_backend(cfg.get("backend") or "bm25")  # one backend per runner

    def one(i: int) -> ZeroSearchTokenEnv:
        seed = None if base_seed is None else spawn_seeds(base_seed, 1, worker, vector + i)[0]
        return make_token_env(seed=seed, **cfg)  # unknown keys: a ValueError naming the known ones

    if num_envs is None:
        return one(0)
    return gym.vector.SyncVectorEnv([lambda i=i: one(i) for i in range(int(num_envs))])


def _set_step(env_runner, step: int, total_steps: int | None):
    if getattr(env_runner, "env", None) is None:  # the local runner holds no env when there are remote ones
        return None
    return len(env_runner.env.unwrapped.call("set_curriculum_step", step, total_steps))


class CurriculumCallback(RLlibCallback):
    """Set the noise curriculum to the training iteration on every env after each ``Algorithm.train()``.

    ``result["curriculum_step"]`` is the step sent, ``result["curriculum_envs"]`` how many envs took it. Use
    ``CurriculumCallback.with_total_steps(n)`` to stretch the schedule over ``n`` iterations.
    """

    total_steps: int | None = None

    @classmethod
    def with_total_steps(cls, total_steps: int) -> type:
        return type("CurriculumCallback", (cls,), {"total_steps": int(total_steps)})

    def on_train_result(self, *, algorithm, metrics_logger=None, result: dict, **kwargs) -> None:
        step, total = int(algorithm.iteration), self.total_steps
        applied = algorithm.env_runner_group.foreach_env_runner(lambda er: _set_step(er, step, total))
        result["curriculum_step"] = step
        result["curriculum_envs"] = sum(n for n in applied if n)

    def on_env_runners_recreated(self, *, algorithm, env_runner_group, env_runner_indices, is_evaluation, **kw):
        step, total = int(algorithm.iteration), self.total_steps  # a rebuilt runner starts from env_config
        env_runner_group.foreach_env_runner(lambda er: _set_step(er, step, total),
                                            remote_worker_ids=env_runner_indices, local_env_runner=False)


class CausalLMModule(TorchRLModule, ValueFunctionAPI):
    """A causal LM policy over the token view: next-token logits from the last position, a linear value head.

    ``model_config``: ``model`` (a checkpoint folder; default a random Llama of ``hidden_size`` and
    ``num_layers`` on the action space's vocabulary), ``hidden_size`` (64), ``num_layers`` (2).
    Observations are the token view's ``{"ids", "mask"}`` (left-padded).
    """

    def setup(self):
        from transformers import AutoModelForCausalLM, LlamaConfig

        vocab, cfg = int(self.action_space.n), dict(self.model_config or {})
        if cfg.get("model"):
            self.lm = AutoModelForCausalLM.from_pretrained(cfg["model"], dtype=torch.float32)
            if self.lm.get_output_embeddings().weight.shape[0] < vocab:
                raise ValueError(f"expected the model's vocabulary to cover the action space ({vocab} tokens), got "
                                 f"{self.lm.get_output_embeddings().weight.shape[0]}")
        else:
            d = int(cfg.get("hidden_size", 64))
            self.lm = AutoModelForCausalLM.from_config(LlamaConfig(
                vocab_size=vocab, hidden_size=d, intermediate_size=2 * d, num_hidden_layers=int(cfg.get("num_layers", 2)),
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096, bos_token_id=0,
                eos_token_id=0, pad_token_id=0, tie_word_embeddings=True))
        self.vocab = vocab
        self.v_head = torch.nn.Linear(self.lm.config.hidden_size, 1)

    def _lm(self, batch):
        obs = batch[Columns.OBS]
        ids, mask = obs["ids"].long(), obs["mask"].long()
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding
        out = self.lm(input_ids=ids, attention_mask=mask, position_ids=positions, output_hidden_states=True,
                      logits_to_keep=1)  # only the newest position's logits are needed
        return out.logits[:, -1, : self.vocab].float(), out.hidden_states[-1][:, -1, :]

    def _sample(self, batch, greedy: bool) -> dict:
        logits, _ = self._lm(batch)
        logp = torch.log_softmax(logits, -1)
        actions = logp.argmax(-1) if greedy else torch.multinomial(logp.exp(), 1).squeeze(-1)
        return {Columns.ACTIONS: actions, Columns.ACTION_LOGP: logp.gather(-1, actions[:, None]).squeeze(-1),
                Columns.ACTION_DIST_INPUTS: torch.zeros(len(actions), 1)}  # not shipped: sampled here

    def _forward_inference(self, batch, **kw):
        with torch.no_grad():
            return self._sample(batch, greedy=True)

    def _forward_exploration(self, batch, **kw):
        with torch.no_grad():
            return self._sample(batch, greedy=False)

    def _forward_train(self, batch, **kw):
        logits, h = self._lm(batch)
        return {Columns.ACTION_DIST_INPUTS: logits, Columns.EMBEDDINGS: h}

    def compute_values(self, batch, embeddings=None):
        if embeddings is None:
            embeddings = self._lm(batch)[1]
        return self.v_head(embeddings).squeeze(-1)
