"""``zerosearch demo``: a few ZeroSearch-v0 episodes on the embedded offline defaults, transcripts printed.

The offline SmolLM2-135M-Instruct simulator writes the documents (``--backend bm25`` searches the offline
Wikipedia summaries instead) and the scripted policy of :mod:`agents.scripted` acts. Training an LLM policy
is ``zerosearch train``.
"""
from __future__ import annotations

import argparse
import sys
import time

import gymnasium as gym
import numpy as np

from zerosearch_gym import UsageError, load_qa_dataset, make_backend  # importing registers ZeroSearch-v0
from zerosearch_gym.errors import hub_access

from .scripted import ScriptedPolicy


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="zerosearch demo", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="hf:?max_new_tokens=160",
                        help="backend spec: hf[:model][?options], bm25[:corpus.jsonl], openai:URL (default: the "
                             "offline SmolLM2 simulator, 160 new tokens per search)")
    parser.add_argument("--episodes", type=int, default=3, help="episodes, run side by side in one vector env")
    parser.add_argument("--noise", type=float, default=0.3, help="probability that a search returns noisy documents")
    parser.add_argument("--max-turns", type=int, default=2, help="search turns before the answer turn")
    parser.add_argument("--dataset", default=None, help="QA data: a parquet/JSONL path or hub id (default: the "
                                                         "shipped sample)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.episodes < 1:
        raise UsageError(f"expected --episodes >= 1, got {args.episodes}")
    if not 0 <= args.noise <= 1:
        raise UsageError(f"expected --noise in [0, 1], got {args.noise}")
    if args.max_turns < 1:
        raise UsageError(f"expected --max-turns >= 1, got {args.max_turns}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spec = args.backend
    print(f"[demo] backend {spec}, {args.episodes} episodes, scripted policy", file=sys.stderr)
    with hub_access(str(args.dataset), repo_type="dataset"):
        examples = load_qa_dataset(args.dataset)  # a bad path fails here, before any model loads
    backend = make_backend(spec)
    envs = gym.make_vec("ZeroSearch-v0", num_envs=args.episodes, vectorization_mode="vector_entry_point",
                        backend=backend, dataset=examples, max_turns=args.max_turns, noise=args.noise,
                        render_mode="ansi")
    policy = ScriptedPolicy()
    obs, _ = envs.reset(seed=args.seed)
    transcripts = list(obs)
    active = np.ones(args.episodes, dtype=bool)
    rewards = np.zeros(args.episodes)
    infos_at_end: list[dict] = [{} for _ in range(args.episodes)]
    start = time.perf_counter()
    while active.any():
        actions = [policy.act(t) if a else "" for t, a in zip(transcripts, active)]
        obs, reward, terminated, truncated, infos = envs.unwrapped.step_active(actions, active)
        for i in np.flatnonzero(active):
            transcripts[i] += actions[i] + obs[i]
            if terminated[i] or truncated[i]:
                rewards[i] = reward[i]
                infos_at_end[i] = {k: infos[k][i].item() for k in ("f1", "em", "searches") if k in infos}
                infos_at_end[i]["ended"] = "answer" if terminated[i] else "out of turns"
        active &= ~(terminated | truncated)
    for i, (text, env) in enumerate(zip(envs.unwrapped.render(), envs.unwrapped.envs)):
        print(f"\n===== episode {i}: {env.example.question}  (gold: {', '.join(env.example.golden_answers)}) =====")
        print(text)
        print(f"----- reward {rewards[i]:.3f}  {infos_at_end[i]}")
    print(f"\nmean reward {rewards.mean():.3f} over {args.episodes} episodes in {time.perf_counter() - start:.1f} s")
    envs.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
