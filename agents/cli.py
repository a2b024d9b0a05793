"""The ``zerosearch`` console script: one command per job, each a module with ``main(argv) -> int``.

Adding a command is one line in :data:`COMMANDS`. A command raises the errors a user can fix
(:class:`zerosearch_gym.ZeroSearchError` and its :class:`~zerosearch_gym.UsageError`, ``ValueError`` from
config or spec checks, ``FileNotFoundError``, an ``ImportError`` naming an extra); this script prints them
as one line on stderr with exit code 2. ``--debug`` anywhere on the line shows the traceback instead.
"""
from __future__ import annotations

import difflib
import importlib
import sys

from zerosearch_gym import ZeroSearchError
from zerosearch_gym.errors import is_connection_failure, offline_message_for

# name -> (module with main(argv) -> int, one line of help)
COMMANDS = {
    "demo": ("agents.demo", "watch a scripted agent search and answer a few questions (a minute or two on a CPU)"),
    "train": ("agents.train_command", "train a policy LLM to search (PPO / GRPO / REINFORCE++)"),
    "eval": ("agents.evaluate.cli", "evaluate a policy or a baseline on QA sets with a search backend (EM/F1 table)"),
    "ask": ("agents.evaluate.ask", "one question to a policy, the whole transcript printed"),
    "view": ("agents.evaluate.viewer", "episodes JSONL -> one static HTML page to read rollouts"),
    "export": ("agents.train.export", "write a training run's policy as a Hugging Face folder"),
    "simulator": ("agents.simulator", "build-data / tune / report: make and measure a tuned search simulator"),
    "serve": ("agents.integrations.serve", "serve ZeroSearch-v0 as an OpenEnv environment over HTTP (needs [openenv])"),
}

USAGE = "usage: zerosearch COMMAND [options]      (zerosearch COMMAND --help for its options; --debug for tracebacks)"


def print_usage(file=sys.stdout) -> None:
    print(f"{USAGE}\n\ncommands:", file=file)
    for name, (_, text) in COMMANDS.items():
        print(f"  {name:12s}{text}", file=file)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    if not argv or argv[0] in ("-h", "--help"):
        print_usage(sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        near = difflib.get_close_matches(name, COMMANDS, n=1, cutoff=0.5)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        print(f"zerosearch: unknown command {name!r}{hint} (commands: {', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    try:
        return importlib.import_module(COMMANDS[name][0]).main(rest)
    except KeyboardInterrupt:
        if debug:
            raise
        end_progress_bars()
        print(f"zerosearch {name}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        message = user_message(exc)
        if debug or message is None:
            raise
        print(f"zerosearch {name}: error: {message}  (--debug shows the traceback)", file=sys.stderr)
        return 2


def end_progress_bars() -> None:
    """Close the progress bars an interrupt left open, so the next message starts on a line of its own."""
    tqdm = sys.modules.get("tqdm.std")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", ())):
        first_draw = getattr(bar, "sp", None) is not None and not hasattr(bar, "last_print_t")
        bar.close()  # a bar that was drawn ends its line
        if first_draw:  # interrupted while drawing itself for the first time: close() would leave the line open
            bar.fp.write("\n")


def user_message(exc: BaseException) -> str | None:
    """One line for an error a user can act on, or None for a bug (which keeps its traceback)."""
    if isinstance(exc, (ZeroSearchError, ValueError, FileNotFoundError, ImportError)):
        text = one_line(exc)
        if isinstance(exc, ModuleNotFoundError) and "install" not in text:
            text += f"; install the package or the zerosearch-gym extra that provides {exc.name!r}"
        return text
    if isinstance(exc, OSError) and is_connection_failure(exc):
        return offline_message_for(exc)
    if isinstance(exc, RuntimeError) and ("pip install" in str(exc) or "zerosearch-gym[" in str(exc)):
        return one_line(exc)  # a missing optional package, with the command that installs it
    return None


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


if __name__ == "__main__":
    raise SystemExit(main())
