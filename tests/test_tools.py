"""SimulatedTool and ZeroSearchCalculator-v0: the real calculator, a simulated one on a real 127.0.0.1 server and
on a tiny real model, search as one SimulatedTool, and the environment's episodes."""
from __future__ import annotations

import re

import gymnasium as gym
import pytest
from fake_servers import FakeServer, backend_builder
from gymnasium.utils.env_checker import check_env

import zerosearch_gym  # noqa: F401  (registers the environments)
from zerosearch_gym import BackendError, QAExample, SearchRequest
from zerosearch_gym.backends.openai_compat import OpenAIBackend
from zerosearch_gym.backends.simulator_prompts import (
    search_call,
    search_tool,
    simulator_documents,
    simulator_prompt,
)
from zerosearch_gym.tools import (
    CALCULATOR,
    SimulatedTool,
    ToolCall,
    ToolOutputError,
    arithmetic_problems,
    evaluate_arithmetic,
    real_executor,
)
from zerosearch_gym.tools.calculator_env import INVALID_MESSAGE, CalculatorEnv

PROBLEM = QAExample("p0", "A box holds 12 pencils. How many pencils are in 7 boxes?", ("84",), "toy")


@pytest.fixture
def server():
    with FakeServer() as s:
        yield s


@pytest.fixture
def openai():
    with backend_builder(OpenAIBackend, timeout=2.0, backoff=0.01, max_retries=0) as build:
        yield build


# -- the real calculator -------------------------------------------------------------------------------------
@pytest.mark.parametrize("expression, value", [
    ("12 * 7", "84"), ("(12 + 30) * 2 / 4", "21"), ("7 / 2", "3.5"), ("-3 + +5", "2"), ("2 ^ 10", "1024"),
    ("17 // 5 + 17 % 5", "5"), ("10**20 + 1 - 10**20", "1"), ("0.1 * 3 - 0.3", "0"), ("1 / 3", "0.333333"),
    ("6 × 7 ÷ 2", "21"), ("1,000 - 1", "999"),
])
def test_real_calculator_is_exact(expression, value):
    assert evaluate_arithmetic(expression) == value


@pytest.mark.parametrize("expression, message", [
    ("__import__('os').system('true')", "Call is not allowed"),
    ("a + 1", "Name is not allowed"),
    ("[1, 2]", "List is not allowed"),
    ("(1, 2)", "Tuple is not allowed"),
    ("1 if 2 else 3", "IfExp is not allowed"),
    ("'a' * 3", "Constant is not allowed"),
    ("1 / 0", "division by zero"),
    ("5 % (2 - 2)", "division by zero"),
    ("2 ** 0.5", "exponents must be whole numbers"),
    ("9 ** 9 ** 9", "exponents must be whole numbers"),
    ("2 ** 64 ** 2 ** 2", "exponents must be whole numbers"),
    ("(10 ** 60) ** 2", "more than 100 digits"),
    ("1e999", "not a finite number"),
    ("", "empty expression"),
    ("1 +", "cannot parse"),
    ("1" * 201, "longer than 200 characters"),
])
def test_real_calculator_refuses_what_is_not_bounded_arithmetic(expression, message):
    with pytest.raises(ValueError, match=message):
        evaluate_arithmetic(expression)


def test_real_executor_keeps_order_and_isolates_failures():
    run = real_executor(evaluate_arithmetic, "calculator")
    results = run([ToolCall("2 + 2"), ToolCall("1 / 0", useful=False), ToolCall("3 * 3")])
    assert results[0] == "4" and results[2] == "9"
    assert results[1] == BackendError("calculator: division by zero")


@pytest.mark.parametrize("text, value", [("42", "42"), ("Result: 1,200.", "1200"), (" = -3.50\n", "-3.5"),
                                         ("$12\nbecause 3 * 4", "12")])
def test_calculator_parser_accepts_one_number(text, value):
    assert CALCULATOR.parse(text, ToolCall("x")) == value


@pytest.mark.parametrize("text", ["6 * 7", "", "  ", "maybe 5 or 6", "about 12 apples", "NaN"])
def test_calculator_parser_rejects_anything_else(text):
    with pytest.raises(ToolOutputError, match="no single number"):
        CALCULATOR.parse(text, ToolCall("x"))


# -- simulated tools on real backends -----------------------------------------------------------------------
def test_calculator_on_a_real_http_server_keeps_order_and_isolates_bad_output(server, openai):
    calls = [ToolCall("12", True, {"question": "q0"}), ToolCall("7", False, {"question": "q1"}, seed=3),
             ToolCall("6 * 7", True, {"question": "q2"}), ToolCall("-40", True, {"question": "q3"})]
    results = CALCULATOR.run(openai(server.url), calls)
    assert results[:2] == ["12", "8"] and results[3] == "-40"  # the fake simulator adds 1 when asked for noise
    assert isinstance(results[2], BackendError)
    assert str(results[2]) == ("openai backend: calculator simulator wrote no single number: "
                               "'I cannot compute 6 * 7.' (finish_reason 'stop')")
    sent = {r["prompt"]: r for r in server.requests}
    assert len(sent) == 4
    for call in calls:  # the useful or the noisy template, filled with the call's input and context
        prompt = (CALCULATOR.useful if call.useful else CALCULATOR.noisy).format(question=call.context["question"],
                                                                                 input=call.input)
        assert prompt in sent and sent[prompt]["body"]["messages"][0] == {"role": "system", "content": ""}
    assert sent[CALCULATOR.noisy.format(question="q1", input="7")]["body"]["seed"] == 3
    assert "faulty calculator" in CALCULATOR.noisy and "faulty" not in CALCULATOR.useful


def _first_document(text: str, call: ToolCall) -> str:
    if not text.startswith("Doc 1: "):
        raise ToolOutputError(f"expected 'Doc 1:' first, got {text[:30]!r}")
    return text.splitlines()[0][len("Doc 1: "):]


def test_a_user_defined_tool_runs_on_the_same_backend(server, openai):
    """Any pair of templates and a parser is a tool: here one in ZeroSearch's Query/Output shape, with a call whose
    prompt cannot be built (a missing slot) and one the server answers badly, neither spoiling its batch mates."""
    lookup = SimulatedTool("lookup", "Query: {input} in {year}\nUseful Output:\n",
                           "Query: {input} in {year}\nNoisy Output:\n", _first_document, system="Be brief.")
    calls = [ToolCall("tides", True, {"year": 1990}), ToolCall("moons", False, {}),
             ToolCall("comets #fault=nodocs", True, {"year": 2000}), ToolCall("stars", False, {"year": 2001})]
    backend = openai(server.url)
    results = lookup.run(backend, calls)
    assert results[0] == "useful doc 1 | query [tides in 1990] | question [] | answer []"
    assert results[3] == "noisy doc 1 | query [stars in 2001] | question [] | answer []"
    assert results[1] == BackendError("lookup tool: could not build the simulator prompt: KeyError: 'year'")
    assert "expected 'Doc 1:' first, got 'I cannot write documents for t'" in str(results[2])
    assert len(server.requests) == 3 and server.requests[0]["body"]["messages"][0]["content"] == "Be brief."
    assert lookup.run(backend, []) == []
    with pytest.raises(TypeError, match=r"expected a simulator backend with \.complete"):
        lookup.run(object(), calls)


def test_an_engine_failure_is_every_calls_error_not_a_crash():
    class Broken:
        def complete(self, conversations, seeds):
            raise RuntimeError("CUDA out of memory")

    results = CALCULATOR.run(Broken(), [ToolCall("1", True, {"question": "q"})] * 2)
    assert results == [BackendError("Broken.complete raised RuntimeError: CUDA out of memory")] * 2


def test_calculator_on_a_tiny_real_model():
    pytest.importorskip("torch")
    from zerosearch_gym.backends.hf import HFSimulatorBackend
    from zerosearch_gym.llm.models import tiny_model

    model, tokenizer = tiny_model("llama")
    backend = HFSimulatorBackend(model_obj=model, tokenizer=tokenizer, max_new_tokens=6)
    calls = [ToolCall(f"{i} + 1", i % 2 == 0, {"question": f"problem {i}"}, seed=i) for i in range(3)]
    first, again = CALCULATOR.run(backend, calls), CALCULATOR.run(backend, calls)
    assert len(first) == 3 and [str(r) for r in first] == [str(r) for r in again]  # seeded: reproducible
    for result in first:  # a random model writes no number: a clear error naming the backend, or a number
        assert (isinstance(result, str) and result.lstrip("-").replace(".", "").isdigit()) or re.fullmatch(
            r"hf simulator \S*: calculator simulator wrote no single number: '.+'", str(result))
    assert backend.last_stats["generated_tokens"] > 0
    text = tokenizer.decode(backend.chat_ids(CALCULATOR.messages(calls[1])))
    assert CALCULATOR.noisy.format(question="problem 1", input="1 + 1") in text


# -- search is one SimulatedTool ------------------------------------------------------------------------------
def test_search_documents_are_one_simulated_tool():
    request = SearchRequest("Paris population", "What is the capital of France", ("Paris",), useful=True, top_k=2)
    assert simulator_prompt(request, "sft") == (
        "You are the Google search engine.\nGiven a query, you need to generate five useful documents for the query."
        '\n\nThe user is trying to answer the question: "What is the capital of France?" whose answer is Paris.\n'
        "Each document should contain about 30 words, and these documents should contain useful information.\n\n"
        "Query: Paris population\nUseful Output:\n")
    for mode in ("sft", "prompt"):
        tool = search_tool(mode)
        assert isinstance(tool, SimulatedTool) and tool.prompt(search_call(request)) == simulator_prompt(request, mode)
    docs = search_tool().result("Doc 1: a\nDoc 2: b\nDoc 3: c", search_call(request), "x")
    assert docs == ["a", "b"] and docs.malformed is None
    assert simulator_documents("no markers", 5, "x").malformed == 'no "Doc i:" markers in simulator output'


# -- the environment -----------------------------------------------------------------------------------------
def test_check_env_passes():
    check_env(CalculatorEnv(), skip_render_check=True)
    check_env(gym.make("ZeroSearchCalculator-v0", num_problems=5).unwrapped, skip_render_check=True)


@pytest.mark.parametrize("answer, reward", [("84", 1.0), (" 84.0 ", 1.0), ("1,084", 0.0), ("85", 0.0),
                                            ("eighty-four", 0.0), ("", 0.0)])
def test_a_scripted_episode_is_rewarded_for_the_right_number(answer, reward):
    env = gym.make("ZeroSearchCalculator-v0", dataset=[PROBLEM])
    prompt, info = env.reset(seed=0)
    assert prompt.endswith("Question: A box holds 12 pencils. How many pencils are in 7 boxes?\n")
    assert "84" not in prompt and "golden_answers" not in info
    obs, r, terminated, truncated, info = env.step("<think>7 boxes</think><calculate> 12 * 7 </calculate>")
    assert (obs, r, terminated, truncated) == ("\n\n<result>84</result>\n\n", 0.0, False, False)
    assert info["action"] == "calculate" and info["expression"] == "12 * 7" and info["calls"] == 1
    obs, r, terminated, truncated, info = env.step(f"<answer>{answer}</answer>")
    assert (obs, r, terminated, truncated) == ("", reward, True, False)
    assert info["correct"] is (reward == 1.0)


def test_simulated_calculator_env_over_http(server):
    env = CalculatorEnv(backend=f"openai:{server.url}?timeout=2&max_retries=0", dataset=[PROBLEM])
    env.reset(seed=1, options={"noise_probability": 1.0})
    obs, _, _, _, info = env.step("<calculate>84</calculate>")
    assert obs == "\n\n<result>85</result>\n\n" and info["noisy"] and info["tool_error"] == ""
    obs, _, terminated, _, info = env.step("<calculate>12 * 7</calculate>")  # the simulator's bad output
    assert obs.startswith("\n\n<result>error: openai backend: calculator simulator wrote no single number")
    assert info["tool_error"] in obs and not terminated
    env.reset(seed=1)  # the constructor's noise probability: 0
    assert env.step("<calculate>84</calculate>")[0] == "\n\n<result>84</result>\n\n"
    assert all(PROBLEM.question in r["prompt"] for r in server.requests)
    assert [r["kind"] for r in server.requests] == ["noisy", "noisy", "useful"]


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_noise_probability_is_the_share_of_noisy_calls(p):
    useful = []
    env = CalculatorEnv(executor=lambda calls: useful.extend(c.useful for c in calls) or ["1"] * len(calls),
                        dataset=[PROBLEM], max_turns=400, noise_probability=p)
    env.reset(seed=7)
    for _ in range(400):
        env.step("<calculate>1 + 0</calculate>")
    assert abs(useful.count(False) / 400 - p) < 0.07


def test_invalid_turns_truncation_and_errors():
    env = CalculatorEnv(dataset=[PROBLEM], max_turns=1, debug=True)
    with pytest.raises(RuntimeError, match="call reset"):
        env.step("<answer>84</answer>")
    _, info = env.reset(seed=0)
    assert info["golden_answers"] == ["84"]
    obs, r, terminated, truncated, info = env.step("84")
    assert obs == INVALID_MESSAGE and info["invalid_reason"] == "no <calculate>…</calculate> or <answer>…</answer> in the turn"
    obs, r, terminated, truncated, info = env.step("<calculate>1 / 0</calculate>")
    assert (r, terminated, truncated) == (0.0, False, True) and obs == ""  # the final turn is for answering
    env.reset(seed=0)
    broken = CalculatorEnv(dataset=[PROBLEM], executor=lambda calls: 1 / 0)
    broken.reset(seed=0)
    obs, *_, info = broken.step("<calculate>1</calculate>")
    assert info["tool_error"] == "calculator executor raised ZeroDivisionError: division by zero" and "error:" in obs
    with pytest.raises(ValueError, match="expected a backend or an executor, got both"):
        CalculatorEnv(backend="openai:http://127.0.0.1:1/v1", executor=lambda calls: [])
    with pytest.raises(ValueError, match=r"expected a noise probability in \[0, 1\], got 2"):
        CalculatorEnv(noise_probability=2)
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"curriculum_step": 3})


def test_word_problems_are_seeded_and_solvable():
    first, again, other = arithmetic_problems(60, seed=3), arithmetic_problems(60, seed=3), arithmetic_problems(60)
    assert first == again and first != other and len({p.id for p in first}) == 60
    assert all(int(p.golden_answers[0]) > 0 for p in first)
    with pytest.raises(ValueError, match="expected n to be an int >= 1, got 0"):
        arithmetic_problems(0)
