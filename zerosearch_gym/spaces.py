"""A Gymnasium text space that admits any unicode text up to a maximum length."""
from __future__ import annotations

import copy
from typing import Any

import numpy as np
from gymnasium import spaces

# Printable ASCII plus a sample of other scripts: what ``sample()`` draws from (``contains`` admits any text).
_SAMPLE_CHARS = "".join(chr(c) for c in range(32, 127)) + "\n\téüßçñøåЖжλΩ中文日本語한국어😀"


class UnicodeText(spaces.Text):
    """Text of at most ``max_length`` characters, any unicode allowed.

    Gymnasium's ``Text`` only admits a fixed charset; LLM turns and documents hold any script.

    >>> UnicodeText(10).contains("Straße 中文")
    True
    """

    def __init__(self, max_length: int, min_length: int = 0, seed: Any = None):
        super().__init__(max_length=max_length, min_length=min_length, charset=_SAMPLE_CHARS, seed=seed)
        for name, table in _TABLES.items():  # one copy of the charset tables for every space (~18 KiB each)
            setattr(self, name, table)

    def __deepcopy__(self, memo: dict) -> UnicodeText:
        # batch_space deep-copies a sub-env's space once per env: the read-only charset tables stay shared
        new = copy.copy(self)
        for name, value in self.__dict__.items():
            if name not in _TABLES:
                setattr(new, name, copy.deepcopy(value, memo))
        return new

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, UnicodeText) and (self.min_length, self.max_length) == (
            other.min_length,
            other.max_length,
        )

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        length = int(self.np_random.integers(self.min_length, min(self.max_length, 64) + 1))
        chars = np.array(list(_SAMPLE_CHARS))
        return "".join(self.np_random.choice(chars, size=length))


# Gymnasium's Text keeps its charset as four read-only tables per space (a set, a tuple, an index, a string);
# every UnicodeText shares one set of them (the names that this Gymnasium version has).
_TABLES = {name: value for name, value in vars(spaces.Text(1, charset=_SAMPLE_CHARS)).items() if name.startswith("_char")}
