"""Play ZeroSearch-v0 episodes on an OpenEnv server (``zerosearch serve``), many sessions at once.

    zerosearch serve --port 8000 --backend bm25 &
    python examples/openenv_client.py --url http://127.0.0.1:8000 --episodes 8 --concurrency 4

Each episode is one WebSocket session, played by the model-free scripted policy (search the question, answer
from the documents); swap in your policy's ``act(transcript) -> turn``. The curriculum rides on ``reset``:
``curriculum_step`` / ``total_steps`` (or a fixed ``noise_probability``). Needs
``pip install 'zerosearch-gym[openenv]'``.
"""
from __future__ import annotations

import argparse
import asyncio
import json


async def play_episode(url: str, seed: int, curriculum_step: int) -> dict:
    from agents.integrations.openenv_client import SearchAction, ZeroSearchClient
    from agents.scripted import ScriptedPolicy

    policy = ScriptedPolicy()
    async with ZeroSearchClient(base_url=url) as env:
        result = await env.reset(seed=seed, curriculum_step=curriculum_step, total_steps=203)
        transcript, episode = result.observation.text, result.observation.episode_id
        while not result.done:
            turn = policy.act(transcript)
            result = await env.step(SearchAction(text=turn, episode_id=episode))
            transcript += turn + result.observation.text
        return {"seed": seed, "reward": result.reward, "searches": result.observation.info["searches"],
                "noise_probability": result.observation.info["noise_probability"]}


async def play(url: str, episodes: int, concurrency: int, curriculum_step: int) -> list[dict]:
    gate = asyncio.Semaphore(concurrency)

    async def one(seed):
        async with gate:
            return await play_episode(url, seed, curriculum_step)

    return await asyncio.gather(*(one(seed) for seed in range(episodes)))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=4, help="sessions open at once")
    parser.add_argument("--curriculum-step", type=int, default=0)
    args = parser.parse_args(argv)
    rows = asyncio.run(play(args.url, args.episodes, args.concurrency, args.curriculum_step))
    summary = {"episodes": len(rows), "mean_reward": sum(r["reward"] for r in rows) / len(rows),
               "searches": sum(r["searches"] for r in rows)}
    print(json.dumps(summary), flush=True)
    return summary


if __name__ == "__main__":
    main()
