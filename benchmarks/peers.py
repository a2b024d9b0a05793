"""Environment overhead side by side: ZeroSearch-v0 vs GEM (QA env + search tool) vs SkyRL-gym (search env).

Run: ``python benchmarks/peers.py [--reps 9] [--steps 6000]`` (needs ``pip install zerosearch-gym[bench-peers]``).
Same work for everyone: instant in-process search backends returning the same 3 documents, identical actions
(``search, search, answer`` per episode), N = 1, 16 and 256 envs. Runs are interleaved (each repetition runs
every library at every N once) and the table shows medians. The figure is env-steps per second: policy turns
consumed per second of wall time, resets included.

- ours: ``ZeroSearchEnv`` (N = 1) and ``ZeroSearchVectorEnv.step`` with next-step autoreset (N > 1), plus the
  vector env with ``info_keys`` limited to what a trainer reads (``lean``).
- GEM 0.1.0: ``ToolEnvWrapper(QaEnv, [SearchTool])`` with ``SearchTool._search`` answering from memory through
  GEM's own passage formatting; N > 1 through GEM's ``SyncVectorEnv`` (its default same-step autoreset).
- SkyRL-gym 0.4.0: ``SearchEnv`` with its HTTP call replaced by an in-memory response (its JSON formatting
  kept); N > 1 is a loop over N envs (SkyRL-gym has no vector env). An env is reused across episodes (its
  turn counter and chat history cleared), which is cheaper than SkyRL's one env per trajectory.
"""
import argparse
import importlib.util
import statistics
import sys
import time

from zerosearch_gym import QAExample, ZeroSearchEnv, ZeroSearchVectorEnv

DOCS = ["document text one", "document text two", "document text three"]
TURNS = ["<think>look</think><search>alpha beta</search>", "<think>more</think><search>gamma</search>",
         "<think>done</think><answer>answer 7</answer>"]
EXAMPLES = [QAExample(str(i), f"Question number {i}?", (f"answer {i}",)) for i in range(100)]
LEAN_KEYS = ("action", "searches", "noisy", "backend_error", "f1", "em", "noise_probability", "answer_in_documents")
SIZES = (1, 16, 256)


def missing_peers() -> str:
    """Why the peers cannot run here ("" when they can)."""
    absent = [name for name, module in (("gem-llm", "gem"), ("skyrl-gym", "skyrl_gym"), ("datasets", "datasets"))
              if importlib.util.find_spec(module) is None]
    return f"not installed: {', '.join(absent)} (pip install zerosearch-gym[bench-peers])" if absent else ""


class Instant:
    def search(self, requests):
        return [DOCS[: r.top_k] for r in requests]


# -- ours ---------------------------------------------------------------------------------------------------
def ours(n: int, lean: bool = False):
    """A function ``run(episodes)`` that plays that many episodes per env."""
    if n == 1 and not lean:
        env = ZeroSearchEnv(backend=Instant(), dataset=EXAMPLES, top_k=3)
        env.reset(seed=0)

        def run_single(episodes: int) -> None:
            for _ in range(episodes):
                for turn in TURNS:
                    env.step(turn)
                env.reset()

        return run_single
    envs = ZeroSearchVectorEnv(num_envs=n, backend=Instant(), dataset=EXAMPLES, top_k=3,
                               **({"info_keys": LEAN_KEYS} if lean else {}))
    envs.reset(seed=0)
    batches = [[turn] * n for turn in TURNS] + [[""] * n]  # the 4th step is the next-step autoreset

    def run_vector(episodes: int) -> None:
        for _ in range(episodes):
            for actions in batches:
                envs.step(actions)

    return run_vector


# -- GEM ----------------------------------------------------------------------------------------------------
def gem(n: int):
    import logging

    from datasets import Dataset, disable_progress_bars
    from gem.envs.qa_env import QaEnv
    from gem.tools.search_tool import SearchTool
    from gem.tools.tool_env_wrapper import ToolEnvWrapper
    from gem.vector.sync_vector_env import SyncVectorEnv

    logging.disable(logging.INFO)
    disable_progress_bars()
    result = [{"document": {"contents": f"Title\n{doc}"}} for doc in DOCS]

    class InstantSearchTool(SearchTool):
        def _search(self, query):
            return self._passages2string(result)

    data = Dataset.from_dict({"question": [e.question for e in EXAMPLES], "answer": [e.golden_answers[0]
                                                                                     for e in EXAMPLES]})

    def make():
        return ToolEnvWrapper(QaEnv(dataset=data), tools=[InstantSearchTool(topk=3)], max_tool_uses=2)

    if n == 1:
        env = make()
        env.reset(seed=0)

        def run_single(episodes: int) -> None:
            for _ in range(episodes):
                for turn in TURNS:
                    env.step(turn)
                env.reset()

        return run_single
    envs = SyncVectorEnv(env_ids=["qa"] * n, env_fns=[make] * n)
    envs.reset(seed=0)
    batches = [[turn] * n for turn in TURNS]

    def run_vector(episodes: int) -> None:
        for _ in range(episodes):
            for actions in batches:
                envs.step(actions)  # same-step autoreset (GEM's default): the answer step resets

    return run_vector


# -- SkyRL-gym ----------------------------------------------------------------------------------------------
def skyrl(n: int):
    import logging

    import skyrl_gym.tools.search as search_module
    from skyrl_gym.envs.search.env import SearchEnv, SearchEnvConfig

    logging.disable(logging.INFO)
    response = {"result": [[{"document": {"contents": doc}} for doc in DOCS]]}
    search_module.call_search_api = lambda *args, **kwargs: (response, None)
    config = SearchEnvConfig(log_requests=False, topk=3)
    envs = [SearchEnv(config, extras={"reward_spec": {"ground_truth": {"target": ["answer 7"]}}, "max_turns": 3})
            for _ in range(n)]
    prompts = [[{"role": "user", "content": f"Question number {i}?"}] for i in range(n)]

    def run(episodes: int) -> None:
        for _ in range(episodes):
            for env, prompt in zip(envs, prompts):  # a new episode: what SkyRL's env.init starts from
                env.turns, env.chat_history = 0, []
                env.init(prompt)
            for turn in TURNS:
                for env in envs:
                    env.step(turn)

    return run


RUNNERS = {"ours": ours, "ours lean": lambda n: ours(n, lean=True), "GEM": gem, "SkyRL-gym": skyrl}


def measure(run, n: int, steps: int) -> float:
    """Env-steps per second of one timed call of ``run``: about ``steps`` turns in all."""
    episodes = max(1, steps // (3 * n))
    start = time.perf_counter()
    run(episodes)
    return episodes * 3 * n / (time.perf_counter() - start)


def table(reps: int = 9, steps: int = 6000, sizes=SIZES, names=tuple(RUNNERS)) -> dict:
    """Median env-steps/s per (name, N) over ``reps`` interleaved repetitions."""
    runners = {(name, n): RUNNERS[name](n) for n in sizes for name in names}
    for (_, n), run in runners.items():  # warm up
        measure(run, n, steps // 10)
    rates: dict = {key: [] for key in runners}
    for _ in range(reps):
        for key, run in runners.items():
            rates[key].append(measure(run, key[1], steps))
    return {key: statistics.median(values) for key, values in rates.items()}


def render(medians: dict, sizes=SIZES) -> str:
    rows = ["| setting | ours | ours, lean infos | GEM | SkyRL-gym | ours ÷ best peer | lean ÷ best peer |",
            "|---|---|---|---|---|---|---|"]
    for n in sizes:
        best = max(medians[("GEM", n)], medians[("SkyRL-gym", n)])
        label = "single env" if n == 1 else f"N = {n}"
        rows.append(f"| {label} | {medians[('ours', n)]:,.0f} | {medians[('ours lean', n)]:,.0f} | "
                    f"{medians[('GEM', n)]:,.0f} | {medians[('SkyRL-gym', n)]:,.0f} | "
                    f"{medians[('ours', n)] / best:.2f}× | {medians[('ours lean', n)] / best:.2f}× |")
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--steps", type=int, default=6000, help="turns per timed run")
    args = parser.parse_args(argv)
    reason = missing_peers()
    if reason:
        print(f"skipped: {reason}")
        return 0
    print(render(table(args.reps, args.steps)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

