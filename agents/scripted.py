"""A scripted policy: think, search the question, then answer with a span extracted from the documents.

It needs no model, so it drives the demo and writes warm-start trajectories for small policies. Like an LLM
policy it only reads the transcript (never the gold answers). The extractor is a small reading heuristic:

1. the question's wh-word and nouns give the expected answer type (year, number, person, place, web address,
   or any named entity);
2. every document sentence offers candidate spans of that type (capitalized phrases, numbers with their
   units, years, domain names) that do not repeat the question;
3. a candidate scores by how many question words stand just before it ("… headquartered in *Cupertino,
   California*"), how many the sentence and the document title share with the question, the document's
   rank, and how often the documents repeat it. The best one is the answer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_INFORMATION = re.compile(r"<information>(.*?)</information>", re.DOTALL)
_DOC_SPLIT = re.compile(r"Doc \d+\s*:")
_TITLE = re.compile(r"^\s*\(Title:\s*([^)]*)\)")
_SENTENCE_END = re.compile(r"(?<!\bMr\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bSt\.)(?<!\bJr\.)(?<!\bMrs\.)"
                           r"(?<=[a-z0-9)\]][.!?;])\s+(?=[A-Z0-9\"'(])")
_WORD = re.compile(r"[\w'’.-]+")

_CAP = r"[A-Z][\w'’.-]*"
_JOIN = r"(?:\s+(?:of|the|de|del|la|von|van|da|di|du|le|bin)\b)*\s+"
_PATTERNS = {  # kind -> pattern; ordered from most to least specific
    "url": r"\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|io|edu|gov|co|uk|de|fr|info)\b",
    "century": r"\b\d{1,2}(?:st|nd|rd|th) century(?: BC| BCE| AD| CE)?",
    "number": r"\b\d[\d,]*(?:\.\d+)?(?:\s+(?:million|billion|thousand|trillion))?(?:\s+(?:square\s+)?"
              r"(?:km2|km|m|ft|mi|miles|feet|metres|meters|kilometres|kilometers|acres|hectares)\b)?",
    "place": rf"\b{_CAP}(?:\s+{_CAP})?,\s+{_CAP}(?:\s+{_CAP})?",
    "name": rf"\b{_CAP}(?:{_JOIN}{_CAP})*",
}
_YEAR = re.compile(r"^(?:1\d{3}|20\d{2}|\d{1,3})$")
_STOP = set("""a an the of in on at to for from by with and or is was were are be been being do does did has
have had what which who whom whose when where why how that this these those it its as into about there their
his her they he she name one give tell me known located""".split())
_HONORIFICS = re.compile(r"^(?:Mr|Mrs|Ms|Dr|Sir|Lord|Lady|St)\.?\s+")
_ORG_HEADS = {"university", "college", "institute", "school", "company", "corporation", "inc", "party", "club",
              "team", "band", "group", "academy", "platforms"}
_SKIP = {"Doc", "Mr", "Mrs", "Ms", "Dr", "The", "A", "An", "It", "In", "This", "He", "She", "They", "Title", "No", "Its", "As", "On", "At",
         "For", "By", "With", "His", "Her", "Their", "There", "However", "After", "Before", "During", "Since"}
_TYPES = [  # (answer type, question cues) — the first match wins
    ("url", ("website", "web site", "url", "homepage", "domain")),
    ("year", ("what year", "which year", "when", "founding year", "establishment year", "year ")),
    ("number", ("how many", "how much", "how large", "how big", "how tall", "how high", "how long", "how old",
                "how far", "height", "population", "area", "length", "elevation", "size", "number of")),
    ("person", ("who ", "whom", "founder", "director", "vocalist", "singer", "architect", "inventor", "owner",
                "author", "ceo", "president of", "leader")),
    ("org", ("alma mater", "university", "college", "school", "company", "party", "club", "team")),
    ("place", ("where", "city", "state", "country", "capital", "headquarter", "born", "located", "continent")),
]
# how well a candidate kind fits an answer type
_FIT = {"url": {"url": 3.0}, "org": {"name": 1.0, "place": 0.5}, "year": {"century": 3.0, "year": 3.0, "number": 0.5},
        "number": {"number": 3.0, "year": 1.0}, "person": {"name": 1.0},
        "place": {"place": 1.5, "name": 1.0}, "entity": {"name": 1.0, "place": 1.0}}


class ScriptedPolicy:
    """``act(transcript) -> turn``: first a search for the question, then an answer from the documents.

    >>> policy, prompt = ScriptedPolicy(), "Answer the given question. … Question: Who wrote Hamlet?\\n"
    >>> policy.act(prompt)
    '<think>I need to find out: Who wrote Hamlet?</think>\\n<search> Who wrote Hamlet? </search>'
    >>> docs = "<information>Doc 1: Hamlet is a play by William Shakespeare.</information>"
    >>> policy.act(prompt + "<search>x</search>" + docs)
    '<think>The documents point to William Shakespeare.</think>\\n<answer> William Shakespeare </answer>'
    """

    def __init__(self, searches: int = 1):
        self.searches = searches

    def act(self, transcript: str) -> str:
        question, after_prompt = split_prompt(transcript)
        infos = _INFORMATION.findall(after_prompt)
        if len(infos) < self.searches:
            return f"<think>I need to find out: {question}</think>\n<search> {question} </search>"
        answer = extract_answer(question, "\n".join(infos)) or "unknown"
        return f"<think>The documents point to {answer}.</think>\n<answer> {answer} </answer>"


def split_prompt(transcript: str) -> tuple[str, str]:
    """The question of the policy prompt, and the transcript after the prompt (the template itself mentions
    the tags, so only what follows its "Question: …" line counts)."""
    _, _, rest = transcript.partition("Question: ")
    question, _, after = rest.partition("\n")
    return question.strip(), after


def answer_type(question: str) -> str:
    """The kind of answer a question asks for: url, year, number, person, place or entity.

    >>> [answer_type(q) for q in ("When was the Taj Mahal built?", "Who founded Amazon?", "What is Apple's website?")]
    ['year', 'person', 'url']
    """
    q = f" {question.lower()} "
    return next((kind for kind, cues in _TYPES if any(cue in q for cue in cues)), "entity")


@dataclass
class _Candidate:
    text: str
    kind: str
    score: float
    count: int


def extract_answer(question: str, information: str) -> str:
    """The best answer span for ``question`` in the documents of ``information`` ("" when there is none).

    >>> extract_answer("What is the headquarter of Apple?", "Doc 1: (Title: Apple Inc.) Apple Inc. is an "
    ...                "American technology company headquartered in Cupertino, California, and known for phones.")
    'Cupertino, California'
    >>> extract_answer("How tall is K2?", "Doc 1: K2, at 8,611 m above sea level, is the second-highest mountain.")
    '8,611 m'
    """
    ranked = rank_candidates(question, information)
    return ranked[0].text if ranked else ""


def rank_candidates(question: str, information: str) -> list[_Candidate]:
    """Every candidate answer span of the documents, best first (see the module docstring)."""
    wanted, q_stems = answer_type(question), _stems(question)
    topic = _stems(" ".join(re.findall(rf"(?<!^){_CAP}", question.strip())))  # the named things it asks about
    relation = q_stems - topic  # what it asks about them: "founding year", "capital", "headquarter"
    best: dict[str, _Candidate] = {}
    docs = [d for d in _DOC_SPLIT.split(information) if d.strip()]
    for rank, doc in enumerate(docs):
        title = _TITLE.match(doc)
        title_overlap = len(_stems(title.group(1)) & q_stems) if title else 0
        body = doc[title.end():] if title else doc
        for sentence in _SENTENCE_END.split(body):
            for text, kind, before, after in _candidates(sentence):  # before: nearest word last
                if not _acceptable(text, kind, q_stems):
                    continue
                fit = _FIT[wanted].get(kind, 0.0)
                if wanted == "person" and kind == "name" and len(text.split()) == 1:
                    fit = 0.3  # people have two names; one capitalized word is more often a nationality
                near = _nearness(before[::-1], relation, topic) + 0.8 * _nearness(after, relation, topic)
                if wanted == "org" and kind == "name" and text.split()[-1].lower().strip(".") in _ORG_HEADS:
                    fit = 2.0  # "Harvard University" for an alma mater, "Democratic Party" for a party
                echo = len(_stems(text) & q_stems - _stems(" ".join(_ORG_HEADS)))  # answers rarely repeat it
                # "American technology company": one capitalized word before a noun is a modifier, not a name
                modifier = len(text.split()) == 1 and bool(after) and after[0].islower() and after[0] not in _STOP
                score = (2.0 * fit + 2.0 * near + 0.3 * len(_stems(sentence) & q_stems)
                         + 0.5 * title_overlap - 0.1 * rank - echo - modifier
                         - 0.5 * bool(re.fullmatch(r"[A-Z.]{1,4}", text)))
                seen = best.get(text)
                if seen is None:
                    best[text] = _Candidate(text, kind, score, 1)
                else:  # repeated by the documents: a small bonus, up to three times
                    seen.score, seen.count = max(seen.score, score) + 0.3 * (seen.count < 4), seen.count + 1
    return sorted(best.values(), key=lambda c: (c.score, len(c.text.split())), reverse=True)


def _nearness(words: list[str], relation: set[str], topic: set[str]) -> float:
    """How close the question's words stand to a candidate (``words``: nearest first); relation words count
    fully, the question's named things a third; each decays with the distance in words."""
    score, seen = 0.0, set()
    for distance, word in enumerate(words, 1):
        stem = _stem(word)
        if stem in seen or not (stem in relation or stem in topic):
            continue
        seen.add(stem)
        score += (1.0 if stem in relation else 0.33) / (1 + distance / 2)
    return score


def _candidates(sentence: str):
    """(span, kind, up to 14 words before, up to 14 words after) for every candidate span of ``sentence``."""
    taken: list[tuple[int, int]] = []
    for kind, pattern in _PATTERNS.items():
        for m in re.finditer(pattern, sentence):
            start, end = m.span()
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            text = _HONORIFICS.sub("", m.group(0).strip(" ,;:'’-"))
            while len(text.split()) > 1 and text.split()[-1] in _SKIP:  # "Washington, D.C. The" -> "Washington, D.C."
                text = text.rsplit(None, 1)[0]
            text = text if re.search(r"\b[A-Z]\.$", text) else text.rstrip(".")
            if kind == "number" and _YEAR.match(text.replace(",", "")) and len(text) == 4:
                kind = "year"
            yield text, kind, _WORD.findall(sentence[:start])[-14:], _WORD.findall(sentence[end:])[:14]


def _acceptable(text: str, kind: str, q_stems: set[str]) -> bool:
    """Not empty, not a sentence-opening function word, and not just words of the question."""
    if not text or text in _SKIP or text.split()[0] in _SKIP and len(text.split()) == 1:
        return False
    if kind in ("name", "place"):
        words = _stems(text)
        return bool(words) and not words <= q_stems
    return True


def _stem(word: str) -> str:
    """A crude stem: lower case, no common suffix, at most 5 letters (founder/founded/founding -> "found")."""
    w = word.lower().strip(".'’-")
    if len(w) > 4:
        w = re.sub(r"(?:ing|ed|er|(?<!s)s)$", "", w)
    return w[:5]


def _stems(text: str) -> set[str]:
    """The stems of the content words of ``text``."""
    return {_stem(w) for w in _WORD.findall(text) if w.lower().strip(".'’-") not in _STOP} - {""}


class ScriptedActor:
    """:class:`ScriptedPolicy` as an actor of :func:`agents.episodes.play`: one turn from each transcript
    (``zerosearch demo``, ``zerosearch eval --policy scripted``)."""

    name, model = "scripted", None

    def __init__(self, max_turns: int = 4):
        self.policy, self.max_turns = ScriptedPolicy(), max_turns

    def act(self, episodes, seed) -> list[str]:
        return [self.policy.act(e.transcript) for e in episodes]

