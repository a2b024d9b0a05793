"""Simulator quality and speed, side by side: the shipped tuned SmolLM2 (LoRA, sft-blind mode) verified, its
own first tries (the same spec unverified), the untuned SmolLM2 in prompt mode, BM25 and self-search, on
held-out corpus queries (each asked useful and noisy).

Prints the report table (format validity, useful/noisy answer-hit rates and their ratio, noisy fluency,
words/doc, docs/s, simulator tokens per search) and the tuned-vs-prompt ratios measured in the same run.

Run: ``ZS_SIM_QUERIES=200 pytest benchmarks/bench_simulator.py -o addopts="" -s`` (default 10 queries).
"""
import os

import pytest

from agents.simulator.report import heldout_requests, run_spec, table

QUERIES = int(os.environ.get("ZS_SIM_QUERIES", "10"))
NEW_TOKENS = 200
SPECS = {
    "prompt": f"hf:?adapter=none&max_new_tokens={NEW_TOKENS}",
    "tuned": f"hf?max_new_tokens={NEW_TOKENS}&verify=2",
    "bm25": "bm25",
    "self": f"self:{{smollm2}}?max_new_tokens={NEW_TOKENS}",
}
REPORT: dict = {}


@pytest.mark.parametrize("name", list(SPECS))
def test_simulator_report(benchmark, name):
    from zerosearch_gym.llm.models import smollm2_path

    spec = SPECS[name].replace("{smollm2}", str(smollm2_path()))
    requests = heldout_requests(QUERIES)
    metrics, _, first_try = benchmark.pedantic(run_spec, args=(spec, requests, 16), rounds=1, iterations=1)
    REPORT[spec] = metrics
    if first_try is not None:
        REPORT[f"{spec} (first try, unverified)"] = first_try
        print(f"verification: {metrics['outcomes']}, {metrics['verify_token_ratio']:.2f}x the simulator tokens")
    print("\n" + table({spec: metrics}))
    if name == "self":
        print("\n" + table(REPORT))
        tuned, prompt = REPORT[SPECS["tuned"]], REPORT[SPECS["prompt"]]
        validity = f"{tuned['valid'] / prompt['valid']:.2f}x" if prompt["valid"] else \
            f"{100 * tuned['valid']:.1f} % vs 0 %"
        print(f"tuned / prompt: format validity {validity}, separation {tuned['separation']:.2f} vs "
              f"{prompt['separation']:.2f}")
