"""The token view (RLlib / SB3) and the chat view of ZeroSearch-v0."""
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest

import zerosearch_gym  # noqa: F401
from zerosearch_gym.wrappers import ZeroSearchChatEnv, ZeroSearchTokenEnv


@pytest.fixture(scope="module")
def tokenizer():
    from zerosearch_gym.llm import smollm2_tokenizer

    return smollm2_tokenizer()


def token_env(backend, examples, tokenizer, **kw):
    text_env = gym.make("ZeroSearch-v0", backend=backend, dataset=examples, max_turns=2)
    return ZeroSearchTokenEnv(text_env, tokenizer, **{"context_len": 64, "max_turn_tokens": 12, **kw})


def play(env, text):
    """Feed the tokens of ``text`` one by one; return the last step's values and the per-token turn_end flags."""
    ids = env.tokenizer.encode(text, add_special_tokens=False)
    ends = []
    for token in ids:
        out = env.step(token)
        ends.append(out[4]["turn_end"])
    return out, ends


def test_gymnasium_and_sb3_check_env_pass(backend, examples, tokenizer):
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = token_env(backend, examples, tokenizer)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
        sb3_check_env(env, warn=True)
    assert [str(w.message) for w in caught] == []


def test_a_search_then_an_answer_token_by_token(backend, examples, tokenizer):
    env = token_env(backend, examples, tokenizer, max_turn_tokens=64)
    obs, info = env.reset(seed=0, options={"example": 0})
    prompt_len = int(obs["mask"].sum())
    assert env.observation_space.contains(obs) and prompt_len > 0 and info["turn_end"] is False
    (obs, reward, term, trunc, info), ends = play(env, "<think>hm</think><search> capital of France </search>")
    assert ends == [False] * (len(ends) - 1) + [True]  # the turn ends exactly on the stop string
    assert (info["action"], info["query"], info["turn_stop"], reward, term) == ("search", "capital of France",
                                                                                "stop_string", 0.0, False)
    assert env.tokenizer.decode(obs["ids"][obs["mask"] == 1]).rstrip().endswith("</information>")
    (obs, reward, term, trunc, info), _ = play(env, "<answer> Paris </answer>")
    assert (reward, term, trunc, info["f1"]) == (1.0, True, False, 1.0)
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(0)


def test_token_cap_and_eos_end_a_turn(backend, examples, tokenizer):
    env = token_env(backend, examples, tokenizer, max_turn_tokens=5)
    env.reset(seed=1)
    word = tokenizer.encode(" hello", add_special_tokens=False)[0]
    infos = [env.step(word)[4] for _ in range(5)]
    assert [i["turn_end"] for i in infos] == [False] * 4 + [True]
    assert (infos[-1]["turn_stop"], infos[-1]["action"]) == ("token_cap", "invalid")
    info = env.step(tokenizer.eos_token_id)[4]
    assert (info["turn_end"], info["turn_stop"], info["turn_tokens"]) == (True, "eos", 1)


def test_window_is_left_padded_and_keeps_the_latest_tokens(backend, examples, tokenizer):
    env = token_env(backend, examples, tokenizer, context_len=8)
    obs, _ = env.reset(seed=0)
    assert obs["mask"].tolist() == [1] * 8  # the prompt is longer than the window
    word = tokenizer.encode(" hello", add_special_tokens=False)[0]
    obs = env.step(word)[0]
    assert obs["ids"][-1] == word and obs["ids"].dtype == np.int64
    words = tokenizer.encode(" one two three four five six seven eight nine ten eleven", add_special_tokens=False)
    env = token_env(backend, examples, tokenizer, context_len=8, max_turn_tokens=64)
    env.reset(seed=0)
    for token in words:  # more than twice the window: the buffer wraps
        obs = env.step(token)[0]
    assert obs["ids"].tolist() == words[-8:] and obs["mask"].tolist() == [1] * 8
    short = token_env(backend, examples, tokenizer, context_len=4096)
    obs, _ = short.reset(seed=0)
    n = int(obs["mask"].sum())
    assert obs["mask"][:-n].sum() == 0 and (obs["ids"][:-n] == short.pad_id).all()


def test_bad_input_is_a_clear_error(backend, examples, tokenizer):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = Tokenizer(models.WordLevel({"[UNK]": 0, "search": 1, "answer": 2, "paris": 3}, unk_token="[UNK]"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    no_tags = PreTrainedTokenizerFast(tokenizer_object=words, unk_token="[UNK]")
    with pytest.raises(ValueError, match="stop string '</search>' losslessly"):
        token_env(backend, examples, no_tags)
    env = token_env(backend, examples, tokenizer)
    with pytest.raises(ValueError, match="context_len to be an int >= 1, got 0"):
        token_env(backend, examples, tokenizer, context_len=0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="expected a token id in"):
        env.step(len(tokenizer) + 5)


def test_curriculum_reaches_the_text_env_through_a_sync_vector_env(backend, examples, tokenizer):
    envs = gym.vector.SyncVectorEnv([lambda: token_env(backend, examples, tokenizer) for _ in range(2)])
    envs.call("set_curriculum_step", 150, 203)
    assert [e.env.unwrapped.curriculum_step for e in envs.envs] == [150, 150]
    obs, _ = envs.reset(seed=3)
    assert obs["ids"].shape == (2, 64)


def test_chat_view_builds_the_conversation(backend, examples):
    env = ZeroSearchChatEnv(gym.make("ZeroSearch-v0", backend=backend, dataset=examples), obs_role="tool")
    messages, _ = env.reset(seed=0, options={"example": 0})
    assert env.observation_space.contains(messages)
    messages, *_ = env.step("<search>France</search>")
    messages, reward, term, _, _ = env.step("<answer>Paris</answer>")
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert "<information>" in messages[2]["content"] and (reward, term) == (1.0, True)
    assert env.observation_space.contains(messages)
    with pytest.raises(ValueError, match="obs_role 'user' or 'tool'"):
        ZeroSearchChatEnv(gym.make("ZeroSearch-v0", backend=backend, dataset=examples), obs_role="system")


def test_importing_the_wrappers_does_not_import_torch():
    code = "import sys, zerosearch_gym, zerosearch_gym.wrappers; print('torch' in sys.modules, 'ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_registered_token_id_builds_the_token_view(backend, examples):
    env = gym.make("ZeroSearchToken-v0", tokenizer="smollm2", backend=backend, dataset=examples, context_len=32)
    obs, _ = env.reset(seed=0)
    assert obs["ids"].shape == (32,) and isinstance(env.unwrapped, ZeroSearchTokenEnv)
