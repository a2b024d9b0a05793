import gymnasium as gym
import numpy as np
import pytest

from zerosearch_gym import ZeroSearchVectorEnv

SEARCH = "<search>{}</search>"


def make_vec(backend, examples, n, **kwargs):
    return gym.make_vec("ZeroSearch-v0", num_envs=n, vectorization_mode="vector_entry_point", backend=backend,
                        dataset=examples, **kwargs)


def test_make_vec_returns_the_batched_env(backend, examples):
    envs = make_vec(backend, examples, 4)
    assert isinstance(envs.unwrapped, ZeroSearchVectorEnv)
    assert envs.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    obs, infos = envs.reset(seed=0)
    assert obs.shape == (4,) and all(o.startswith("Answer the given question") for o in obs)
    assert infos["_question_id"].all()


def test_one_backend_call_per_step_with_correct_pairing(backend, examples):
    n = 6
    envs = make_vec(backend, examples, n, noise=0.5)
    examples_per_env = [examples[i % 3] for i in range(n)]
    envs.reset(seed=0, options={"examples": examples_per_env})
    actions = [SEARCH.format(f"query-{i}") if i % 2 == 0 else "<think>no search</think>" for i in range(n)]
    obs, rewards, terminated, truncated, infos = envs.step(actions)
    assert len(backend.calls) == 1  # every search of the step in one batch
    batch = backend.calls[0]
    assert [r.query for r in batch] == ["query-0", "query-2", "query-4"]
    for request in batch:
        i = int(request.query.split("-")[1])
        assert request.question == examples_per_env[i].question
        assert request.answers == examples_per_env[i].golden_answers
        assert request.useful == (not infos["noisy"][i])
        assert f"for query-{i} | {examples_per_env[i].question}" in obs[i]
    assert list(infos["action"]) == ["search", "invalid"] * 3
    envs.step([SEARCH.format("x")] * n)
    assert len(backend.calls) == 2


def test_no_backend_call_when_nobody_searches(backend, examples):
    envs = make_vec(backend, examples, 3)
    envs.reset(seed=0)
    envs.step(["<answer>a</answer>"] * 3)
    assert backend.calls == [] and envs.unwrapped.backend_calls == 0


def test_next_step_autoreset(backend, examples):
    envs = make_vec(backend, examples, 2)
    envs.reset(seed=0, options={"examples": [0, 1]})
    obs, rewards, terminated, truncated, infos = envs.step(["<answer>Paris</answer>", SEARCH.format("q")])
    assert terminated.tolist() == [True, False] and rewards[0] == 1.0
    # next step: env 0 resets (its action is ignored), env 1 steps
    obs, rewards, terminated, truncated, infos = envs.step(["<answer>ignored</answer>", "<answer>Shakespeare</answer>"])
    assert obs[0].startswith("Answer the given question") and rewards[0] == 0.0 and not terminated[0]
    assert terminated[1] and rewards[1] == 1.0
    assert [len(c) for c in backend.calls] == [1]


def test_step_active_steps_only_running_episodes(backend, examples):
    envs = make_vec(backend, examples, 3, max_turns=1)
    envs.reset(seed=0, options={"examples": [0, 1, 2]})
    active = np.ones(3, dtype=bool)
    obs, rewards, terminated, truncated, infos = envs.unwrapped.step_active(
        ["<answer>Paris</answer>", SEARCH.format("a"), SEARCH.format("b")], active)
    active &= ~(terminated | truncated)
    assert active.tolist() == [False, True, True]
    obs, rewards, terminated, truncated, infos = envs.unwrapped.step_active(
        ["ignored", "<answer>Shakespeare</answer>", SEARCH.format("c")], active)
    assert obs[0] == "" and rewards.tolist() == [0.0, 1.0, 0.0]
    assert terminated.tolist() == [False, True, False] and truncated.tolist() == [False, False, True]
    assert not infos["_action"][0] and infos["_action"][1:].all()
    assert [len(c) for c in backend.calls] == [2]  # the final-turn search was not sent
    with pytest.raises(RuntimeError, match="reset them"):
        envs.unwrapped.step_active(["x"] * 3, [True, False, False])


def test_per_env_seeding_is_deterministic(backend, examples):
    def run():
        envs = make_vec(backend, examples, 4, noise=0.5)
        first, _ = envs.reset(seed=3)
        _, _, _, _, infos = envs.step([SEARCH.format("q")] * 4)
        return list(first), infos["noisy"].tolist()

    assert run() == run()


def test_reset_mask_and_curriculum_reach_every_env(backend, examples):
    envs = make_vec(backend, examples, 3)
    envs.reset(seed=0)
    envs.unwrapped.set_curriculum_step(203, total_steps=203)
    obs, infos = envs.reset(options={"reset_mask": np.array([True, False, True])})
    assert infos["_noise_probability"].tolist() == [True, False, True]
    assert infos["noise_probability"][0] == pytest.approx(0.5)
    assert envs.unwrapped.call("set_curriculum_step", 0) == (None, None, None)
    assert envs.unwrapped.get_attr("curriculum_step") == (0, 0, 0)
    envs.unwrapped.set_attr("curriculum_step", [1, 2, 3])
    assert envs.unwrapped.get_attr("curriculum_step") == (1, 2, 3)


def test_vector_errors(backend, examples):
    envs = make_vec(backend, examples, 2)
    with pytest.raises(RuntimeError, match="reset"):
        envs.step(["a", "b"])
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="expected 2 actions"):
        envs.step(["a"])
    with pytest.raises(ValueError, match="2 examples"):
        envs.reset(options={"examples": [0]})
    with pytest.raises(ValueError, match="num_envs"):
        ZeroSearchVectorEnv(num_envs=0, backend=backend, dataset=examples)
    envs.close()


def test_per_episode_noise_probability_survives_autoreset(backend, examples):
    envs = make_vec(backend, examples, 2, max_turns=1)
    envs.unwrapped.call("set_curriculum_step", 100)  # the schedule alone would give p = 0.163
    obs, infos = envs.reset(seed=0, options={"noise_probability": 0.9})
    assert infos["noise_probability"].tolist() == [0.9, 0.9]
    envs.step(["<answer>x</answer>"] * 2)
    obs, rewards, terminated, truncated, infos = envs.step(["ignored"] * 2)  # next-step autoreset
    assert all(o.startswith("Answer the given question") for o in obs)
    assert infos["noise_probability"].tolist() == [0.9, 0.9]
    envs.reset(options={"noise_probability": 0.2, "reset_mask": [True, False]})
    envs.step(["<answer>x</answer>"] * 2)
    _, _, _, _, infos = envs.step(["ignored"] * 2)
    assert infos["noise_probability"].tolist() == [0.2, 0.9]
    envs.reset()  # without the option, the schedule rules again
    _, infos = envs.reset()
    assert infos["noise_probability"] == pytest.approx([0.163, 0.163], abs=5e-4)


def test_curriculum_route_survives_wrappers(backend, examples):
    envs = gym.wrappers.vector.RecordEpisodeStatistics(make_vec(backend, examples, 2))
    envs.unwrapped.call("set_curriculum_step", 203)
    _, infos = envs.reset(seed=0)
    assert infos["noise_probability"] == pytest.approx([0.5, 0.5])
