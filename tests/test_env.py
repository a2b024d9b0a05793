import dataclasses
import subprocess
import sys

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

from zerosearch_gym import BackendError, QAExample, ZeroSearchEnv, protocol

SEARCH = "<think>I should look it up.</think><search>capital of France</search>"


def make(backend, examples, **kwargs):
    return gym.make("ZeroSearch-v0", backend=backend, dataset=examples, **kwargs)


def test_episode_search_then_answer(backend, examples):
    env = make(backend, examples)
    prompt, info = env.reset(seed=0, options={"example": 0})
    assert prompt == protocol.policy_prompt("What is the capital of France")
    assert info["question_id"] == "q0" and "golden_answers" not in info
    obs, reward, terminated, truncated, info = env.step(SEARCH)
    assert obs.startswith("\n\n<information>Doc 1: ") and obs.endswith("</information>\n\n")
    assert obs.count("Doc ") == 5
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert info["action"] == "search" and info["query"] == "capital of France" and info["searches"] == 1
    request = backend.calls[-1][0]
    assert (request.query, request.question, request.answers, request.top_k) == (
        "capital of France", "What is the capital of France", ("Paris",), 5)
    obs, reward, terminated, truncated, info = env.step("<think>Paris.</think><answer>Paris</answer>")
    assert (obs, reward, terminated, truncated) == ("", 1.0, True, False)
    assert info["f1"] == info["em"] == info["cover_em"] == 1.0 and info["turn"] == 2


def test_invalid_turn_gets_the_corrective_message(backend, examples):
    env = make(backend, examples)
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("I think the answer is Paris.")
    assert obs == protocol.INVALID_ACTION_MESSAGE and reward == 0.0 and not (terminated or truncated)
    assert info["action"] == "invalid" and "no <search>" in info["invalid_reason"]
    assert not backend.calls


def test_runs_out_of_turns(backend, examples):
    env = make(backend, examples, max_turns=2)
    env.reset(seed=0)
    for _ in range(2):
        assert not any(env.step(SEARCH)[2:4])
    obs, reward, terminated, truncated, info = env.step(SEARCH)  # the final turn must answer
    assert (obs, reward, terminated, truncated) == ("", 0.0, False, True)
    assert len(backend.calls) == 2 and info["searches"] == 2
    with pytest.raises(RuntimeError, match="reset"):
        env.step(SEARCH)


def test_answer_on_final_turn_is_scored(backend, examples):
    env = make(backend, examples, max_turns=0)
    env.reset(seed=0, options={"example": 1})
    _, reward, terminated, _, info = env.step("<answer>Shakespeare</answer>")
    assert terminated and reward == 1.0


def test_format_reward(backend, examples):
    env = make(backend, examples, format_reward=True)
    env.reset(seed=0, options={"example": 0})
    assert env.step("<answer>London</answer>")[1] == pytest.approx(0.2)
    env.reset(seed=0, options={"example": 0})
    env.step("garbage")
    assert env.step("<answer>London</answer>")[1] == pytest.approx(0.1)
    env.reset(seed=0, options={"example": 0})
    assert env.step("<answer>Paris</answer>")[1] == 1.0


def test_step_before_reset_is_a_clear_error(backend, examples):
    with pytest.raises(RuntimeError, match="call reset"):
        ZeroSearchEnv(backend=backend, dataset=examples).step(SEARCH)
    with pytest.raises(Exception, match="reset"):  # through gym.make, Gymnasium's order check says it first
        make(backend, examples).step(SEARCH)


def test_render_ansi_is_the_transcript(backend, examples):
    env = make(backend, examples, render_mode="ansi")
    prompt, _ = env.reset(seed=0)
    obs = env.step(SEARCH)[0]
    assert env.render() == prompt + SEARCH + obs


def test_deterministic_under_seed(backend, examples):
    def run(seed):
        env = make(backend, examples, noise=0.5)
        out = [env.reset(seed=seed)[0]]
        for _ in range(3):
            out.append(env.step(SEARCH)[4]["noisy"])
        return out

    assert run(7) == run(7)
    assert len({str(run(s)) for s in range(10)}) > 1


def test_gold_answers_never_in_observations_unless_debug(examples):
    class Blind:  # documents that never mention the answer
        def search(self, requests):
            return [["nothing here"] * r.top_k for r in requests]

    env = make(Blind(), examples)
    prompt, info = env.reset(seed=0, options={"example": 1})
    texts = [prompt, env.step(SEARCH)[0], env.step("bad")[0], env.step("<answer>x</answer>")[0]]
    assert not any("Shakespeare" in t for t in texts)
    debug_env = make(Blind(), examples, debug=True)
    assert debug_env.reset(seed=0, options={"example": 1})[1]["golden_answers"] == ["William Shakespeare",
                                                                                     "Shakespeare"]


@pytest.mark.parametrize(
    "result, message",
    [
        ("raise", "RuntimeError: boom"),
        (BackendError("server down"), "server down"),
        ("wrong-count", "expected 1 results"),
        ("not-a-list", "expected a list of document strings"),
    ],
)
def test_backend_failures_become_info_not_tracebacks(examples, result, message):
    class Broken:
        def search(self, requests):
            if result == "raise":
                raise RuntimeError("boom")
            if result == "wrong-count":
                return []
            if result == "not-a-list":
                return [42]
            return [result]

    env = make(Broken(), examples)
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(SEARCH)
    assert message in info["backend_error"]
    assert protocol.NO_INFORMATION in obs and not terminated


def test_long_turns_and_documents_are_cut(examples):
    class Huge:
        def search(self, requests):
            return [["w" * 50_000] * r.top_k for r in requests]

    env = make(Huge(), examples, max_action_chars=1000, max_obs_chars=2000)
    env.reset(seed=0)
    obs, *_, info = env.step("<search>q</search>" + "z" * 10_000)
    assert info["action_truncated"] and info["action"] == "search"
    assert len(obs) <= 2000 and info["observation_truncated"] and "[truncated" in obs
    assert env.observation_space.contains(obs)


def test_reset_options_and_constructor_errors(backend, examples):
    env = make(backend, examples)
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"noise": 0.1})
    with pytest.raises(ValueError, match="index in"):
        env.reset(options={"example": 99})
    with pytest.raises(ValueError, match="noise probability"):
        env.reset(options={"noise_probability": 2})
    ex = QAExample("x", "Custom?", ("yes",))
    assert "Custom?" in env.reset(options={"example": ex})[0]
    with pytest.raises(ValueError, match="max_turns"):
        ZeroSearchEnv(backend=backend, dataset=examples, max_turns=-1)
    with pytest.raises(ValueError, match="unknown backend kind"):
        ZeroSearchEnv(backend="google:xyz", dataset=examples)
    with pytest.raises(TypeError, match="backend spec"):
        ZeroSearchEnv(backend=object(), dataset=examples)


def test_check_env_passes(backend, examples):
    check_env(ZeroSearchEnv(backend=backend, dataset=examples), skip_render_check=True)


def test_make_in_a_fresh_interpreter_without_torch():
    code = (
        "import sys, gymnasium as gym\n"
        "class B:\n"
        "    def search(self, rs): return [['d'] * r.top_k for r in rs]\n"
        "env = gym.make('zerosearch_gym:ZeroSearch-v0', backend=B())\n"
        "prompt, info = env.reset(seed=0)\n"
        "assert prompt.startswith('Answer the given question'), prompt\n"
        "assert 'torch' not in sys.modules, 'zerosearch_gym imported torch'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_batched_step_protocol_matches_step(backend, examples):
    from zerosearch_gym import PendingTurn, search_batch

    turns = [SEARCH, "no tags", "<answer>Paris</answer>"]
    plain = ZeroSearchEnv(backend=backend, dataset=examples)
    plain.reset(seed=5, options={"example": 0})
    expected = [plain.step(t) for t in turns]
    env = ZeroSearchEnv(backend=backend, dataset=examples)
    env.reset(seed=5, options={"example": 0})
    for turn, want in zip(turns, expected):
        pending = env.begin_step(turn)
        assert isinstance(pending, PendingTurn) and pending.action.kind == want[4]["action"]
        assert (pending.request is not None) == (want[4]["action"] == "search")
        with pytest.raises(dataclasses.FrozenInstanceError):  # a batching layer cannot change it by accident
            pending.turn = 7
        result = search_batch(backend, [pending.request])[0] if pending.request is not None else None
        got = env.finish_step(pending, result)
        assert got[:4] == want[:4]
        assert {k: v for k, v in got[4].items() if k != "backend_latency_s"} == {
            k: v for k, v in want[4].items() if k != "backend_latency_s"}
    assert not hasattr(env, "_step_info") and not hasattr(env, "_parsed") and not hasattr(env, "_t0")


def test_finish_step_checks_the_pending_turn(backend, examples):
    env = ZeroSearchEnv(backend=backend, dataset=examples)
    env.reset(seed=0)
    first = env.begin_step(SEARCH)
    env.finish_step(first, ["doc"])
    with pytest.raises(RuntimeError, match="expected the pending turn 2 .* got turn 1"):
        env.finish_step(first, ["doc"])  # a turn handed back twice
    stale = env.begin_step(SEARCH)
    env.reset(seed=1)
    with pytest.raises(RuntimeError, match="expected the pending turn 1 .* got turn 2"):
        env.finish_step(stale, ["doc"])  # a turn from before the reset
    pending = env.begin_step("<answer>x</answer>")
    env.finish_step(pending)
    with pytest.raises(RuntimeError, match="ended episode"):
        env.finish_step(pending)


def test_public_surface_is_declared_and_torch_free():
    code = (
        "import sys, pydoc, zerosearch_gym\n"
        "from zerosearch_gym import *\n"
        "missing = [n for n in zerosearch_gym.__all__ if not hasattr(zerosearch_gym, n)]\n"
        "assert not missing, missing\n"
        "assert 'torch' not in sys.modules, 'the public surface imported torch'\n"
        "text = pydoc.render_doc(zerosearch_gym.ZeroSearchEnv, renderer=pydoc.plaintext)\n"
        "assert 'backend: str | zerosearch_gym.backends.base.SearchBackend | None = None' in text, text[:3000]\n"
        "own = text[text.index('Methods defined here'):text.index('Methods inherited')]\n"
        "assert \"'\" + 'str' not in own, own  # no quoted annotations in help()\n"
        "for word in ('Reset options', 'noise_probability', 'Starting state', 'make_vec', 'begin_step'):\n"
        "    assert word in text, word\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_rules_layer_does_not_import_backends():
    import ast
    from pathlib import Path

    import zerosearch_gym

    root = Path(zerosearch_gym.__file__).parent
    for name in ("protocol", "reward", "curriculum", "spaces"):
        tree = ast.parse((root / f"{name}.py").read_text())
        imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        assert not [m for m in imported if "backends" in m or m in ("env", "vector", "turn")], (name, imported)


def test_a_raised_action_cap_is_safe_on_unclosed_tags(backend, examples):
    env = ZeroSearchEnv(backend=backend, dataset=examples, max_action_chars=250_000)
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("<search>" * 25_000 + "</answer>")
    assert info["action"] == "invalid" and not info["action_truncated"] and obs == protocol.INVALID_ACTION_MESSAGE
    obs, *_, info = env.step("<search>" * 25_000 + "q</search>")
    assert info["action"] == "search" and info["query"].endswith("<search>q") and backend.calls[-1][0].query == info["query"]
