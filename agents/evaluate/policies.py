"""What ``--policy`` names, and the policies the harness plays: scripted, a search-trained model, and the
paper's baselines without search training (Direct, CoT, RAG).

Every policy works on a batch of :class:`Episode` records: ``begin(episodes, backend)`` once per batch,
``act(episodes, seed)`` -> one turn of text each, ``observe(episode, obs)`` with the env's reply (the actor
protocol of :func:`agents.episodes.play`; :class:`agents.episodes.Episode` is the record).
``max_turns`` is the env's search-turn limit for this policy (``0`` for baselines: one answer turn).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zerosearch_gym import SearchRequest
from zerosearch_gym.protocol import NO_INFORMATION, format_documents

from ..episodes import Episode, TokenActor
from ..scripted import ScriptedActor
from ..warmstart_adapter import META

BASELINES = ("direct", "cot", "rag")
KINDS = ("scripted", *BASELINES)
# Baseline prompts (Search-R1 / ZeroSearch style): the answer goes inside <answer> tags as in the env.
PROMPTS = {
    "direct": "Answer the given question directly, without detailed illustrations, inside <answer> and "
              "</answer>. For example, <answer> Beijing </answer>. Question: {question}\n",
    "cot": "Answer the given question. First reason step by step inside <think> and </think>, then give the "
           "final answer inside <answer> and </answer>, without detailed illustrations. For example, "
           "<answer> Beijing </answer>. Question: {question}\n",
    "rag": "Answer the given question using the documents below. Give the answer inside <answer> and "
           "</answer>, without detailed illustrations. For example, <answer> Beijing </answer>.\n\n"
           "Documents:\n{documents}\n\nQuestion: {question}\n",
}
PREFILL = {"direct": "<answer>", "cot": "<think>", "rag": "<answer>"}


@dataclass
class Decoding:
    """Generation and episode limits of an evaluation (recorded in eval.json)."""

    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    max_new_tokens: int = 128  # per policy turn
    max_obs_tokens: int = 400  # document tokens kept per search
    max_seq_len: int = 2048  # context limit per episode; an overflowing episode ends truncated
    max_turns: int = 4  # search turns before the forced answer turn (baselines: 0)
    top_k: int = 3  # documents per search (and per RAG retrieval)
    batch_size: int = 16  # episodes stepped together (one backend call per step)
    noise: float = 0.0  # probability that a search is noisy (a simulator writes noisy documents)

    def validate(self) -> Decoding:
        for name in ("max_new_tokens", "max_obs_tokens", "max_seq_len", "top_k", "batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"expected --{name.replace('_', '-')} >= 1, got {getattr(self, name)!r}")
        if self.max_turns < 0:
            raise ValueError(f"expected --max-turns >= 0, got {self.max_turns}")
        from zerosearch_gym.curriculum import check_probability

        check_probability(self.noise, "--noise")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"expected --temperature >= 0 and 0 < --top-p <= 1, got {self.temperature}, "
                             f"{self.top_p}")
        return self


# ------------------------------------------------------------------------------------------ --policy specs
def resolve_policy(spec: str) -> tuple[str, str]:
    """``(kind, location)`` for ``--policy``, checked without loading anything (``warmstart`` names the
    shipped warm start).

    kind: "scripted", a baseline, "tiny" (a random test model), "hf" (an HF folder or hub id),
    "checkpoint" (a training run with ``checkpoint/`` but no exported folder; location is the run folder) or
    "adapter" (``warmstart``: SmolLM2 with the shipped warm-start adapter, or a folder holding one)."""
    if spec in KINDS:
        return spec, ""
    if spec.startswith("tiny:"):
        return "tiny", spec.split(":", 1)[1]
    if spec == "warmstart":  # the shipped warm start: SmolLM2 + the committed SFT adapter
        return "adapter", "shipped"
    path = Path(spec).expanduser()
    if path.is_dir() and (path / META).is_file():  # an adapter folder scripts/build_warmstart.py wrote
        return "adapter", str(path)
    if path.is_dir():
        for candidate in (path, path / "final", path / "export", *_checkpoint_dirs(path)):
            if (candidate / "config.json").is_file():
                return "hf", str(candidate)
        if (path / "checkpoint" / "state.json").is_file() or (path / ".checkpoint-old" / "state.json").is_file():
            return "checkpoint", str(path)
        raise ValueError(f"expected --policy {spec!r} to be a model folder (config.json), a training run folder "
                         "(final/, export/ or checkpoint*/ holding one, or a checkpoint/), a hub id, or one "
                         f"of {', '.join(KINDS)}; got a folder with neither")
    if path.exists() or spec.startswith((".", "/", "~")) or spec.count("/") != 1:
        raise ValueError(f"expected --policy to be one of {', '.join(KINDS)}, a model or run folder, or a hub id "
                         f"(owner/name), got {spec!r}")
    return "hf", spec


def _checkpoint_dirs(run: Path) -> list[Path]:
    """``run/checkpoint*`` folders, newest first."""
    return sorted((p for p in run.glob("checkpoint*") if p.is_dir()), key=lambda p: p.stat().st_mtime,
                  reverse=True)


def load_model_policy(kind: str, location: str, device: str = "cpu"):
    """An ``agents.policy.Policy`` for a resolved spec (``kind`` tiny / hf / checkpoint)."""
    from agents.policy import Policy

    if kind == "tiny":
        from zerosearch_gym.llm.models import tiny_model

        model, tokenizer = tiny_model(location)
        return Policy(model.to(device), tokenizer)
    if kind == "adapter":  # checked (base model, rank, sha256) before SmolLM2 loads
        from agents.warmstart_adapter import adapter_folder, apply_adapter, check_adapter

        folder = adapter_folder(location)
        meta = check_adapter(folder)
        policy = Policy.load("", device=device)
        apply_adapter(policy, folder, meta)
        return policy
    if kind == "checkpoint":  # a run without an exported folder: rebuild its policy from the checkpoint
        from agents.train.export import rebuild_policy

        policy = rebuild_policy(location, device)[0]
        return Policy(policy.model.eval(), policy.tokenizer)  # no value head, no optimizer
    try:
        return Policy.load(location, device=device)
    except (OSError, ValueError) as err:
        raise ValueError(f"could not load --policy {location!r} as a causal LM ({type(err).__name__}: "
                         f"{str(err).splitlines()[0]})") from None


# ------------------------------------------------------------------------------------------------ policies
class ModelEval(TokenActor):
    """A policy LLM: the env's prompt as a chat message, one generated turn per step (exact sampled ids,
    observations tokenized on their own, as in training)."""

    def __init__(self, policy, decoding: Decoding, name: str = "model"):
        super().__init__(policy, decoding)
        self.decoding, self.name, self.max_turns = decoding, name, decoding.max_turns
        self.model = getattr(policy.model.config, "_name_or_path", "") or name


class BaselineEval(ModelEval):
    """Direct / CoT / RAG: one answer turn from the baseline prompt (RAG first retrieves ``top_k``
    documents for the question with one backend call per batch); the assistant turn is prefilled with
    ``<answer>`` (``<think>`` for CoT) so that a small model's answer lands inside the tags."""

    def __init__(self, policy, decoding: Decoding, kind: str):
        super().__init__(policy, decoding, kind)
        self.kind, self.max_turns = kind, 0

    def begin(self, episodes: list[Episode], backend) -> None:
        if self.kind == "rag":
            requests = [SearchRequest(query=_question(e.example.question), question=e.example.question,
                                      answers=tuple(e.example.golden_answers), useful=True,
                                      top_k=self.decoding.top_k) for e in episodes]
            try:
                results = backend.search(requests)
            except Exception as err:  # a backend failure is counted in the episode, not raised
                results = [[] for _ in requests]
                for e in episodes:
                    e.turns.append({"action": "retrieve", "backend_error": f"{type(err).__name__}: {err}"})
            for e, docs in zip(episodes, results):
                e.documents, e.retrievals = [d for d in list(docs)[: self.decoding.top_k]], 1
        for e in episodes:
            docs = format_documents(e.documents) or NO_INFORMATION
            prompt = PROMPTS[self.kind].format(question=_question(e.example.question), documents=docs)
            prefill, _ = self.policy.text_ids(PREFILL[self.kind])
            e.add_context(list(self.policy.prompt_ids(prompt)) + prefill)
            if self.kind == "rag":
                e.turns.append({"action": "retrieve", "query": _question(e.example.question),
                                "documents": e.documents, "noisy": False})

    def act(self, episodes: list[Episode], seed: int) -> list[str]:
        texts = super().act(episodes, seed)
        out = []
        for text in texts:
            text = PREFILL[self.kind] + text
            if self.kind != "cot" and "</answer>" not in text:  # EOS or the limit ended the answer
                text += "</answer>"
            out.append(text)
        return out


def build_policy(spec: str, decoding: Decoding, model: str = "", device: str = "cpu"):
    """The evaluation policy for ``--policy spec`` (``model``: the LM of a baseline; "" = SmolLM2)."""
    kind, location = resolve_policy(spec)
    if kind == "scripted":
        return ScriptedActor(decoding.max_turns)
    if kind in BASELINES:
        model_kind, model_location = resolve_policy(model) if model else ("hf", "")
        if model_kind not in ("tiny", "hf", "checkpoint", "adapter"):
            raise ValueError(f"expected --model to be a model folder, run folder, hub id or tiny:<arch>, "
                             f"got {model!r}")
        return BaselineEval(load_model_policy(model_kind, model_location, device), decoding, kind)
    return ModelEval(load_model_policy(kind, location, device), decoding, name=spec)


def _question(question: str) -> str:
    question = question.strip()
    return question if question.endswith("?") else question + "?"
