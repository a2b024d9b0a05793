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


def test_lean_info_keys(backend, examples):
    """Only the keys asked for (the vector env's infos against Gymnasium's, through autoresets: test_vector_rows.py)."""
    lean = ZeroSearchVectorEnv(num_envs=2, backend=backend, dataset=examples, info_keys=("action", "f1"))
    _, infos = lean.reset(seed=0)
    assert infos == {}
    _, _, _, _, infos = lean.step(["<answer>x</answer>", "<search>q</search>"])
    assert sorted(infos) == ["_action", "_f1", "action", "f1"] and infos["action"].tolist() == ["answer", "search"]
    with pytest.raises(ValueError, match="expected info_keys"):
        ZeroSearchVectorEnv(num_envs=2, backend=backend, dataset=examples, info_keys="action")
