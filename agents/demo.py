"""``zerosearch demo``: watch a scripted agent search and answer a few questions, then see the summary.

Each episode: the agent searches for the question; a simulated search engine (an LLM told to write useful
documents, or noisy ones with the probability set by --noise) answers; the agent reads the documents and
answers; the reward is the answer's word-level F1 against the gold answer. Every search is marked
[useful] or [noisy]. The agent is the model-free scripted policy of agents/scripted.py (it never sees the
gold answers); `zerosearch train` teaches an LLM to do the same. Runs on a CPU in a minute or two.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from zerosearch_gym import UsageError, load_qa_dataset, make_backend  # importing registers ZeroSearch-v0
from zerosearch_gym.errors import hub_access

from .scripted import ScriptedPolicy

REAL_ENGINES = ("bm25", "http-retriever")  # real search: the useful/noisy request does not change the results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="zerosearch demo", description=__doc__.replace("``", ""),
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="examples:\n  zerosearch demo --episodes 5 --noise 0.5\n"
                                            "  zerosearch demo --backend bm25 --dataset sample:in-wiki")
    parser.add_argument("--backend", default="hf:?max_new_tokens=256&temperature=0.5", metavar="SPEC",
                        help="the search engine: 'hf' = the shipped tuned simulator (default: SmolLM2-135M with "
                             "its LoRA adapter, 256 tokens = five documents per search, temperature 0.5), "
                             "'hf:FOLDER_OR_HUB_ID' another simulator, 'bm25' real search over 10,033 offline "
                             "Wikipedia summaries, 'openai:URL' a served model")
    parser.add_argument("--episodes", type=int, default=3, help="how many questions to play (default 3)")
    parser.add_argument("--noise", type=float, default=0.5,
                        help="probability that a search asks the simulator for noisy documents (default 0.5)")
    parser.add_argument("--max-turns", type=int, default=2, help="search turns allowed before the answer (default 2)")
    parser.add_argument("--dataset", default=None, metavar="SOURCE",
                        help="questions: a .jsonl/.parquet file, a hub dataset id, 'sample:in-wiki' (answers "
                             "are in the offline Wikipedia) or the shipped sample (default)")
    parser.add_argument("--seed", type=int, default=0, help="picks the questions and the noisy searches")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        raise UsageError(f"expected --episodes >= 1, got {args.episodes}")
    if not 0 <= args.noise <= 1:
        raise UsageError(f"expected --noise in [0, 1], got {args.noise}")
    if args.max_turns < 1:
        raise UsageError(f"expected --max-turns >= 1, got {args.max_turns}")
    return args


@dataclass
class Episode:
    question: str
    gold: tuple[str, ...]
    lines: list[str] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)  # "useful" / "noisy", one per search
    reward: float = 0.0
    ended: str = ""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with hub_access(str(args.dataset), repo_type="dataset"):
        examples = load_qa_dataset(args.dataset)  # a bad path fails here, before any model loads
    print(f"[demo] {args.episodes} episodes, backend {args.backend}, noise {args.noise}", file=sys.stderr)
    start = time.perf_counter()
    backend = make_backend(args.backend)
    envs = gym.make_vec("ZeroSearch-v0", num_envs=args.episodes, vectorization_mode="vector_entry_point",
                        backend=backend, dataset=examples, max_turns=args.max_turns, noise=args.noise)
    episodes, warnings = play(envs, ScriptedPolicy(), args.seed)
    envs.close()
    real = args.backend.split(":")[0].split("?")[0] in REAL_ENGINES
    for i, ep in enumerate(episodes, 1):
        print(f"\n===== episode {i}/{len(episodes)}: {ep.question}   (gold: {' | '.join(ep.gold)})")
        print("\n".join(ep.lines))
        print(f"----- reward {ep.reward:.3f}  ({ep.ended})")
    print_summary(episodes, warnings, args.backend, real, time.perf_counter() - start)
    return 0


def play(envs, policy: ScriptedPolicy, seed: int) -> tuple[list[Episode], list[str]]:
    """Run one episode per sub-env to its end; the transcript lines, search marks and reward of each."""
    obs, _ = envs.reset(seed=seed)
    n = envs.num_envs
    episodes = [Episode(env.example.question, tuple(env.example.golden_answers)) for env in envs.unwrapped.envs]
    transcripts, active, warnings = list(obs), np.ones(n, dtype=bool), []
    while active.any():
        actions = [policy.act(t) if a else "" for t, a in zip(transcripts, active)]
        obs, reward, terminated, truncated, infos = envs.unwrapped.step_active(actions, active)
        for i in np.flatnonzero(active):
            ep = episodes[i]
            transcripts[i] += actions[i] + obs[i]
            ep.lines.append(actions[i].strip())
            if infos["action"][i] == "search":
                ep.marks.append("noisy" if infos["noisy"][i] else "useful")
                ep.lines.append(f"   search {len(ep.marks)}: [{ep.marks[-1]}] documents requested")
                if infos["backend_warning"][i]:
                    warnings.append(str(infos["backend_warning"][i]))
            if obs[i].strip():
                ep.lines.extend(_abridge(obs[i].strip()))
            if terminated[i] or truncated[i]:
                ep.reward = float(reward[i])
                ep.ended = f"answered, F1 {infos['f1'][i]:.2f}" if terminated[i] else "out of turns"
        active &= ~(terminated | truncated)
    return episodes, warnings


def _abridge(observation: str, width: int = 160) -> list[str]:
    """The observation one line per document, each cut to ``width`` characters (the policy sees it all)."""
    lines = observation.replace("</information>", "\n</information>").splitlines()
    return [line if len(line) <= width else line[: width - 1] + "…" for line in lines if line.strip()]


def print_summary(episodes: list[Episode], warnings: list[str], backend: str, real: bool, seconds: float) -> None:
    rewards = [ep.reward for ep in episodes]
    marks = [m for ep in episodes for m in ep.marks]
    rewarded = sum(r > 0 for r in rewards)
    print("\n===== summary")
    print(f"episodes     {len(episodes)} ({sum(ep.ended.startswith('answered') for ep in episodes)} answered), "
          f"{rewarded} with a non-zero reward")
    print(f"mean reward  {np.mean(rewards):.3f}   (per episode: {' '.join(f'{r:.2f}' for r in rewards)})")
    print(f"searches     {len(marks)}: {marks.count('useful')} useful, {marks.count('noisy')} noisy"
          + ("   (a real engine ignores the request: its results are the same)" if real else ""))
    per_mark = {m: [ep.reward for ep in episodes if ep.marks and ep.marks[-1] == m] for m in ("useful", "noisy")}
    if not real and per_mark["useful"] and per_mark["noisy"]:
        print(f"reward after the last search: useful {np.mean(per_mark['useful']):.2f}, "
              f"noisy {np.mean(per_mark['noisy']):.2f}")
    if warnings:
        print(f"simulator    {len(warnings)} of {len(marks)} outputs malformed (e.g. {warnings[0]})")
    print(f"backend      {backend}, {seconds:.0f} s")
    print("next         zerosearch train   (teach an LLM policy to search; zerosearch train --help)")


if __name__ == "__main__":
    raise SystemExit(main())
