#!/usr/bin/env bash
# GRPO with veRL's multi-turn tool agent loop, ZeroSearch's simulated search as the `search` tool.
# Needs GPUs, veRL with vLLM (or SGLang), and the simulator served at the tool config's backend URL:
#   python -m vllm.entrypoints.openai.api_server --model sunhaonlp/Simulation_LLM_google_14B_V2 \
#       --served-model-name simulator --port 8001 &
#   python examples/verl/prepare_data.py --train sunhaonlp/ZeroSearch_dataset --out data/zerosearch_verl
#   bash examples/verl/run_zerosearch_grpo.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-data/zerosearch_verl}
MODEL=${MODEL:-Qwen/Qwen2.5-3B-Instruct}
python3 -m verl.trainer.main_ppo \
    algorithm.adv_estimator=grpo \
    algorithm.use_kl_in_reward=False \
    data.train_files="$DATA/train.parquet" \
    data.val_files="$DATA/test.parquet" \
    data.train_batch_size=64 \
    data.max_prompt_length=1024 \
    data.max_response_length=3072 \
    data.return_raw_chat=True \
    actor_rollout_ref.model.path="$MODEL" \
    actor_rollout_ref.actor.optim.lr=1e-6 \
    actor_rollout_ref.actor.ppo_mini_batch_size=64 \
    actor_rollout_ref.actor.use_kl_loss=True \
    actor_rollout_ref.actor.kl_loss_coef=0.001 \
    actor_rollout_ref.actor.clip_ratio=0.2 \
    actor_rollout_ref.rollout.name=vllm \
    actor_rollout_ref.rollout.mode=async \
    actor_rollout_ref.rollout.n=5 \
    actor_rollout_ref.rollout.temperature=1.0 \
    actor_rollout_ref.rollout.top_p=0.95 \
    actor_rollout_ref.rollout.agent.default_agent_loop=tool_agent \
    actor_rollout_ref.rollout.multi_turn.enable=True \
    actor_rollout_ref.rollout.multi_turn.format=hermes \
    actor_rollout_ref.rollout.multi_turn.max_assistant_turns=5 \
    actor_rollout_ref.rollout.multi_turn.max_tool_response_length=1024 \
    actor_rollout_ref.rollout.multi_turn.tool_config_path=examples/verl/zerosearch_tool_config.yaml \
    reward.custom_reward_function.path=agents/integrations/verl_data.py \
    reward.custom_reward_function.name=compute_score \
    trainer.total_epochs=1 \
    trainer.total_training_steps=203 \
    trainer.n_gpus_per_node="${N_GPUS:-8}" \
    trainer.nnodes=1 \
    trainer.logger='["console"]' \
    trainer.project_name=zerosearch \
    trainer.experiment_name=zerosearch-verl-grpo "$@"
