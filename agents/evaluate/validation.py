"""Held-out evaluation during training (ZeroSearch's ``val_before_train`` / ``test_freq``).

``zerosearch train --eval-every N --eval-dataset sample:in-wiki --eval-backend bm25`` evaluates the policy
greedily on the held-out set after every N-th step (and after the last); ``--eval-ends`` (the default)
evaluates the starting policy before the first step and the final one. The figures join that step's row
of metrics.jsonl (the start's: a row ``{"val_start": true, ...}``) as ``val_em``, ``val_cover_em``, ``val_f1``, ``val_searches``, ``val_valid_action_rate``,
and the episodes go to ``output_dir/val/step<N>/episodes/<set>.jsonl`` (``zerosearch view`` reads them).
"""
from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from .datasets import EvalSet, load_eval_sets
from .harness import evaluate_policy
from .policies import Decoding

VAL_KEYS = ("em", "cover_em", "f1", "searches", "valid_action_rate")


def make_validator(every: int, sets: list[EvalSet], backend: str = "bm25",
                   decoding: Decoding | None = None, total_steps: int | None = None, seed: int = 0,
                   output_dir: str | Path | None = None, progress: bool = False) -> Callable[[int, object], dict]:
    """``validator(step, policy) -> {"val_f1": …, …}`` after every ``every``-th step (0 = none between),
    after the last and for ``step`` -1 (the starting policy), else {}. ``progress``: a progress bar per set
    for the start and the end (minutes on a CPU; between steps the training bar stays alone).

    ``sets``: from :func:`~agents.evaluate.datasets.load_eval_sets`. The backend is built now, so a bad
    ``--eval-backend`` fails before any model loads."""
    from zerosearch_gym import make_backend

    if not isinstance(every, int) or every < 0:
        raise ValueError(f"expected --eval-every >= 0, got {every!r}")
    search = make_backend(backend)
    decoding = (decoding or Decoding()).validate()

    def validate(step: int, policy) -> dict:
        done = step + 1  # step -1: the starting policy, before the first update
        if (not every or done % every) and done not in (0, total_steps):
            return {}
        was_training = policy.training
        policy.eval()
        try:
            out = Path(output_dir) / "val" / f"step{done}" if output_dir is not None else None
            if out is not None:  # a resumed run re-evaluates its step: never reuse the files of a killed one
                shutil.rmtree(out, ignore_errors=True)
            ends = progress and done in (0, total_steps)
            result = evaluate_policy(policy, sets, search, decoding, seed=seed, progress=ends, output_dir=out,
                                     identity={"step": done})
        finally:
            policy.train(was_training)
        return {f"val_{key}": result["average"][key] for key in VAL_KEYS}

    return validate


def validator_from_config(cfg) -> Callable[[int, object], dict] | None:
    """The validator a TrainConfig asks for (``eval_every`` > 0 or ``eval_ends``), with the run's turn limits;
    else None."""
    if not cfg.eval_every and not cfg.eval_ends:
        return None
    decoding = Decoding(temperature=0.0, max_new_tokens=cfg.max_new_tokens, max_obs_tokens=cfg.max_obs_tokens,
                        max_seq_len=cfg.max_seq_len, max_turns=cfg.max_turns, top_k=cfg.top_k,
                        batch_size=max(cfg.questions_per_step * cfg.rollouts_per_question, 1))
    datasets = [d for d in cfg.eval_dataset.split(",") if d]
    sets = load_eval_sets(datasets, cfg.eval_limit or None)  # a bad --eval-dataset fails before any model loads
    return make_validator(cfg.eval_every, sets, cfg.eval_backend, decoding,
                          total_steps=cfg.steps, seed=cfg.seed, output_dir=cfg.output_dir, progress=cfg.progress)
