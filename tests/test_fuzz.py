"""Property-based tests: whatever the policy writes, step never raises and episodes end in time."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zerosearch_gym import ZeroSearchEnv, ZeroSearchVectorEnv

TAGS = ["<search>", "</search>", "<answer>", "</answer>", "<think>", "</think>", "<information>", "</information>",
        "<", ">", "/", "\n", " ", "search", "answer"]
fragment = st.one_of(st.text(max_size=30), st.sampled_from(TAGS))
tag_soup = st.lists(fragment, max_size=25).map("".join)
huge = st.integers(1, 20_000).map(lambda n: "<search>" + "q" * n + "</search>" * (n % 2))
turn = st.one_of(st.text(), tag_soup, huge)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
LONG = settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _episode_holds(env: ZeroSearchEnv, turns: list[str], seed: int) -> None:
    obs, _ = env.reset(seed=seed)
    assert env.observation_space.contains(obs)
    for steps, action in enumerate(turns * (env.max_turns + 2), start=1):  # noqa: B007 (read after the loop)
        obs, reward, terminated, truncated, info = env.step(action)
        assert env.observation_space.contains(obs)
        assert 0.0 <= reward <= 1.0 and info["action"] in ("search", "answer", "invalid")
        if terminated or truncated:
            break
    assert (terminated or truncated) and steps <= env.max_turns + 1


def _check_single(backend, examples, turns, seed):
    env = ZeroSearchEnv(backend=backend, dataset=examples, max_turns=3, max_action_chars=2000, max_obs_chars=3000)
    _episode_holds(env, turns, seed)


def _check_vector(backend, examples, turns, seed) -> int:
    """Run 4 episodes side by side to their end; returns how many actions were stepped."""
    n, acted = 4, 0
    envs = ZeroSearchVectorEnv(num_envs=n, backend=backend, dataset=examples, max_turns=2)
    envs.reset(seed=seed)
    active = np.ones(n, dtype=bool)
    for step in range(envs.envs[0].max_turns + 1):
        actions = [turns[(step + i) % len(turns)] for i in range(n)]
        acted += int(active.sum())
        obs, rewards, terminated, truncated, infos = envs.step_active(actions, active)
        assert all(isinstance(o, str) and len(o) <= envs.envs[0].max_obs_chars + 64 for o in obs)
        assert np.all((rewards >= 0) & (rewards <= 1))
        active &= ~(terminated | truncated)
    assert not active.any()
    return acted


@FAST
@given(turns=st.lists(turn, min_size=1, max_size=6), seed=st.integers(0, 2**16))
def test_fuzz_single_env(backend, examples, turns, seed):
    _check_single(backend, examples, turns, seed)


@FAST
@given(turns=st.lists(turn, min_size=1, max_size=6), seed=st.integers(0, 2**16))
def test_fuzz_vector_env(backend, examples, turns, seed):
    _check_vector(backend, examples, turns, seed)


@pytest.mark.slow
@LONG
@given(turns=st.lists(turn, min_size=1, max_size=6), seed=st.integers(0, 2**16))
def test_fuzz_single_env_long(backend, examples, turns, seed):
    _check_single(backend, examples, turns, seed)


@pytest.mark.slow
def test_fuzz_vector_env_100k_actions(backend, examples):
    """Hypothesis batches of 4 episodes until 100,000 random actions have been stepped."""
    acted = [0]

    @settings(max_examples=2_000, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(turns=st.lists(turn, min_size=1, max_size=6), seed=st.integers(0, 2**16))
    def run(turns, seed):
        acted[0] += _check_vector(backend, examples, turns, seed)

    while acted[0] < 100_000:
        run()
    print(f"\nfuzz: {acted[0]:,} actions stepped in the vector env")
