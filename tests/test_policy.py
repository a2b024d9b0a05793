"""agents/policy.py on a tiny random Llama over the real SmolLM2 tokenizer."""
import pytest
import torch
import torch.nn.functional as F

from agents.policy import Policy, resolve_model_path


@pytest.fixture(scope="module")
def policy():
    from zerosearch_gym.llm.models import tiny_model

    model, tokenizer = tiny_model("llama", seed=0)
    return Policy(model, tokenizer, value_head=True)


def _batch(policy):
    ids = [policy.prompt_ids("Question: who?") + [10, 11, 12, 13], policy.prompt_ids("Q: where") + [20, 21]]
    width = max(map(len, ids))
    input_ids = torch.full((2, width), policy.tokenizer.pad_token_id)
    attn = torch.zeros_like(input_ids)
    mask = torch.zeros_like(input_ids)
    for i, row in enumerate(ids):
        input_ids[i, :len(row)] = torch.tensor(row)
        attn[i, :len(row)] = 1
    mask[0, len(ids[0]) - 4:len(ids[0])] = 1
    mask[1, len(ids[1]) - 2:len(ids[1])] = 1
    return input_ids, attn, mask


def _naive_logprobs(policy, input_ids, attn, temperature):
    logits = policy.model(input_ids=input_ids, attention_mask=attn).logits.float() / temperature
    lp = F.log_softmax(logits[:, :-1], -1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    return F.pad(lp, (1, 0))


@pytest.mark.parametrize("chunk", [1, 3, 512])
def test_chunked_logprobs_match_full_logits_on_masked_tokens(policy, chunk):
    input_ids, attn, mask = _batch(policy)
    with torch.no_grad():
        lp, ent, _ = policy.score(input_ids, attn, mask, temperature=0.7, chunk=chunk, entropy=True)
        ref = _naive_logprobs(policy, input_ids, attn, 0.7)
    assert torch.allclose(lp[mask.bool()], ref[mask.bool()], atol=1e-5)
    assert (lp[~mask.bool()] == 0).all() and (ent[~mask.bool()] == 0).all()
    assert (ent[mask.bool()] > 0).all()


def test_score_gradients_flow_only_through_masked_tokens(policy):
    input_ids, attn, mask = _batch(policy)
    policy.zero_grad()
    lp, _, values = policy.score(input_ids, attn, mask, chunk=2, values=True)
    (lp.sum() + values.sum()).backward()
    assert policy.model.get_output_embeddings().weight.grad.abs().sum() > 0
    assert policy.value_head.weight.grad.abs().sum() > 0
    assert values[~mask.bool()].abs().sum() == 0


def test_values_need_a_value_head():
    from zerosearch_gym.llm.models import tiny_model

    model, tok = tiny_model("llama")
    p = Policy(model, tok)
    input_ids, attn, mask = _batch(p)
    with pytest.raises(ValueError, match="value_head=True"):
        p.score(input_ids, attn, mask, values=True)


def test_prompt_uses_chat_template(policy):
    text = policy.tokenizer.decode(policy.prompt_ids("Question: who?"))
    assert text.startswith("<|im_start|>") and text.rstrip().endswith("<|im_start|>assistant")


def test_observation_ids_are_cut(policy):
    ids, cut = policy.text_ids("word " * 100, max_tokens=7)
    assert len(ids) == 7 and cut
    ids, cut = policy.text_ids("short", max_tokens=7)
    assert not cut and policy.tokenizer.decode(ids) == "short"


def test_generate_turns_returns_sampled_ids_and_is_seeded(policy):
    contexts = [policy.prompt_ids("Question: a?"), policy.prompt_ids("Question: longer question here?")]
    a = policy.generate_turns(contexts, max_new_tokens=6, seed=3)
    b = policy.generate_turns(contexts, max_new_tokens=6, seed=3)
    assert [t.token_ids for t in a] == [t.token_ids for t in b]
    for t in a:
        assert 1 <= len(t.token_ids) <= 6
        assert t.finish_reason in ("stop", "eos", "length")
        assert t.text == policy.tokenizer.decode(t.token_ids, skip_special_tokens=True)


@pytest.mark.parametrize("bad", ["/no/such/folder", "./missing-model", "a/b/c"])
def test_missing_model_path_is_a_clear_error(bad):
    with pytest.raises(FileNotFoundError, match="expected a model folder with config.json"):
        resolve_model_path(bad)


def test_hub_id_passes_through():
    assert resolve_model_path("Qwen/Qwen2.5-3B") == "Qwen/Qwen2.5-3B"


def test_merged_lora_generates_like_the_adapters_and_restores_the_weights_exactly():
    from zerosearch_gym.llm.models import tiny_model

    model, tokenizer = tiny_model("llama", seed=0)
    lora = Policy(model, tokenizer)
    lora.add_lora(4, 8.0)
    torch.manual_seed(1)
    with torch.no_grad():  # fresh adapters are zero (B = 0): give them a real delta
        for name, p in lora.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.2)
    before = {n: p.detach().clone() for n, p in lora.named_parameters()}
    contexts = [lora.prompt_ids("Question: who?"), lora.prompt_ids("Q: where is it")]
    adapters = lora.generate_turns(contexts, 12, temperature=0.0)
    input_ids, attn, mask = _batch(lora)
    with torch.no_grad():
        scored = lora.score(input_ids, attn, mask)[0]
    with lora.merged():
        folded = lora.generate_turns(contexts, 12, temperature=0.0)
        with torch.no_grad():
            folded_scores = lora.score(input_ids, attn, mask)[0]
    assert [t.token_ids for t in folded] == [t.token_ids for t in adapters]
    torch.testing.assert_close(folded_scores, scored, atol=1e-4, rtol=1e-4)
    with torch.no_grad():
        with lora.adapters_off():
            base = lora.score(input_ids, attn, mask)[0]
    assert (base - scored).abs().max() > 1e-3  # the adapters matter, so the comparison above means something
    after = dict(lora.named_parameters())
    assert all(torch.equal(after[n].detach(), t) for n, t in before.items())  # bit for bit, no unmerge rounding
