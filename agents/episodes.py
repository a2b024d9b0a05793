"""The one episode runner: a batch of ZeroSearch episodes played in a vector env by any actor.

Training rollouts, evaluation, ``zerosearch ask``, the demo and the TRL integration all call :func:`play`
and read its :class:`Episode` records; :meth:`Episode.record` is the one episodes-JSONL line that
``zerosearch eval`` writes, the trainer logs and ``zerosearch view`` shows.

An **actor** has ``act(episodes, seed) -> texts`` (one turn of text per running episode; ``seed`` is the
turn's sampling seed or None) and optionally ``begin(episodes, backend)`` (once, after reset) and
``observe(episode, observation)`` (after each step that did not end the episode; an actor that sets
``episode.overflow`` ends it as truncated: its next turn would not fit the context). :class:`TokenActor`
is the policy-LLM actor: it keeps the exact sampled token ids with a loss mask.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from zerosearch_gym import QAExample
from zerosearch_gym.wrappers import chat_template


@dataclass
class Episode:
    """One episode: its text, one record per env step (``turns``), and the token view a token actor fills."""

    example: QAExample
    index: int = 0  # the env that plays it
    dataset: str = ""
    transcript: str = ""  # prompt + every turn + every observation
    turns: list[dict] = field(default_factory=list)  # turn_record() per env step (RAG: a "retrieve" first)
    observations: list[str] = field(default_factory=list)  # the env's text after each step
    noise_p: float = 0.0
    reward: float = 0.0  # the env's reward at the end (0 when the context overflowed)
    truncated: bool = False
    overflow: bool = False
    ids: list[int] = field(default_factory=list)  # prompt ids + sampled ids + observation ids
    mask: list[int] = field(default_factory=list)  # 1 on sampled ids
    spans: list[tuple[int, int]] = field(default_factory=list)  # [start, end) of each policy turn in ids
    sampled: list[list[int]] = field(default_factory=list)  # the sampled ids, per turn
    logprobs: list[float] | None = field(default_factory=list)  # the sampler's, aligned with ids (None: missing)
    tokens: int = 0  # policy tokens generated
    retrievals: int = 0  # RAG's search, made by the policy outside the env
    documents: list[str] = field(default_factory=list)

    def add_turn(self, token_ids: Sequence[int], logprobs: Sequence[float] | None = None) -> None:
        """Append one policy turn's exact sampled ids (mask 1)."""
        self.spans.append((len(self.ids), len(self.ids) + len(token_ids)))
        self.sampled.append(list(token_ids))
        if self.logprobs is not None and logprobs is not None:
            self.logprobs += [0.0] * (len(self.ids) - len(self.logprobs)) + list(logprobs)
        else:
            self.logprobs = None
        self.ids += token_ids
        self.mask += [1] * len(token_ids)
        self.tokens += len(token_ids)

    def add_context(self, ids: Sequence[int]) -> None:
        """Append prompt or observation ids (mask 0)."""
        self.ids += ids
        self.mask += [0] * len(ids)

    def record(self) -> dict:
        """The episode as one line of episodes JSONL (the viewer and the metrics read it)."""
        last = next((t for t in reversed(self.turns) if t.get("action") == "answer"), {})
        env_turns = [t for t in self.turns if t.get("action") != "retrieve"]
        ex = self.example
        return {
            "dataset": self.dataset, "id": ex.id, "data_source": ex.data_source, "question": ex.question,
            "golden_answers": list(ex.golden_answers), "answer": last.get("answer"), "reward": self.reward,
            "f1": last.get("f1", 0.0), "em": last.get("em", 0.0), "cover_em": last.get("cover_em", 0.0),
            "noise_p": self.noise_p, "searches": sum(t.get("action") in ("search", "retrieve") for t in self.turns),
            "noisy_searches": sum(bool(t.get("noisy")) for t in self.turns), "turns": len(env_turns),
            "invalid_turns": sum(t.get("action") == "invalid" for t in env_turns), "tokens": self.tokens,
            "truncated": self.truncated, "steps": self.turns,
        }


# The step info keys that play and its records read (turn_record); the vector env builds only these columns.
PLAY_INFO_KEYS = ("action", "query", "noisy", "invalid_reason", "backend_error", "backend_warning",
                  "answer_in_documents", "verify", "verify_resamples", "f1", "em", "cover_em")


def play(envs, actor, examples: Sequence[QAExample] | None = None, *, seed: int | Sequence[int] | None = None,
         sample_seed: int | None = None, options: dict | None = None, dataset: str = "",
         on_episode: Callable[[Episode], None] | None = None) -> list[Episode]:
    """Play one episode per example (``len(examples) <= envs.num_envs``; ``None``: the envs draw one each).

    ``seed``: the reset seed (env i gets ``seed + i``, or one per env); ``sample_seed``: turn t samples
    with ``sample_seed * 1000 + t`` (None: unseeded). ``options`` go to every env's reset.
    ``on_episode(episode)`` runs as each episode ends. Returns the episodes in example order. Each step asks
    the envs for :data:`PLAY_INFO_KEYS` only (the lean path), the envs' own ``info_keys`` when they set some.
    """
    envs = envs.unwrapped
    n = envs.num_envs
    options = dict(options or {})
    if examples is not None:
        m = len(examples)
        if not 0 < m <= n:
            raise ValueError(f"expected 1 to {n} examples for {n} envs, got {m}")
        options.update(examples=list(examples) + [examples[0]] * (n - m), reset_mask=np.arange(n) < m)
    obs, infos = envs.reset(seed=seed, options=options)
    if examples is None:
        examples, m = envs.get_attr("example"), n
    episodes = [Episode(ex, i, dataset, str(o), noise_p=float(env_info(infos, i).get("noise_probability", 0.0)))
                for i, (ex, o) in enumerate(zip(examples, obs))]
    if hasattr(actor, "begin"):
        actor.begin(episodes, envs.backend)
    active, turn = np.arange(n) < m, 0
    keys = PLAY_INFO_KEYS if getattr(envs, "info_keys", None) is None else envs.info_keys
    while active.any():
        idx = np.flatnonzero(active).tolist()
        texts = actor.act([episodes[i] for i in idx], None if sample_seed is None else sample_seed * 1000 + turn)
        actions = [""] * n
        for i, text in zip(idx, texts):
            actions[i] = text
        obs, rewards, terminated, truncated, infos = envs.step_active(actions, active, info_keys=keys)
        for i in idx:
            e, text = episodes[i], str(obs[i])
            e.transcript += actions[i] + text
            e.observations.append(text)
            e.turns.append(turn_record(actions[i], text, env_info(infos, i), float(rewards[i]),
                                       bool(terminated[i]), bool(truncated[i])))
            if terminated[i] or truncated[i]:
                e.reward, e.truncated = float(rewards[i]), bool(truncated[i])
            elif hasattr(actor, "observe"):
                actor.observe(e, text)
                if e.overflow:  # the next turn would not fit the context: the episode ends truncated
                    e.turns[-1]["truncated"] = e.truncated = True
            if terminated[i] or truncated[i] or e.overflow:
                active[i] = False
                if on_episode is not None:
                    on_episode(e)
        turn += 1
    return episodes[:m]


class TokenActor:
    """A policy LLM as an actor: the env's prompt as a chat message, one sampled turn per step, observations
    tokenized on their own and cut to ``limits.max_obs_tokens`` (never re-tokenized text: the ids and mask are
    exact). ``limits``: max_new_tokens, max_obs_tokens, max_seq_len, temperature, top_p (RolloutConfig or the
    eval Decoding). ``turns(indices, contexts, transcripts) -> Turns`` replaces sampling (scripted warm start).
    ``action_format``: the envs' :class:`zerosearch_gym.formats.ActionFormat` when it is not ``"tags"``: its
    stop strings end a turn, the prompt carries its tools, and each env reply is the chat template's tool (a
    search's documents) or user message (:mod:`zerosearch_gym.wrappers.chat_template`).
    """

    def __init__(self, policy, limits, turns: Callable | None = None, logprobs: bool = False, action_format=None):
        self.policy, self.limits, self.turns, self.logprobs = policy, limits, turns, logprobs
        self.format = action_format if action_format is not None and action_format.name != "tags" else None
        self._frames: dict = {}  # the chat template's reply frames, per role

    def begin(self, episodes: list[Episode], backend) -> None:
        for e in episodes:
            if self.format is None:
                e.add_context(self.policy.prompt_ids(e.transcript))
            else:
                e.add_context(chat_template.prompt_ids(self.policy.tokenizer, e.transcript, self.format.tools))

    def act(self, episodes: list[Episode], seed: int | None) -> list[str]:
        lim, contexts = self.limits, [e.ids for e in episodes]
        if self.turns is not None:
            turns = self.turns([e.index for e in episodes], contexts, [e.transcript for e in episodes])
        else:
            extra = {"return_logprobs": True} if self.logprobs else {}
            if self.format is not None:
                extra["stop_strings"] = self.format.stop_strings
            turns = self.policy.generate_turns(contexts, lim.max_new_tokens, lim.temperature, lim.top_p, seed=seed,
                                               **extra)
        for e, t in zip(episodes, turns):
            e.add_turn(t.token_ids, t.logprobs)
        return [t.text for t in turns]

    def observe(self, episode: Episode, obs: str) -> None:
        ids = self.policy.text_ids(obs, self.limits.max_obs_tokens)[0]
        if self.format is not None:  # the reply as the chat template's own message
            role = self.format.observation_role if episode.turns[-1].get("action") == "search" else "user"
            eos = self.policy.tokenizer.eos_token_id
            after_eos = bool(episode.sampled) and episode.sampled[-1][-1:] == [eos]
            ids = chat_template.reply_ids(self.policy.tokenizer, ids, role, after_eos, self._frames)
        episode.add_context(ids)
        if len(episode.ids) + self.limits.max_new_tokens > self.limits.max_seq_len:
            episode.overflow = True


FIRST_TRY_FAILED = ("resampled", "repaired", "failed")  # verify outcomes whose first result missed its label


def verification_stats(turns: list[dict]) -> dict[str, float]:
    """What verified simulation did over some turn records: the share of noisy searches whose first result held
    the gold answer, of useful ones whose first result did not (before verification; after it, the turn's
    ``answer_in_documents`` tells), and the extra simulator outputs (resamples) per search — its cost."""
    searches = [t for t in turns if t.get("action") == "search"]
    noisy = [t for t in searches if t["noisy"]]
    useful = [t for t in searches if not t["noisy"]]
    share = (lambda hits, of: sum(hits) / len(of) if of else 0.0)
    return {
        "noisy_leak_before_verify": share([t.get("verify") in FIRST_TRY_FAILED or
                                           (t.get("verify") in ("off", "") and t["answer_in_documents"])
                                           for t in noisy], noisy),
        "useful_miss_before_verify": share([t.get("verify") in FIRST_TRY_FAILED or
                                            (t.get("verify") in ("off", "") and not t["answer_in_documents"])
                                            for t in useful], useful),
        "verify_resamples_per_search": share([t.get("verify_resamples", 0) for t in searches], searches),
    }


def env_info(infos: dict, i: int) -> dict:
    """Env ``i``'s own info dict out of the vector env's column-wise infos (only the keys env ``i`` set)."""
    return {k: infos[k][i] for k in infos if not k.startswith("_") and infos["_" + k][i]}


def turn_record(text: str, obs: str, info: dict, reward: float, terminated: bool, truncated: bool) -> dict:
    """One turn of an episodes-JSONL record (what the viewer shows): the action with its think, query,
    useful/noisy flag and documents, or its answer and scores, or why it was invalid."""
    think = text.split("<think>", 1)[1].split("</think>", 1)[0].strip() if "<think>" in text else ""
    turn = {"text": text, "think": think, "action": str(info.get("action", "")), "reward": reward,
            "terminated": terminated, "truncated": truncated}
    if turn["action"] == "search":
        turn.update(query=str(info.get("query", "")), noisy=bool(info.get("noisy", False)),
                    documents=split_documents(obs) if "<information>" in obs or obs.startswith("Doc 1: ") else [],
                    backend_error=str(info.get("backend_error", "")),
                    backend_warning=str(info.get("backend_warning", "") or ""),
                    answer_in_documents=bool(info.get("answer_in_documents", False)),
                    verify=str(info.get("verify", "")), verify_resamples=int(info.get("verify_resamples", 0)))
    elif turn["action"] == "answer":
        answer = text.split("<answer>", 1)[1].split("</answer>", 1)[0].strip()
        turn.update(answer=answer, f1=float(info.get("f1", 0.0)), em=float(info.get("em", 0.0)),
                    cover_em=float(info.get("cover_em", 0.0)))
    else:
        turn.update(invalid_reason=str(info.get("invalid_reason", "")), observation=obs)
    return turn


_DOC = re.compile(r"Doc \d+: ")


def split_documents(observation: str) -> list[str]:
    """The documents of a search observation ("<information>Doc 1: …\\nDoc 2: …</information>").

    >>> split_documents("\\n\\n<information>Doc 1: a b\\nDoc 2: c</information>\\n\\n")
    ['a b', 'c']
    """
    inner = observation.split("<information>", 1)[-1].rsplit("</information>", 1)[0]
    return [d.strip() for d in _DOC.split(inner) if d.strip()]
