"""Evaluation: ``zerosearch eval`` (any policy, any backend, the paper's QA sets), ``zerosearch ask`` (one
question, the whole transcript) and ``zerosearch view`` (episodes JSONL -> one static HTML page).

:func:`evaluate_policy` is the function a trainer calls for validation.
"""
from .datasets import EvalSet, load_eval_set, load_eval_sets
from .harness import evaluate_policy
from .policies import Decoding, build_policy, resolve_policy

__all__ = ["Decoding", "EvalSet", "build_policy", "evaluate_policy", "load_eval_set", "load_eval_sets",
           "resolve_policy"]
