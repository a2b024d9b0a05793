"""ZeroSearch-v0 in SkyRL: write the dataset rows, then play episodes the way SkyRL's generator does.

    python examples/skyrl_zerosearch.py --episodes 4 --out data/zerosearch_train.parquet

SkyRL's trainer (``skyrl-train``) then names the env in its config; a custom env is registered in the entry
point before the trainer starts, which ``import agents.integrations.skyrl`` does::

    uv run --isolated --extra vllm -m your_entrypoint \\
        data.train_data="['data/zerosearch_train.parquet']" \\
        environment.env_class=zerosearch \\
        environment.skyrl_gym.zerosearch.backend="openai:http://127.0.0.1:8001/v1" \\
        generator.max_turns=5 generator.use_conversation_multi_turn=true

(``your_entrypoint``: SkyRL's ``main_base`` with ``import agents.integrations.skyrl`` at the top.) Needs
``pip install 'zerosearch-gym[skyrl]'``; the scripted policy stands in for the LLM here.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def write_rows(rows: list[dict], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":  # what SkyRL reads (pandas + pyarrow)
        import pandas as pd

        pd.DataFrame(rows).to_parquet(out)
    else:
        out.write_text("".join(json.dumps(r) + "\n" for r in rows))


def play(row: dict, backend: str) -> float:
    """One episode as SkyRL's generator plays it: make the env from the row, init, step until done."""
    import skyrl_gym

    from agents.scripted import ScriptedPolicy

    extras = {k: v for k, v in row.items() if k != "prompt"}
    env = skyrl_gym.make(row["env_class"], env_config={"backend": backend, "max_turns": 2}, extras=extras)
    messages, _ = env.init(row["prompt"])
    transcript, policy, done, reward = messages[-1]["content"], ScriptedPolicy(), False, 0.0
    while not done:
        turn = policy.act(transcript)
        out = env.step(turn)
        done, reward = out["done"], out["reward"]
        transcript += turn + "".join(m["content"] for m in out["observations"])
    env.close()
    return reward


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=None, help="QA dataset (default: the shipped sample)")
    parser.add_argument("--backend", default="bm25")
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--out", default="data/zerosearch_train.parquet", help=".parquet or .jsonl")
    args = parser.parse_args(argv)

    from agents.integrations.skyrl import dataset_rows

    rows = dataset_rows(args.dataset)
    write_rows(rows, Path(args.out))
    rewards = [play(row, args.backend) for row in rows[:args.episodes]]
    summary = {"rows": len(rows), "episodes": len(rewards), "mean_reward": sum(rewards) / max(len(rewards), 1)}
    print(json.dumps(summary), flush=True)
    return summary


if __name__ == "__main__":
    main()
