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

from .algorithms import last_token_rewards
from .policy import Turn


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


class _Episode:
    """Token pieces and bookkeeping of one running episode."""

    def __init__(self, prompt_ids: list[int], prompt_text: str):
        self.ids, self.mask = list(prompt_ids), [0] * len(prompt_ids)
        self.text = prompt_text
        self.spans: list[tuple[int, int]] = []
        self.sampled: list[list[int]] = []
        self.logprobs: list[float] | None = []  # the sampler's, aligned with ids (None once one is missing)
        self.reward, self.f1, self.em, self.searches, self.invalid = 0.0, 0.0, 0.0, 0, 0
        self.noisy, self.overflow, self.truncated, self.backend_errors = 0, False, False, 0
        self.leaks, self.useful_hits = 0, 0  # searches whose documents held the gold answer: noisy / useful
        self.turns: list[dict] = []  # the viewer's turn records

    def add_turn(self, turn: Turn) -> None:
        self.spans.append((len(self.ids), len(self.ids) + len(turn.token_ids)))
        self.sampled.append(list(turn.token_ids))
        if self.logprobs is not None and turn.logprobs is not None:
            self.logprobs += [0.0] * (len(self.ids) - len(self.logprobs)) + list(turn.logprobs)
        else:
            self.logprobs = None
        self.ids += turn.token_ids
        self.mask += [1] * len(turn.token_ids)
        self.text += turn.text

    def add_observation(self, ids: list[int], text: str) -> None:
        self.ids += ids
        self.mask += [0] * len(ids)
        self.text += text


def _info(infos: dict, key: str, i: int, default=0):
    """Value of ``infos[key][i]`` when env i set it (Gymnasium's dict of arrays with ``_key`` masks)."""
    if key in infos and infos.get("_" + key, np.ones(i + 1, bool))[i]:
        return infos[key][i]
    return default


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
    from ..evaluate.harness import env_info, turn_record  # the eval record format (imported at call time)

    n = len(examples) * group_size
    if envs.num_envs != n:
        raise ValueError(f"expected a vector env with {n} envs ({len(examples)} questions x {group_size}), "
                         f"got {envs.num_envs}")
    options = {"examples": [ex for ex in examples for _ in range(group_size)]}
    obs, infos = envs.reset(seed=seed, options=options)
    episodes = [_Episode(policy.prompt_ids(o), o) for o in obs]
    noise_p = [float(_info(infos, "noise_probability", i, 0.0)) for i in range(n)]
    active = np.ones(n, dtype=bool)
    turn_no, gen_tokens = 0, 0
    while active.any():
        idx = np.flatnonzero(active).tolist()
        contexts = [episodes[i].ids for i in idx]
        if actor is None:
            base = sample_seed if sample_seed is not None else seed if isinstance(seed, int) else None
            turns = policy.generate_turns(contexts, cfg.max_new_tokens, cfg.temperature, cfg.top_p,
                                          seed=None if base is None else base * 1000 + turn_no,
                                          return_logprobs=cfg.sampler_logprobs)
        else:
            turns = actor(idx, contexts, [episodes[i].text for i in idx])
        actions = [""] * n
        for i, turn in zip(idx, turns):
            episodes[i].add_turn(turn)
            actions[i] = turn.text
            gen_tokens += len(turn.token_ids)
        obs, rewards, terminated, truncated, infos = envs.step_active(actions, active)
        for i in idx:
            _record_step(episodes[i], infos, i)
            episodes[i].turns.append(turn_record(actions[i], str(obs[i]), env_info(infos, i), float(rewards[i]),
                                                 bool(terminated[i]), bool(truncated[i])))
            if terminated[i] or truncated[i]:
                episodes[i].reward, episodes[i].truncated = float(rewards[i]), bool(truncated[i])
                active[i] = False
                continue
            ids, _ = policy.text_ids(str(obs[i]), cfg.max_obs_tokens)
            episodes[i].add_observation(ids, str(obs[i]))
            if len(episodes[i].ids) + cfg.max_new_tokens > cfg.max_seq_len:
                episodes[i].overflow = episodes[i].truncated = True
                episodes[i].reward = 0.0
                active[i] = False
        turn_no += 1
    batch = _pad(episodes, group_size, policy.tokenizer.pad_token_id)
    batch.stats = _stats(episodes, noise_p, gen_tokens)
    batch.records = [_record(ex, e, p) for ex, e, p in zip(options["examples"], episodes, noise_p)]
    return batch


def _record(example, e: _Episode, noise_p: float) -> dict:
    """An episode as one line of episodes JSONL (the format ``zerosearch eval`` writes and ``view`` reads)."""
    last = next((t for t in reversed(e.turns) if t.get("action") == "answer"), {})
    return {"id": example.id, "question": example.question, "golden_answers": list(example.golden_answers),
            "answer": last.get("answer"), "reward": e.reward, "f1": e.f1, "em": e.em, "noise_p": noise_p,
            "searches": e.searches, "noisy_searches": e.noisy, "truncated": e.truncated, "steps": e.turns}


def _record_step(ep: _Episode, infos: dict, i: int) -> None:
    action = _info(infos, "action", i, "")
    ep.invalid += action == "invalid"
    ep.searches = int(_info(infos, "searches", i, ep.searches))
    noisy = bool(_info(infos, "noisy", i, False)) and action == "search"
    ep.noisy += noisy
    if _info(infos, "answer_in_documents", i, False):
        ep.leaks += noisy
        ep.useful_hits += not noisy
    ep.backend_errors += bool(_info(infos, "backend_error", i, False))
    if action == "answer":
        ep.f1, ep.em = float(_info(infos, "f1", i, 0.0)), float(_info(infos, "em", i, 0.0))


def _pad(episodes: list[_Episode], group_size: int, pad_id: int) -> RolloutBatch:
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


def _sampler_logprobs(episodes: list[_Episode], width: int) -> torch.Tensor | None:
    if any(e.logprobs is None or not e.logprobs for e in episodes):
        return None
    out = torch.zeros((len(episodes), width), dtype=torch.float32)
    for row, e in enumerate(episodes):
        out[row, :len(e.logprobs)] = torch.tensor(e.logprobs, dtype=torch.float32)
    return out


def _stats(episodes: list[_Episode], noise_p: list[float], gen_tokens: int) -> dict[str, float]:
    turns = sum(len(e.spans) for e in episodes)
    searches = sum(e.searches for e in episodes)
    noisy = sum(e.noisy for e in episodes)
    return {
        "reward": float(np.mean([e.reward for e in episodes])),
        "f1": float(np.mean([e.f1 for e in episodes])),
        "em": float(np.mean([e.em for e in episodes])),
        "searches": searches / len(episodes),
        "valid_action_rate": 1.0 - sum(e.invalid for e in episodes) / max(turns, 1),
        "answered": float(np.mean([e.f1 > 0 or not e.truncated for e in episodes])),
        "truncated": float(np.mean([e.truncated for e in episodes])),
        "overflow": float(np.mean([e.overflow for e in episodes])),
        "noise_p": float(np.mean(noise_p)),
        "noisy_search_frac": noisy / max(searches, 1),
        # the gold answer in a search's documents: wanted when useful, a simulator leak when noisy
        "answer_in_useful_docs": sum(e.useful_hits for e in episodes) / max(searches - noisy, 1),
        "answer_in_noisy_docs": sum(e.leaks for e in episodes) / max(noisy, 1),
        "backend_errors": float(sum(e.backend_errors for e in episodes)),
        "gen_tokens": float(gen_tokens),
        "response_tokens": gen_tokens / len(episodes),
        "seq_tokens": float(sum(len(e.ids) for e in episodes)),
    }
