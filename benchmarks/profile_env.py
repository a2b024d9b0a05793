"""Where an env step's time goes: cProfile of ``benchmarks/peers.py``'s workload, grouped by stage.

Run: ``python benchmarks/profile_env.py [--n 256] [--full] [--steps 30000] [--baseline DIR]`` (``--n 1``: the single env;
otherwise the vector env with the trainers' info keys, or every key with ``--full``). Prints each stage's share of
the profiled time (cumulative time of the functions named; the profiler's own overhead inflates short calls, so
read shares, not absolute times).
"""
import argparse
import cProfile
import os
import pstats
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

STAGES = {  # stage -> alternatives (file, function names) whose cumulative times add up; the first found counts
    "parse the turn": [("env.py", ("_parse",))],
    "noisy draw and request": [("env.py", ("_request",))],
    "backend call (instant)": [("base.py", ("search_batch",))],
    "documents, answer check, observation text": [("env.py", ("_observe",))],
    "score the answer": [("env.py", ("_score",))],
    "reset (autoreset)": [("tool_env.py", ("_start",)), ("tool_env.py", ("reset",))],
    "info values (rows; before: dicts)": [("env.py", ("_info_row", "_reset_row")),
                                          ("env.py", ("_begin_info", "_finish_info", "_reset_info"))],
    "info columns (arrays and masks)": [("vector.py", ("_infos",)), ("_infos.py", ("stack_infos",))],
}


def profile(n: int, full: bool, steps: int, lib=peers.zerosearch_gym) -> dict:
    run = peers.ours(1, lib=lib, single=True) if n == 1 else peers.ours(n, lean=not full, lib=lib)
    run(2)
    profiler = cProfile.Profile()
    profiler.enable()
    run(max(1, steps // (3 * n)))
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    total = sum(tt for _, _, tt, _, _ in stats.values())
    shares = {}
    for stage, alternatives in STAGES.items():
        for file, names in alternatives:
            time = sum(ct for (path, _, name), (_, _, _, ct, _) in stats.items() if name in names and path.endswith(file))
            if time:
                shares[stage] = time / total
                break
    shares["the rest (step bookkeeping, arrays of obs / rewards, loops)"] = 1 - sum(shares.values())
    return shares


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--full", action="store_true", help="every info key (default: the trainers' keys)")
    parser.add_argument("--steps", type=int, default=30000)
    parser.add_argument("--baseline", help="profile the zerosearch_gym of another checkout instead")
    args = parser.parse_args(argv)
    lib = peers.load_baseline(args.baseline) if args.baseline else peers.zerosearch_gym
    for stage, share in profile(args.n, args.full, args.steps, lib).items():
        print(f"| {stage} | {share:.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
