"""The evaluation loop: a policy plays every question of every set in ZeroSearch-v0's vector env.

Episodes run ``batch_size`` at a time; each step sends all their searches to the backend as one batch. The
noise probability is ``decoding.noise`` (0 by default: a simulator backend writes useful documents, a real
engine (BM25, an HTTP retriever) just searches; ``--noise 0.5`` tests a policy against noisy results). :func:`evaluate_policy` is the entry point for ``zerosearch eval`` and
for train-time validation; with ``output_dir`` each episode is saved as it ends and each finished set
(metrics + episodes JSONL), so the same evaluation run again after a crash continues where it stopped.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from ..episodes import play
from .datasets import EvalSet
from .policies import Decoding, ModelEval
from .report import average_row, set_metrics


def evaluate_policy(policy, sets: list[EvalSet], backend="bm25", decoding: Decoding | None = None, *,
                    seed: int = 0, output_dir: str | Path | None = None, progress: bool = True,
                    identity: dict | None = None) -> dict:
    """Evaluate ``policy`` on ``sets``; returns ``{"sets": {name: metrics}, "average": metrics}``.

    ``policy``: an evaluation policy from :func:`agents.evaluate.policies.build_policy`, or a model
    ``Policy`` (the trainer's; played as a search policy). ``backend``: a spec or a backend object.
    ``identity`` (policy, backend, command ...) keys the resume files: with ``output_dir``, each episode's
    record is appended to ``episodes/<set>.<key>.partial.jsonl`` as it ends, so a rerun of the same evaluation
    after a crash or a timeout plays only the episodes that did not finish, and a finished set is reused.
    """
    import gymnasium

    import zerosearch_gym  # noqa: F401  (registers ZeroSearch-v0)

    decoding = (decoding or Decoding()).validate()
    if not hasattr(policy, "act"):
        policy = ModelEval(policy, decoding)
    n = min(decoding.batch_size, max(len(s.examples) for s in sets))
    envs = gymnasium.make_vec("ZeroSearch-v0", num_envs=n, vectorization_mode="vector_entry_point",
                              backend=backend, dataset=sets[0].examples, max_turns=policy.max_turns,
                              top_k=decoding.top_k, noise=decoding.noise)
    out = Path(output_dir) if output_dir is not None else None
    results = {}
    try:
        for eval_set in sets:
            key = _fingerprint(identity, decoding, seed, eval_set)
            saved = _load_saved(out, eval_set.name, key)
            if saved is not None:
                print(f"[eval] {eval_set.name}: finished earlier, reusing "
                      f"{out / 'sets' / (file_stem(eval_set.name) + '.json')}", file=sys.stderr)
                results[eval_set.name] = saved
                continue
            partial = out / "episodes" / f"{file_stem(eval_set.name)}.{key}.partial.jsonl" if out else None
            start = time.perf_counter()
            records = run_set(envs, policy, eval_set, seed, progress, partial, noise=decoding.noise)
            results[eval_set.name] = metrics = set_metrics(records, eval_set)
            metrics["seconds"] = time.perf_counter() - start
            if out is not None:
                _save_set(out, eval_set.name, key, metrics, records)
                partial.unlink(missing_ok=True)
    finally:
        envs.close()
    return {"sets": results, "average": average_row(list(results.values()))}


def run_set(envs, policy, eval_set: EvalSet, seed: int, progress: bool = True, partial: Path | None = None,
            noise: float = 0.0) -> list[dict]:
    """Play every example of ``eval_set`` once, ``envs.num_envs`` at a time; the records in set order.

    Example ``i`` resets with seed ``seed + i`` and noise probability ``noise``. With ``partial``, records already there are kept and each new
    one is appended (flushed) as its episode ends."""
    from tqdm import tqdm

    done = _read_partial(partial)
    todo = [(i, ex) for i, ex in enumerate(eval_set.examples) if i not in done]
    handle = None
    if partial is not None:  # rewritten from what parsed, so a line torn by a kill never swallows the next one
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text("".join(json.dumps({"index": i, "record": r}) + "\n" for i, r in done.items()),
                           encoding="utf-8")
        handle = open(partial, "a", encoding="utf-8")
    bar = tqdm(total=len(eval_set.examples), initial=len(done), desc=f"eval {eval_set.name}",
               disable=not progress, unit="q")
    try:  # closed on any exit, an interrupt included: the bar's line ends before the next message
        n = envs.num_envs
        for start in range(0, len(todo), n):
            chunk = todo[start:start + n]

            def finished(e, chunk=chunk):
                index, record = chunk[e.index][0], e.record()
                done[index] = record
                if handle is not None:
                    handle.write(json.dumps({"index": index, "record": record}) + "\n")
                    handle.flush()
                bar.update(1)

            play(envs, policy, [ex for _, ex in chunk], seed=[seed + i for i, _ in chunk] + [None] * (n - len(chunk)),
                 sample_seed=seed + chunk[0][0], options={"noise_probability": noise}, dataset=eval_set.name,
                 on_episode=finished)
            bar.set_postfix(f1=f"{np.mean([r['f1'] for r in done.values()]):.3f}")
    finally:
        bar.close()
        if handle is not None:
            handle.close()
    return [done[i] for i in range(len(eval_set.examples))]


def _read_partial(partial: Path | None) -> dict[int, dict]:
    """The records an interrupted run of the same evaluation finished (a torn last line is dropped)."""
    done: dict[int, dict] = {}
    if partial is None or not partial.is_file():
        return done
    for line in partial.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
            done[int(entry["index"])] = entry["record"]
        except (ValueError, KeyError, TypeError):
            continue
    return done


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
