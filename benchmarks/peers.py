"""Environment overhead side by side: ZeroSearch-v0 vs GEM (QA env + search tool) vs SkyRL-gym (search env).

Run: ``python benchmarks/peers.py [--reps 7] [--steps 6000] [--baseline DIR]`` (needs
``pip install zerosearch-gym[bench-peers]``). Same work for everyone: instant in-process search backends returning
the same 3 documents, identical actions (``search, search, answer`` per episode), N = 1, 16 and 256 envs. Runs are
interleaved (each repetition runs every library at every N once) and the tables show medians. The figure is
env-steps per second: policy turns consumed per second of the process's CPU time (one core), resets included.

- ours: ``ZeroSearchEnv`` (``single``) and ``ZeroSearchVectorEnv.step`` with next-step autoreset (``vector``: the
  info keys the trainers read, ``agents.episodes.PLAY_INFO_KEYS``, the path ``play`` takes; ``vector, full
  infos``: every info key, the vector env's default).
- GEM 0.1.0: ``ToolEnvWrapper(QaEnv, [SearchTool])`` with ``SearchTool._search`` answering from memory through
  GEM's own passage formatting; N > 1 through GEM's ``SyncVectorEnv`` (its default same-step autoreset).
- SkyRL-gym 0.4.0: ``SearchEnv`` with its HTTP call replaced by an in-memory response (its JSON formatting
  kept); one env per episode (SkyRL-gym envs have no reset: ``init``, ``step``…, ``close``, as its trainer
  uses them); N > 1 is a loop over N envs (SkyRL-gym has no vector env).
- ``--baseline DIR``: also runs the ``zerosearch_gym`` package of another checkout (e.g. a ``git worktree`` of
  an older commit), imported under another name, in the same process and interleaved: a before/after table.

Also measured (:mod:`peers_memory`): the CPU time of one reset of 256 envs (interleaved like the steps) and the
memory per env (RSS growth for 256 envs built, reset and stepped through one episode, each library in a fresh
process).
"""
import argparse
import importlib.util
import os
import statistics
import sys
import time

import zerosearch_gym
from agents.episodes import PLAY_INFO_KEYS

DOCS = ["document text one", "document text two", "document text three"]
TURNS = ["<think>look</think><search>alpha beta</search>", "<think>more</think><search>gamma</search>",
         "<think>done</think><answer>answer 7</answer>"]
SIZES = (1, 16, 256)
PEERS = ("GEM", "SkyRL-gym")


def missing_peers() -> str:
    """Why the peers cannot run here ("" when they can)."""
    absent = [name for name, module in (("gem-llm", "gem"), ("skyrl-gym", "skyrl_gym"), ("datasets", "datasets"))
              if importlib.util.find_spec(module) is None]
    return f"not installed: {', '.join(absent)} (pip install zerosearch-gym[bench-peers])" if absent else ""


def load_baseline(path: str):
    """The ``zerosearch_gym`` package of the checkout at ``path``, imported as ``zerosearch_gym_baseline``."""
    package = os.path.join(os.path.abspath(path), "zerosearch_gym")
    spec = importlib.util.spec_from_file_location("zerosearch_gym_baseline", os.path.join(package, "__init__.py"),
                                                  submodule_search_locations=[package])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Instant:
    def search(self, requests):
        return [DOCS[: r.top_k] for r in requests]


def examples(lib):
    return [lib.QAExample(str(i), f"Question number {i}?", (f"answer {i}",)) for i in range(100)]


def single_runner(env):
    """``run(episodes)`` for one env with Gymnasium's ``reset`` / ``step``: the turns, then a reset."""
    env.reset(seed=0)

    def run(episodes: int) -> None:
        for _ in range(episodes):
            for turn in TURNS:
                env.step(turn)
            env.reset()

    return run


# -- ours ---------------------------------------------------------------------------------------------------
def ours_vector(n: int, lean: bool = True, lib=zerosearch_gym):
    """The vector env of ``lib`` (``lean``: the trainers' info keys) with 3 documents per search."""
    return lib.ZeroSearchVectorEnv(num_envs=n, backend=Instant(), dataset=examples(lib), top_k=3,
                                   info_keys=PLAY_INFO_KEYS if lean else None)


def ours(n: int, lean: bool = True, lib=zerosearch_gym, single: bool = False):
    """A function ``run(episodes)`` that plays that many episodes per env (``single``: one ``ZeroSearchEnv``)."""
    if single:
        return single_runner(lib.ZeroSearchEnv(backend=Instant(), dataset=examples(lib), top_k=3))
    envs = ours_vector(n, lean, lib)
    envs.reset(seed=0)
    batches = [[turn] * n for turn in TURNS] + [[""] * n]  # the 4th step is the next-step autoreset

    def run_vector(episodes: int) -> None:
        for _ in range(episodes):
            for actions in batches:
                envs.step(actions)

    return run_vector


# -- GEM ----------------------------------------------------------------------------------------------------
def gem_factory():
    """``make()`` for one GEM QA env with its search tool (answering from memory)."""
    import logging

    from datasets import Dataset, disable_progress_bars
    from gem.envs.qa_env import QaEnv
    from gem.tools.search_tool import SearchTool
    from gem.tools.tool_env_wrapper import ToolEnvWrapper

    logging.disable(logging.INFO)
    disable_progress_bars()
    result = [{"document": {"contents": f"Title\n{doc}"}} for doc in DOCS]

    class InstantSearchTool(SearchTool):
        def _search(self, query):
            return self._passages2string(result)

    data = Dataset.from_dict({"question": [f"Question number {i}?" for i in range(100)],
                              "answer": [f"answer {i}" for i in range(100)]})
    return lambda: ToolEnvWrapper(QaEnv(dataset=data), tools=[InstantSearchTool(topk=3)], max_tool_uses=2)


def gem_vector(n: int, make=None):
    from gem.vector.sync_vector_env import SyncVectorEnv

    return SyncVectorEnv(env_ids=["qa"] * n, env_fns=[make or gem_factory()] * n)


def gem(n: int):
    if n == 1:
        return single_runner(gem_factory()())
    envs = gem_vector(n)
    envs.reset(seed=0)
    batches = [[turn] * n for turn in TURNS]

    def run_vector(episodes: int) -> None:
        for _ in range(episodes):
            for actions in batches:
                envs.step(actions)  # same-step autoreset (GEM's default): the answer step resets

    return run_vector


# -- SkyRL-gym ----------------------------------------------------------------------------------------------
def skyrl_starter(n: int):
    """``start()``: n fresh SkyRL ``SearchEnv`` after ``init`` (SkyRL's start of an episode: one env each)."""
    import logging

    import skyrl_gym.tools.search as search_module
    from skyrl_gym.envs.search.env import SearchEnv, SearchEnvConfig

    logging.disable(logging.INFO)
    response = {"result": [[{"document": {"contents": doc}} for doc in DOCS]]}
    search_module.call_search_api = lambda *args, **kwargs: (response, None)
    config = SearchEnvConfig(log_requests=False, topk=3)
    extras = {"reward_spec": {"ground_truth": {"target": ["answer 7"]}}, "max_turns": 3}
    prompts = [[{"role": "user", "content": f"Question number {i}?"}] for i in range(n)]

    def start() -> list:
        envs = [SearchEnv(config, extras=extras) for _ in range(n)]  # SkyRL: one env per trajectory
        for env, prompt in zip(envs, prompts):
            env.init(prompt)
        return envs

    return start


def skyrl(n: int):
    start = skyrl_starter(n)

    def run(episodes: int) -> None:
        for _ in range(episodes):
            envs = start()
            for turn in TURNS:
                for env in envs:
                    env.step(turn)
            for env in envs:
                env.close()

    return run


def runners(baseline=None) -> dict:
    """name -> (``factory(n) -> run``, the sizes it runs at)."""
    out = {"single": (lambda n: ours(1, single=True), (1,)), "vector": (ours, SIZES),
           "vector, full infos": (lambda n: ours(n, lean=False), SIZES), "GEM": (gem, SIZES),
           "SkyRL-gym": (skyrl, SIZES)}
    if baseline is not None:
        out.update({"before: single": (lambda n: ours(1, lib=baseline, single=True), (1,)),
                    "before: vector": (lambda n: ours(n, lib=baseline), SIZES),
                    "before: vector, full infos": (lambda n: ours(n, lean=False, lib=baseline), SIZES)})
    return out


RUNNERS = runners()


def measure(run, n: int, steps: int) -> float:
    """Env-steps per second of one timed call of ``run``: about ``steps`` turns in all."""
    episodes = max(1, steps // (3 * n))
    start = time.process_time()  # CPU time of this process: per core, and steadier than wall time on a busy machine
    run(episodes)
    return episodes * 3 * n / (time.process_time() - start)


def table(reps: int = 7, steps: int = 6000, sizes=SIZES, names=None, baseline=None, resets: dict | None = None
          ) -> dict:
    """Median env-steps/s per (name, N) over ``reps`` interleaved repetitions; with ``resets`` (name -> a function
    that resets 256 envs once), also the median CPU seconds of one such reset, as ``(name, "reset")``."""
    specs = runners(baseline)
    runs = {(name, n): factory(n) for name, (factory, ns) in specs.items() if names is None or name in names
            for n in ns if n in sizes}
    for (_, n), run in runs.items():  # warm up
        measure(run, n, steps // 10)
    samples: dict = {key: [] for key in runs}
    samples.update({(name, "reset"): [] for name in resets or {}})
    for _ in range(reps):
        for key, run in runs.items():
            samples[key].append(measure(run, key[1], steps))
        for name, reset in (resets or {}).items():
            start = time.process_time()
            reset()
            samples[name, "reset"].append(time.process_time() - start)
    return {key: statistics.median(values) for key, values in samples.items()}


def main(argv=None) -> int:
    from peers_memory import memory_table, render, resetters

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--steps", type=int, default=6000, help="turns per timed run")
    parser.add_argument("--baseline", help="another checkout whose zerosearch_gym runs as 'before'")
    args = parser.parse_args(argv)
    reason = missing_peers()
    if reason:
        print(f"skipped: {reason}")
        return 0
    baseline = load_baseline(args.baseline) if args.baseline else None
    medians = table(args.reps, args.steps, baseline=baseline, resets=resetters(baseline))
    print(render(medians, memory_table(args.baseline)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
