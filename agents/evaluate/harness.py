"""The evaluation loop: a policy plays every question of every set in ZeroSearch-v0's vector env.

Episodes run ``batch_size`` at a time; each step sends all their searches to the backend as one batch. The
noise probability is 0: a simulator backend writes useful documents at evaluation, a real engine (BM25,
an HTTP retriever) just searches. :func:`evaluate_policy` is the entry point for ``zerosearch eval`` and
for train-time validation; with ``output_dir`` each finished set is saved (metrics + episodes JSONL)
and not recomputed when the same evaluation runs again after a crash.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from .datasets import EvalSet
from .policies import Decoding, Episode, ModelEval, split_documents
from .report import average_row, set_metrics


def evaluate_policy(policy, sets: list[EvalSet], backend="bm25", decoding: Decoding | None = None, *,
                    seed: int = 0, output_dir: str | Path | None = None, progress: bool = True,
                    identity: dict | None = None, log=print) -> dict:
    """Evaluate ``policy`` on ``sets``; returns ``{"sets": {name: metrics}, "average": metrics}``.

    ``policy``: an evaluation policy from :func:`agents.evaluate.policies.build_policy`, or an
    ``agents.train.policy.Policy`` (the trainer's model; played as a search policy). ``backend``: a spec
    or a backend object. ``identity`` (policy, backend, command ...) keys the per-set resume files.
    """
    import gymnasium

    import zerosearch_gym  # noqa: F401  (registers ZeroSearch-v0)

    decoding = (decoding or Decoding()).validate()
    if not hasattr(policy, "act"):
        policy = ModelEval(policy, decoding)
    n = min(decoding.batch_size, max(len(s.examples) for s in sets))
    envs = gymnasium.make_vec("ZeroSearch-v0", num_envs=n, vectorization_mode="vector_entry_point",
                              backend=backend, dataset=sets[0].examples, max_turns=policy.max_turns,
                              top_k=decoding.top_k, noise=0.0)
    out = Path(output_dir) if output_dir is not None else None
    results = {}
    try:
        for eval_set in sets:
            key = _fingerprint(identity, decoding, seed, eval_set)
            saved = _load_saved(out, eval_set.name, key)
            if saved is not None:
                log(f"[eval] {eval_set.name}: finished earlier, reusing {out / 'sets' / (file_stem(eval_set.name) + '.json')}")
                results[eval_set.name] = saved
                continue
            start = time.perf_counter()
            episodes = run_set(envs.unwrapped, policy, eval_set, decoding, seed, progress)
            metrics = set_metrics([episode_record(e) for e in episodes], eval_set)
            metrics["seconds"] = time.perf_counter() - start
            results[eval_set.name] = metrics
            if out is not None:
                _save_set(out, eval_set.name, key, metrics, [episode_record(e) for e in episodes])
    finally:
        envs.close()
    return {"sets": results, "average": average_row(list(results.values()))}


def run_set(envs, policy, eval_set: EvalSet, decoding: Decoding, seed: int, progress: bool = True
            ) -> list[Episode]:
    """Play every example of ``eval_set`` once, ``envs.num_envs`` at a time; returns the episodes."""
    from tqdm import tqdm

    done: list[Episode] = []
    bar = tqdm(total=len(eval_set.examples), desc=f"eval {eval_set.name}", disable=not progress, unit="q")
    for start in range(0, len(eval_set.examples), envs.num_envs):
        chunk = eval_set.examples[start:start + envs.num_envs]
        done += run_batch(envs, policy, chunk, eval_set.name, seed + start)
        bar.update(len(chunk))
        bar.set_postfix(f1=f"{np.mean([e.turns[-1].get('f1', 0.0) if e.turns else 0 for e in done]):.3f}")
    bar.close()
    return done


def run_batch(envs, policy, examples, dataset: str, seed: int) -> list[Episode]:
    n, m = envs.num_envs, len(examples)
    padded = list(examples) + [examples[0]] * (n - m)
    active = np.arange(n) < m
    obs, _ = envs.reset(seed=seed, options={"examples": padded, "noise_probability": 0.0, "reset_mask": active})
    episodes = [Episode(ex, dataset, transcript=str(o)) for ex, o in zip(examples, obs)]
    policy.begin(episodes, envs.backend)
    turn_no = 0
    while active.any():
        idx = np.flatnonzero(active).tolist()
        texts = policy.act([episodes[i] for i in idx], seed * 1000 + turn_no)
        actions = [""] * n
        for i, text in zip(idx, texts):
            actions[i] = text
        obs, rewards, terminated, truncated, infos = envs.step_active(actions, active)
        for i in idx:
            e, info = episodes[i], env_info(infos, i)
            e.transcript += actions[i] + str(obs[i])
            e.turns.append(turn_record(actions[i], str(obs[i]), info, float(rewards[i]),
                                        bool(terminated[i]), bool(truncated[i])))
            if terminated[i] or truncated[i]:
                active[i] = False
                continue
            policy.observe(e, str(obs[i]))
            if e.overflow:  # the next turn would not fit the context: end it like the trainer does
                e.turns[-1]["truncated"] = True
                active[i] = False
        turn_no += 1
    return episodes


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
                    documents=split_documents(obs) if "<information>" in obs else [],
                    backend_error=str(info.get("backend_error", "")))
    elif turn["action"] == "answer":
        answer = text.split("<answer>", 1)[1].split("</answer>", 1)[0].strip()
        turn.update(answer=answer, f1=float(info.get("f1", 0.0)), em=float(info.get("em", 0.0)),
                    cover_em=float(info.get("cover_em", 0.0)))
    else:
        turn.update(invalid_reason=str(info.get("invalid_reason", "")), observation=obs)
    return turn


def episode_record(e: Episode) -> dict:
    """The JSON record of an episode (one line of episodes JSONL; the viewer reads it)."""
    last = next((t for t in reversed(e.turns) if t.get("action") == "answer"), {})
    env_turns = [t for t in e.turns if t.get("action") != "retrieve"]
    return {
        "dataset": e.dataset, "id": e.example.id, "data_source": e.example.data_source,
        "question": e.example.question, "golden_answers": list(e.example.golden_answers),
        "answer": last.get("answer"), "reward": last.get("reward", 0.0), "f1": last.get("f1", 0.0),
        "em": last.get("em", 0.0), "cover_em": last.get("cover_em", 0.0),
        "searches": sum(t.get("action") in ("search", "retrieve") for t in e.turns),
        "noisy_searches": sum(bool(t.get("noisy")) for t in e.turns),
        "turns": len(env_turns), "invalid_turns": sum(t.get("action") == "invalid" for t in env_turns),
        "tokens": e.tokens, "truncated": not last, "steps": e.turns,
    }


def _fingerprint(identity: dict | None, decoding: Decoding, seed: int, eval_set: EvalSet) -> str:
    ids = [ex.id for ex in eval_set.examples]
    payload = {"identity": identity or {}, "decoding": vars(decoding), "seed": seed, "source": eval_set.source,
               "ids": hashlib.sha256(json.dumps(ids).encode()).hexdigest()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def file_stem(name: str) -> str:
    """A set name as a portable file name (``sample:in-wiki`` -> ``sample_in-wiki``)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _load_saved(out: Path | None, name: str, key: str) -> dict | None:
    name = file_stem(name)
    path = out / "sets" / f"{name}.json" if out is not None else None
    if path is None or not path.is_file() or not (out / "episodes" / f"{name}.jsonl").is_file():
        return None
    try:
        saved = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    return saved["metrics"] if saved.get("key") == key else None


def _save_set(out: Path, name: str, key: str, metrics: dict, records: list[dict]) -> None:
    """Episodes first, then the metrics file that marks the set finished; each written atomically."""
    name = file_stem(name)
    for folder, filename, text in (
            ("episodes", f"{name}.jsonl", "".join(json.dumps(r) + "\n" for r in records)),
            ("sets", f"{name}.json", json.dumps({"key": key, "metrics": metrics}, indent=1))):
        (out / folder).mkdir(parents=True, exist_ok=True)
        tmp = out / folder / f".{filename}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out / folder / filename)
