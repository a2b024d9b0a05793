"""ZeroSearch-v0 as a verifiers environment: evaluate a policy served by any OpenAI-compatible server.

    vllm serve Qwen/Qwen2.5-3B-Instruct --port 8000 &          # or any OpenAI-compatible endpoint
    OPENAI_API_KEY=x python examples/verifiers_zerosearch.py --base-url http://127.0.0.1:8000/v1 \\
        --model Qwen/Qwen2.5-3B-Instruct --backend bm25 --dataset wiki:dev --limit 8

The same env through verifiers' own CLI (and prime-rl, which names envs the same way)::

    vf-eval zerosearch-verifiers --env.taskset.backend bm25 --env.taskset.dataset wiki:dev \\
        -m Qwen/Qwen2.5-3B-Instruct --client.base-url http://127.0.0.1:8000/v1 -r 5 --no-push

Needs ``pip install 'zerosearch-gym[verifiers]'`` (the model runs in verifiers' plain chat harness, which uv
installs once).
"""
from __future__ import annotations

import argparse
import asyncio
import json


async def evaluate(base_url: str, model: str, key_var: str, **taskset) -> dict:
    import verifiers.v1 as vf

    from agents.integrations.verifiers_env import load_environment

    env = load_environment(**taskset)
    ctx = vf.ModelContext(client=vf.EvalClientConfig(base_url=base_url, api_key_var=key_var), model=model)
    async with env.serving():
        episodes = await asyncio.gather(*(env.run_episode(task, ctx) for task in env.taskset))
    traces = [t for e in episodes for t in e.traces]
    mean = {name: sum(t.rewards[name].score for t in traces if name in t.rewards) / max(len(traces), 1)
            for name in ("f1", "em", "format")}
    return {"episodes": len(episodes), "errors": sum(bool(e.errors) for e in episodes), **mean}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000/v1")
    parser.add_argument("--model", default="policy")
    parser.add_argument("--api-key-var", default="OPENAI_API_KEY", help="the env var that holds the API key")
    parser.add_argument("--backend", default="bm25")
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--max-turns", type=int, default=4)
    parser.add_argument("--limit", type=int, default=8)
    args = parser.parse_args(argv)
    summary = asyncio.run(evaluate(args.base_url, args.model, args.api_key_var, backend=args.backend,
                                   dataset=args.dataset, max_turns=args.max_turns, limit=args.limit))
    print(json.dumps(summary), flush=True)
    return summary


if __name__ == "__main__":
    main()
