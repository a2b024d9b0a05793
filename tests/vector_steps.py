"""Fixed-seed vector env steps, one digest per step: what ``tests/test_vector_rows.py`` holds the vector env to.

``python tests/vector_steps.py`` writes ``tests/data/vector_steps.json``; it was written on the vector env that
stepped each sub-env through ``begin_step`` / ``finish_step`` and stacked info dicts (the code before infos were
rows), so the test compares the row-and-column step with that path. Each digest covers a step's observations,
rewards, terminated and truncated flags, and every info array with its dtype and mask (``backend_latency_s``: its
dtype and mask only, a timing). Only the API both versions have is used here.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from zerosearch_gym import QAExample, SearchRequest, ZeroSearchVectorEnv
from zerosearch_gym.backends import BackendError, Documents

EXPECTED = Path(__file__).parent / "data" / "vector_steps.json"
EXAMPLES = [QAExample(f"q{i}", f"Question {i}", (f"answer {i}", f"alt {i}"), "toy") for i in range(5)]
LEAN = ("action", "f1", "noise_probability", "backend_error", "golden_answers")
CONFIGS = {
    "default": {},
    "debug-format-reward": {"noise": 0.5, "max_turns": 2, "debug": True, "format_reward": True, "top_k": 3},
    "tool-call-cuts-ansi": {"action_format": "tool_call", "max_action_chars": 60, "max_obs_chars": 90,
                            "render_mode": "ansi", "noise": 0.3},
    "verified": {"verify": 1, "noise": 0.5, "max_turns": 3},
    "cached": {"cache": True, "noise": 0.5},
    "lean": {"info_keys": LEAN, "noise": 0.5, "debug": True},
}


class Simulator:
    """Deterministic documents from the whole request; "fail" queries error, "bad" ones come back malformed; noisy
    results leak the answer on odd seeds (so verification resamples); a simulator, so ``verify`` applies."""

    simulator = True

    def search(self, requests: list[SearchRequest]):
        out: list = []
        for r in requests:
            if "fail" in r.query:
                out.append(BackendError(f"no result for {r.query}"))
                continue
            leak = r.answers[0] if r.useful or r.seed % 2 else "nothing"
            docs = [f"{r.query} {j} {r.seed % 97} {leak}" for j in range(r.top_k)]
            out.append(Documents(docs[:2], malformed="2 of 3 documents") if "bad" in r.query else docs)
        return out


def turns(action_format: str) -> list:
    """Searches (plain, failing, malformed, long), right and wrong answers, invalid turns, a non-str, a long turn."""
    search = ("<tool_call>{{\"name\": \"search\", \"arguments\": {{\"query\": \"{}\"}}}}</tool_call>"
              if action_format == "tool_call" else "<think>hm</think><search>{}</search>")
    return [search.format("alpha beta"), search.format("fail now"), search.format("bad output"),
            search.format("a much longer query " * 6), "<answer>answer 1</answer>", "<answer>alt 3</answer>",
            "<answer>it is answer 0, surely</answer>",
            "<answer>wrong</answer>", "no tags at all", "<search> </search>", None, "x" * 300]


def digest(result: tuple) -> str:
    """One step (or reset) as a digest of its canonical JSON."""
    *arrays, infos = result
    out: dict = {"arrays": [[str(a.dtype), a.tolist()] for a in arrays], "infos": {}}
    for key in sorted(infos):
        value = infos[key]
        timing = key == "backend_latency_s"
        out["infos"][key] = [str(value.dtype), "timing" if timing else [repr(v) for v in value.tolist()]]
    return hashlib.sha256(json.dumps(out, sort_keys=True).encode()).hexdigest()[:16]


def play(name: str, n: int = 4, steps: int = 30) -> list[str]:
    """The digests of config ``name``: resets (seeded, again with the same seed, then with options), steps with
    next-step autoreset, ``step_active`` on random subsets and masked resets."""
    kwargs = dict(CONFIGS[name])
    envs = ZeroSearchVectorEnv(num_envs=n, backend=Simulator(), dataset=EXAMPLES, **kwargs)
    pool, out = turns(kwargs.get("action_format", "tags")), []
    rng = np.random.default_rng(n)
    for seed, options in ((5, {}), (5, {}), (None, {"noise_probability": 0.6, "examples": [1, 3, 0, 2]})):
        rng = np.random.default_rng(n) if seed else rng
        out.append(digest(envs.reset(seed=seed, options=options)))
        for t in range(steps):
            actions = [pool[k] for k in rng.integers(len(pool), size=n)]
            if t % 4 == 3:
                active = (rng.random(n) < 0.6) & ~np.array(envs._needs_reset)
                out.append(digest(envs.step_active(actions, active)))
            elif t % 13 == 12:
                mask = rng.random(n) < 0.5
                out.append(digest(envs.reset(options={"reset_mask": mask, "noise_probability": 0.25})))
            else:
                out.append(digest(envs.step(actions)))
    out.append(hashlib.sha256(repr(envs.call("render")).encode()).hexdigest()[:16])
    return out


def capture() -> dict:
    return {name: play(name) for name in CONFIGS}


if __name__ == "__main__":
    EXPECTED.parent.mkdir(exist_ok=True)
    EXPECTED.write_text(json.dumps(capture(), indent=0, sort_keys=True) + "\n")
    print(f"wrote {EXPECTED}", file=sys.stderr)
