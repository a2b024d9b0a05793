"""veRL's data and reward for ZeroSearch (no veRL import: used by the data script and loaded by veRL's reward
loop from this file's path).

- :func:`dataset_rows`: veRL RL-dataset rows for the multi-turn tool agent loop (``agent_name`` ``tool_agent``):
  the tool-call prompt as a chat message, ``reward_model.ground_truth.target`` = the gold answers, and the
  search tool's ``create_kwargs`` (question, gold answers) in ``extra_info.tools_kwargs``.
- :func:`compute_score`: ``reward.custom_reward_function`` — F1 of the last ``<answer>…</answer>`` of the response.
"""
from __future__ import annotations

import re
from typing import Any

from zerosearch_gym import answer_scores, load_qa_dataset
from zerosearch_gym.formats import tool_call_prompt

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def dataset_rows(examples: Any = None, split: str = "train") -> list[dict]:
    """One veRL row per QA example (write them with ``pandas.DataFrame(rows).to_parquet``)."""
    rows = []
    for i, ex in enumerate(load_qa_dataset(examples)):
        golds = {"target": list(ex.golden_answers)}
        rows.append({
            "data_source": ex.data_source or "zerosearch", "agent_name": "tool_agent", "ability": "search",
            "prompt": [{"role": "user", "content": tool_call_prompt(ex.question)}],
            "reward_model": {"style": "rule", "ground_truth": golds},
            "extra_info": {"split": split, "index": i, "id": ex.id, "question": ex.question, "need_tools_kwargs": True,
                           "tools_kwargs": {"search": {"create_kwargs": {"question": ex.question,
                                                                         "ground_truth": golds}}}},
        })
    return rows


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
                  **kwargs: Any) -> dict:
    """veRL's reward: F1 (``score``), EM and cover-EM of the response's last ``<answer>`` (0 without one).

    >>> compute_score("nq", "<think>x</think><answer> Paris </answer>", {"target": ["Paris"]})["score"]
    1.0
    """
    golds = ground_truth.get("target", ground_truth) if isinstance(ground_truth, dict) else ground_truth
    golds = [golds] if isinstance(golds, str) else [str(g) for g in golds]
    answers = _ANSWER.findall(solution_str or "")
    if not answers:
        return {"score": 0.0, "f1": 0.0, "em": 0.0, "cover_em": 0.0, "answered": 0.0}
    scores = answer_scores(answers[-1].strip(), golds)
    return {"score": float(scores["f1"]), **{k: float(v) for k, v in scores.items()}, "answered": 1.0}
