"""``zerosearch train`` (and ``python -m agents.train``): parse the flags, build the held-out evaluation
(``--eval-every``, from :mod:`agents.evaluate.validation`), run :func:`agents.train.loop.train` with its
dashboard (``--report-to tensorboard|wandb|none``, :mod:`agents.train.report_to`).

The one place where the training and evaluation wings meet: ``agents/train`` does not import
``agents/evaluate``; this command hands the evaluation to the loop as its ``extra_metrics`` hook.
"""
from __future__ import annotations

import dataclasses


def split_report_to(argv: list[str]) -> tuple[str | None, list[str]]:
    """``--report-to KIND`` (or ``--report-to=KIND``) taken out of ``argv``: ``(KIND or None, the rest)``.

    >>> split_report_to(["--steps", "3", "--report-to", "wandb"])
    ('wandb', ['--steps', '3'])
    >>> split_report_to(["--report-to=tensorboard"])
    ('tensorboard', [])
    """
    kind, rest, items = None, [], iter(argv)
    for arg in items:
        if arg == "--report-to":
            kind = next(items, "")
        elif arg.startswith("--report-to="):
            kind = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    return kind, rest


def main(argv: list[str] | None = None) -> int:
    import sys

    from agents.train.report_to import check_report_to, follow_run

    argv = list(sys.argv[1:] if argv is None else argv)
    kind, rest = split_report_to(argv)
    check_report_to(kind or "none")  # a bad name fails before anything loads

    from agents.evaluate.validation import validator_from_config
    from agents.train.config import TrainConfig, parse_config
    from agents.train.loop import train

    holds_it = "report_to" in {f.name for f in dataclasses.fields(TrainConfig)}  # then --help lists the flag
    cfg = parse_config(argv if holds_it else rest)
    validator = validator_from_config(cfg)  # a bad --eval-dataset fails before any model loads
    with follow_run(getattr(cfg, "report_to", None) or kind or "none", cfg.output_dir, dataclasses.asdict(cfg)):
        train(cfg, extra_metrics=validator)
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
