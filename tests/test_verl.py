"""veRL: our backends as its ``search`` tool (loaded from the shipped tool config by veRL's own registry), veRL's
hermes parser reading our tool calls, the example's overrides composed into veRL's trainer config, the data
rows and the reward. The parts without veRL run everywhere; the rest with ``zerosearch-gym[verl]``."""
import asyncio
import json
import re
import shlex
from pathlib import Path

import pytest

from agents.integrations.verl_data import compute_score, dataset_rows
from zerosearch_gym import QAExample
from zerosearch_gym.formats import SEARCH_TOOL, tool_call_prompt

ROOT = Path(__file__).resolve().parents[1]
DOCS = [{"title": "Hamlet", "text": "Hamlet is a tragedy written by William Shakespeare."},
        {"title": "Paris", "text": "Paris is the capital and largest city of France."}]
EXAMPLES = [QAExample("q1", "Who wrote Hamlet?", ("William Shakespeare", "Shakespeare"), "demo")]


def test_rows_carry_the_tool_kwargs_and_the_gold_answers():
    (row,) = dataset_rows(EXAMPLES)
    assert row["agent_name"] == "tool_agent" and row["prompt"][0]["content"] == tool_call_prompt("Who wrote Hamlet?")
    assert row["reward_model"]["ground_truth"] == {"target": ["William Shakespeare", "Shakespeare"]}
    assert row["extra_info"]["tools_kwargs"]["search"]["create_kwargs"] == {
        "question": "Who wrote Hamlet?", "ground_truth": {"target": ["William Shakespeare", "Shakespeare"]}}


@pytest.mark.parametrize("response, score", [
    ("<tool_call>{}</tool_call> ... <answer> William Shakespeare </answer>", 1.0),
    ("<answer>Marlowe</answer> then <answer>Shakespeare</answer>", 1.0),  # the last answer counts
    ("<answer>Christopher Marlowe</answer>", 0.0),
    ("no answer", 0.0),
])
def test_the_reward_is_the_f1_of_the_last_answer(response, score):
    assert compute_score("demo", response, {"target": ["William Shakespeare", "Shakespeare"]})["score"] == score


@pytest.fixture(scope="module")
def tool(tmp_path_factory):
    pytest.importorskip("verl.tools.base_tool")
    from omegaconf import OmegaConf
    from verl.tools.tool_registry import initialize_tools_from_config

    folder = tmp_path_factory.mktemp("verl")
    corpus = folder / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    config = OmegaConf.load(ROOT / "examples/verl/zerosearch_tool_config.yaml")
    config.tools[0].config.backend = f"bm25:{corpus}"
    config.tools[0].config.top_k = 2
    config.tools[0].config.seed = 0
    OmegaConf.save(config, folder / "tools.yaml")
    (tool,) = initialize_tools_from_config(str(folder / "tools.yaml"))
    return tool


def call(tool, parameters, **create):
    async def run():
        instance, _ = await tool.create(create_kwargs={"question": "Who wrote Hamlet?",
                                                       "ground_truth": {"target": ["Shakespeare"]}, **create})
        try:
            return await tool.execute(instance, parameters)
        finally:
            await tool.release(instance)

    return asyncio.run(run())


def test_the_tool_config_loads_and_the_tool_searches(tool):
    schema = tool.get_openai_tool_schema().model_dump(exclude_none=True)
    schema["function"].pop("strict", None)
    assert tool.name == "search" and schema == SEARCH_TOOL  # the yaml repeats the env's own schema
    response, reward, metrics = call(tool, {"query": "Hamlet tragedy"})
    assert response.text == ("Doc 1: (Title: Hamlet) Hamlet is a tragedy written by William Shakespeare.")
    assert reward == 0.0 and metrics["noisy"] == 0.0 and metrics["documents"] == 1.0
    metrics = call(tool, {"query": "Paris"}, noise_probability=1.0)[2]  # a row's fixed p, over a real engine
    assert metrics["noisy"] == 0.0 and metrics["noise_probability"] == 0.0
    from agents.integrations.verl_tool import ZeroSearchTool
    from conftest import RecordingBackend  # a simulator stand-in: there the row's p decides

    simulated = ZeroSearchTool({"backend": RecordingBackend(), "top_k": 2, "seed": 0})
    assert call(simulated, {"query": "Paris"}, noise_probability=1.0)[2]["noisy"] == 1.0
    response, _, metrics = call(tool, {"q": "x"})
    assert response.text == "Error: expected a non-empty string 'query'." and metrics == {"invalid": 1.0}
    assert not tool.instances  # released


def test_verls_hermes_parser_reads_our_tool_calls(tool):
    from verl.experimental.agent_loop.tool_parser import ToolParser

    from zerosearch_gym.llm import smollm2_tokenizer

    tokenizer = smollm2_tokenizer()
    text = '<think>who?</think><tool_call>\n{"name": "search", "arguments": {"query": "Hamlet tragedy"}}\n</tool_call>'
    parser = ToolParser.get_tool_parser("hermes", tokenizer)
    content, calls = asyncio.run(parser.extract_tool_calls(tokenizer.encode(text, add_special_tokens=False)))
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("search", {"query": "Hamlet tragedy"})]
    response, *_ = call(tool, json.loads(calls[0].arguments))
    assert response.text.startswith("Doc 1: (Title: Hamlet)")


def test_the_example_overrides_compose_into_verls_trainer_config():
    pytest.importorskip("verl.trainer")
    from hydra import compose, initialize_config_module

    script = (ROOT / "examples/verl/run_zerosearch_grpo.sh").read_text()
    command = re.search(r"python3 -m verl.trainer.main_ppo \\\n(.*?) \"\$@\"", script, re.DOTALL).group(1)
    overrides = [o.replace('"$DATA', "data/zerosearch_verl").replace('"$MODEL"', "Qwen/Qwen2.5-3B-Instruct")
                 .replace('"${N_GPUS:-8}"', "8").rstrip('"').replace('.parquet"', ".parquet")
                 for o in shlex.split(command.replace("\\\n", " "), posix=False)]
    with initialize_config_module(config_module="verl.trainer.config", version_base=None):
        cfg = compose(config_name="ppo_trainer", overrides=overrides)
    multi_turn = cfg.actor_rollout_ref.rollout.multi_turn
    assert multi_turn.enable and multi_turn.format == "hermes"
    assert multi_turn.tool_config_path == "examples/verl/zerosearch_tool_config.yaml"
    assert cfg.reward.custom_reward_function.path == "agents/integrations/verl_data.py"
    assert cfg.actor_rollout_ref.rollout.agent.default_agent_loop == "tool_agent"
