"""The vector env's column-wise info stacking equals Gymnasium's ``VectorEnv._add_info``, env by env."""
import gymnasium as gym
import numpy as np
import pytest

from zerosearch_gym import ZeroSearchVectorEnv
from zerosearch_gym._infos import stack_infos


class _Vec(gym.vector.VectorEnv):
    pass


def adder(n):
    """Gymnasium's ``VectorEnv._add_info`` for ``n`` envs: the reference layout."""
    vec = _Vec.__new__(_Vec)
    vec.num_envs = n
    return vec._add_info


def reference(index, infos, n, keys=None):
    add, out = adder(n), {}
    for i, info in zip(index, infos):
        out = add(out, {k: v for k, v in info.items() if keys is None or k in keys}, i)
    return out


def assert_same(got, want):
    assert got.keys() == want.keys()
    for key, value in want.items():
        if isinstance(value, dict):
            assert_same(got[key], value)
            continue
        assert got[key].dtype == value.dtype and got[key].shape == value.shape, key
        assert [repr(x) for x in got[key].tolist()] == [repr(x) for x in value.tolist()], key


STEP = {"action": "search", "noisy": False, "f1": 0.0, "searches": 1, "question_id": "q"}
RESET = {"question_id": "q", "noise_probability": 0.25}


@pytest.mark.parametrize("case", [
    "all-same", "subset", "mixed-groups", "lists-and-specials", "numpy-scalars", "mixed-types", "empty",
])
@pytest.mark.parametrize("keys", [None, ("action", "question_id", "noise_probability", "golden_answers")])
def test_matches_gymnasium_add_info(case, keys):
    rng = np.random.default_rng(0)
    n = 7
    if case == "all-same":
        index = list(range(n))
        infos = [dict(STEP, f1=float(rng.random()), searches=i) for i in index]
    elif case == "subset":
        index = [1, 4, 5]
        infos = [dict(STEP, action="answer") for _ in index]
    elif case == "mixed-groups":  # stepped envs and autoreset envs in one step
        index = list(range(n))
        infos = [dict(STEP) if i % 3 else dict(RESET) for i in index]
    elif case == "lists-and-specials":
        index = [0, 2, 3]
        infos = [{"golden_answers": ["a", "b"], "sub": {"x": i}, "arr": np.arange(3) * i, "final_obs": f"o{i}",
                  "none": None, "question_id": "q"} for i in index]
        infos[1]["golden_answers"] = ["only"]
    elif case == "numpy-scalars":
        index = list(range(n))
        infos = [{"score": np.float32(i), "count": np.int16(i), "flag": np.bool_(i % 2)} for i in index]
    elif case == "mixed-types":  # the first env's type decides, later values are cast
        index = [0, 1, 2]
        infos = [{"f1": 1, "x": True, "s": "a"}, {"f1": 2.5, "x": 0.0, "s": 3}, {"f1": 3, "x": 1, "s": None}]
    else:
        index, infos = [], []
    got = stack_infos(index, infos, n, adder(n), None if keys is None else frozenset(keys))
    assert_same(got, reference(index, infos, n, keys))


def test_masks_are_independent_arrays():
    infos = stack_infos(range(3), [dict(STEP) for _ in range(3)], 3, adder(3))
    infos["_action"][0] = False
    assert infos["_noisy"].all() and infos["_f1"].all()


def test_vector_env_infos_match_gymnasium_through_autoreset(backend, examples):
    per_env = []

    class Recording(ZeroSearchVectorEnv):  # sees every env's own info dict, in env order
        def step(self, actions):
            originals = [(env, env.finish_step, env.reset) for env in self.envs]
            for i, (env, finish, reset) in enumerate(originals):
                env.finish_step = lambda p, r, i=i, finish=finish: _keep(per_env, i, finish(p, r), 4)
                env.reset = lambda i=i, reset=reset, **kw: _keep(per_env, i, reset(**kw), 1)
            try:
                return super().step(actions)
            finally:
                for env, _, _ in originals:
                    del env.finish_step, env.reset

    envs = Recording(num_envs=4, backend=backend, dataset=examples, max_turns=1, debug=True)
    envs.reset(seed=0)
    for actions in (["<search>q</search>", "<answer>Paris</answer>", "x", "<answer>no</answer>"],
                    ["<answer>Paris</answer>", "ignored", "<search>q</search>", "ignored"],
                    ["<search>q</search>"] * 4):
        per_env.clear()
        _, _, _, _, infos = envs.step(actions)
        index, env_infos = zip(*sorted(per_env, key=lambda pair: pair[0]))
        assert_same(infos, reference(index, env_infos, 4))
    lean = ZeroSearchVectorEnv(num_envs=2, backend=backend, dataset=examples, info_keys=("action", "f1"))
    _, infos = lean.reset(seed=0)
    assert infos == {}
    _, _, _, _, infos = lean.step(["<answer>x</answer>", "<search>q</search>"])
    assert sorted(infos) == ["_action", "_f1", "action", "f1"] and infos["action"].tolist() == ["answer", "search"]
    with pytest.raises(ValueError, match="expected info_keys"):
        ZeroSearchVectorEnv(num_envs=2, backend=backend, dataset=examples, info_keys="action")


def _keep(store, i, result, info_at):
    store.append((i, result[info_at]))
    return result
