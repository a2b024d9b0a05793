"""The peer suite's reset time and memory per env at N = 256, and its tables (``benchmarks/peers.py`` runs it).

- Reset: the CPU time of one reset of 256 envs, timed in :func:`peers.table` between the step runs (interleaved):
  ours ``ZeroSearchVectorEnv.reset(seed=0)``, GEM ``SyncVectorEnv.reset(seed=0)``, SkyRL-gym 256 new ``SearchEnv``
  and their ``init`` (SkyRL's start of an episode).
- Memory: the growth of the process's resident set (RSS) while 256 envs are built, reset and stepped through one
  episode (search, search, answer), in a fresh process per library after its imports, its data and a warm-up
  episode with one env; per env = growth / 256. ``python peers_memory.py NAME [--baseline DIR]`` prints one.
"""
import gc
import json
import os
import subprocess
import sys

import peers

N = 256


def resetters(baseline=None) -> dict:
    """name -> a function that resets (starts) N envs once."""
    envs, gem_envs, before = peers.ours_vector(N), peers.gem_vector(N), None
    out = {"vector": lambda: envs.reset(seed=0), "GEM": lambda: gem_envs.reset(seed=0),
           "SkyRL-gym": peers.skyrl_starter(N)}
    if baseline is not None:
        before = peers.ours_vector(N, lib=baseline)
        out["before: vector"] = lambda: before.reset(seed=0)
    return out


def rss() -> int:
    """This process's resident set size in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def builder(name: str, baseline: str | None):
    """``build(n)``: n envs of ``name``, reset and stepped through one episode (kept alive by the caller)."""
    if name == "GEM":
        make = peers.gem_factory()

        def build_gem(n):
            envs = peers.gem_vector(n, make) if n > 1 else make()
            envs.reset(seed=0)
            for turn in peers.TURNS:
                envs.step([turn] * n if n > 1 else turn)
            return envs

        return build_gem
    if name == "SkyRL-gym":
        def build_skyrl(n):
            envs = peers.skyrl_starter(n)()
            for turn in peers.TURNS:
                for env in envs:
                    env.step(turn)
            return envs

        return build_skyrl
    lib = peers.load_baseline(baseline) if name.startswith("before") else peers.zerosearch_gym

    def build_ours(n):
        envs = peers.ours_vector(n, lib=lib)
        envs.reset(seed=0)
        for turn in peers.TURNS:
            envs.step([turn] * n)
        return envs

    return build_ours


def growth(name: str, baseline: str | None = None) -> int:
    """RSS growth in bytes for N envs of ``name`` (after a warm-up with one env)."""
    build = builder(name, baseline)
    warm = build(1)
    del warm
    gc.collect()
    before = rss()
    envs = build(N)
    gc.collect()
    grown = rss() - before
    del envs
    return grown


def memory_table(baseline: str | None = None) -> dict:
    """name -> RSS growth in bytes for N envs, each measured in a fresh process."""
    names = ["vector", "GEM", "SkyRL-gym"] + (["before: vector"] if baseline else [])
    out = {}
    for name in names:
        argv = [sys.executable, os.path.abspath(__file__), name] + (["--baseline", baseline] if baseline else [])
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
        out[name] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "—"


def render(medians: dict, memory: dict | None = None) -> str:
    """The tables: ours vs the peers (and before, when measured), vector vs single, reset and memory at N = 256."""
    before = any(k[0].startswith("before") for k in medians)
    head = "| setting | ours | ours, full infos | GEM | SkyRL-gym | ours ÷ best peer | full ÷ best peer |"
    head += " before | before, full infos | ours ÷ before | full ÷ before full |" if before else ""
    rows = [head, "|" + "---|" * head.count(" | ")]
    for n in peers.SIZES:
        best = max(medians[(peer, n)] for peer in peers.PEERS)
        lean, full = (medians[("single", 1)],) * 2 if n == 1 else (medians[("vector", n)], medians[("vector, full infos", n)])
        row = (f"| {'single env' if n == 1 else f'N = {n}'} | {lean:,.0f} | {full:,.0f} | {medians[('GEM', n)]:,.0f} | "
               f"{medians[('SkyRL-gym', n)]:,.0f} | {_ratio(lean, best)} | {_ratio(full, best)} |")
        if before:
            was, was_full = ((medians[("before: single", 1)],) * 2 if n == 1 else
                             (medians[("before: vector", n)], medians[("before: vector, full infos", n)]))
            row += f" {was:,.0f} | {was_full:,.0f} | {_ratio(lean, was)} | {_ratio(full, was_full)} |"
        rows.append(row)
    rows += ["", "| vector env per sub-env (÷ the single env) | N = 1 | N = 16 | N = 256 |", "|---|---|---|---|"]
    for prefix in ("", "before: ") if before else ("",):
        single = medians[(f"{prefix}single", 1)]
        for name in (f"{prefix}vector", f"{prefix}vector, full infos"):
            cells = " | ".join(f"{medians[(name, n)]:,.0f} ({_ratio(medians[(name, n)], single)})" for n in peers.SIZES)
            rows.append(f"| {name} (single {single:,.0f}) | {cells} |")
    resets = {k[0]: v for k, v in medians.items() if k[1] == "reset"}
    if resets or memory:
        rows += ["", f"| N = {N} | reset (CPU ms) | RSS growth (MiB) | per env (KiB) |", "|---|---|---|---|"]
        for name in dict.fromkeys([*resets, *(memory or {})]):
            grown = (memory or {}).get(name)
            rows.append(f"| {name} | {resets[name] * 1e3:.1f} | " if name in resets else f"| {name} | — | ")
            rows[-1] += f"{grown / 2**20:.1f} | {grown / N / 1024:.1f} |" if grown is not None else "— | — |"
    return "\n".join(rows)


if __name__ == "__main__":
    args = sys.argv[1:]
    path = args[args.index("--baseline") + 1] if "--baseline" in args else None
    print(json.dumps(growth(args[0], path)))
