"""TRL GRPOTrainer with ZeroSearch-v0 as its multi-turn environment: one step in one process, one in two."""
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")


def test_one_grpo_step_with_multi_turn_rollouts(tmp_path):
    from trl_grpo import build_trainer

    trainer, rollout = build_trainer("tiny", steps=1, batch=2, generations=2, max_turns=1, max_new_tokens=8,
                                     output_dir=str(tmp_path))
    result = trainer.train()
    assert trainer.state.global_step == 1 and math.isfinite(result.training_loss)
    assert rollout.episodes == 2  # one episode per rollout of the batch
    log = trainer.state.log_history[0]
    # a random policy never writes a tag: 2 turns of 8 sampled tokens; the corrective message in between is
    # environment text (env_mask 0), so it is not counted as completion length
    assert log["completions/mean_length"] == 16


def test_rollout_masks_environment_tokens(tmp_path):
    from trl_grpo import build_trainer

    trainer, rollout = build_trainer("tiny", steps=1, max_turns=1, max_new_tokens=6, output_dir=str(tmp_path))
    prompts = [row["prompt"] for row in rollout.dataset().select([0, 1])]
    out = rollout(prompts, trainer)
    tokenizer = trainer.processing_class
    for ids, mask in zip(out["completion_ids"], out["env_mask"]):
        assert len(ids) == len(mask) and mask[:6] == [1] * 6 and mask[-6:] == [1] * 6
        env_text = tokenizer.decode([t for t, m in zip(ids, mask) if m == 0])
        assert "My previous action is invalid" in env_text
    assert out["logprobs"] is None and out["env_reward"] == [0.0, 0.0]
    with pytest.raises(ValueError, match="expected prompts from ZeroSearchRollout.dataset"):
        rollout([[{"role": "user", "content": "What is 2+2?"}]], trainer)


@pytest.mark.skipif(shutil.which("accelerate") is None and not (Path(sys.executable).parent / "accelerate").exists(),
                    reason="accelerate CLI not installed")
def test_accelerate_two_processes_each_play_the_environment(tmp_path):
    launcher = Path(sys.executable).parent / "accelerate"
    cmd = [str(launcher if launcher.exists() else "accelerate"), "launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", str(ROOT / "examples/trl_grpo.py"),
           "--steps", "1", "--max-new-tokens", "8", "--output-dir", str(tmp_path / "out"), "--report", str(tmp_path)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in reports] == [2, 2]
    assert all(r["episodes"] == 2 and r["global_step"] == 1 for r in reports)  # each rank played its own slice
    assert all(math.isfinite(r["train_loss"]) for r in reports)
