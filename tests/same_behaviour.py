"""Fixed-seed outputs of the rollout collector, the evaluation harness and the demo (tiny model, real BM25).

``python tests/same_behaviour.py`` writes ``tests/data/same_behaviour.json``; ``test_same_behaviour.py``
recomputes them and asserts they did not change (the refactors of the episode runner keep behaviour).
"""
from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import gymnasium

import zerosearch_gym  # noqa: F401  (registers ZeroSearch-v0)
from zerosearch_gym import QAExample
from zerosearch_gym.backends.retrieval import BM25Backend

EXPECTED = Path(__file__).parent / "data" / "same_behaviour.json"
EXAMPLES = [QAExample("q1", "Who wrote Hamlet?", ("William Shakespeare",), "demo"),
            QAExample("q2", "What is the capital of France?", ("Paris",), "demo"),
            QAExample("q3", "Where is the Eiffel Tower?", ("Paris",), "demo")]
DOCS = [{"title": "Hamlet", "text": "Hamlet is a tragedy written by William Shakespeare around 1600."},
        {"title": "Paris", "text": "Paris is the capital and largest city of France."},
        {"title": "Eiffel Tower", "text": "The Eiffel Tower is a wrought-iron lattice tower in Paris, France."},
        {"title": "Berlin", "text": "Berlin is the capital of Germany."}]


def rollouts() -> dict:
    """Sampled (temperature 1) tiny-model rollouts, 3 questions x 2, noise 0.5: ids, rewards, records."""
    from agents.policy import Policy
    from agents.train.rollout import RolloutConfig, collect_rollouts
    from zerosearch_gym.llm.models import tiny_model

    policy = Policy(*tiny_model("llama", seed=1))
    envs = gymnasium.make_vec("ZeroSearch-v0", num_envs=6, vectorization_mode="vector_entry_point",
                              backend=BM25Backend.from_documents(DOCS), dataset=EXAMPLES, max_turns=2, top_k=2,
                              noise=0.5, format_reward=True)
    batch = collect_rollouts(envs, policy, EXAMPLES, 2, RolloutConfig(max_new_tokens=8, max_obs_tokens=24), seed=3)
    return {"input_ids": batch.input_ids.tolist(), "loss_mask": batch.loss_mask.tolist(),
            "rewards": batch.rewards.tolist(), "stats": batch.stats, "records": batch.records}


def scripted_rollouts() -> dict:
    """The scripted actor's rollouts (searches, documents, answers, noisy coins) on the same envs."""
    from agents.policy import Policy, Turn
    from agents.scripted import ScriptedPolicy
    from agents.train.rollout import RolloutConfig, collect_rollouts
    from zerosearch_gym.llm.models import tiny_model

    policy, scripted = Policy(*tiny_model("llama", seed=1)), ScriptedPolicy()
    envs = gymnasium.make_vec("ZeroSearch-v0", num_envs=6, vectorization_mode="vector_entry_point",
                              backend=BM25Backend.from_documents(DOCS), dataset=EXAMPLES, max_turns=2, top_k=2,
                              noise=0.5)

    def actor(indices, contexts, transcripts):
        texts = [scripted.act(t) for t in transcripts]
        return [Turn(policy.tokenizer(t, add_special_tokens=False)["input_ids"], t, "stop") for t in texts]

    batch = collect_rollouts(envs, policy, EXAMPLES, 2, RolloutConfig(max_new_tokens=64, max_obs_tokens=64),
                             seed=[5, 6, 7, 8, 9, 10], actor=actor)
    return {"input_ids": batch.input_ids.tolist(), "rewards": batch.rewards.tolist(), "stats": batch.stats,
            "records": batch.records}


def evaluation() -> dict:
    """Greedy tiny-model and scripted evaluations on BM25 over the offline Wikipedia (3 sample questions)."""
    from agents.evaluate import Decoding, build_policy, evaluate_policy, load_eval_sets
    from agents.policy import Policy
    from zerosearch_gym import make_backend
    from zerosearch_gym.llm.models import tiny_model

    sets = load_eval_sets(["sample:in-wiki"], limit=3)
    bm25 = make_backend("bm25")
    out, decoding = {}, Decoding(max_new_tokens=12, max_turns=2, batch_size=2)
    for name, policy in (("tiny", Policy(*tiny_model("llama", seed=2))), ("scripted", build_policy("scripted", decoding))):
        result = evaluate_policy(policy, sets, bm25, decoding, seed=4, progress=False)
        for metrics in result["sets"].values():
            metrics.pop("seconds", None)
        out[name] = result
    return out


def demo() -> str:
    """``zerosearch demo --backend bm25 --episodes 3 --seed 1`` stdout, without its wall-time line."""
    from agents.demo import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(io.StringIO()):
        main(["--backend", "bm25", "--episodes", "3", "--seed", "1"])
    return "\n".join(line for line in buffer.getvalue().splitlines() if not line.startswith("backend "))


def capture() -> dict:
    return json.loads(json.dumps({"rollouts": rollouts(), "scripted_rollouts": scripted_rollouts(),
                                  "evaluation": evaluation(), "demo": demo()}, default=float))


if __name__ == "__main__":
    EXPECTED.parent.mkdir(exist_ok=True)
    EXPECTED.write_text(json.dumps(capture(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {EXPECTED}", file=sys.stderr)
