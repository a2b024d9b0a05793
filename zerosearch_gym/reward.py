"""Answer rewards: SQuAD-style normalization, word-level F1, exact match and cover exact match.

Each score takes a prediction and one gold answer or a list of them (the max over golds is returned).
"""
from __future__ import annotations

import re
import string
from functools import lru_cache
from typing import Iterable, Union

Golds = Union[str, Iterable[str]]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)
_PUNCT_BYTES = string.punctuation.encode()
_ARTICLE_WORDS = frozenset(("a", "an", "the"))


def normalize_answer(text: str) -> str:
    """Lowercase, drop punctuation, drop the articles a/an/the, collapse whitespace.

    >>> normalize_answer("  The Eiffel-Tower, Paris! ")
    'eiffeltower paris'
    """
    text = drop_punctuation(text.lower())
    words = text.split()
    if text.isascii() and "".join(words).isalnum():  # plain words: an article is a whole word
        return " ".join([w for w in words if w not in _ARTICLE_WORDS])
    return " ".join(_ARTICLES.sub(" ", text).split())


def drop_punctuation(text: str) -> str:
    """``text`` without ASCII punctuation (``string.punctuation``), as SQuAD's normalization drops it.

    >>> drop_punctuation("Eiffel-Tower, Paris! (1889)")
    'EiffelTower Paris 1889'
    """
    if text.isascii():  # bytes.translate deletes ~8x faster than str.translate with a deletion table
        return text.encode().translate(None, _PUNCT_BYTES).decode()
    return text.translate(_PUNCT)


def _golds(golds: Golds) -> list[str]:
    return [golds] if isinstance(golds, str) else list(golds)


def _f1_normalized(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    counts: dict[str, int] = {}
    for token in gold_tokens:
        counts[token] = counts.get(token, 0) + 1
    common = 0  # size of the multiset intersection
    for token in pred_tokens:
        left = counts.get(token)
        if left:
            common += 1
            counts[token] = left - 1
    if common == 0:
        return 0.0
    precision = common / len(pred_tokens)
    recall = common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, golds: Golds) -> float:
    """Word-level F1 between the normalized prediction and the best-matching gold answer.

    >>> f1_score("Paris France", ["paris"])
    0.6666666666666666
    >>> f1_score("London", ["Paris", "City of Light"])
    0.0
    """
    pred_tokens = normalize_answer(prediction).split()
    return max((_f1_normalized(pred_tokens, normalize_answer(g).split()) for g in _golds(golds)), default=0.0)


def exact_match(prediction: str, golds: Golds) -> float:
    """1.0 when the normalized prediction equals a normalized gold answer (Search-R1's EM).

    >>> exact_match("the Paris", ["Paris"]), exact_match("Paris, France", "Paris")
    (1.0, 0.0)
    """
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(gold) for gold in _golds(golds)))


def cover_exact_match(prediction: str, golds: Golds) -> float:
    """1.0 when a normalized gold answer occurs in the normalized prediction (ZeroSearch's tables use this).

    >>> cover_exact_match("It is Paris, France", ["paris"])
    1.0
    """
    pred = normalize_answer(prediction)
    return float(any(normalize_answer(gold) and normalize_answer(gold) in pred for gold in _golds(golds)))


def answer_scores(prediction: str, golds: Golds) -> dict[str, float]:
    """``f1``, ``em`` and ``cover_em`` at once (each text normalized once), max over golds.

    >>> answer_scores("Paris, France", ["paris"])
    {'f1': 0.6666666666666666, 'em': 0.0, 'cover_em': 1.0}
    """
    pred = normalize_answer(prediction)
    pred_tokens = pred.split()
    f1 = em = cover_em = 0.0
    for gold in _normalized(golds if isinstance(golds, tuple) else tuple(_golds(golds))):
        f1 = max(f1, _f1_normalized(pred_tokens, gold.split()))
        if pred == gold:
            em = 1.0
        if gold and gold in pred:
            cover_em = 1.0
    return {"f1": f1, "em": em, "cover_em": cover_em}


def answer_in_text(text: str, golds: Golds) -> bool:
    """True when a normalized gold answer occurs in the normalized ``text`` as whole words.

    >>> answer_in_text("The capital is PARIS, France.", ["paris"]), answer_in_text("Parisian cafés", "Paris")
    (True, False)
    """
    stripped = drop_punctuation(text.lower())  # every word of a gold answer must be in here: a cheap check
    haystack = None
    for gold, words in _gold_words(golds if isinstance(golds, tuple) else tuple(_golds(golds))):
        for word in words:
            if word not in stripped:
                break
        else:
            haystack = haystack or f" {normalize_answer(text)} "
            if f" {gold} " in haystack:
                return True
    return False


@lru_cache(maxsize=4096)
def _gold_words(golds: tuple[str, ...]) -> tuple[tuple[str, list[str]], ...]:
    return tuple((gold, gold.split()) for gold in normalized_golds(golds))


@lru_cache(maxsize=4096)
def _normalized(golds: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(map(normalize_answer, golds))


def normalized_golds(golds: tuple[str, ...]) -> tuple[str, ...]:
    """The non-empty normalized forms of ``golds`` (cached: an episode's golds are checked at every search)."""
    return tuple(g for g in _normalized(golds) if g)
