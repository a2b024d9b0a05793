import random
import re

import pytest

from zerosearch_gym import protocol
from zerosearch_gym.protocol import parse_action


@pytest.mark.parametrize(
    "turn, kind, content",
    [
        ("<think>x</think><search>capital of France</search>", "search", "capital of France"),
        ("<think>x</think><answer> Paris </answer>", "answer", "Paris"),
        ("<search>a</search><answer>b</answer>", "search", "a"),  # both tags: the first wins
        ("<answer>b</answer><search>a</search>", "answer", "b"),
        ("<answer>x </search> y</answer>", "answer", "x </search> y"),  # a closing tag of the other kind
        ("<search><search>q</search></search>", "search", "<search>q"),  # nested: up to the first close
        ("<search>Straße 中文 😀</search>", "search", "Straße 中文 😀"),
        ("<answer></answer>", "answer", ""),  # an empty answer ends the episode (and scores 0)
        ("<search>multi\nline</search>", "search", "multi\nline"),
    ],
)
def test_valid_turns(turn, kind, content):
    action = parse_action(turn)
    assert (action.kind, action.content) == (kind, content)


@pytest.mark.parametrize(
    "turn, reason",
    [
        ("Paris", "no <search>"),
        ("", "no <search>"),
        ("   \n\t ", "no <search>"),
        ("<search>unclosed", "no <search>"),
        ("<search>a</answer>", "no <search>"),
        ("<search>   </search>", "empty search query"),
        (None, "expected the action to be a str"),
        (b"<search>x</search>", "expected the action to be a str"),
    ],
)
def test_invalid_turns(turn, reason):
    action = parse_action(turn)
    assert action.kind == "invalid"
    assert reason in action.reason


def test_policy_prompt_matches_zerosearch_text():
    prompt = protocol.policy_prompt("  who wrote hamlet ")
    assert prompt.startswith("Answer the given question. You must conduct reasoning inside <think> and </think>")
    assert "You can search as many times as your want." in prompt
    assert prompt.endswith("For example, <answer> Beijing </answer>. Question: who wrote hamlet?\n")
    assert protocol.policy_prompt("Why?").endswith("Question: Why?\n")


def test_cut_keeps_limit_and_says_how_much_was_dropped():
    text, was_cut = protocol.cut("x" * 10_000, 100)
    assert was_cut and len(text) == 100 and text.endswith("[truncated 9929 characters]")
    assert protocol.cut("short", 100) == ("short", False)


def test_information_observation_format_and_limits():
    obs, cut = protocol.information_observation(["a", "b"])
    assert obs == "\n\n<information>Doc 1: a\nDoc 2: b</information>\n\n" and not cut
    assert protocol.information_observation([])[0] == "\n\n<information>No information available.</information>\n\n"
    obs, cut = protocol.information_observation(["y" * 5000], max_chars=300)
    assert cut and len(obs) <= 300 and obs.endswith("</information>\n\n")


ZEROSEARCH_ACTION_RE = re.compile(r"<(search|answer)>(.*?)</\1>", re.DOTALL)  # the reference rule (quadratic)
FRAGMENTS = ["<search>", "</search>", "<answer>", "</answer>", "<search", "answer>", "</", "<", ">", "q", " ",
             "\n", "<Search>", "</search >", "x y"]


def test_parsing_matches_the_zerosearch_regex_on_random_turns():
    rng = random.Random(0)
    for _ in range(20_000):
        turn = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 12)))
        match = ZEROSEARCH_ACTION_RE.search(turn)
        action = parse_action(turn)
        if match is None:
            assert action.kind == "invalid", turn
        elif match.group(1) == "search" and not match.group(2).strip():
            assert (action.kind, action.reason) == ("invalid", "empty search query"), turn
        else:
            assert (action.kind, action.content) == (match.group(1), match.group(2).strip()), turn


@pytest.mark.parametrize(
    "turn, kind, content",
    [
        ("<search>" * 25_000, "invalid", ""),  # 200k characters of unclosed tags (30 s with the plain regex)
        ("<search>" * 25_000 + "</answer>", "invalid", ""),
        ("<search>" * 25_000 + "<answer>a</answer>", "answer", "a"),
        ("<answer>" * 12_500 + "<search>" * 12_500 + "q</search>", "search", "<search>" * 12_499 + "q"),
        ("<search>" * 25_000 + "q</search>", "search", "<search>" * 24_999 + "q"),
        ("x" * 200_000 + "<answer>a</answer>", "answer", "a"),
    ],
)
def test_long_pathological_turns_parse_correctly(turn, kind, content):
    action = parse_action(turn)
    assert (action.kind, action.content) == (kind, content)
