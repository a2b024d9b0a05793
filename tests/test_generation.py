"""generate(): the fast decode engine (eager on CPU) against transformers generate, on tiny random models."""
import pytest
import torch
from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig, Qwen2Config

import zerosearch_gym.llm as llm
from zerosearch_gym.llm import DecodeEngine, Generation, generate, hf_path, stop_cut
from zerosearch_gym.llm import generation as generation_module
from zerosearch_gym.llm.engine import batch_bucket
from zerosearch_gym.llm.models import smollm2_tokenizer

TEXTS = ["Hello there, how are you today?", "Hi", "The capital of France is a city called", "a b c d e f g h i j k"]


@pytest.fixture(scope="module")
def tok():
    return smollm2_tokenizer()


def tiny(tok, arch: str, seed: int = 0):
    """2 layers, hidden 64: Qwen2 with q/k/v biases and an untied head; Llama tied, with Llama-3 RoPE scaling."""
    common = {"vocab_size": len(tok), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                  "num_attention_heads": 4, "num_key_value_heads": 2, "eos_token_id": tok.eos_token_id}
    if arch == "qwen2":
        config = Qwen2Config(**common, tie_word_embeddings=False, rope_theta=1e6)
    else:
        rope = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                    "original_max_position_embeddings": 16, "rope_theta": 5e5}
        config = LlamaConfig(**common, tie_word_embeddings=True, rope_parameters=rope)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        for p in model.parameters():  # sharper distributions than the default init: fewer argmax near-ties
            p.data.mul_(3.0)
    return model.eval()


@pytest.fixture(scope="module", params=["qwen2", "llama"])
def model(request, tok):
    return tiny(tok, request.param)


@pytest.fixture(scope="module")
def qwen(tok):
    return tiny(tok, "qwen2")


@pytest.fixture(scope="module")
def prompts(tok):
    return [tok(t)["input_ids"] for t in TEXTS]


def ids(gens):
    return [g.token_ids for g in gens]


def test_greedy_fast_matches_transformers(model, tok, prompts):
    hf = generate(model, tok, prompts, max_new_tokens=40, temperature=0, engine="hf", return_logprobs=True)
    fast = generate(model, tok, prompts, max_new_tokens=40, temperature=0, engine="fast", return_logprobs=True)
    assert ids(fast) == ids(hf)
    assert all(len(g.token_ids) == 40 and g.finish_reason == "length" for g in fast)
    for a, b in zip(hf, fast):
        assert b.text == a.text == tok.decode(a.token_ids, skip_special_tokens=True)
        assert b.logprobs == pytest.approx(a.logprobs, abs=1e-4)


def test_small_kv_blocks_walk_attention_windows(model, tok, prompts):
    """kv_block=8 makes the decode attend over growing windows of the cache (5 window sizes here)."""
    hf = generate(model, tok, prompts, max_new_tokens=30, temperature=0, engine="hf")
    engine = DecodeEngine(model, kv_block=8, check_every=4)
    fast, logprobs = engine.generate(prompts, max_new_tokens=30, temperature=0, eos_ids=[tok.eos_token_id])
    assert fast == ids(hf)  # raw ids: no EOS within 30 tokens here, so nothing to cut
    assert [len(row) for row in logprobs] == [30] * len(prompts)


def test_public_names_resolve_to_the_functions():
    """``zerosearch_gym.llm.generate`` is the function, however often and in whatever order it is imported."""
    from zerosearch_gym.llm import generate as first
    from zerosearch_gym.llm import generate as second

    assert first is second is llm.generate is generation_module.generate and callable(first)
    assert sorted(llm.__all__) == llm.__all__ and all(getattr(llm, name) for name in llm.__all__)


@pytest.mark.parametrize("engine", ["hf", "fast"])
def test_stop_string_cuts_right_after_completing_token(model, tok, prompts, engine):
    free = generate(model, tok, prompts, max_new_tokens=32, temperature=0, engine="hf")
    text = free[0].text
    stop = text[len(text) // 2: len(text) // 2 + 3]  # a string the greedy continuation is known to contain
    assert len(stop.strip()) > 0
    out = generate(model, tok, prompts, max_new_tokens=32, temperature=0, stop_strings=[stop, "\x00never"],
                   engine=engine, return_logprobs=True)
    g = out[0]
    assert g.finish_reason == "stop" and stop in g.text
    assert stop not in tok.decode(g.token_ids[:-1], skip_special_tokens=True)  # nothing emitted after the stop
    assert g.token_ids == free[0].token_ids[: len(g.token_ids)] and len(g.logprobs) == len(g.token_ids)
    for other, ref in zip(out[1:], free[1:]):  # other rows: cut only if they contain the stop string too
        assert other.token_ids == ref.token_ids[: len(other.token_ids)]
        assert (other.finish_reason == "stop") == (stop in ref.text)


def test_eos_is_kept_and_ends_the_row(tok, prompts):
    model = tiny(tok, "qwen2", seed=1)
    free = generate(model, tok, prompts, max_new_tokens=16, temperature=0, engine="hf")
    eos = free[1].token_ids[7]
    model.generation_config.eos_token_id = [tok.eos_token_id, eos]
    hf = generate(model, tok, prompts, max_new_tokens=16, temperature=0, engine="hf")
    fast = generate(model, tok, prompts, max_new_tokens=16, temperature=0, engine="fast")
    assert ids(fast) == ids(hf)
    assert fast[1].finish_reason == "eos" and fast[1].token_ids[-1] == eos and len(fast[1].token_ids) <= 8


@pytest.mark.parametrize("engine", ["hf", "fast"])
@pytest.mark.parametrize("top_p", [1.0, 0.8])
def test_seeded_sampling_is_reproducible(qwen, tok, prompts, engine, top_p):
    before = torch.random.get_rng_state()
    runs = [ids(generate(qwen, tok, prompts, max_new_tokens=10, seed=s, top_p=top_p, engine=engine))
            for s in (7, 7, 8)]
    assert runs[0] == runs[1] and runs[0] != runs[2]
    assert torch.equal(before, torch.random.get_rng_state())  # the global RNG is untouched


@pytest.mark.parametrize("engine", ["hf", "fast"])
@pytest.mark.parametrize("temperature,top_p", [(0.7, 1.0), (1.3, 0.9)])
def test_logprobs_match_a_forward_pass(qwen, tok, prompts, engine, temperature, top_p):
    model = qwen
    out = generate(model, tok, prompts, max_new_tokens=12, seed=1, temperature=temperature, top_p=top_p,
                   engine=engine, return_logprobs=True)
    for prompt, g in zip(prompts, out):
        seq = torch.tensor([prompt + g.token_ids])
        with torch.no_grad():
            logits = model(seq).logits[0, len(prompt) - 1: -1].float() / temperature
        want = logits.log_softmax(-1).gather(-1, torch.tensor(g.token_ids)[:, None])[:, 0]
        assert g.logprobs == pytest.approx(want.tolist(), abs=1e-4)


def test_engine_follows_in_place_weight_updates(tok, prompts):
    model = tiny(tok, "llama", seed=3)
    before = generate(model, tok, prompts, max_new_tokens=12, temperature=0, engine="fast")
    with torch.no_grad():  # an "optimizer step"
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    after = generate(model, tok, prompts, max_new_tokens=12, temperature=0, engine="fast")
    assert ids(after) == ids(generate(model, tok, prompts, max_new_tokens=12, temperature=0, engine="hf"))
    assert ids(after) != ids(before)


@pytest.mark.parametrize("n", [1, 5])
def test_batch_sizes_off_the_buckets(model, tok, prompts, n):
    batch = (prompts * 2)[:n]
    fast = generate(model, tok, batch, max_new_tokens=10, temperature=0, engine="fast")
    assert len(fast) == n and all(isinstance(g, Generation) for g in fast)
    assert ids(fast) == ids(generate(model, tok, batch, max_new_tokens=10, temperature=0, engine="hf"))


def test_buckets_and_stop_cut(tok):
    assert [batch_bucket(n) for n in (1, 3, 16, 17, 33, 256, 257)] == [1, 4, 16, 32, 64, 256, 288]
    toks = tok("so <search> x </search> more")["input_ids"]
    cut = stop_cut(tok, toks, ("</search>",))
    assert tok.decode(toks[:cut]).endswith("</search>") and stop_cut(tok, toks, ("nope",)) is None


def test_clear_errors(tok, prompts):
    gpt2 = AutoModelForCausalLM.from_config(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=1, n_head=2))
    with pytest.raises(ValueError, match="engine='hf'"):
        generate(gpt2, tok, prompts, max_new_tokens=2, engine="fast")
    with pytest.raises(TypeError, match="token-id lists"):
        generate(gpt2, tok, "hello", max_new_tokens=2)
    with pytest.raises(ValueError, match="empty prompt"):
        generate(gpt2, tok, [[]], max_new_tokens=2)
    with pytest.raises(ValueError, match="top_p"):
        generate(gpt2, tok, prompts, max_new_tokens=2, top_p=0)
    assert len(generate(gpt2, tok, prompts[:2], max_new_tokens=3, temperature=0)) == 2  # auto → hf on CPU


def test_auto_falls_back_to_transformers_when_the_fast_engine_fails(qwen, tok, prompts, monkeypatch):
    """On CUDA, engine="auto" uses the fast engine; if it breaks (e.g. graph capture), results stay correct."""
    monkeypatch.setattr(generation_module, "_auto_fast", lambda model: model not in generation_module._FAST_FAILED)

    def broken(model):
        raise RuntimeError("capture failed")

    monkeypatch.setattr(generation_module, "engine_for", broken)
    expected = ids(generation_module.generate(qwen, tok, prompts, max_new_tokens=6, temperature=0, engine="hf"))
    with pytest.warns(RuntimeWarning, match="capture failed"):
        assert ids(generation_module.generate(qwen, tok, prompts, max_new_tokens=6, temperature=0)) == expected
    assert qwen in generation_module._FAST_FAILED  # later calls go straight to transformers
    assert ids(generation_module.generate(qwen, tok, prompts, max_new_tokens=6, temperature=0)) == expected
    generation_module._FAST_FAILED.discard(qwen)


@pytest.mark.parametrize("top_p", [1.0, 0.8])
def test_per_row_seeds_make_each_row_independent_of_its_batch_mates(qwen, tok, prompts, top_p):
    """A list of seeds: row i's tokens are those of prompt i generated alone with seeds[i], whatever else is
    in the batch; another seed gives another text; the log-probs are still the model's."""
    batch = generate(qwen, tok, prompts, max_new_tokens=10, seed=[5, 6, 7, 8], top_p=top_p, return_logprobs=True)
    for i, prompt in enumerate(prompts):
        [alone] = generate(qwen, tok, [prompt], max_new_tokens=10, seed=[5 + i], top_p=top_p, return_logprobs=True)
        assert alone.token_ids == batch[i].token_ids
        assert alone.logprobs == pytest.approx(batch[i].logprobs, abs=1e-4)
    shuffled = generate(qwen, tok, prompts[::-1], max_new_tokens=10, seed=[8, 7, 6, 5], top_p=top_p)
    assert ids(shuffled)[::-1] == ids(batch)
    other = generate(qwen, tok, prompts, max_new_tokens=10, seed=[50, 60, 70, 80], top_p=top_p)
    assert ids(other) != ids(batch)


def test_per_row_sampling_follows_the_model_distribution(qwen, tok):
    """400 rows of one prompt with distinct seeds: the first tokens' frequencies match the softmax (a sampler
    that ignored temperature or drew one token for all rows would fail)."""
    prompt = tok("The capital of France is")["input_ids"]
    with torch.no_grad():
        probs = (qwen(torch.tensor([prompt])).logits[0, -1].float() / 0.5).softmax(-1)
    out = generate(qwen, tok, [prompt] * 400, max_new_tokens=1, temperature=0.5, seed=list(range(400)))
    counts = torch.bincount(torch.tensor([g.token_ids[0] for g in out]), minlength=probs.numel()).float() / 400
    top = probs.topk(3).indices
    assert (counts[top] - probs[top]).abs().max() < 0.08, (counts[top], probs[top])


def test_per_row_seeds_are_checked(qwen, tok, prompts):
    with pytest.raises(ValueError, match="one seed per prompt, got 2 seeds for 4 prompts"):
        generate(qwen, tok, prompts, max_new_tokens=4, seed=[1, 2])
    with pytest.raises(ValueError, match="engine='fast'"):
        generate(qwen, tok, prompts, max_new_tokens=4, seed=[1, 2, 3, 4], engine="fast")


@pytest.mark.parametrize("engine,seed", [("hf", [5, 6, 7, 8]), ("fast", 9)])
def test_done_ends_each_row_at_the_first_token_its_test_accepts(qwen, tok, prompts, engine, seed):
    """``done``: row i ends right after the first token whose text passes ``done[i]``; the tokens before are
    those of the unstopped run, a row without a test (None) is unchanged, and the batch ends early when every
    row is done (a simulator stops once it wrote the documents a search keeps)."""
    free = generate(qwen, tok, prompts, max_new_tokens=30, seed=seed, engine=engine)
    assert all(len(g.token_ids) == 30 for g in free)  # tiny random models never say EOS in 30 tokens
    cut_at = [len(free[0].text) // 3, 5, None, len(free[3].text) // 2]
    done = [None if n is None else (lambda text, n=n: len(text) >= n) for n in cut_at]
    calls = []
    qwen.register_forward_pre_hook(lambda mod, args, kwargs: calls.append(1), with_kwargs=True)
    out = generate(qwen, tok, prompts, max_new_tokens=30, seed=seed, engine=engine, done=done)
    stopped_calls, calls[:] = len(calls), []
    for g, ref, n in zip(out, free, cut_at):
        if n is None:
            assert g.token_ids == ref.token_ids and g.finish_reason == "length"
            continue
        assert g.finish_reason == "stop" and g.token_ids == ref.token_ids[: len(g.token_ids)]
        assert len(g.text) >= n > len(tok.decode(g.token_ids[:-1], skip_special_tokens=True))
    all_done = [lambda text: len(text) >= 5] * len(prompts)
    short = generate(qwen, tok, prompts, max_new_tokens=30, seed=seed, engine=engine, done=all_done)
    assert max(len(g.token_ids) for g in short) < 30
    assert engine == "fast" or len(calls) < stopped_calls  # fewer forward passes (the engine has no hooks)
    with pytest.raises(ValueError, match="one done test per prompt, got 1 for 4"):
        generate(qwen, tok, prompts, max_new_tokens=4, done=[None])


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_a_shared_prompt_prefix_is_computed_once_with_the_same_results(tok, arch, monkeypatch):
    """Prompts that start with the same instruction: its KV cache is computed once and repeated per row
    (rows laid out prefix | pads | own tokens). Greedy tokens and log-probs equal plain left padding, and
    per-row seeded samples too; a prompt that is all prefix keeps one token of its own."""
    model = tiny(tok, arch, seed=3)
    instruction = tok("Answer the given question. You must reason inside <think> and </think> first, then "
                      "search with <search> query </search> or answer.", add_special_tokens=False)["input_ids"]
    prompts = [instruction + tok(q, add_special_tokens=False)["input_ids"]
               for q in ("Question: who wrote Hamlet?", "Question: where is the Eiffel tower, in which city?", "")]
    assert hf_path.shared_prefix(prompts) == len(instruction) - 1 >= hf_path.MIN_SHARED_PREFIX
    calls = []  # the input shape of each forward pass
    model.register_forward_pre_hook(lambda mod, args, kwargs: calls.append(tuple(kwargs["input_ids"].shape)),
                                    with_kwargs=True)
    runs = {}
    for label, minimum in (("shared", hf_path.MIN_SHARED_PREFIX), ("plain", 10**9)):
        monkeypatch.setattr(hf_path, "MIN_SHARED_PREFIX", minimum)
        calls.clear()
        greedy = generate(model, tok, prompts, max_new_tokens=12, temperature=0, return_logprobs=True, engine="hf")
        sampled = generate(model, tok, prompts, max_new_tokens=12, temperature=1.0, seed=[4, 5, 6], engine="hf")
        runs[label] = (greedy, sampled, calls[0])
    (greedy, sampled, first), (plain_greedy, plain_sampled, plain_first) = runs["shared"], runs["plain"]
    assert first == (1, len(instruction) - 1) and plain_first[0] == 3  # the prefix ran once, at batch 1
    assert [g.token_ids for g in greedy] == [g.token_ids for g in plain_greedy]
    assert [g.token_ids for g in sampled] == [g.token_ids for g in plain_sampled]
    for a, b in zip(greedy, plain_greedy):
        assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs)) < 1e-4
