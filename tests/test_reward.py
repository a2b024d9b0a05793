import pytest

from zerosearch_gym.reward import cover_exact_match, exact_match, f1_score, normalize_answer


@pytest.mark.parametrize(
    "text, expected",
    [("The Beatles!", "beatles"), ("  a  b\tc ", "b c"), ("An apple, the pear", "apple pear"), ("Théâtre", "théâtre")],
)
def test_normalize(text, expected):
    assert normalize_answer(text) == expected


@pytest.mark.parametrize(
    "prediction, golds, expected",
    [
        ("Paris", ["Paris"], 1.0),
        ("the city of Paris", ["Paris"], 2 * (1 / 3) * 1 / (1 / 3 + 1)),  # p = 1/3, r = 1 -> 0.5
        ("William Shakespeare", ["Shakespeare"], 2 / 3),  # p = 1/2, r = 1
        ("Shakespeare", ["William Shakespeare", "Shakespeare"], 1.0),  # max over golds
        ("London", ["Paris"], 0.0),
        ("", ["Paris"], 0.0),
        ("paris paris", ["paris"], 2 / 3),  # p = 1/2 (one match counted once), r = 1
        ("Paris", [], 0.0),
    ],
)
def test_f1_hand_computed(prediction, golds, expected):
    assert f1_score(prediction, golds) == pytest.approx(expected)


def test_exact_and_cover_match():
    assert exact_match("The Paris.", ["paris"]) == 1.0
    assert exact_match("Paris France", ["paris"]) == 0.0
    assert cover_exact_match("Paris France", ["paris"]) == 1.0
    assert cover_exact_match("Par", ["paris"]) == 0.0
    assert cover_exact_match("anything", ["the"]) == 0.0  # a gold that normalizes to "" never matches
    assert exact_match("x", "x") == 1.0  # a single gold string works too


def test_normalize_answer_matches_the_squad_rule_on_random_text():
    import random
    import re
    import string

    def squad(text):  # the reference: lowercase, drop punctuation, drop articles, collapse whitespace
        text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
        return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())

    rng = random.Random(0)
    pieces = ["a", "an", "the", "The", "A", " ", "\n", "\t", "x", "Paris", "-", ",", ".", "—", "é", "\x00", "1", "_",
              "theater", "an-", "’", "ß", "İ"]
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        assert normalize_answer(text) == squad(text), repr(text)
