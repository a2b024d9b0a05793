"""Verified simulation (zerosearch_gym/backends/verify.py) with simulators that leak or miss on purpose."""
import pytest

from zerosearch_gym.backends import BackendError, Documents, SearchRequest
from zerosearch_gym.backends.verify import VerifiedBackend, checkable_golds, resample_seed


class Sloppy:
    """A simulator that gets the first try wrong (noisy: the answer in doc 2; useful: no answer) and every
    resample right, or always wrong with ``stubborn``; counts its calls and bills 10 tokens per output."""

    def __init__(self, stubborn=False, fail_resample=False):
        self.calls, self.stubborn, self.fail_resample = [], stubborn, fail_resample
        self.last_stats = {}

    def search(self, requests):
        self.calls.append([r.seed for r in requests])
        first = len(self.calls) == 1
        self.last_stats = {"generated_tokens": 10 * len(requests)}
        if self.fail_resample and not first:
            return [BackendError("server down")] * len(requests)
        out = []
        for r in requests:
            wrong = first or self.stubborn
            if r.useful:
                docs = [f"about {r.query} {j}" for j in range(r.top_k)]
                if not wrong:
                    docs[0] = f"it was {r.answers[0]} indeed"
            else:
                docs = [f"noise {r.seed} {j}" for j in range(r.top_k)]
                if wrong:
                    docs[1] = f"the answer is {r.answers[0]}"
            out.append(docs)
        return out


def req(useful, answer="Paris", seed=7, k=3):
    return SearchRequest("capital of France", "What is the capital of France?", (answer,), useful, k, seed)


def test_failing_results_are_resampled_in_one_batched_call_per_round():
    inner = Sloppy()
    backend = VerifiedBackend(inner, rounds=2)
    results = backend.search([req(True, seed=1), req(False, seed=2), req(True, answer="a", seed=3)])
    assert len(inner.calls) == 2 and inner.calls[1] == [resample_seed(1, 1), resample_seed(2, 1)]
    assert "Paris" in results[0][0] and not any("Paris" in d for d in results[1])
    assert [r.verification["verified"] for r in results] == [True, True, None]  # "a" cannot be checked
    assert [r.verification["resamples"] for r in results] == [1, 1, 0]
    assert backend.last_stats["generated_tokens"] == 50 and backend.last_stats["verify_generated_tokens"] == 20


def test_a_simulator_that_never_passes_is_repaired_from_its_own_clean_documents_or_flagged():
    inner = Sloppy(stubborn=True)
    noisy, useful = VerifiedBackend(inner, rounds=3).search([req(False, seed=5), req(True, seed=6)])
    assert len(inner.calls) == 4  # the first call and three rounds, then it stops
    assert noisy.verification == {"verified": False, "resamples": 3, "repaired": True, "verify_error": ""}
    assert len(noisy) == 3 and not any("Paris" in d or "redacted" in d for d in noisy)  # clean, no filler
    assert useful.verification["verified"] is False and not useful.verification["repaired"]
    all_leak = VerifiedBackend(type("Leak", (), {"search": lambda self, rs: [["Paris"] * r.top_k for r in rs]})(), 2)
    (error,) = all_leak.search([req(False)])
    assert isinstance(error, BackendError) and "every noisy document held the answer" in str(error)


def test_a_resample_round_that_errors_leaves_the_first_result_flagged():
    (result,) = VerifiedBackend(Sloppy(fail_resample=True), rounds=2).search([req(False, seed=1)])
    assert result.verification["verify_error"] == "server down" and result.verification["resamples"] == 1
    assert not any("Paris" in d for d in result)  # still repaired: the leaking document is dropped
    assert len(result) == 2


def test_whole_words_and_uncheckable_golds():
    assert checkable_golds(["na", "", "x", "the", "of"]) == ("na",)
    inner = type("Fixed", (), {"search": lambda self, rs: [["the final answer is here"] * r.top_k for r in rs]})()
    (result,) = VerifiedBackend(inner, rounds=1).search([req(False, answer="na")])
    assert result.verification["verified"] is True  # "na" is not in "final answer"


def test_verification_off_passes_results_through():
    inner = Sloppy()
    (result,) = VerifiedBackend(inner, rounds=0).search([req(False)])
    assert len(inner.calls) == 1 and "Paris" in result[1]
    with pytest.raises(ValueError, match="expected verify rounds to be an int >= 0, got -1"):
        VerifiedBackend(inner, rounds=-1)


def test_specs_verify_simulators_by_default_and_never_real_engines(examples):
    from zerosearch_gym import ZeroSearchEnv, make_backend

    url = "openai:http://127.0.0.1:9/v1"
    assert make_backend(f"{url}?verify=3").rounds == 3 and not isinstance(make_backend(url), VerifiedBackend)
    assert ZeroSearchEnv(backend=url, dataset=examples).backend.rounds == 2  # on by default for a simulator
    assert ZeroSearchEnv(backend=f"{url}?verify=0", dataset=examples).backend.rounds == 0  # the spec says off
    assert ZeroSearchEnv(backend=url, dataset=examples, verify=1).backend.rounds == 1
    assert not isinstance(ZeroSearchEnv(backend="bm25", dataset=examples).backend, VerifiedBackend)
    with pytest.raises(ValueError, match="unknown option 'verify' for the bm25 backend"):
        make_backend("bm25?verify=2")


@pytest.mark.parametrize("noise, outcome, requests", [(1.0, "failed", 6), (0.0, "passed", 2)])
def test_an_openai_simulator_that_leaks_is_verified_through_the_vector_env(examples, noise, outcome, requests):
    from fake_servers import FakeServer

    from zerosearch_gym import ZeroSearchVectorEnv
    from zerosearch_gym.reward import answer_in_text

    with FakeServer() as server:  # its documents echo the request's answer: every noisy output leaks
        envs = ZeroSearchVectorEnv(num_envs=2, backend=f"openai:{server.url}", dataset=examples, noise=noise)
        envs.reset(seed=0, options={"examples": [0, 1]})
        obs, _, _, _, infos = envs.step(["<search>capital</search>"] * 2)
        assert infos["verify"].tolist() == [outcome] * 2 and len(server.requests) == requests  # 2 per round
        for o, ex, error in zip(obs, examples, infos["backend_error"]):
            assert answer_in_text(o, ex.golden_answers) == (noise == 0.0)
            assert ("every noisy document held the answer" in error) == (noise == 1.0)
        envs.close()


def test_a_malformed_output_is_resampled_and_the_best_one_kept():
    class Short:  # right label, but two documents instead of three until the second resample
        def __init__(self):
            self.calls = 0

        def search(self, requests):
            self.calls += 1
            return [Documents(["a", "b"], malformed="simulator wrote 2 of 3 documents") if self.calls < 3
                    else ["a", "b", "c"] for _ in requests]

    inner = Short()
    (result,) = VerifiedBackend(inner, rounds=2).search([req(False)])
    assert inner.calls == 3 and list(result) == ["a", "b", "c"] and result.malformed is None
    (result,) = VerifiedBackend(Short(), rounds=1).search([req(False)])  # never well-formed: the first stands
    assert result.malformed and result.verification["verified"] is True and result.verification["resamples"] == 1
