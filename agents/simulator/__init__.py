"""Search-simulation tuning: ``zerosearch simulator {build-data,tune,report}``.

- ``build-data`` (:mod:`.build_data`): labelled query → documents SFT rows from a real engine.
- ``tune`` (:mod:`.tune`): SFT (LoRA or full) of a causal LM on those rows, loss on the documents only.
- ``report`` (:mod:`.report`): format validity, useful-vs-noisy answer-hit rates, length, docs/s per spec.
"""
from __future__ import annotations

import importlib
import sys

from zerosearch_gym import UsageError

SUBCOMMANDS = {
    "build-data": ("agents.simulator.build_data", "labelled query -> documents rows from a real search engine"),
    "tune": ("agents.simulator.tune", "SFT (LoRA or full) of a simulator LM on those rows"),
    "report": ("agents.simulator.report", "quality of simulator specs on held-out queries, side by side"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBCOMMANDS:
        return importlib.import_module(SUBCOMMANDS[argv[0]][0]).main(argv[1:])
    if argv and argv[0] not in ("-h", "--help"):
        raise UsageError(f"unknown subcommand {argv[0]!r}; expected one of {', '.join(SUBCOMMANDS)}")
    out = sys.stdout if argv else sys.stderr  # help asked for, or the subcommand missing (exit code 2)
    print("usage: zerosearch simulator {build-data,tune,report} [options]\n", file=out)
    for name, (_, text) in SUBCOMMANDS.items():
        print(f"  {name:12s}{text}", file=out)
    return 0 if argv else 2
