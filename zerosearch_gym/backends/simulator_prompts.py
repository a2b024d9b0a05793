"""The simulator's prompt texts (exactly as the published ZeroSearch simulators were tuned on them) and the
parser that turns its "Doc 1: … Doc 5: …" output into documents.

Modes: ``"sft"`` for fine-tuned simulators (e.g. ``sunhaonlp/Simulation_LLM_google_3B_V2``),
``"prompt"`` (one-shot) for untuned instruct models, and ``"sft-blind"``: the ``sft`` template whose noisy
prompt does not hold the answer (a small simulator cannot leak what it is not shown; the shipped SmolLM2
adapter is tuned on it). The published simulators were tuned on ``sft``: keep it for them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..protocol import normalize_question
from ..tools.core import SimulatedTool, ToolCall, ToolOutputError
from .base import Documents, SearchRequest, SearchResult

_SFT = (
    "You are the Google search engine.\n"
    "Given a query, you need to generate five {kind} documents for the query.\n\n"
    'The user is trying to answer the question: "{problem}" whose answer is {ground_truth}.\n'
    "Each document should contain about 30 words, and these documents should contain {kind} information.\n\n"
    "Query: {query}\n"
    "{Kind} Output:\n"
)

# sft-blind's noisy prompt: the sft template without " whose answer is {ground_truth}".
_SFT_BLIND_NOISY = _SFT.replace(" whose answer is {ground_truth}", "")

_PROMPT_USEFUL = (
    "You are the Google search engine.\n"
    "Given a query, you need to imitate the style of the following demos and generate five useful documents "
    "for the query.\n\n"
    "Here is an example:\n"
    "Query: George Washington Bridge opening year\n"
    "Useful Output:\n"
    "Doc 1: The George Washington Bridge, an iconic structure connecting New York City to New Jersey, opened on "
    "October 25, 1931. Designed by Othmar Ammann, it marked a major milestone in civil engineering.\n"
    "Doc 2: Originally the Hudson River Bridge, the George Washington Bridge was named after the U.S.'s first "
    "president. Its 3,500-foot suspension span was the world's longest at completion in 1931.\n"
    "Doc 3: The bridge was modified in 1962 with added lower deck lanes, increasing capacity and easing "
    "congestion. This expansion transformed the bridge into a double-decked structure with twelve lanes.\n"
    "Doc 4: Constructed over four years, the George Washington Bridge's steel towers and cables exemplified "
    "engineering progress. It crucially linked New York and New Jersey's transportation networks.\n"
    "Doc 5: Handling over 103 million annual vehicles, the George Washington Bridge is globally one of the "
    "busiest. The Port Authority of NY and NJ oversees its traffic and infrastructure maintenance.\n\n"
    'The user is trying to answer the question: "{problem}" whose answer is {ground_truth}.\n'
    "You should generate documents that can help the user find the answer.\n"
    "Each document should contain about 30 words.\n"
    "You must directly output the English documents and not output any other texts.\n\n"
    "Query: {query}\n"
    "Useful Output:\n"
)

_PROMPT_NOISY = (
    "You are the Google search engine. \n"
    "Given a query, you need to imitate the style of the following demos and generate five related but noisy "
    "documents for the query.\n\n"
    "Here is an example:\n"
    "Query: George Washington Bridge opening year\n"
    "Noisy Output:\n"
    "Doc 1: The George Washington Bridge was a significant addition to New York's infrastructure, but there "
    "were many challenges during its construction, including budget overruns and worker strikes.\n"
    "Doc 2: While often mistaken for the opening of another iconic bridge, the Brooklyn Bridge, the George "
    "Washington Bridge has its own storied history involving political maneuvering and urban planning debates "
    "that shaped the bridge's final design.\n"
    "Doc 3: Discussions about the naming of the George Washington Bridge are interesting, as it was named to "
    "honor the first President of the United States. The name choice was significant given the geographical "
    "and historical implications of Washington's legacy.\n"
    "Doc 4: The bridge has been a point of contention over toll increases, traffic congestion solutions, and "
    "environmental impact assessments, which continue to affect policy decisions in the area.\n"
    "Doc 5: Considerations around the visual and architectural design of the George Washington Bridge also "
    "played a crucial role in its legacy as a landmark, balancing aesthetics with functionality.\n\n"
    "Each document should contain about 30 words, and these documents should contain related but noisy "
    "information.\n"
    "You must directly output the English documents and not output any other texts.\n\n"
    "Query: {query}\n"
    "Noisy Output:\n"
)

MODES = ("sft", "prompt", "sft-blind")

# Sampling settings of the ZeroSearch simulator.
SIMULATOR_TEMPERATURE = 0.8
SIMULATOR_MAX_NEW_TOKENS = 600


def _kind(template: str, kind: str) -> str:
    """ZeroSearch's sft template with its ``{kind}`` switch set (the tool's useful or noisy template)."""
    return template.replace("{kind}", kind).replace("{Kind}", kind.capitalize()).replace("{query}", "{input}")


def _enough_search(text: str, call: ToolCall) -> bool:
    return enough_documents(text, call.context["top_k"])


def _parse_search(text: str, call: ToolCall) -> Documents:
    parsed = parse_documents(text, call.context["top_k"])
    if not parsed.documents:
        raise ToolOutputError(parsed.malformed)
    return Documents(parsed.documents, parsed.malformed)


# Search documents as a SimulatedTool, one per mode: the quality switch is ZeroSearch's useful/noisy word.
SEARCH_TOOLS = {
    "sft": SimulatedTool("search", _kind(_SFT, "useful"), _kind(_SFT, "noisy"), _parse_search,
                         enough=_enough_search),
    "prompt": SimulatedTool("search", _kind(_PROMPT_USEFUL, "useful"), _kind(_PROMPT_NOISY, "noisy"), _parse_search,
                            enough=_enough_search),
    "sft-blind": SimulatedTool("search", _kind(_SFT, "useful"), _kind(_SFT_BLIND_NOISY, "noisy"), _parse_search,
                               enough=_enough_search),
}


def check_mode(mode: str) -> str:
    """``mode`` when it is a simulator mode, else the one ValueError every simulator backend raises."""
    if mode not in MODES:
        raise ValueError(f"expected simulator mode {', '.join(map(repr, MODES))}, got {mode!r}")
    return mode


def search_tool(mode: str = "sft") -> SimulatedTool:
    """The search simulator as a :class:`~zerosearch_gym.tools.SimulatedTool` (``mode``: one of MODES)."""
    return SEARCH_TOOLS[check_mode(mode)]


def search_call(request: SearchRequest) -> ToolCall:
    """The tool call of one search request: its query, the episode's question and first gold answer, top_k."""
    context = {"problem": normalize_question(request.question),
               "ground_truth": request.answers[0] if request.answers else "", "top_k": request.top_k}
    return ToolCall(request.query, request.useful, context, request.seed)


def simulator_prompt(request: SearchRequest, mode: str = "sft") -> str:
    """The user message a simulator gets for ``request`` (the episode's question and first gold answer).

    >>> r = SearchRequest("Paris population", "What is the capital of France", ("Paris",), useful=False)
    >>> print(simulator_prompt(r).splitlines()[-1])
    Noisy Output:
    """
    return search_tool(mode).prompt(search_call(request))


def simulator_messages(request: SearchRequest, mode: str = "sft") -> list[dict]:
    """Chat messages for the simulator: an empty system message and the prompt as the user message."""
    return search_tool(mode).messages(search_call(request))


# A document marker at the start of a line: "Doc 1:", "Document 2.", "**Doc 3:**". Only spaces and tabs may
# surround it, so an empty document ("Doc 1:\nDoc 2: b") can never swallow the next line's marker.
_DOC_RE = re.compile(r"^[ \t]*\**[ \t]*Doc(?:ument)?[ \t]*(\d+)[ \t]*\**[ \t]*[:.][ \t]*\**", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class ParsedDocuments:
    documents: list[str]
    malformed: str | None  # why the output did not hold top_k well-formed documents, else None


def parse_documents(text: str, top_k: int = 5) -> ParsedDocuments:
    """Split simulator output "Doc 1: …\\nDoc 2: …" into at most ``top_k`` documents.

    Markers count only at the start of a line. Output without any marker becomes one document (if not
    empty) and is reported as malformed; an empty document is left out and reported, never merged.

    >>> parse_documents("Doc 1: Paris is the capital.\\nDoc 2: It is in France.", top_k=2).documents
    ['Paris is the capital.', 'It is in France.']
    >>> parse_documents("Paris is nice.", top_k=5).malformed
    'no "Doc i:" markers in simulator output'
    >>> parse_documents("Doc 1:\\nDoc 2: b\\nDoc 3: c", top_k=3)
    ParsedDocuments(documents=['b', 'c'], malformed='simulator wrote 2 of 3 documents; Doc 1 was empty')
    """
    text = text.strip()
    marks = list(_DOC_RE.finditer(text))
    if not marks:
        docs = [text] if text else []
        return ParsedDocuments(docs, "empty simulator output" if not text else 'no "Doc i:" markers in simulator output')
    docs, empty = [], []
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        doc = " ".join(text[mark.end():end].split())
        if doc:
            docs.append(doc)
        elif len(docs) < top_k:
            empty.append(f"Doc {mark.group(1)}")
    docs = docs[:top_k]
    problems = [] if len(docs) == top_k else [f"simulator wrote {len(docs)} of {top_k} documents"]
    if empty:
        problems.append(f"{', '.join(empty)} {'was' if len(empty) == 1 else 'were'} empty")
    return ParsedDocuments(docs, "; ".join(problems) or None)


def enough_documents(text: str, top_k: int) -> bool:
    """Whether ``text`` already holds every document :func:`parse_documents` keeps: ``top_k`` non-empty ones,
    each closed by the next marker (whatever follows is dropped). The templates ask for five documents; a
    search of three needs the first three, so a simulator may stop at "Doc 4:" with the same result.

    >>> enough_documents("Doc 1: a\\nDoc 2: b\\nDoc 3: c", 2), enough_documents("Doc 1: a\\nDoc 2:\\nDoc 3: c", 2)
    (True, False)
    """
    marks = list(_DOC_RE.finditer(text))
    return sum(1 for a, b in zip(marks, marks[1:]) if text[a.end():b.start()].strip()) >= top_k


def simulator_documents(text, top_k: int, source: str, detail: str = "") -> SearchResult:
    """The one output policy of every simulator backend (hf, vllm, openai): text → documents or an error.

    Empty output (or not a string) is a :class:`BackendError` naming ``source`` (and ``detail``, e.g. the
    finish reason); any other text becomes :class:`Documents`, with ``malformed`` set when it did not hold
    ``top_k`` well-formed documents (the env shows that as ``info["backend_warning"]``).

    >>> simulator_documents("  ", 5, "hf simulator m")
    BackendError(message='hf simulator m: empty simulator output')
    >>> docs = simulator_documents("Doc 1: a\\nDoc 2: b", 3, "x"); (list(docs), docs.malformed)
    (['a', 'b'], 'simulator wrote 2 of 3 documents')
    """
    return SEARCH_TOOLS["sft"].result(text, ToolCall("", context={"top_k": top_k}), source, detail)
