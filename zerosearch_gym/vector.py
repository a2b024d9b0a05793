"""ZeroSearchVectorEnv: N episodes stepped together, with every search of a step sent as one backend batch."""

from operator import itemgetter
from typing import Any, Collection, Sequence

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ._infos import stack_infos
from .backends.base import SearchBackend, search_batch
from .data import load_qa_dataset
from .env import ZeroSearchEnv, build_backend


class ZeroSearchVectorEnv(VectorEnv):
    """``num_envs`` ZeroSearch episodes; one ``backend.search(batch)`` call per step for all their searches.

    Made by ``gymnasium.make_vec("ZeroSearch-v0", num_envs=N, vectorization_mode="vector_entry_point", ...)``;
    the other keyword arguments are :class:`ZeroSearchEnv`'s and are shared by all sub-envs (one backend,
    one dataset). Each search request carries the question and answers of the episode that issued it.

    - ``reset(seed, options)``: ``seed`` int seeds env i with ``seed + i`` (or a list of seeds).
      ``options`` takes ZeroSearchEnv's options for all envs, plus ``examples`` (a list of N QAExamples or
      indices, one per env) and ``reset_mask`` (reset only those envs). A ``noise_probability`` option also
      holds for the episodes that autoreset starts in those envs, until they are reset again.
    - ``step(actions)``: Gymnasium's **next-step autoreset** (``AutoresetMode.NEXT_STEP``): an env that ended
      in the previous step is reset now, its action ignored, and returns its new prompt with reward 0.
    - ``step_active(actions, active)``: for trainers whose episodes end at different turns: only envs with
      ``active[i]`` are stepped; no autoreset; inactive envs return ``""`` and reward 0.
    - Infos are Gymnasium's dict of arrays, each key with a ``_key`` mask. ``info_keys=("action", "f1", …)``
      keeps only those keys (cheaper for trainers that read a few); ``None`` (default) keeps all.
    - Each step uses the sub-envs' batched-step protocol (:mod:`zerosearch_gym.turn`): ``begin_step`` on every
      stepped env, one ``backend.search`` for all their requests, ``finish_step`` with each env's own result.
    - ``set_curriculum_step(step, total_steps)``, ``call``, ``get_attr``, ``set_attr`` reach every sub-env.
    - ``action_format``, ``stop_strings`` and ``tools`` are the sub-envs' (``action_format="tool_call"``: native
      JSON tool calls, :mod:`zerosearch_gym.formats`).
    """

    # Own dict: Gymnasium 1.2.2 mutates the shared class metadata.
    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": ["ansi"]}

    def __init__(self, num_envs: int = 1, backend: str | SearchBackend | None = None,
                 dataset: str | Sequence | None = None, render_mode: str | None = None, cache: bool | str = False,
                 info_keys: Collection[str] | None = None, **env_kwargs: Any):
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"expected num_envs to be an int >= 1, got {num_envs!r}")
        self.metadata = dict(type(self).metadata)
        self.backend = build_backend(backend, cache, env_kwargs.pop("verify", None))
        examples = load_qa_dataset(dataset)
        self.envs = [ZeroSearchEnv(backend=self.backend, dataset=examples, render_mode=render_mode, **env_kwargs)
                     for _ in range(num_envs)]
        self.num_envs, self.render_mode = num_envs, render_mode
        first = self.envs[0]  # the action format's names, for trainers: "tags"/"tool_call", stop strings, tools
        self.action_format, self.stop_strings, self.tools = first.action_format, first.stop_strings, first.tools
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._needs_reset = [True] * num_envs  # a Python list: cheaper than an array for per-env bookkeeping
        self._autoreset_options: list[dict | None] = [None] * num_envs  # per-episode options that autoreset keeps
        self._started = False
        if info_keys is not None and (isinstance(info_keys, str) or not all(isinstance(k, str) for k in info_keys)):
            raise ValueError(f"expected info_keys to be a collection of info key names, got {info_keys!r}")
        self.info_keys = None if info_keys is None else frozenset(info_keys)
        self.backend_calls = 0  # how many backend.search batches were sent (one per step at most)

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict | None = None):
        options = dict(options or {})
        mask = np.asarray(options.pop("reset_mask", np.ones(self.num_envs, dtype=bool)), dtype=bool)
        examples = options.pop("examples", None)
        if examples is not None and len(examples) != self.num_envs:
            raise ValueError(f"expected options['examples'] to hold {self.num_envs} examples, got {len(examples)}")
        seeds = _seeds(seed, self.num_envs)
        if seed is not None:
            self._np_random, self._np_random_seed = np.random.default_rng(seeds[0]), seeds[0]
        obs = np.full(self.num_envs, "", dtype=object)
        index, infos = np.flatnonzero(mask).tolist(), []
        p = options.get("noise_probability")
        for i in index:
            env_options = dict(options, example=examples[i]) if examples is not None else options
            obs[i], info = self.envs[i].reset(seed=seeds[i], options=env_options)
            self._autoreset_options[i] = None if p is None else {"noise_probability": p}
            infos.append(info)
            self._needs_reset[i] = False
        self._started = True
        return obs, stack_infos(index, infos, self.num_envs, self._add_info, self.info_keys)

    def step(self, actions: Sequence[str]):
        """Step every env; envs that ended last step are reset instead (next-step autoreset)."""
        self._check(actions)
        needs = self._needs_reset
        if not any(needs):
            return self._step(actions, list(range(self.num_envs)), [])
        return self._step(actions, [i for i, r in enumerate(needs) if not r], [i for i, r in enumerate(needs) if r])

    def step_active(self, actions: Sequence[str], active: Sequence[bool]):
        """Step only the envs with ``active[i]`` (no autoreset); the others return ``""`` and reward 0."""
        self._check(actions)
        active = np.asarray(active, dtype=bool)
        if active.shape != (self.num_envs,):
            raise ValueError(f"expected active to be {self.num_envs} booleans, got shape {active.shape}")
        stepped = np.flatnonzero(active).tolist()
        ended = [i for i in stepped if self._needs_reset[i]]
        if ended:
            raise RuntimeError(f"envs {ended} have ended; reset them before stepping them")
        return self._step(actions, stepped, [])

    def _step(self, actions, stepped: list, resets: list):
        n, envs, needs = self.num_envs, self.envs, self._needs_reset
        pending = [envs[i].begin_step(actions[i]) for i in stepped]
        requests = [p.request for p in pending if p.request is not None]
        results = iter(search_batch(self.backend, requests))
        self.backend_calls += bool(requests)
        steps = [envs[i].finish_step(p, next(results) if p.request is not None else None)
                 for i, p in zip(stepped, pending)]
        starts = [envs[i].reset(options=self._autoreset_options[i]) for i in resets]
        if len(steps) == n:  # everyone stepped: whole columns
            obs, rewards, terminated, truncated, infos = zip(*steps)
            for i in stepped:
                needs[i] = terminated[i] or truncated[i]
            obs, rewards = np.array(obs, dtype=object), np.array(rewards, dtype=np.float32)
            terminated, truncated = np.array(terminated, dtype=bool), np.array(truncated, dtype=bool)
            return obs, rewards, terminated, truncated, stack_infos(stepped, infos, n, self._add_info, self.info_keys)
        obs = np.full(n, "", dtype=object)
        rewards = np.zeros(n, dtype=np.float32)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        infos: tuple = ()
        if steps:
            obs[stepped], rewards[stepped], terminated[stepped], truncated[stepped], infos = zip(*steps)
            for i, step in zip(stepped, steps):
                needs[i] = step[2] or step[3]
        if starts:
            obs[resets], reset_infos = zip(*starts)
            for i in resets:
                needs[i] = False
            if steps:  # Gymnasium's order: env by env
                stepped, infos = zip(*sorted(zip(stepped + resets, infos + reset_infos), key=itemgetter(0)))
            else:
                stepped, infos = resets, reset_infos
        return obs, rewards, terminated, truncated, stack_infos(stepped, infos, n, self._add_info, self.info_keys)

    def _check(self, actions: Sequence[str]) -> None:
        if len(actions) != self.num_envs:
            raise ValueError(f"expected {self.num_envs} actions, got {len(actions)}")
        if not self._started:
            raise RuntimeError("call reset() before step()")

    # -- curriculum and attribute access (RLlib reaches sub-envs through these) --------------------------------
    def set_curriculum_step(self, step: int, total_steps: int | None = None) -> None:
        for env in self.envs:
            env.set_curriculum_step(step, total_steps)

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple:
        results = []
        for env in self.envs:
            attr = getattr(env, name)
            results.append(attr(*args, **kwargs) if callable(attr) else attr)
        return tuple(results)

    def get_attr(self, name: str) -> tuple:
        return tuple(getattr(env, name) for env in self.envs)

    def set_attr(self, name: str, values: Any) -> None:
        values = values if isinstance(values, (list, tuple)) else [values] * self.num_envs
        if len(values) != self.num_envs:
            raise ValueError(f"expected {self.num_envs} values for {name!r}, got {len(values)}")
        for env, value in zip(self.envs, values):
            setattr(env, name, value)

    def render(self) -> tuple | None:
        return self.call("render") if self.render_mode == "ansi" else None

    def close_extras(self, **kwargs: Any) -> None:
        close = getattr(getattr(self, "backend", None), "close", None)  # None when __init__ failed
        if callable(close):
            close()


def _seeds(seed: int | Sequence[int | None] | None, n: int) -> list:
    if seed is None:
        return [None] * n
    if isinstance(seed, (int, np.integer)):
        return [int(seed) + i for i in range(n)]
    if len(seed) != n:
        raise ValueError(f"expected one seed or {n} seeds, got {len(seed)}")
    return list(seed)
