"""Gymnasium's vector info layout, built column by column instead of env by env.

``stack_infos`` returns exactly what calling ``VectorEnv._add_info`` once per env would (one array per key,
its dtype from the lowest-index env that has the key, zeros or ``None`` where an env has no value, and a
``_key`` boolean mask per key), at a fraction of the cost: envs whose infos share their keys are handled as
one block, one ``np.array`` per key and dtype. Values Gymnasium treats specially (dicts, arrays, ``final_obs``)
go through ``_add_info`` itself. ``add_columns`` takes the values as columns (the vector env's rows, transposed),
so a vector step builds no info dict at all.
"""
from operator import itemgetter
from typing import Callable, Collection, Sequence

import numpy as np

_NUMERIC = (int, float, bool)
_MASK_NAMES: dict = {}
_PLANS: dict = {}  # (names, types of the first values) -> _plan's answer
_KEPT: dict = {}  # (names, keys) -> (the names kept, their positions)
_TRUE: dict = {}  # (keys, envs) -> an all-True block of masks, copied for each step
_first = itemgetter(0)


def stack_infos(index: Sequence[int], infos: Sequence[dict], n: int, add_info: Callable,
                keys: Collection[str] | None = None) -> dict:
    """Infos of envs ``index[j]`` (``infos[j]``, ``index`` increasing) as Gymnasium's dict of arrays for ``n`` envs.

    ``add_info`` is the vector env's ``_add_info`` (the reference, used for special values); ``keys``, when
    given, keeps only those keys (a lean info for trainers that read a few).
    """
    out: dict = {}
    groups: dict = {}  # key tuple -> (indices, infos), in order of each group's first env
    for i, info in zip(index, infos):
        group = groups.get(tuple(info))
        if group is None:
            groups[tuple(info)] = ([i], [info])
        else:
            group[0].append(i)
            group[1].append(info)
    for names, (idx, group_infos) in groups.items():
        if len(names) == 1:
            columns = [[info[names[0]] for info in group_infos]]
        else:
            columns = list(zip(*map(itemgetter(*names), group_infos)))
        add_columns(out, names, idx, columns, n, add_info, keys)
    return out


def add_columns(out: dict, names: tuple, idx: list, columns: list, n: int, add_info: Callable,
                keys: Collection[str] | None = None) -> None:
    """Add to ``out`` the infos of envs ``idx`` (increasing) that all have the keys ``names``, given as one column
    of values per name: what ``stack_infos`` does for one group of envs, without their dicts. Groups go in order
    of their first env (Gymnasium's order: the first env with a key fixes its dtype)."""
    if keys is not None:
        kept = _KEPT.get((names, keys))
        if kept is None:
            if len(_KEPT) > 1024:
                _KEPT.clear()
            positions = [j for j, name in enumerate(names) if name in keys]
            kept = _KEPT[names, keys] = tuple(names[j] for j in positions), positions
        if len(kept[1]) < len(names):
            names, columns = kept[0], [columns[j] for j in kept[1]]
    if names and idx:
        _add_group(out, names, idx, columns, n, add_info)


def _add_group(out: dict, names: tuple, idx: list, columns: list, n: int, add_info: Callable) -> None:
    everyone = len(idx) == n  # increasing indices: all envs, in order
    special, blocks = _plan(names, tuple(map(type, map(_first, columns))))
    for j in special:  # Gymnasium's own rules for special values
        for i, value in zip(idx, columns[j]):
            add_info(out, {names[j]: value}, i)
    if out:  # another group already made some columns: fill our envs in, as _add_info would
        blocks = [(dtype, fresh, [names[j] for j in fresh], [_mask_name(names[j]) for j in fresh])
                  for dtype, positions, _, _ in blocks for fresh in [_fill(out, names, idx, columns, positions)] if fresh]
    if not blocks:
        return
    if everyone:
        masks = _TRUE.get((len(names), n))
        if masks is None:
            if len(_TRUE) > 64:
                _TRUE.clear()
            masks = _TRUE[len(names), n] = np.ones((len(names), n), dtype=bool)
        masks = masks.copy()
    else:
        masks = np.zeros((len(names), n), dtype=bool)
        masks[:, idx] = True
    row = 0  # one block of masks, one independent row per key
    for dtype, positions, keys, mask_keys in blocks:
        block = _block([columns[j] for j in positions], dtype, idx, n)
        out.update(zip(keys, block))
        out.update(zip(mask_keys, masks[row:row + len(keys)]))
        row += len(keys)


def _block(cols: list, dtype: type, idx: list, n: int) -> np.ndarray:
    """The ``(len(cols), n)`` array of one dtype's columns for envs ``idx`` (zeros / ``None`` elsewhere)."""
    dense = None
    if dtype is not object:
        dense = np.array(cols, dtype=dtype)
    else:  # each value one cell: numpy keeps any object whole, except that it unpacks a column of equal-length
        try:  # sequences (e.g. lists) into a third axis, which the shape tells
            dense = np.array(cols, dtype=object)
        except ValueError:
            pass
        if dense is not None and dense.shape != (len(cols), len(idx)):
            dense = None
    if dense is not None and len(idx) == n:
        return dense
    block = np.zeros((len(cols), n), dtype=dtype) if dtype is not object else np.empty((len(cols), n), object)
    if dense is not None:
        block[:, idx] = dense
    else:  # lists, tuples, …: one cell each
        for values, column in zip(block, cols):
            _assign(values, idx, column, True)
    return block


def _plan(names: tuple, types: tuple) -> tuple[list, list]:
    """``(special positions, [(dtype, positions, their keys, their mask keys)])`` of a group's columns from their
    first values' types: the same for every step of a vector env, so worked out once."""
    plan = _PLANS.get((names, types))
    if plan is None:
        special, blocks = [], {}
        for j, (name, kind) in enumerate(zip(names, types)):
            if name == "final_obs" or issubclass(kind, (dict, np.ndarray)):
                special.append(j)
            else:
                blocks.setdefault(kind if kind in _NUMERIC or issubclass(kind, np.number) else object, []).append(j)
        if len(_PLANS) > 1024:
            _PLANS.clear()
        plan = _PLANS[names, types] = special, [(dtype, positions, [names[j] for j in positions],
                                                 [_mask_name(names[j]) for j in positions])
                                                for dtype, positions in blocks.items()]
    return plan


def _fill(out: dict, names: tuple, idx: list, columns: list, positions: list) -> list:
    """Fill in the columns that ``out`` already has; the positions of the others."""
    fresh = []
    for j in positions:
        array = out.get(names[j])
        if array is None:
            fresh.append(j)
        else:
            _assign(array, idx, columns[j], array.dtype == object)
            out[_mask_name(names[j])][idx] = True
    return fresh


def _mask_name(name: str) -> str:
    return _MASK_NAMES.get(name) or _MASK_NAMES.setdefault(name, "_" + name)


def _assign(array: np.ndarray, idx: list, column: Sequence, is_object: bool) -> None:
    if is_object and not all(type(v) is str for v in column):  # lists, tuples, …: one cell each
        for i, value in zip(idx, column):
            array[i] = value
    else:
        array[idx] = column
