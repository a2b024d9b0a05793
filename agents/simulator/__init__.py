"""Search-simulation tuning: ``zerosearch simulator {build-data,tune,report}``.

- ``build-data`` (:mod:`.build_data`): labelled query → documents SFT rows from a real engine.
- ``tune`` (:mod:`.tune`): SFT (LoRA or full) of a causal LM on those rows, loss on the documents only.
- ``report`` (:mod:`.report`): format validity, useful-vs-noisy answer-hit rates, length, docs/s per spec.
"""
from __future__ import annotations

import importlib
import sys

SUBCOMMANDS = {
    "build-data": ("agents.simulator.build_data", "labelled query -> documents rows from a real search engine"),
    "tune": ("agents.simulator.tune", "SFT (LoRA or full) of a simulator LM on those rows"),
    "report": ("agents.simulator.report", "quality of simulator specs on held-out queries, side by side"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in SUBCOMMANDS:
        print("usage: zerosearch simulator {build-data,tune,report} [options]\n")
        for name, (_, text) in SUBCOMMANDS.items():
            print(f"  {name:12s}{text}")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return importlib.import_module(SUBCOMMANDS[argv[0]][0]).main(argv[1:])
