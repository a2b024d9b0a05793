"""The vector env's row-and-column step gives exactly what the per-env path gives, in two ways:

- against the old code: ``tests/data/vector_steps.json`` holds one digest per step of fixed-seed runs written by
  the vector env before it stepped on rows (``tests/vector_steps.py``), recomputed here;
- against the per-env path now: N ``ZeroSearchEnv`` stepped through the batched-step protocol (``begin_step`` /
  ``finish_step``, one info dict each), next-step autoreset by hand and Gymnasium's own ``VectorEnv._add_info``.

Same seeds, random turns, every observation, reward, flag and info compared, through autoresets, ``step_active``
masks, masked resets, lean ``info_keys``, both action formats, debug, ansi transcripts, cut turns and
observations, backend errors, malformed, cached and verified results."""
import json

import numpy as np
import pytest
from test_infos import adder, assert_same
from vector_steps import CONFIGS, EXAMPLES, EXPECTED, Simulator, play, turns

from zerosearch_gym import ZeroSearchEnv, ZeroSearchVectorEnv, search_batch
from zerosearch_gym.env import build_backend


class Reference:
    """The per-env path: public ``begin_step`` / ``finish_step`` / ``reset`` and Gymnasium's ``_add_info``."""

    def __init__(self, n, backend, **kwargs):
        self.envs = [ZeroSearchEnv(backend=backend, dataset=EXAMPLES, **kwargs) for _ in range(n)]
        self.backend, self.n, self.needs, self.again = backend, n, [True] * n, [None] * n

    def infos(self, index, infos, keys):
        add, out = adder(self.n), {}
        for i, info in sorted(zip(index, infos), key=lambda pair: pair[0]):
            out = add(out, {k: v for k, v in info.items() if keys is None or k in keys}, i)
        return out

    def reset(self, seed, options, keys):
        options = dict(options)
        mask, examples = options.pop("reset_mask"), options.pop("examples", None)
        obs, index, infos = np.full(self.n, "", dtype=object), np.flatnonzero(mask).tolist(), []
        for i in index:
            env_options = dict(options, example=examples[i]) if examples is not None else options
            obs[i], info = self.envs[i].reset(seed=None if seed is None else seed + i, options=env_options)
            p = options.get("noise_probability")
            self.again[i], self.needs[i] = None if p is None else {"noise_probability": p}, False
            infos.append(info)
        return obs, self.infos(index, infos, keys)

    def step(self, actions, active, keys):
        stepped = [i for i in range(self.n) if active[i] and not self.needs[i]]
        resets = [i for i in range(self.n) if active[i] and self.needs[i]]
        pending = [self.envs[i].begin_step(actions[i]) for i in stepped]
        results = iter(search_batch(self.backend, [p.request for p in pending if p.request is not None]))
        obs, rewards = np.full(self.n, "", dtype=object), np.zeros(self.n, dtype=np.float32)
        terminated, truncated, infos = np.zeros(self.n, dtype=bool), np.zeros(self.n, dtype=bool), []
        for i, p in zip(stepped, pending):
            obs[i], rewards[i], terminated[i], truncated[i], info = self.envs[i].finish_step(
                p, next(results) if p.request is not None else None)
            self.needs[i] = bool(terminated[i] or truncated[i])
            infos.append(info)
        for i in resets:
            obs[i], info = self.envs[i].reset(options=self.again[i])
            self.needs[i] = False
            infos.append(info)
        return obs, rewards, terminated, truncated, self.infos(stepped + resets, infos, keys)


def same(got, want):
    for g, w in zip(got[:-1], want[:-1]):
        assert g.dtype == w.dtype and g.tolist() == w.tolist()
    got_infos, want_infos = dict(got[-1]), dict(want[-1])
    for infos in (got_infos, want_infos):  # a timing: its mask and dtype must agree, not its value
        if "backend_latency_s" in infos:
            infos["backend_latency_s"] = infos["backend_latency_s"].dtype, infos["_backend_latency_s"].tolist()
    latency = got_infos.pop("backend_latency_s", None), want_infos.pop("backend_latency_s", None)
    assert latency[0] == latency[1]
    assert_same(got_infos, want_infos)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_vector_env_steps_as_before_rows(name):
    expected = json.loads(EXPECTED.read_text())[name]
    got = play(name)
    assert len(got) == len(expected) and [i for i, (a, b) in enumerate(zip(got, expected)) if a != b] == []


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("n", [1, 5])
def test_rows_give_what_the_per_env_path_gives(name, n):
    kwargs = dict(CONFIGS[name])
    keys = kwargs.pop("info_keys", None)
    fmt = kwargs.get("action_format", "tags")
    backends = [build_backend(Simulator(), kwargs.get("cache", False), kwargs.get("verify")) for _ in range(2)]
    envs = ZeroSearchVectorEnv(num_envs=n, backend=backends[0], dataset=EXAMPLES, info_keys=keys, **kwargs)
    ref = Reference(n, backends[1], **{k: v for k, v in kwargs.items() if k not in ("verify", "cache")})
    rng, pool = np.random.default_rng(n), turns(fmt)
    for seed, options in ((5, {}), (5, {}), (None, {"noise_probability": 0.6, "examples": [1, 3, 0, 2, 4][:n]})):
        rng = np.random.default_rng(n) if seed else rng  # the same turns again: a cache serves them
        mask = np.ones(n, dtype=bool)
        same(envs.reset(seed=seed, options=dict(options, reset_mask=mask)), ref.reset(seed, dict(options, reset_mask=mask),
                                                                                      keys))
        for t in range(40):
            actions = [pool[k] for k in rng.integers(len(pool), size=n)]
            if t % 4 == 3:  # step_active: a random subset of the running envs, lean keys for this step only
                active = rng.random(n) < 0.6
                active &= ~np.array(envs._needs_reset)
                step_keys = ("action", "searches") if t % 8 == 3 else None
                got = envs.step_active(actions, active, info_keys=step_keys)
                want = ref.step(actions, active, keys if step_keys is None else frozenset(step_keys))
            elif t % 13 == 12:  # a masked reset with a per-episode noise probability
                mask = rng.random(n) < 0.5
                got = envs.reset(options={"reset_mask": mask, "noise_probability": 0.25})
                want = ref.reset(None, {"reset_mask": mask, "noise_probability": 0.25}, keys)
            else:
                got, want = envs.step(actions), ref.step(actions, np.ones(n, dtype=bool), keys)
            same(got, want)
    assert envs.call("render") == tuple(env.render() for env in ref.envs)


@pytest.mark.parametrize("fmt", ["tags", "tool_call"])
def test_single_env_step_equals_begin_and_finish_step(fmt):
    a, b = (ZeroSearchEnv(backend=Simulator(), dataset=EXAMPLES, max_turns=2, noise=0.5, action_format=fmt,
                          debug=True) for _ in range(2))
    rng, pool = np.random.default_rng(0), turns(fmt)
    a.reset(seed=1), b.reset(seed=1)
    for _ in range(60):
        action = pool[rng.integers(len(pool))]
        got = a.step(action)
        pending = b.begin_step(action)
        want = b.finish_step(pending, search_batch(b.backend, [pending.request])[0] if pending.request else None)
        got[4].pop("backend_latency_s"), want[4].pop("backend_latency_s")
        assert got == want and list(got[4]) == list(want[4])
        if got[2] or got[3]:
            assert a.reset() == b.reset()


def test_envs_whose_infos_differ_are_stacked_by_key_tuple():
    envs = ZeroSearchVectorEnv(num_envs=3, backend=build_backend(Simulator()), dataset=EXAMPLES)
    ref = Reference(3, build_backend(Simulator()))
    envs.set_attr("debug", [False, True, False])
    ref.envs[1].debug = True
    same(envs.reset(seed=2, options={"reset_mask": np.ones(3, bool)}),
         ref.reset(2, {"reset_mask": np.ones(3, bool)}, None))
    actions = ["<search>q</search>", "<answer>answer 1</answer>", "x"]
    same(envs.step(actions), ref.step(actions, np.ones(3, bool), None))
    assert envs.step(actions)[4]["_golden_answers"].tolist() == [False, True, False]
