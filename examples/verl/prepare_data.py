"""Write ZeroSearch QA data as veRL parquet files for the multi-turn tool agent loop.

    python examples/verl/prepare_data.py --train sunhaonlp/ZeroSearch_dataset --out data/zerosearch_verl
    python examples/verl/prepare_data.py --train wiki:train --test wiki:dev --out data/zerosearch_verl   # offline

Each row: the tool-call prompt, ``agent_name: tool_agent``, the gold answers as ``reward_model.ground_truth``
and the search tool's ``create_kwargs`` (see ``agents/integrations/verl_data.py``). Needs pandas + pyarrow.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=None, help="QA dataset for training (default: the shipped sample)")
    parser.add_argument("--test", default=None, help="QA dataset for validation (default: the training data)")
    parser.add_argument("--out", default="data/zerosearch_verl")
    parser.add_argument("--limit", type=int, default=0, help="keep the first N rows of each (0: all)")
    args = parser.parse_args(argv)

    import pandas as pd

    from agents.integrations.verl_data import dataset_rows

    out, counts = Path(args.out), {}
    out.mkdir(parents=True, exist_ok=True)
    for split, source in (("train", args.train), ("test", args.test or args.train)):
        rows = dataset_rows(source, split)[:args.limit or None]
        pd.DataFrame(rows).to_parquet(out / f"{split}.parquet")
        counts[split] = len(rows)
    print(f"wrote {counts} rows to {out}/{{train,test}}.parquet", flush=True)
    return counts


if __name__ == "__main__":
    main()
