"""The scripted policy: it searches, then answers with a span it reads in the documents (never the gold)."""
import gymnasium as gym
import numpy as np
import pytest

from agents.scripted import ScriptedPolicy, answer_type, extract_answer
from zerosearch_gym import load_qa_dataset
from zerosearch_gym.protocol import policy_prompt


@pytest.mark.parametrize("question,documents,expected", [
    ("What year was Ford founded?", "Doc 1: (Title: Ford Motor Company) The Ford Motor Company is an American "
     "automobile maker. It was founded by Henry Ford and incorporated on June 16, 1903. In 1911 it grew.", "1903"),
    ("What is the height of K2?", "Doc 1: K2 is the second-highest mountain on Earth, at 8,611 m above sea level.",
     "8,611 m"),
    ("Who is the founder of Amazon?", "Doc 1: (Title: Amazon (company)) Amazon is an American technology company. "
     "Founded in 1994 by Jeff Bezos in Bellevue, Washington, it started as an online bookstore.", "Jeff Bezos"),
    ("What is the headquarter of Microsoft?", "Doc 1: Microsoft is an American technology company "
     "headquartered in Redmond, Washington. Its best-known products are Windows and Office.", "Redmond, Washington"),
    ("What is Sarah Neufeld's website?", "Doc 1: Sarah Neufeld is a Canadian violinist; her website is "
     "sarahneufeldmusic.com and she tours with Arcade Fire.", "sarahneufeldmusic.com"),
    ("What is the capital of Pakistan?", "Doc 1: (Title: Karachi) Karachi is the largest city in Pakistan.\n"
     "Doc 2: (Title: Islamabad) Islamabad is the capital city of Pakistan.", "Islamabad"),
])
def test_extracts_the_span_the_question_asks_for(question, documents, expected):
    assert extract_answer(question, documents) == expected


def test_answer_types():
    assert [answer_type(q) for q in ("How many moons does Mars have?", "Where is the Louvre?",
                                     "Which band recorded Abbey Road?")] == ["number", "place", "entity"]
    assert extract_answer("Who wrote it?", "") == "" and extract_answer("Who wrote it?", "Doc 1: no names here.") == ""


def test_turns_follow_the_protocol():
    """The first turn searches the question; after the documents, the answer comes from them."""
    policy = ScriptedPolicy()
    prompt = policy_prompt("Which company owns Facebook?")
    first = policy.act(prompt)
    assert first.endswith("<search> Which company owns Facebook? </search>") and first.startswith("<think>")
    docs = ("\n\n<information>Doc 1: Facebook is a social networking service owned by the technology "
            "conglomerate Meta Platforms.</information>\n\n")
    second = policy.act(prompt + first + docs)
    assert second.endswith("<answer> Meta Platforms </answer>")
    assert ScriptedPolicy(searches=2).act(prompt + first + docs).count("<search>") == 1  # a second search


def test_mean_f1_on_questions_the_offline_wikipedia_answers():
    """Against real BM25 search over the offline Wikipedia summaries, five documents per search and two
    search turns: measured 0.42 (0.12 before the extractor read the question's type and the words around each
    candidate). ``zerosearch eval`` searches with three documents; its figures are in benchmarks/RESULTS.md
    (*Evaluation*), rerun by tests/test_readme.py."""
    examples = load_qa_dataset("sample:in-wiki")
    n = len(examples)
    envs = gym.make_vec("ZeroSearch-v0", num_envs=n, vectorization_mode="vector_entry_point", backend="bm25",
                        dataset=examples, max_turns=2, noise=0.0)
    obs, _ = envs.reset(seed=0, options={"examples": list(range(n))})
    policy, transcripts, active, rewards = ScriptedPolicy(), list(obs), np.ones(n, dtype=bool), np.zeros(n)
    while active.any():
        actions = [policy.act(t) if a else "" for t, a in zip(transcripts, active)]
        obs, reward, terminated, truncated, _ = envs.unwrapped.step_active(actions, active)
        for i in np.flatnonzero(active):
            transcripts[i] += actions[i] + obs[i]
            rewards[i] = reward[i]
        active &= ~(terminated | truncated)
    envs.close()
    assert n > 50 and rewards.mean() > 0.35, rewards.mean()
