"""Run the vector env with a policy: G rollouts per question -> one RolloutBatch of token sequences.

Each sequence is built from pieces, never from re-tokenized text:
``prompt ids (mask 0) | turn 1: the exact sampled ids (mask 1) | observation ids (mask 0) | turn 2 ...``.
Observations (documents, corrective messages) are tokenized on their own and cut to ``max_obs_tokens``.
An episode whose context would overflow ``max_seq_len`` ends as truncated with reward 0. The episode's
reward belongs on its last policy token (``RolloutBatch.token_rewards``).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from zerosearch_gym.formats import action_format

from ..episodes import Episode, TokenActor, play, verification_stats
from ..policy import Turn
from .algorithms import last_token_rewards


@dataclass
class RolloutConfig:
    """Rollout limits and sampling settings (a subset of TrainConfig)."""

    max_new_tokens: int = 48
    max_obs_tokens: int = 160
    max_seq_len: int = 768
    temperature: float = 1.0
    top_p: float = 1.0
    sampler_logprobs: bool = False  # keep the rollout engine's log-prob of every sampled token


@dataclass
class RolloutBatch:
    """Right-padded token sequences of one rollout round plus what the trainer and the tests need."""

    input_ids: torch.Tensor  # [B, T] long
    attention_mask: torch.Tensor  # [B, T] 1 on real tokens
    loss_mask: torch.Tensor  # [B, T] 1 on policy-sampled tokens only
    rewards: torch.Tensor  # [B] episode reward (F1 or format-shaped)
    group_ids: torch.Tensor  # [B] index of the question (rollouts of one question share it)
    turn_spans: list[list[tuple[int, int]]]  # per sequence: [start, end) of each policy turn
    sampled_ids: list[list[list[int]]]  # per sequence: the ids the policy sampled, per turn
    stats: dict[str, float] = field(default_factory=dict)
    sampler_logprobs: torch.Tensor | None = None  # [B, T] the sampler's log-probs at mask-1 positions
    records: list[dict] = field(default_factory=list)  # per episode: question, answer, turns (episodes JSONL)

    def token_rewards(self) -> torch.Tensor:
        """[B, T] with each episode's reward on its last policy token."""
        return last_token_rewards(self.rewards, self.loss_mask.float())

    def __len__(self) -> int:
        return self.input_ids.shape[0]


def collect_rollouts(envs, policy, examples: Sequence, group_size: int, cfg: RolloutConfig, *,
                     seed: int | Sequence[int] = 0, sample_seed: int | None = None,
                     actor: Callable[[list[int], list[list[int]], list[str]], list[Turn]] | None = None
                     ) -> RolloutBatch:
    """Play ``group_size`` episodes of each example in ``envs`` (``num_envs == len(examples) * group_size``).

    ``actor(active_indices, contexts, transcripts) -> turns`` replaces the policy's sampling (the scripted
    warm start uses it); by default the policy samples with ``cfg``'s temperature and top-p.
    ``seed`` is the reset seed (one int, or one per env); ``sample_seed`` seeds the policy's sampling
    (default: ``seed`` when it is an int). The noise curriculum is the envs' own state: set it before
    collecting with ``envs.unwrapped.call("set_curriculum_step", step)``.
    """
    n = len(examples) * group_size
    if envs.num_envs != n:
        raise ValueError(f"expected a vector env with {n} envs ({len(examples)} questions x {group_size}), "
                         f"got {envs.num_envs}")
    base = sample_seed if sample_seed is not None else seed if isinstance(seed, int) else None
    fmt = action_format(getattr(envs.unwrapped, "action_format", "tags"))  # "tool_call": native JSON tool calls
    episodes = play(envs, TokenActor(policy, cfg, actor, cfg.sampler_logprobs, fmt),
                    [ex for ex in examples for _ in range(group_size)], seed=seed, sample_seed=base)
    batch = _pad(episodes, group_size, policy.tokenizer.pad_token_id)
    batch.records = [e.record() for e in episodes]
    batch.stats = _stats(episodes, batch.records)
    return batch


def _pad(episodes: list[Episode], group_size: int, pad_id: int) -> RolloutBatch:
    width = max(len(e.ids) for e in episodes)
    b = len(episodes)
    input_ids = torch.full((b, width), pad_id, dtype=torch.long)
    attention = torch.zeros((b, width), dtype=torch.long)
    loss_mask = torch.zeros((b, width), dtype=torch.long)
    for row, e in enumerate(episodes):
        input_ids[row, :len(e.ids)] = torch.tensor(e.ids, dtype=torch.long)
        attention[row, :len(e.ids)] = 1
        loss_mask[row, :len(e.mask)] = torch.tensor(e.mask, dtype=torch.long)
    return RolloutBatch(input_ids, attention, loss_mask,
                        rewards=torch.tensor([e.reward for e in episodes], dtype=torch.float32),
                        group_ids=torch.arange(b) // group_size,
                        turn_spans=[e.spans for e in episodes], sampled_ids=[e.sampled for e in episodes],
                        sampler_logprobs=_sampler_logprobs(episodes, width))


def _sampler_logprobs(episodes: list[Episode], width: int) -> torch.Tensor | None:
    if any(e.logprobs is None or not e.logprobs for e in episodes):
        return None
    out = torch.zeros((len(episodes), width), dtype=torch.float32)
    for row, e in enumerate(episodes):
        out[row, :len(e.logprobs)] = torch.tensor(e.logprobs, dtype=torch.float32)
    return out


def _stats(episodes: list[Episode], records: list[dict]) -> dict[str, float]:
    turns = [t for e in episodes for t in e.turns]
    searches = [t for t in turns if t["action"] == "search"]
    noisy = sum(t["noisy"] for t in searches)
    gen_tokens = sum(e.tokens for e in episodes)
    return {
        "reward": float(np.mean([e.reward for e in episodes])),
        "f1": float(np.mean([r["f1"] for r in records])),
        "em": float(np.mean([r["em"] for r in records])),
        "searches": len(searches) / len(episodes),
        "valid_action_rate": 1.0 - sum(t["action"] == "invalid" for t in turns) / max(len(turns), 1),
        "answered": float(np.mean([r["f1"] > 0 or not r["truncated"] for r in records])),
        "truncated": float(np.mean([e.truncated for e in episodes])),
        "overflow": float(np.mean([e.overflow for e in episodes])),
        "noise_p": float(np.mean([e.noise_p for e in episodes])),
        "noisy_search_frac": noisy / max(len(searches), 1),
        # the gold answer in a search's documents: wanted when useful, a simulator leak when noisy
        "answer_in_useful_docs": sum(t["answer_in_documents"] and not t["noisy"] for t in searches)
                                 / max(len(searches) - noisy, 1),
        "answer_in_noisy_docs": sum(t["answer_in_documents"] and t["noisy"] for t in searches) / max(noisy, 1),
        **verification_stats(turns),
        "backend_errors": float(sum(bool(t.get("backend_error")) for t in turns)),
        "gen_tokens": float(gen_tokens),
        "response_tokens": gen_tokens / len(episodes),
        "seq_tokens": float(sum(len(e.ids) for e in episodes)),
    }
