"""``zerosearch train`` (and ``python -m agents.train``): parse the flags, build the held-out evaluation
(``--eval-every`` / ``--eval-ends``, from :mod:`agents.evaluate.validation`), run
:func:`agents.train.loop.train` with its dashboard (``--report-to tensorboard|wandb|none``,
:mod:`agents.train.report_to`).

The one place where the training and evaluation wings meet: ``agents/train`` does not import
``agents/evaluate``; this command hands the evaluation to the loop as its ``extra_metrics`` hook.
"""
from __future__ import annotations

import dataclasses


def main(argv: list[str] | None = None) -> int:
    from agents.evaluate.validation import validator_from_config
    from agents.train.config import parse_config
    from agents.train.loop import train
    from agents.train.report_to import check_report_to, follow_run

    cfg = parse_config(argv)
    check_report_to(cfg.report_to)  # a missing dashboard package fails before anything loads
    validator = validator_from_config(cfg)  # a bad --eval-dataset fails before any model loads
    with follow_run(cfg.report_to, cfg.output_dir, dataclasses.asdict(cfg)):
        train(cfg, extra_metrics=validator)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
