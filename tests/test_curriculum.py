import numpy as np
import pytest

from zerosearch_gym import NoiseSchedule, ZeroSearchEnv


def test_exponential_schedule_matches_paper_formula():
    s = NoiseSchedule(p_start=0.0, p_end=0.5, total_steps=203, base=4)
    assert s(0) == 0.0
    assert s(100) == pytest.approx(0.163, abs=5e-4)
    assert s(202) == pytest.approx(0.4955, abs=5e-4)
    assert s(203) == pytest.approx(0.5)
    assert s(10_000) == pytest.approx(0.5)  # clipped
    steps = np.arange(204)
    values = np.array([s(i) for i in steps])
    assert np.all(np.diff(values) > 0)


def test_fixed_and_random_schedules():
    assert NoiseSchedule.fixed(0.3)(0) == NoiseSchedule.fixed(0.3)(150) == 0.3
    rng = np.random.default_rng(0)
    draws = [NoiseSchedule(kind="random", p_start=0.2, p_end=0.4)(0, rng) for _ in range(200)]
    assert min(draws) >= 0.2 and max(draws) <= 0.4 and np.std(draws) > 0.03


@pytest.mark.parametrize(
    "kwargs, match",
    [({"kind": "linear"}, "schedule kind"), ({"p_end": 1.5}, "p_end in"), ({"total_steps": 0}, "total_steps"),
     ({"base": 1}, "base")],
)
def test_bad_schedules(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NoiseSchedule(**kwargs)


def _noisy_fraction(env, n_episodes, **reset_kwargs):
    noisy = 0
    for seed in range(n_episodes):
        env.reset(seed=seed, **reset_kwargs)
        noisy += env.step("<search>q</search>")[4]["noisy"]
    return noisy / n_episodes


def test_observed_noise_matches_schedule(backend, examples):
    env = ZeroSearchEnv(backend=backend, dataset=examples, max_turns=1)
    # curriculum through reset options: step 100 of 203 -> p = 0.163
    frac = _noisy_fraction(env, 2000, options={"curriculum_step": 100, "total_steps": 203})
    assert frac == pytest.approx(0.163, abs=0.025)
    assert env.reset(seed=0)[1]["noise_probability"] == pytest.approx(0.163, abs=5e-4)
    # through set_curriculum_step (RLlib never passes options)
    env.set_curriculum_step(202)
    assert _noisy_fraction(env, 2000) == pytest.approx(0.4955, abs=0.03)
    # a fixed probability
    assert _noisy_fraction(env, 1000, options={"noise_probability": 0.0}) == 0.0
    assert _noisy_fraction(env, 1000, options={"noise_probability": 1.0}) == 1.0
    # the constructor
    fixed = ZeroSearchEnv(backend=backend, dataset=examples, noise=0.25)
    assert _noisy_fraction(fixed, 2000) == pytest.approx(0.25, abs=0.025)


def test_noisy_flag_reaches_the_backend(backend, examples):
    env = ZeroSearchEnv(backend=backend, dataset=examples, noise=1.0)
    env.reset(seed=1)
    obs, *_ , info = env.step("<search>q</search>")
    assert info["noisy"] and backend.calls[-1][0].useful is False and "noisy doc" in obs


def test_a_real_engine_gets_no_noise_and_the_same_random_stream(tmp_path, backend, examples):
    """BM25 ignores a request's useful flag, so the env marks no search noisy and reports p = 0, also cached, in a
    vector env and with a noise_probability option; the episodes' questions stay those of a simulator's env."""
    from zerosearch_gym import ZeroSearchVectorEnv
    from zerosearch_gym.backends.cache import CachedBackend

    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "title": "Paris", "text": "Paris is the capital of France."}\n')
    random = NoiseSchedule(kind="random", p_start=0.4, p_end=0.6)
    real = ZeroSearchEnv(backend=f"bm25:{corpus}", dataset=examples, max_turns=1, noise=random)
    sim = ZeroSearchEnv(backend=backend, dataset=examples, max_turns=1, noise=random)
    assert real.real_engine and not sim.real_engine
    assert _noisy_fraction(real, 50) == 0.0 and _noisy_fraction(sim, 200) > 0.3
    real.reset(seed=7), sim.reset(seed=7)  # then unseeded resets: each draws its p from the env's generator
    assert [real.reset()[1]["question_id"] for _ in range(30)] == [sim.reset()[1]["question_id"] for _ in range(30)]
    real.reset(seed=0, options={"noise_probability": 0.9})
    obs, *_, info = real.step("<search>capital of France</search>")
    assert info["noise_probability"] == 0.0 and not info["noisy"] and "Paris is the capital" in obs
    cached = ZeroSearchEnv(backend=CachedBackend(f"bm25:{corpus}"), dataset=examples, max_turns=1, noise=1.0)
    assert cached.real_engine and _noisy_fraction(cached, 20) == 0.0
    envs = ZeroSearchVectorEnv(num_envs=2, backend=f"bm25:{corpus}", dataset=examples, noise=1.0)
    envs.reset(seed=0)
    infos = envs.step(["<search>Paris</search>"] * 2)[4]
    assert infos["noisy"].tolist() == [False, False] and infos["noise_probability"].tolist() == [0.0, 0.0]
