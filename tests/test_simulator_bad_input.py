"""Bad input to simulator tuning: clear errors before work, or counted skips; a real judge on 127.0.0.1."""
from __future__ import annotations

import json

import pytest
from fake_servers import FakeServer, refused_url

from agents.simulator import main as simulator
from agents.simulator.build_data import label_pairs
from agents.simulator.judge import Judge
from agents.simulator.rows import make_row, read_rows, write_rows
from zerosearch_gym import UsageError


def good_row(label="useful"):
    return make_row("Paris", "Capital of France", ["Paris"], ["Paris is the capital of France."] * 5, label, {})


@pytest.mark.parametrize("change, message", [
    (lambda r: r.pop("target"), r"missing \['target'\]"),
    (lambda r: r.update(label="helpful"), "expected label 'useful' or 'noisy', got 'helpful'"),
    (lambda r: r.update(target="  "), "non-empty string"),
])
def test_bad_rows_fail_before_any_model_loads(tmp_path, change, message):
    rows = [good_row(), good_row("noisy")]
    change(rows[1])
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ValueError, match=rf"row 2: .*{message}"):
        read_rows(path)
    with pytest.raises(ValueError, match="row 2"):  # tune checks the rows first (no base model is loaded)
        simulator(["tune", "--data", str(path), "--out", str(tmp_path / "out"), "--base", "/nonexistent"])


def test_unreadable_and_misnamed_data_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_rows(tmp_path / "missing.jsonl")
    (tmp_path / "broken.jsonl").write_text('{"prompt": \n')
    with pytest.raises(ValueError, match="line 1: expected a JSON object"):
        read_rows(tmp_path / "broken.jsonl")
    with pytest.raises(ValueError, match=".jsonl or .parquet"):
        write_rows([good_row()], tmp_path / "rows.csv")
    with pytest.raises(ValueError, match="label 'useful' or 'noisy'"):
        make_row("q", "Q", ["A"], ["doc"], "maybe", {})


def test_base_folder_that_is_not_a_causal_lm(tmp_path):
    from zerosearch_gym.llm.models import smollm2_tokenizer

    rows = tmp_path / "rows.jsonl"
    write_rows([good_row(), good_row("noisy")], rows)
    smollm2_tokenizer().save_pretrained(tmp_path / "tokenizer_only")
    with pytest.raises(ValueError, match="expected a causal-LM checkpoint folder"):
        simulator(["tune", "--data", str(rows), "--out", str(tmp_path / "o"), "--base", str(tmp_path / "tokenizer_only")])
    with pytest.raises(FileNotFoundError, match="no such folder"):
        simulator(["tune", "--data", str(rows), "--out", str(tmp_path / "o"), "--base", str(tmp_path / "nope")])


def test_adapter_for_another_base_is_refused(tmp_path):
    from zerosearch_gym.backends._adapter import apply_adapter
    from zerosearch_gym.backends.hf import HFSimulatorBackend
    from zerosearch_gym.llm.models import tiny_model

    llama, tokenizer = tiny_model("llama")
    from peft import LoraConfig, get_peft_model

    get_peft_model(llama, LoraConfig(r=2, target_modules=["q_proj"])).save_pretrained(tmp_path / "a")
    (tmp_path / "a" / "zerosearch_base.json").write_text(json.dumps(
        {"model_type": "llama", "hidden_size": 576, "num_hidden_layers": 30, "base": "smollm2-135m-instruct"}))
    other, _ = tiny_model("llama", seed=1)
    with pytest.raises(ValueError, match=r"tuned on \(smollm2-135m-instruct\).*hidden_size: adapter 576 vs model 64"):
        HFSimulatorBackend(model_obj=other, tokenizer=tokenizer, adapter=str(tmp_path / "a"))
    (tmp_path / "a" / "zerosearch_base.json").unlink()  # a plain peft adapter: peft's own check, wrapped
    with pytest.raises(ValueError, match="could not apply the adapter"):
        _apply_mismatched(tmp_path / "a")
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        apply_adapter(other, tmp_path)


def _apply_mismatched(adapter):
    """An adapter of rank-2 q_proj LoRA for hidden 64, applied to a model whose q_proj is 32 wide."""
    from transformers import AutoModelForCausalLM, LlamaConfig

    from zerosearch_gym.backends._adapter import apply_adapter

    config = LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)
    return apply_adapter(AutoModelForCausalLM.from_config(config), adapter)


PAIR = {"query": "capital of France", "question": "What is the capital of France?", "answers": ["Paris"],
        "documents": ["Paris is the capital of France.", "France is in Europe."], "correct": True, "id": "q1"}


def test_judge_labels_pairs_and_counts_nonsense_as_skips():
    with FakeServer() as server:
        judge = Judge.from_spec(f"openai:{server.url}?model=judge")
        judge.check()
        noisy = {**PAIR, "documents": ["Berlin is the capital of Germany."]}
        nonsense = {**PAIR, "query": "capital #fault=nodocs"}  # the server answers neither yes nor no
        rows, skipped = label_pairs([PAIR, noisy, nonsense], "judge", judge)
    assert [r["label"] for r in rows] == ["useful", "noisy"]
    assert skipped == {"judge_nonsense": 1}
    assert rows[0]["provenance"]["label_by"] == "judge"


def test_judge_down_is_an_error_before_work(tmp_path):
    with pytest.raises(RuntimeError, match="expected a working OpenAI-compatible judge"):
        Judge.from_spec(f"openai:{refused_url()}").check()
    with pytest.raises(UsageError, match="expected --judge openai:URL with --label judge"):
        simulator(["build-data", "--label", "judge", "--out", str(tmp_path / "x.jsonl")])
    with pytest.raises(ValueError, match="expected a judge spec"):
        Judge.from_spec("http://127.0.0.1:1/v1")
