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

import gymnasium as gym
import numpy as np

from zerosearch_gym import UsageError, load_qa_dataset, make_backend  # importing registers ZeroSearch-v0
from zerosearch_gym.backends import is_real_engine, parse_spec
from zerosearch_gym.curriculum import check_probability
from zerosearch_gym.errors import hub_access

from .episodes import Episode, play, verification_stats
from .scripted import ScriptedActor


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
    try:
        check_probability(args.noise, "--noise")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.max_turns < 1:
        raise UsageError(f"expected --max-turns >= 1, got {args.max_turns}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with hub_access(str(args.dataset), repo_type="dataset"):
        examples = load_qa_dataset(args.dataset)  # a bad path fails here, before any model loads
    parse_spec(args.backend)  # a bad spec too: its one error line comes before the header
    print(f"[demo] {args.episodes} episodes, backend {args.backend}, noise {args.noise}", file=sys.stderr)
    start = time.perf_counter()
    backend = make_backend(args.backend)
    envs = gym.make_vec("ZeroSearch-v0", num_envs=args.episodes, vectorization_mode="vector_entry_point",
                        backend=backend, dataset=examples, max_turns=args.max_turns, noise=args.noise)
    episodes = play(envs, ScriptedActor(), seed=args.seed)
    envs.close()
    real = is_real_engine(args.backend)
    for i, ep in enumerate(episodes, 1):
        print(f"\n===== episode {i}/{len(episodes)}: {ep.example.question}   "
              f"(gold: {' | '.join(ep.example.golden_answers)})")
        print("\n".join(lines(ep)))
        ended = f"answered, F1 {ep.turns[-1]['f1']:.2f}" if ep.turns[-1]["terminated"] else "out of turns"
        print(f"----- reward {ep.reward:.3f}  ({ended})")
    print_summary(episodes, args.backend, real, time.perf_counter() - start)
    return 0


def lines(e: Episode) -> list[str]:
    """The transcript of one episode as the demo prints it: each turn, each search's mark, the documents."""
    out, searches = [], 0
    for turn, obs in zip(e.turns, e.observations):
        out.append(turn["text"].strip())
        if turn["action"] == "search":
            searches += 1
            out.append(f"   search {searches}: [{'noisy' if turn['noisy'] else 'useful'}] documents requested")
        if obs.strip():
            out.extend(_abridge(obs.strip()))
    return out


def _abridge(observation: str, width: int = 160) -> list[str]:
    """The observation one line per document, each cut to ``width`` characters (the policy sees it all)."""
    lines = observation.replace("</information>", "\n</information>").splitlines()
    return [line if len(line) <= width else line[: width - 1] + "…" for line in lines if line.strip()]


def print_summary(episodes: list[Episode], backend: str, real: bool, seconds: float) -> None:
    rewards = [ep.reward for ep in episodes]
    searches = [t for ep in episodes for t in ep.turns if t["action"] == "search"]
    marks = ["noisy" if t["noisy"] else "useful" for t in searches]
    warnings = [t["backend_warning"] for t in searches if t["backend_warning"]]
    print("\n===== summary")
    print(f"episodes     {len(episodes)} ({sum(ep.turns[-1]['terminated'] for ep in episodes)} answered), "
          f"{sum(r > 0 for r in rewards)} with a non-zero reward")
    print(f"mean reward  {np.mean(rewards):.3f}   (per episode: {' '.join(f'{r:.2f}' for r in rewards)})")
    print(f"searches     {len(marks)}: {marks.count('useful')} useful, {marks.count('noisy')} noisy"
          + ("   (a real engine writes no noisy documents: --noise applies to simulators)" if real else ""))
    last = {m: [ep.reward for ep in episodes if _last_mark(ep) == m] for m in ("useful", "noisy")}
    if not real and last["useful"] and last["noisy"]:
        print(f"reward after the last search: useful {np.mean(last['useful']):.2f}, "
              f"noisy {np.mean(last['noisy']):.2f}")
    if warnings:
        print(f"simulator    {len(warnings)} of {len(marks)} outputs malformed (e.g. {warnings[0]})")
    checked = [t["verify"] for t in searches if t["verify"] not in ("off", "")]
    if checked:
        noisy = [t for t in searches if t["noisy"]]
        stats = verification_stats(searches)
        before = round(stats["noisy_leak_before_verify"] * len(noisy))
        print(f"verified     {len(checked)} of {len(marks)} searches: "
              + ", ".join(f"{checked.count(k)} {k}" for k in ("passed", "resampled", "repaired", "failed", "unchecked"))
              + f"; noisy searches holding the answer {before} -> "
              f"{sum(t['answer_in_documents'] for t in noisy)} of {len(noisy)}; "
              f"{stats['verify_resamples_per_search']:.2f} extra simulator outputs per search")
    print(f"backend      {backend}, {seconds:.0f} s")
    print("next         zerosearch train   (teach an LLM policy to search; zerosearch train --help)")


def _last_mark(ep: Episode) -> str | None:
    """"useful" or "noisy": the kind of the episode's last search (None without one)."""
    marks = [t["noisy"] for t in ep.turns if t["action"] == "search"]
    return ("noisy" if marks[-1] else "useful") if marks else None


if __name__ == "__main__":
    raise SystemExit(main())
