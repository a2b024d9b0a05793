"""ZeroSearch-v0 as an OpenEnv environment: the action, observation and state models, the ``Environment``
that one server session steps, and :func:`make_app` (the FastAPI app ``zerosearch serve`` runs).

Each WebSocket session (``/ws``, what OpenEnv's clients use) owns one :class:`ZeroSearchEnvironment`, so
many episodes run on one server, each isolated; their searches meet in one
:class:`~zerosearch_gym.backends.shared.SharedBackend`, which sends concurrent searches as one batch. OpenEnv's
plain HTTP ``/reset`` and ``/step`` are stateless (a fresh env per request), as in every OpenEnv server.
"""
from __future__ import annotations

import functools
import uuid
from typing import Any

from openenv.core.env_server import Action, Environment, Observation, State, create_fastapi_app
from pydantic import Field

from zerosearch_gym import QAExample, ZeroSearchEnv, load_qa_dataset
from zerosearch_gym.backends.shared import SharedBackend
from zerosearch_gym.env import build_backend

MAX_ACTION_CHARS = 4000  # the env's own limit: longer turns are cut with a marker


class SearchAction(Action):
    """One policy turn; ``episode_id``, when given, must be the session's current episode."""

    text: str = Field(..., description="one policy turn: <think>…</think> then <search>/<tool_call> or <answer>")
    episode_id: str | None = Field(default=None, max_length=255, description="the episode this turn belongs to")


class SearchObservation(Observation):
    """The prompt after ``reset``; the env's reply (documents, corrective message, "" at the end) after ``step``."""

    text: str = Field(default="", description="the prompt, or the text the environment appends")
    role: str = Field(default="user", description="the chat role of text: 'user', or 'tool' for a tool call's result")
    tools: list[dict] = Field(default_factory=list, description="the tools' JSON schemas (action_format='tool_call')")
    info: dict[str, Any] = Field(default_factory=dict, description="the env's info for this reset or step")
    truncated: bool = Field(default=False, description="the episode ran out of turns")
    episode_id: str = Field(default="", description="the session's current episode")


class SearchState(State):
    """Where the session's episode stands."""

    question_id: str = ""
    noise_probability: float = 0.0
    turn: int = 0
    searches: int = 0
    done: bool = True
    action_format: str = "tags"


class ZeroSearchEnvironment(Environment):
    """One session's ZeroSearch episode. ``reset(seed, episode_id, **options)`` takes the env's reset options
    (``example``: an index or ``{"question", "golden_answers"}``, ``noise_probability``, ``curriculum_step``,
    ``total_steps``); ``step(SearchAction)``; ``state``."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, env_kwargs: dict | None = None):
        super().__init__()
        self.env = ZeroSearchEnv(**(env_kwargs or {}))
        self._episode_id = ""
        self._info: dict = {}
        self._done = True

    def reset(self, seed: int | None = None, episode_id: str | None = None, **options: Any) -> SearchObservation:
        if isinstance(options.get("example"), dict):
            options["example"] = _example(options["example"])
        prompt, info = self.env.reset(seed=seed, options=options or None)
        self._episode_id, self._info, self._done = episode_id or uuid.uuid4().hex, info, False
        return SearchObservation(text=prompt, tools=self.env.tools, info=_jsonable(info),
                                 episode_id=self._episode_id)

    def step(self, action: SearchAction, timeout_s: float | None = None, **kwargs: Any) -> SearchObservation:
        if action.episode_id is not None and action.episode_id != self._episode_id:
            raise ValueError(f"expected episode_id {self._episode_id!r} (this session's episode), "
                             f"got {action.episode_id!r}")
        obs, reward, terminated, truncated, info = self.env.step(action.text)
        self._info, self._done = info, terminated or truncated
        role = self.env.format.observation_role if info["action"] == "search" else "user"
        return SearchObservation(text=obs, role=role, info=_jsonable(info), reward=reward, done=self._done,
                                 truncated=truncated, episode_id=self._episode_id)

    @property
    def state(self) -> SearchState:
        example = self.env.example
        return SearchState(episode_id=self._episode_id or None, step_count=int(self._info.get("turn", 0)),
                           question_id=example.id if example else "",
                           noise_probability=float(self._info.get("noise_probability", 0.0)),
                           turn=int(self._info.get("turn", 0)), searches=int(self._info.get("searches", 0)),
                           done=self._done, action_format=self.env.action_format)

    def close(self) -> None:  # the backend is the server's, shared by every session
        pass


def _example(data: dict) -> QAExample:
    question, golds = data.get("question"), data.get("golden_answers")
    if not isinstance(question, str) or not isinstance(golds, list) or not all(isinstance(g, str) for g in golds):
        raise ValueError(f"expected example to be an index or {{'question': str, 'golden_answers': [str, ...]}}, "
                         f"got {data!r:.120}")
    return QAExample(str(data.get("id", "custom")), question, tuple(golds), str(data.get("data_source", "")))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return value.item() if hasattr(value, "item") else str(value)


def make_app(backend: Any = "bm25", dataset: Any = None, max_sessions: int = 64, max_body_bytes: int = 1 << 20,
             **env_kwargs: Any):
    """The FastAPI app of an OpenEnv server for ZeroSearch-v0: one env per session, one shared backend.

    ``backend``: a spec or an object (built once, verified and cached as the env would); ``dataset``: as for
    ZeroSearchEnv (loaded once); ``env_kwargs``: ZeroSearchEnv's other arguments (``action_format``,
    ``max_turns``, ``top_k``, ``noise``, …). A request body over ``max_body_bytes`` is refused with 413 (the
    WebSocket limit is set where the app is served, :func:`serve`)."""
    shared = SharedBackend(build_backend(backend, env_kwargs.pop("cache", False), env_kwargs.pop("verify", None)))
    kwargs = dict(env_kwargs, backend=shared, dataset=load_qa_dataset(dataset))
    ZeroSearchEnv(**kwargs)  # bad arguments fail here, once, with the env's own message
    factory = functools.partial(ZeroSearchEnvironment, kwargs)
    app = create_fastapi_app(factory, SearchAction, SearchObservation, max_concurrent_envs=max_sessions)
    app.state.backend, app.state.max_body_bytes = shared, max_body_bytes
    _guard(app, max_body_bytes)
    return app


def _guard(app, max_body_bytes: int) -> None:
    """Clear errors at the HTTP door: a body over the limit is 413, an env's ValueError / RuntimeError is 400."""
    from fastapi.responses import JSONResponse

    @app.middleware("http")
    async def limit_body(request, call_next):
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > max_body_bytes):
            return JSONResponse({"detail": f"expected a request body of at most {max_body_bytes} bytes, "
                                           f"got {size}"}, status_code=413)
        return await call_next(request)

    async def bad_request(request, exc):
        return JSONResponse({"detail": f"{type(exc).__name__}: {exc}"}, status_code=400)

    app.add_exception_handler(ValueError, bad_request)
    app.add_exception_handler(RuntimeError, bad_request)
