"""ZeroSearchEnv: one question-answering episode in which the policy may search before it answers."""

import copy
import dataclasses
import time
from typing import Sequence

from . import protocol
from .backends.base import SearchBackend, SearchRequest, SearchResult, make_backend, search_batch
from .backends.verify import verification_outcome, with_verification
from .curriculum import NoiseSchedule, as_schedule
from .data import QAExample, load_qa_dataset
from .formats import action_format as _action_format
from .reward import answer_scores
from .tool_env import ToolEnv
from .turn import PendingTurn, search_observation

FORMAT_SCORE = 0.2  # Search-R1's score for a well-formed trajectory with a wrong answer
MALFORMED_SCORE = 0.1  # ... and for one with an answer but some invalid turn
_NO_SCORES = (0.0, 0.0, 0.0)  # f1, em, cover_em of a turn that did not answer
_NO_CALL = ("", "", False, False, False, "", 0, 0.0)  # the search info of a turn that did not search


def _step_info(row: tuple) -> dict:
    """A step's info row (``_info_row``, in its order) as a dict: a third cheaper than ``dict(zip(names, row))``."""
    (action, query, noisy, invalid_reason, action_truncated, backend_error, backend_warning, observation_truncated,
     cache_hit, answer_in_documents, verify, verify_resamples, f1, em, cover_em, backend_latency_s, question_id,
     data_source, noise_probability, searches, turn) = row[:21]
    info = {"action": action, "query": query, "noisy": noisy, "invalid_reason": invalid_reason,
            "action_truncated": action_truncated, "backend_error": backend_error, "backend_warning": backend_warning,
            "observation_truncated": observation_truncated, "cache_hit": cache_hit,
            "answer_in_documents": answer_in_documents, "verify": verify, "verify_resamples": verify_resamples,
            "f1": f1, "em": em, "cover_em": cover_em, "backend_latency_s": backend_latency_s,
            "question_id": question_id, "data_source": data_source, "noise_probability": noise_probability,
            "searches": searches, "turn": turn}
    if len(row) > 21:
        info["golden_answers"] = row[21]
    return info


# The info keys in order (a step's, begin_step's first; a reset's; debug adds "golden_answers"): the vector env's rows
STEP_KEYS = tuple(_step_info(range(21)))
BEGIN_KEYS = STEP_KEYS[:5]
RESET_KEYS = ("question_id", "data_source", "noise_probability")

class ZeroSearchEnv(ToolEnv):
    """Answer a question, searching as often as needed: ZeroSearch's multi-turn text environment.

    Each episode is one question. ``reset`` returns the ZeroSearch policy prompt holding the question.
    Each ``step`` takes one policy turn, ``<think>…</think>`` then ``<search>query</search>`` or
    ``<answer>text</answer>``, and returns the text the environment appends.

    **Action space**: :class:`UnicodeText` of up to ``max_action_chars`` characters (longer turns are cut with a
    marker). The first ``<search>…</search>`` or ``<answer>…</answer>`` of a turn counts. With
    ``action_format="tool_call"`` a search is a native JSON tool call instead,
    ``<tool_call>{"name": "search", "arguments": {"query": "…"}}</tool_call>`` (schema: ``env.tools``), and a search's
    observation is the tool message's content, ``"Doc 1: …\nDoc 5: …"`` (:mod:`zerosearch_gym.formats`).

    **Observation space**: :class:`UnicodeText`. After ``reset``: the policy prompt. After a search: the documents,
    ``"\\n\\n<information>Doc 1: …\\nDoc 5: …</information>\\n\\n"``. After an invalid turn: ZeroSearch's
    corrective message. After the answer: ``""``.

    **Rewards**: 0 until the answer; then word-level F1 of the answer against the gold answers (max over golds).
    With ``format_reward=True``, a zero-F1 answer still earns 0.2 when every turn was well formed and 0.1 otherwise
    (Search-R1's format scores). A truncated episode earns 0.

    **Starting state**: ``reset`` picks a question uniformly at random with the env's generator (or
    ``options["example"]``), sets the turn and search counts to 0 and fixes the episode's noise probability ``p``:
    the schedule's value at the current curriculum step, or ``options["noise_probability"]``.

    **Reset options** (``reset(seed, options={...})``), all optional:

    - ``example``: a :class:`QAExample` or an index into the dataset, for this episode.
    - ``noise_probability``: a fixed ``p`` in [0, 1] for this episode only (the schedule is untouched).
    - ``curriculum_step``, ``total_steps``: the same as ``set_curriculum_step(step, total_steps)`` before the
      reset; they stay for later episodes. Trainers normally call :meth:`set_curriculum_step` instead (the one
      route RLlib can use, since it never passes reset options).

    **Episode end**: terminated on an answer; truncated when turn ``max_turns + 1`` is not an answer (the policy
    gets ``max_turns`` turns to search, then must answer). Searches are answered by the backend; with probability
    ``p`` (the curriculum's noise probability) a search call asks a simulator for noisy documents. A real engine
    (``env.real_engine``: a backend with ``simulator = False``, as bm25 and http-retriever) writes none: ``p`` is 0.

    **Info**: ``question_id``, ``data_source``, ``noise_probability`` (reset and step); per step ``action``
    ("search" / "answer" / "invalid"), ``query``, ``noisy``, ``searches``, ``turn``, ``f1``, ``em``, ``cover_em``,
    ``backend_latency_s``, ``backend_error`` ("" when none), ``backend_warning`` (e.g. malformed simulator output),
    ``invalid_reason``, ``action_truncated``, ``observation_truncated``, ``answer_in_documents`` (a normalized gold
    answer occurs in the documents the policy reads: a leak when ``noisy``), ``verify`` (what verified
    simulation did to this search's result: "off", "unchecked", "passed", "resampled", "repaired" or "failed"; ""
    without a search) and ``verify_resamples``. The gold answers appear in info (``golden_answers``) only with
    ``debug=True``.

    Args:
        backend: a spec string (``"bm25"``, ``"hf:PATH"``, ``"openai:URL[,URL]"``, …) or an object with
            ``search(requests)``. Default: BM25 over the offline Wikipedia summaries.
        dataset: ``None`` (the shipped QA sample), a parquet/JSONL path, a hub dataset id, or a list of
            :class:`QAExample` / dicts with ``question`` and ``golden_answers``.
        max_turns: search turns before the final answer turn.
        top_k: documents per search.
        noise: a :class:`NoiseSchedule` or a float (fixed noise probability). Default: ZeroSearch's schedule.
        curriculum_step: the training step the schedule starts at (also ``set_curriculum_step``).
        format_reward: add Search-R1's format scores to zero-F1 answers.
        cache: ``True`` caches search results in memory, a path caches them in sqlite too (``info["cache_hit"]``).
        max_action_chars, max_obs_chars: length limits of a turn and of an observation.
        render_mode: ``None`` or ``"ansi"`` (``render()`` returns the transcript).
        debug: put the gold answers into info.
        verify: resample rounds of verified simulation (:mod:`zerosearch_gym.backends.verify`: a useful result
            must hold a gold answer, a noisy one none). ``None`` (default): the backend's own setting, i.e. on
            (2 rounds) for simulators and off for real engines; ``0``: off.
        action_format: ``"tags"`` (ZeroSearch's ``<search>``/``<answer>``, the default) or ``"tool_call"`` (a
            JSON tool call in the Hermes / Qwen chat form; ``env.tools`` holds the tool's JSON schema and
            ``env.stop_strings`` the strings that end a turn).

    **Vector env**: ``gymnasium.make_vec("ZeroSearch-v0", num_envs=N, vectorization_mode="vector_entry_point",
    ...)`` gives :class:`ZeroSearchVectorEnv`: N episodes, one backend batch per step, Gymnasium's next-step
    autoreset and dict-of-arrays infos. A batching layer of your own can use :meth:`begin_step` and
    :meth:`finish_step` (see :mod:`zerosearch_gym.turn`).

    Example::

        >>> import gymnasium as gym, zerosearch_gym
        >>> from zerosearch_gym import QAExample
        >>> class Echo:  # any object with .search(requests) is a backend
        ...     def search(self, requests):
        ...         return [[f"{r.query} is in Europe."] * r.top_k for r in requests]
        >>> env = gym.make("ZeroSearch-v0", backend=Echo(), dataset=[QAExample("q1", "Where is Paris", ("Europe",))])
        >>> prompt, info = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step("<think>?</think><search>Paris</search>")
        >>> obs.splitlines()[2]
        '<information>Doc 1: Paris is in Europe.'
        >>> env.step("<answer>Europe</answer>")[1:3]
        (1.0, True)
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}
    tool = "search"
    invalid_message = protocol.INVALID_ACTION_MESSAGE
    reset_options = ("example", "noise_probability", "curriculum_step", "total_steps")

    def __init__(
        self,
        backend: str | SearchBackend | None = None,
        dataset: str | Sequence | None = None,
        max_turns: int = 4,
        top_k: int = 5,
        noise: NoiseSchedule | float | None = None,
        curriculum_step: int = 0,
        format_reward: bool = False,
        cache: bool | str = False,
        max_action_chars: int = 4000,
        max_obs_chars: int = 8000,
        render_mode: str | None = None,
        debug: bool = False,
        verify: int | None = None,
        action_format: str = "tags",
    ):
        self.format = _action_format(action_format)
        super().__init__(max_turns, max_action_chars, max(max_obs_chars, 20_000), debug)
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"expected top_k to be an int >= 1, got {top_k!r}")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"expected render_mode None or 'ansi', got {render_mode!r}")
        self.backend = build_backend(backend, cache, verify)
        self.real_engine = getattr(self.backend, "simulator", None) is False  # no noisy documents: p is 0
        self.examples = load_qa_dataset(dataset)
        self.top_k, self.max_obs_chars = top_k, max_obs_chars
        self.schedule = as_schedule(noise)
        self._last_noise: tuple = (None, None, 0.0)  # (schedule, step, p) of the last reset
        self.curriculum_step = curriculum_step
        self.format_reward, self.render_mode = format_reward, render_mode
        self.invalid_message = self.format.invalid_message

    @property
    def action_format(self) -> str:
        """``"tags"`` or ``"tool_call"`` (:mod:`zerosearch_gym.formats`)."""
        return self.format.name

    @property
    def stop_strings(self) -> tuple[str, ...]:
        """The strings that end a generated turn in this action format."""
        return self.format.stop_strings

    @property
    def tools(self) -> list[dict]:
        """The JSON schemas of the tools the policy may call (``[]`` with ``"tags"``)."""
        return copy.deepcopy(list(self.format.tools))

    # -- curriculum -------------------------------------------------------------------------------------------
    def set_curriculum_step(self, step: int, total_steps: int | None = None) -> None:
        """Move the noise schedule to training ``step`` from the next reset on: the one curriculum route.

        Reach it through any wrapper with ``env.unwrapped.set_curriculum_step(step)``, or on a vector env with
        ``envs.unwrapped.call("set_curriculum_step", step)`` (what an RLlib callback does). ``total_steps``, when
        given, replaces the schedule's ``m`` (normally set once, in the constructor's :class:`NoiseSchedule`).
        """
        self.curriculum_step = int(step)
        if total_steps is not None:
            self.schedule = dataclasses.replace(self.schedule, total_steps=int(total_steps))

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return "".join(getattr(self, "_transcript", []))
        return None

    def step(self, action: str):
        # ToolEnv's begin_step / finish_step without the PendingTurn and the two info dicts in between
        begun = self._begin(action)
        start = time.perf_counter()
        result = self._call(begun[1]) if begun[1] is not None else None
        obs, reward, terminated, truncated, scores, call = self._advance(begun[0], begun[4], result, start)
        return obs, reward, terminated, truncated, _step_info(self._info_row(begun, scores, call))

    def _info_names(self, reset: bool = False) -> tuple[str, ...]:
        """The keys of a step's info (``reset=True``: of a reset's), in order."""
        keys = RESET_KEYS if reset else STEP_KEYS
        return keys + ("golden_answers",) if self.debug else keys

    # -- what search adds to the tool-env state machine (zerosearch_gym.tool_env) ------------------------------
    def _prompt(self, example: QAExample) -> str:
        return self.format.prompt(example.question)

    def _noise_probability(self, options: dict) -> float:
        if "curriculum_step" in options or "total_steps" in options:
            self.set_curriculum_step(options.get("curriculum_step", self.curriculum_step), options.get("total_steps"))
        p = super()._noise_probability(options)  # drawn also for a real engine: the same random stream
        return 0.0 if self.real_engine else p

    def _default_noise(self) -> float:
        schedule, step = self.schedule, self.curriculum_step
        if schedule.kind == "random" or type(schedule) is not NoiseSchedule:  # draws with the env's generator
            return schedule(step, self.np_random)
        last = self._last_noise  # the same schedule and step as the last reset: the same p
        if last[0] is not schedule or last[1] != step:
            last = self._last_noise = schedule, step, schedule(step)
        return last[2]

    def _parse(self, action: str) -> protocol.Action:
        return self.format.parse(action)

    def _request(self, content: str, noisy: bool, seed: int) -> SearchRequest:
        return SearchRequest(content, self._example.question, self._example.golden_answers, not noisy, self.top_k, seed)

    def _call(self, request: SearchRequest) -> SearchResult:
        return search_batch(self.backend, [request])[0]

    def _observe(self, result: SearchResult | None, start: float) -> tuple[str, tuple]:
        obs, error, warning, cache_hit, cut_obs, in_docs = search_observation(
            result, self._example.golden_answers, self.top_k, self.max_obs_chars, self.format.observation)
        verify, resamples, verify_error = verification_outcome(result)
        if verify_error:
            warning = "; ".join(filter(None, (warning, f"verification resample failed: {verify_error}")))
        return obs, (error, warning, cut_obs, cache_hit, in_docs, verify, resamples, time.perf_counter() - start)

    def _score(self, answer: str) -> tuple[float, dict]:
        scores = answer_scores(answer, self._example.golden_answers)
        reward = scores["f1"]
        if self.format_reward and reward == 0.0:
            reward = FORMAT_SCORE if self._invalid_turns == 0 else MALFORMED_SCORE
        return reward, scores

    def _begin_info(self, parsed: protocol.Action, request: SearchRequest | None, noisy: bool, cut: bool) -> dict:
        query = parsed.content if request is not None else ""
        return dict(zip(BEGIN_KEYS, (parsed.kind, query, noisy, parsed.reason, cut)))

    def _reset_info(self) -> dict:
        return dict(zip(self._info_names(reset=True), self._reset_row()))

    def _finish_info(self, pending: PendingTurn, reward: float, scores: dict | None, call: tuple | None) -> dict:
        begun = (pending.action, pending.request, pending.info["noisy"], pending.info["action_truncated"])
        return _step_info(self._info_row(begun, scores, call))

    # -- infos as rows: the values of _info_names() in order (the vector env stacks rows, never dicts) ---------
    def _reset_row(self) -> tuple:
        ex = self._example
        row = (ex.id, ex.data_source, self._p)
        return row + (list(ex.golden_answers),) if self.debug else row

    def _info_row(self, begun: tuple, scores: dict | None, call: tuple | None) -> tuple:
        """A step's info values from ``_begin``'s tuple and ``_advance``'s ``scores`` and ``call``."""
        parsed, request, noisy, cut_action = begun[:4]
        error, warning, cut_obs, cache_hit, in_docs, verify, resamples, latency = call or _NO_CALL
        f1, em, cover_em = (scores["f1"], scores["em"], scores["cover_em"]) if scores else _NO_SCORES
        ex = self._example
        row = (parsed.kind, parsed.content if request is not None else "", noisy, parsed.reason, cut_action, error,
               warning, cut_obs, cache_hit, in_docs, verify, resamples, f1, em, cover_em, latency, ex.id,
               ex.data_source, self._p, self._calls, self._turn)
        return row + (list(ex.golden_answers),) if self.debug else row


def build_backend(backend: str | SearchBackend | None, cache: bool | str = False, verify: int | None = None
                  ) -> SearchBackend:
    """The env's backend (default ``"bm25"``), verified when a simulator (or ``verify`` says so), cached if asked."""
    backend = with_verification(make_backend("bm25" if backend is None else backend), verify)
    if cache:
        from .backends.cache import CachedBackend

        if not isinstance(backend, CachedBackend):
            backend = CachedBackend(backend, path=None if cache is True else str(cache))
    return backend
