"""``zerosearch train`` (and ``python -m agents.train``): parse the flags, build the held-out evaluation
(``--eval-every``, from :mod:`agents.evaluate.validation`), run :func:`agents.train.loop.train`.

The one place where the training and evaluation wings meet: ``agents/train`` does not import
``agents/evaluate``; this command hands the evaluation to the loop as its ``extra_metrics`` hook.
"""
from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    from agents.evaluate.validation import validator_from_config
    from agents.train.config import parse_config
    from agents.train.loop import train

    cfg = parse_config(argv)
    train(cfg, extra_metrics=validator_from_config(cfg))  # a bad --eval-dataset fails before any model loads
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
