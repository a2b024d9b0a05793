#!/usr/bin/env bash
# The learning arms (benchmarks/RESULTS.md, Training 2d): does RL against the simulator teach a 135M policy
# to search? Every arm starts from the shipped warm start (agents/data/warmstart-smollm2-lora):
#   A   no RL (zerosearch eval --policy warmstart)
#   B   GRPO against the verified tuned simulator with the noise curriculum (the default backend)
#   C   GRPO against BM25 (the real engine in training too)
#   D0  GRPO against the simulator with noise fixed at 0 (useful documents only)
# 40 steps x 16 episodes each (4 questions x 4 rollouts), then greedy evaluation with BM25 on all 200 wiki:dev
# and the 67 sample:in-wiki questions, and against the simulator at noise 0.5 on wiki:dev.
# Resumable: run it again after a kill; finished parts are skipped, a killed run resumes from its checkpoint,
# a killed evaluation continues from its per-episode file.
#
#   HF_HUB_OFFLINE=1 nohup scripts/learning_arms.sh > runs/arms/log.txt 2>&1 &
#   python scripts/compare_evals.py A=runs/arms/eval-A-dev B=runs/arms/eval-B-dev C=runs/arms/eval-C-dev ...
#   python scripts/arm_curves.py B=runs/arms/B C=runs/arms/C D0=runs/arms/D0      (the curves, per 5 steps)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/arms}
ZS=${ZS:-.venv/bin/zerosearch}
ARMS=${ARMS:-"B C D0"}
NOISY=${NOISY:-"B D0 A C"}  # noise-0.5 evaluations: B vs D0 (does the curriculum matter?) first
STEPS=${STEPS:-40}
export HF_HUB_OFFLINE=1
mkdir -p "$OUT"
TRAIN=(--steps "$STEPS" --questions-per-step 4 --rollouts-per-question 4 --save-every 2 --eval-ends false
       --seed 0 --progress false)
LIMITS=(--max-new-tokens 96 --max-turns 1 --max-obs-tokens 256 --max-seq-len 768 --top-k 3 --temperature 0)

train_arm() {  # NAME FLAGS...
  local dir=$OUT/$1; shift
  [ -f "$dir/done" ] && return 0
  local resume=()
  [ -f "$dir/checkpoint/state.json" ] || [ -f "$dir/.checkpoint-old/state.json" ] && resume=(--resume)
  echo "== train $dir $* ${resume[*]} ($(date -u +%FT%TZ))"
  "$ZS" train "${TRAIN[@]}" --output-dir "$dir" "$@" "${resume[@]}"
  touch "$dir/done"
}

evaluate() {  # NAME POLICY SUFFIX FLAGS...
  local dir=$OUT/eval-$1-$3 policy=$2; shift 3
  [ -f "$dir/eval.json" ] && return 0
  echo "== eval $dir ($(date -u +%FT%TZ))"
  "$ZS" eval --policy "$policy" "${LIMITS[@]}" --output-dir "$dir" "$@"
}

evaluate_arm() {  # NAME POLICY
  evaluate "$1" "$2" dev --datasets wiki:dev --backend bm25
  evaluate "$1" "$2" inwiki --datasets sample:in-wiki --backend bm25
}

evaluate scripted scripted dev --datasets wiki:dev --backend bm25
evaluate scripted scripted inwiki --datasets sample:in-wiki --backend bm25
evaluate_arm A warmstart
for arm in $ARMS; do
  case $arm in
    B) train_arm B ;;
    C) train_arm C --backend bm25 ;;
    D0) train_arm D0 --noise-kind fixed --noise-start 0 --noise-end 0 ;;
    *) echo "unknown arm $arm" >&2; exit 2 ;;
  esac
  evaluate_arm "$arm" "$OUT/$arm"
done
for arm in $NOISY; do
  case " A $ARMS " in *" $arm "*) ;; *) continue ;; esac  # only the arms this run trained
  policy=$OUT/$arm; [ "$arm" = A ] && policy=warmstart
  evaluate "$arm" "$policy" noisy --datasets wiki:dev --backend "hf?max_new_tokens=256" --noise 0.5
done
echo "== done ($(date -u +%FT%TZ))"
