"""action_format="tool_call": native JSON tool calls in the env, the token view and the trainer's rollouts."""
import json
from pathlib import Path

import gymnasium as gym
import pytest

import zerosearch_gym  # noqa: F401  (registers ZeroSearch-v0)
from zerosearch_gym import QAExample
from zerosearch_gym.backends.retrieval import BM25Backend
from zerosearch_gym.env import MALFORMED_SCORE
from zerosearch_gym.formats import INVALID_TOOL_CALL_MESSAGE, SEARCH_TOOL, parse_tool_call
from zerosearch_gym.wrappers import ZeroSearchTokenEnv
from zerosearch_gym.wrappers.chat_template import prompt_text, reply_frame

EXAMPLES = [QAExample("q1", "Who wrote Hamlet?", ("William Shakespeare",), "demo"),
            QAExample("q2", "What is the capital of France?", ("Paris",), "demo")]
DOCS = [{"title": "Hamlet", "text": "Hamlet is a tragedy written by William Shakespeare around 1600."},
        {"title": "Paris", "text": "Paris is the capital and largest city of France."}]
CALL = '<think>look it up</think><tool_call>\n{"name": "search", "arguments": {"query": "Hamlet author"}}\n</tool_call>'


def call(query):
    return f'<tool_call>{json.dumps({"name": "search", "arguments": {"query": query}})}</tool_call>'


def make_env(**kw):
    return gym.make("ZeroSearch-v0", backend=BM25Backend.from_documents(DOCS), dataset=EXAMPLES, top_k=2,
                    action_format="tool_call", **kw)


@pytest.mark.parametrize("turn, kind, content", [
    (CALL, "search", "Hamlet author"),
    ('<tool_call>{"name": "search", "arguments": "{\\"query\\": \\"x\\"}"}</tool_call>', "search", "x"),
    ("<answer> Paris </answer>", "answer", "Paris"),
    (call("a") + "<answer>b</answer>", "search", "a"),  # the first wins, as with tags
    ("<answer>b</answer>" + call("a"), "answer", "b"),
])
def test_valid_tool_call_turns(turn, kind, content):
    assert parse_tool_call(turn)[:2] == (kind, content)


@pytest.mark.parametrize("turn, reason", [
    ('<tool_call>{"name": "search", "arguments": {"query": "x"}</tool_call>', "malformed JSON in <tool_call>"),
    ("<tool_call>search(x)</tool_call>", "malformed JSON in <tool_call>: Expecting value at char 0"),
    ('<tool_call>{"name": "calculator", "arguments": {}}</tool_call>', "unknown tool 'calculator'; expected 'search'"),
    ('<tool_call>{"name": "search", "arguments": {"q": "x"}}</tool_call>', "non-empty string 'query'"),
    ('<tool_call>{"name": "search", "arguments": {"query": "  "}}</tool_call>', "non-empty string 'query'"),
    ("<tool_call>[1, 2]</tool_call>", 'expected {"name": "search"'),
    ("<search>x</search>", "no <tool_call>…</tool_call> or <answer>…</answer>"),
    (None, "expected the action to be a str, got NoneType"),
])
def test_malformed_tool_calls_are_invalid_with_a_reason(turn, reason):
    action = parse_tool_call(turn)
    assert action.kind == "invalid" and reason in action.reason


def test_an_episode_with_tool_calls():
    env = make_env(max_turns=2, format_reward=True)
    prompt, _ = env.reset(seed=0, options={"example": 0})
    assert "call the search tool" in prompt and prompt.endswith("Question: Who wrote Hamlet?\n")
    assert env.unwrapped.tools == [SEARCH_TOOL] and env.unwrapped.stop_strings == ("</tool_call>", "</answer>")
    obs, reward, *_, info = env.step(CALL)
    assert obs.startswith("Doc 1: (Title: Hamlet) Hamlet is a tragedy") and "<information>" not in obs
    assert (info["action"], info["query"], info["searches"], reward) == ("search", "Hamlet author", 1, 0.0)
    obs, reward, terminated, truncated, info = env.step(CALL.replace("}}", "}"))  # malformed JSON
    assert obs == INVALID_TOOL_CALL_MESSAGE and info["action"] == "invalid" and not (terminated or truncated)
    assert info["invalid_reason"].startswith("malformed JSON in <tool_call>")
    obs, reward, terminated, *_ = env.step("<answer>Charles Dickens</answer>")
    assert terminated and obs == "" and reward == MALFORMED_SCORE  # the same format-reward rules as tags


def test_tags_stay_the_default_and_bad_formats_are_refused():
    env = gym.make("ZeroSearch-v0", backend=BM25Backend.from_documents(DOCS), dataset=EXAMPLES)
    assert (env.unwrapped.action_format, env.unwrapped.tools) == ("tags", [])
    assert env.unwrapped.stop_strings == ("</search>", "</answer>")
    with pytest.raises(ValueError, match="expected action_format 'tags' or 'tool_call', got 'json'"):
        gym.make("ZeroSearch-v0", backend=BM25Backend.from_documents(DOCS), action_format="json")


def test_the_vector_env_batches_tool_call_searches():
    envs = gym.make_vec("ZeroSearch-v0", num_envs=2, vectorization_mode="vector_entry_point",
                        backend=BM25Backend.from_documents(DOCS), dataset=EXAMPLES, action_format="tool_call")
    assert envs.unwrapped.action_format == "tool_call" and envs.unwrapped.tools == [SEARCH_TOOL]
    envs.reset(seed=0)
    obs, *_, infos = envs.step([call("Hamlet"), call("Paris")])
    assert envs.unwrapped.backend_calls == 1 and all(o.startswith("Doc 1: ") for o in obs)
    assert list(infos["query"]) == ["Hamlet", "Paris"]


@pytest.fixture(scope="module")
def tokenizer():
    from zerosearch_gym.llm import smollm2_tokenizer

    return smollm2_tokenizer()


@pytest.fixture(scope="module")
def qwen_tokenizer():
    """SmolLM2's tokenizer with Qwen2.5's chat template (the one TRL ships; both are ChatML)."""
    trl = pytest.importorskip("trl")
    from zerosearch_gym.llm import smollm2_tokenizer

    tok = smollm2_tokenizer()
    tok.chat_template = (Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja").read_text()
    return tok


def test_a_template_that_renders_tools_gets_them_natively(qwen_tokenizer):
    text = prompt_text(qwen_tokenizer, "Question: x?", [SEARCH_TOOL])
    assert text.count(json.dumps(SEARCH_TOOL)) == 1 and "<tools>" in text and text.endswith("assistant\n")
    before, after = reply_frame(qwen_tokenizer, "tool")
    assert (before, after) == ("<|im_end|>\n<|im_start|>user\n<tool_response>\n",
                               "\n</tool_response><|im_end|>\n<|im_start|>assistant\n")


def test_a_template_without_tools_gets_the_hermes_block_as_system_message(tokenizer):
    text = prompt_text(tokenizer, "Question: x?", [SEARCH_TOOL])
    assert text.startswith("<|im_start|>system\n# Tools") and text.count('"name": "search"') == 1
    assert reply_frame(tokenizer, "tool") == ("<|im_end|>\n<|im_start|>tool\n", "<|im_end|>\n<|im_start|>assistant\n")
    with pytest.raises(ValueError, match="expected role 'tool' or 'user', got 'system'"):
        reply_frame(tokenizer, "system")


def test_token_view_ends_turns_at_tool_calls_and_frames_the_reply(qwen_tokenizer):
    env = ZeroSearchTokenEnv(make_env(max_turns=2), qwen_tokenizer, context_len=2048, max_turn_tokens=64)
    obs, _ = env.reset(seed=0, options={"example": 0})
    assert "<tools>" in qwen_tokenizer.decode(obs["ids"][obs["mask"] == 1])
    for token in qwen_tokenizer.encode(CALL, add_special_tokens=False):
        obs, reward, terminated, truncated, info = env.step(token)
    assert info["turn_end"] and info["turn_stop"] == "stop_string" and info["action"] == "search"
    text = qwen_tokenizer.decode(obs["ids"][obs["mask"] == 1])
    assert text.endswith("</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\nDoc 1: (Title: Hamlet) Hamlet "
                         "is a tragedy written by William Shakespeare around 1600.\n</tool_response><|im_end|>\n"
                         "<|im_start|>assistant\n")


def test_rollouts_mask_the_tool_messages_and_keep_the_sampled_ids(qwen_tokenizer):
    pytest.importorskip("torch")
    from agents.policy import Policy, Turn
    from agents.train.rollout import RolloutConfig, collect_rollouts
    from zerosearch_gym.llm.models import tiny_model

    policy = Policy(tiny_model("llama", seed=1)[0], qwen_tokenizer)
    texts = [CALL, "<answer>William Shakespeare</answer>"]
    turns = iter(texts)

    def actor(indices, contexts, transcripts):
        text = next(turns)
        return [Turn(qwen_tokenizer(text, add_special_tokens=False)["input_ids"], text, "stop") for _ in indices]

    envs = gym.make_vec("ZeroSearch-v0", num_envs=2, vectorization_mode="vector_entry_point",
                        backend=BM25Backend.from_documents(DOCS), dataset=EXAMPLES, top_k=2,
                        action_format="tool_call")
    batch = collect_rollouts(envs, policy, EXAMPLES[:1], 2, RolloutConfig(max_new_tokens=64), seed=0, actor=actor)
    assert batch.rewards.tolist() == [1.0, 1.0] and batch.stats["searches"] == 1.0
    assert batch.records[0]["steps"][0]["documents"][0].startswith("(Title: Hamlet) Hamlet is a tragedy")
    ids, mask = batch.input_ids[0].tolist(), batch.loss_mask[0].tolist()
    policy_text = qwen_tokenizer.decode([t for t, m in zip(ids, mask) if m == 1])
    assert policy_text == "".join(texts)  # the sampled ids, exactly
    env_text = qwen_tokenizer.decode([t for t, m in zip(ids, mask) if m == 0 and t != qwen_tokenizer.pad_token_id])
    assert "<tools>" in env_text and "<tool_response>\nDoc 1: (Title: Hamlet)" in env_text
    # sampling stops at the format's stop strings
    sampled = collect_rollouts(envs, policy, EXAMPLES[:1], 2, RolloutConfig(max_new_tokens=4), seed=1)
    assert all(len(s) <= 4 for row in sampled.sampled_ids for s in row)


def test_importing_the_env_pulls_no_trainer_package():
    import subprocess
    import sys

    heavy = ["torch", "ray", "openenv", "fastapi", "verifiers", "skyrl_gym", "verl", "wandb", "tensorboardX", "trl"]
    code = f"import sys, zerosearch_gym, zerosearch_gym.formats, zerosearch_gym.backends.shared; " \
           f"print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr[-2000:]


def test_grpo_learns_from_tool_call_rollouts(qwen_tokenizer):
    """The trainer's update is format-agnostic: a few GRPO steps on tool-call episodes raise the log-prob of the
    rewarded answer turns over the unrewarded ones, as with tags."""
    torch = pytest.importorskip("torch")
    import dataclasses

    from agents.policy import Policy, Turn
    from agents.train.config import TrainConfig
    from agents.train.rollout import RolloutConfig, collect_rollouts
    from agents.train.update import update
    from zerosearch_gym.llm.models import tiny_model

    policy, ref = (Policy(tiny_model("llama", seed=s)[0], qwen_tokenizer) for s in (1, 1))
    calls = {"n": 0}

    def actor(indices, contexts, transcripts):  # search, then a right (even env) or wrong (odd env) answer
        calls["n"] += 1
        right = {0: "William Shakespeare", 2: "Paris"}  # envs 0, 1: the first question; 2, 3: the second
        texts = [call("Hamlet") if calls["n"] == 1 else f"<answer>{right.get(i, 'Marlowe')}</answer>"
                 for i in indices]
        return [Turn(qwen_tokenizer(t, add_special_tokens=False)["input_ids"], t, "stop") for t in texts]

    envs = gym.make_vec("ZeroSearch-v0", num_envs=4, vectorization_mode="vector_entry_point",
                        backend=BM25Backend.from_documents(DOCS), dataset=EXAMPLES, max_turns=1, top_k=1,
                        action_format="tool_call")
    batch = collect_rollouts(envs, policy, EXAMPLES, 2, RolloutConfig(max_new_tokens=64), actor=actor)
    assert batch.rewards.tolist() == [1.0, 0.0, 1.0, 0.0]
    cfg = dataclasses.replace(TrainConfig(), algo="grpo", micro_batch_size=2, kl_coef=0.001, lr=3e-3)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.lr)

    def gap():
        with torch.no_grad():
            lp = policy.score(batch.input_ids, batch.attention_mask, batch.loss_mask)[0]
        return (lp[0].sum() + lp[2].sum() - lp[1].sum() - lp[3].sum()).item() / 2

    before = gap()
    for _ in range(4):
        update(policy, ref, batch, optimizer, cfg, torch.device("cpu"))
    assert gap() > before + 1.0
