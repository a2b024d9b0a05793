"""``zerosearch ask "question" --policy … --backend …``: one question, the whole transcript printed (thinks,
queries, documents, answer), for trying a policy on a case of your own.

``--gold`` scores the answer (F1 / EM) and tells a simulator backend what the answer is, as in training.
"""
from __future__ import annotations

import argparse
import sys
import textwrap

from zerosearch_gym import QAExample, UsageError, make_backend

from ..episodes import play
from .cli import build_parser as eval_parser
from .cli import decoding_from, pick_device, usage_errors
from .datasets import MAX_QUESTION_CHARS
from .policies import build_policy, resolve_policy

EVAL_ONLY = {"datasets", "hub", "limit", "output_dir", "no_progress", "max_question_chars", "batch_size"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zerosearch ask", description=__doc__.splitlines()[0])
    parser.add_argument("question", help="the question to answer")
    parser.add_argument("--gold", action="append", default=[], help="a gold answer (repeatable)")
    parser.add_argument("--raw", action="store_true", help="also print the raw text the policy saw and wrote")
    for action in eval_parser()._actions:  # the model and decoding options of zerosearch eval
        if action.dest in EVAL_ONLY or action.dest == "help":
            continue
        parser._add_action(action)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    question = args.question.strip()
    if not question or len(question) > MAX_QUESTION_CHARS:
        raise UsageError(f"argument question: expected 1 to {MAX_QUESTION_CHARS} characters, got {len(question)}")
    args.batch_size = 1
    with usage_errors(catch=(ValueError, TypeError, FileNotFoundError, ImportError)):
        decoding = decoding_from(args)
        resolve_policy(args.policy)
        backend = make_backend(args.backend)
    device = pick_device(args.device)
    with usage_errors():
        policy = build_policy(args.policy, decoding, args.model, device)
    import gymnasium

    import zerosearch_gym  # noqa: F401

    example = QAExample("ask", question, tuple(args.gold) or ("",), "ask")
    envs = gymnasium.make_vec("ZeroSearch-v0", num_envs=1, vectorization_mode="vector_entry_point",
                              backend=backend, dataset=[example], max_turns=policy.max_turns,
                              top_k=decoding.top_k, noise=0.0)
    try:
        (episode,) = play(envs, policy, [example], seed=args.seed, sample_seed=args.seed,
                          options={"noise_probability": 0.0}, dataset="ask")
    finally:
        envs.close()
    print(transcript(episode, scored=bool(args.gold)))
    if args.raw:
        print("\n----- raw text (env transcript) -----\n" + episode.transcript)
    return 0


def transcript(episode, scored: bool = True) -> str:
    """A readable transcript of an evaluation episode."""
    wrap = lambda text, indent: textwrap.fill(str(text), 100, initial_indent=indent, subsequent_indent=indent)
    lines = [f"Question: {episode.example.question}"]
    if scored:
        lines.append(f"Gold: {' | '.join(episode.example.golden_answers)}")
    for i, step in enumerate(episode.turns, 1):
        lines.append(f"\n[turn {i}] {step.get('action')}")
        if step.get("think"):
            lines.append(wrap("think: " + step["think"], "  "))
        if step.get("query"):
            lines.append(f"  query: {step['query']}  ({'noisy' if step.get('noisy') else 'useful'} documents)")
        for j, doc in enumerate(step.get("documents", []), 1):
            lines.append(wrap(f"Doc {j}: {doc}", "    "))
        if step.get("backend_error"):
            lines.append(f"  backend error: {step['backend_error']}")
        if step.get("action") == "answer":
            score = f"  (F1 {step['f1']:.2f}, EM {step['em']:.0f})" if scored else ""
            lines.append(f"  answer: {step['answer']}{score}")
        if step.get("action") == "invalid":
            lines.append(wrap(f"invalid turn ({step.get('invalid_reason')}): {step.get('text', '')!r}", "  "))
        if step.get("truncated"):
            lines.append("  (episode truncated: out of turns or context)")
    lines.append(f"\n{episode.tokens} tokens generated")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
