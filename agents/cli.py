"""The ``zerosearch`` console script: ``zerosearch demo …`` and ``zerosearch train …``."""
from __future__ import annotations

import sys

COMMANDS = {
    "demo": ("agents.demo", "a few ZeroSearch-v0 episodes on the offline defaults, transcripts printed"),
    "train": ("agents.train.loop", "train a policy LLM against ZeroSearch-v0 (PPO / GRPO / REINFORCE++)"),
    "simulator": ("agents.simulator", "build-data / tune / report: make and measure a tuned search simulator"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: zerosearch {demo,train} [options]   (zerosearch COMMAND --help for options)\n")
        for name, (_, text) in COMMANDS.items():
            print(f"  {name:8s}{text}")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    import importlib

    module = importlib.import_module(COMMANDS[argv[0]][0])
    return module.main(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
