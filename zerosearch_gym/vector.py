"""ZeroSearchVectorEnv: N episodes stepped together, with every search of a step sent as one backend batch."""

import time
from typing import Any, Collection, Sequence

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ._infos import add_columns
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
      keeps only those keys (cheaper for trainers that read a few: ``agents.episodes.play`` asks for its own
      through ``step_active(..., info_keys=...)``); ``None`` (default) keeps all.
    - Each step runs the sub-envs' state machine on plain tuples (the two halves of ``begin_step`` /
      ``finish_step``: :meth:`ToolEnv._begin` on every stepped env, one ``backend.search`` for all their
      requests, :meth:`ToolEnv._advance` with each env's own result); each env's info is a row of values, and
      the rows become the info columns in one block: no per-env pending turn or info dict. The layout is the one
      Gymnasium's ``_add_info`` builds env by env (``tests/test_vector_rows.py``).
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
        self.info_keys = None if info_keys is None else _check_keys(info_keys)
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
        index, rows = np.flatnonzero(mask).tolist(), []
        p = options.get("noise_probability")
        for i in index:
            env_options = dict(options, example=examples[i]) if examples is not None else options
            obs[i] = self.envs[i]._start(seeds[i], env_options)  # reset(), its info as a row
            rows.append(self.envs[i]._reset_row())
            self._autoreset_options[i] = None if p is None else {"noise_probability": p}
            self._needs_reset[i] = False
        self._started = True
        return obs, self._infos([(index, rows, True)], self.info_keys)

    def step(self, actions: Sequence[str]):
        """Step every env; envs that ended last step are reset instead (next-step autoreset)."""
        self._check(actions)
        needs = self._needs_reset
        if not any(needs):
            return self._step(actions, list(range(self.num_envs)), [], self.info_keys)
        return self._step(actions, [i for i, r in enumerate(needs) if not r], [i for i, r in enumerate(needs) if r],
                          self.info_keys)

    def step_active(self, actions: Sequence[str], active: Sequence[bool], info_keys: Collection[str] | None = None):
        """Step only the envs with ``active[i]`` (no autoreset); the others return ``""`` and reward 0.

        ``info_keys``: this step's info keys (default: the env's ``info_keys``), e.g. the few a trainer reads."""
        self._check(actions)
        active = np.asarray(active, dtype=bool)
        if active.shape != (self.num_envs,):
            raise ValueError(f"expected active to be {self.num_envs} booleans, got shape {active.shape}")
        stepped = np.flatnonzero(active).tolist()
        ended = [i for i in stepped if self._needs_reset[i]]
        if ended:
            raise RuntimeError(f"envs {ended} have ended; reset them before stepping them")
        return self._step(actions, stepped, [], self.info_keys if info_keys is None else _check_keys(info_keys))

    def _step(self, actions, stepped: list, resets: list, keys: frozenset | None):
        # The sub-envs' state machine (ToolEnv._begin / _advance) on plain tuples: no PendingTurn, no info dict;
        # each env's info is a row of values, and the rows become Gymnasium's info columns in one block.
        n, envs, needs = self.num_envs, self.envs, self._needs_reset
        begun = [envs[i]._begin(actions[i]) for i in stepped]
        requests = [b[1] for b in begun if b[1] is not None]
        start = time.perf_counter()
        results = iter(search_batch(self.backend, requests))
        self.backend_calls += bool(requests)
        ends = [envs[i]._advance(b[0], b[4], next(results) if b[1] is not None else None, start)
                for i, b in zip(stepped, begun)]
        rows = [envs[i]._info_row(b, end[4], end[5]) for i, b, end in zip(stepped, begun, ends)]
        for i, end in zip(stepped, ends):
            needs[i] = end[2] or end[3]
        starts = [envs[i]._start(None, self._autoreset_options[i]) for i in resets]
        reset_rows = [envs[i]._reset_row() for i in resets]
        for i in resets:
            needs[i] = False
        infos = self._infos([(stepped, rows, False), (resets, reset_rows, True)], keys)
        if len(stepped) == n:  # everyone stepped: whole columns
            obs, rewards, terminated, truncated = list(zip(*ends))[:4]
            terminated, truncated = np.array((terminated, truncated), dtype=bool)
            return np.array(obs, dtype=object), np.array(rewards, dtype=np.float32), terminated, truncated, infos
        obs, rewards, flags = [""] * n, np.zeros(n, dtype=np.float32), np.zeros((2, n), dtype=bool)
        for i, text in zip(stepped + resets, [end[0] for end in ends] + starts):
            obs[i] = text
        if ends:
            rewards[stepped], flags[0, stepped], flags[1, stepped] = list(zip(*ends))[1:4]
        return np.array(obs, dtype=object), rewards, flags[0], flags[1], infos

    def _infos(self, parts: list, keys: frozenset | None) -> dict:
        """Gymnasium's dict-of-arrays infos from ``(env indices, their info rows, reset?)`` parts."""
        out: dict = {}
        parts = [part for part in parts if part[0]]
        if len(parts) == 2 and parts[1][0][0] < parts[0][0][0]:  # Gymnasium's order: the group of env 0 first
            parts.reverse()
        for index, rows, reset in parts:
            try:  # the common case: one key tuple for all (rows differ in length only when debug does)
                groups = [(self.envs[index[0]]._info_names(reset), index, list(zip(*rows, strict=True)))]
            except ValueError:
                groups = self._groups(index, rows, reset)
            for names, idx, columns in groups:
                add_columns(out, names, idx, columns, self.num_envs, self._add_info, keys)
        return out

    def _groups(self, index: list, rows: list, reset: bool) -> list:
        """``(names, env indices, columns)`` per key tuple, when the envs' infos differ (``set_attr("debug", …)``)."""
        by_names: dict = {}
        for i, row in zip(index, rows):
            group = by_names.setdefault(self.envs[i]._info_names(reset), ([], []))
            group[0].append(i)
            group[1].append(row)
        return [(names, idx, list(zip(*group_rows))) for names, (idx, group_rows) in by_names.items()]

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


def _check_keys(info_keys: Collection[str]) -> frozenset:
    if isinstance(info_keys, str) or not all(isinstance(k, str) for k in info_keys):
        raise ValueError(f"expected info_keys to be a collection of info key names, got {info_keys!r}")
    return frozenset(info_keys)


def _seeds(seed: int | Sequence[int | None] | None, n: int) -> list:
    if seed is None:
        return [None] * n
    if isinstance(seed, (int, np.integer)):
        return [int(seed) + i for i in range(n)]
    if len(seed) != n:
        raise ValueError(f"expected one seed or {n} seeds, got {len(seed)}")
    return list(seed)
