import pytest

from zerosearch_gym import BackendError, SearchRequest, make_backend
from zerosearch_gym.backends.hf import HFSimulatorBackend
from zerosearch_gym.backends.simulator_prompts import simulator_prompt

pytest.importorskip("torch")


def requests():
    return [
        SearchRequest("capital of France", "What is the capital of France", ("Paris",), useful=True, top_k=5, seed=1),
        SearchRequest("Hamlet author", "Who wrote Hamlet?", ("Shakespeare",), useful=False, top_k=3, seed=2),
    ]


@pytest.fixture(scope="module")
def tiny():
    from zerosearch_gym.llm.models import tiny_model

    return tiny_model("llama")


def test_batch_prompts_carry_each_requests_question_and_kind(tiny):
    model, tokenizer = tiny
    backend = HFSimulatorBackend(model_obj=model, tokenizer=tokenizer, max_new_tokens=8)
    assert backend.mode == "sft"
    for request in requests():
        text = tokenizer.decode(backend.prompt_ids(request))
        assert simulator_prompt(request, "sft") in text
    results = backend.search(requests())
    assert len(results) == 2
    # a random model writes no "Doc i:" lines: each result is an error or documents flagged as malformed
    for result in results:
        assert isinstance(result, BackendError) or result.malformed
    assert backend.last_stats["generated_tokens"] > 0


def test_seeded_batches_are_reproducible(tiny):
    model, tokenizer = tiny
    backend = HFSimulatorBackend(model_obj=model, tokenizer=tokenizer, max_new_tokens=12)
    assert [str(r) for r in backend.search(requests())] == [str(r) for r in backend.search(requests())]


def test_spec_errors():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_backend("hf:/nonexistent/simulator")
    with pytest.raises(ValueError, match="unknown option 'bogus' for the hf backend"):
        make_backend("hf:?bogus=1")
    with pytest.raises(ValueError, match="simulator mode"):
        HFSimulatorBackend(model_obj=object(), tokenizer=None, mode="fancy")


def test_smollm2_simulator_writes_documents():
    """The real offline model, untuned (adapter=none), prompt mode, writes text for a query (it is weak at the
    Doc format)."""
    backend = make_backend("hf:?adapter=none&max_new_tokens=96&temperature=0.7")
    assert backend.mode == "prompt"
    [result] = backend.search(requests()[:1])
    text = " ".join(result) if isinstance(result, list) else str(result)
    assert len(text.split()) >= 10, text
    if isinstance(result, list):
        assert all(doc.strip() for doc in result)


def test_options_without_a_model_need_no_colon():
    with pytest.raises(ValueError, match="unknown option 'bogus' for the hf backend"):
        make_backend("hf?bogus=1")


def test_a_requests_documents_do_not_depend_on_its_batch_mates(tiny):
    """Each seeded request is sampled with its own seed: alone or with others, it gets the same text."""
    model, tokenizer = tiny
    backend = HFSimulatorBackend(model_obj=model, tokenizer=tokenizer, max_new_tokens=12, temperature=1.0)
    mine = requests()[0]
    other = SearchRequest("Rome", "What is the capital of Italy", ("Rome",), useful=True, top_k=5, seed=7)
    alone = backend.search([mine])[0]
    in_batch = backend.search([other, mine, requests()[1]])[1]
    assert str(alone) == str(in_batch)
    assert str(backend.search([SearchRequest(**{**mine.__dict__, "seed": 99})])[0]) != str(alone)


def test_seeding_option_is_checked():
    with pytest.raises(ValueError, match="expected seeding 'request' or 'batch', got 'row'"):
        HFSimulatorBackend(model_obj=object(), tokenizer=None, seeding="row")


def test_the_tuned_simulator_stops_once_it_wrote_the_documents_a_search_keeps(monkeypatch):
    """The templates ask for five documents; a search of two keeps the first two, so generation ends at
    "Doc 3:": the same documents (per-row seeds) as the full output, fewer tokens generated."""
    backend = make_backend("hf?max_new_tokens=200")
    batch = [SearchRequest("Eiffel tower city", "In which city is the Eiffel tower?", ("Paris",), useful=True,
                           top_k=2, seed=3),
             SearchRequest("Hamlet author", "Who wrote Hamlet?", ("Shakespeare",), useful=False, top_k=2, seed=4)]
    early = backend.search(batch)
    early_tokens = backend.last_stats["generated_tokens"]
    monkeypatch.setattr(HFSimulatorBackend, "stops_early", False)
    full = backend.search(batch)
    assert [list(r) for r in early] == [list(r) for r in full] and all(len(r) == 2 for r in early)
    assert [r.malformed for r in early] == [r.malformed for r in full]
    assert early_tokens < backend.last_stats["generated_tokens"]
