#!/usr/bin/env bash
# GRPO on geo3k (geometry problems with a figure) for Qwen3.5-VL with slime, every checkpoint step done by
# megabridge on CPU: inspect → HF to Megatron torch_dist → verify → slime train.py → Megatron to HF → verify.
# See README.md beside this file. Every step prints its command first and is skipped when its output exists
# (megabridge writes each output folder under a temporary name and renames it when complete).
#
#   MODEL_NAME  Qwen3.5-9B (default), Qwen3.5-27B or Qwen3.5-35B-A3B; only names the defaults below
#   MODEL_DIR   HF checkpoint folder (default $HOME/models/$MODEL_NAME); dense or MoE is read from its config.json
#   DATA_DIR    geo3k parquet folder: train.parquet, test.parquet (columns problem, answer, images)
#   WORK_DIR    where the Megatron checkpoints, reports and the exported HF folder go
#   MODE        native (slime main's own Qwen3.5 model, slime schema) or bridge (slime with Megatron-Bridge)
#   NUM_GPUS    GPUs of the node (default 8)
#   DRY_RUN=1   print every command; run only the CPU steps (those that need weights only when MODEL_DIR has them)
#   FP8=1       also export the trained model as blockwise FP8 for the rollout engine
#   SLIME_DIR   slime checkout holding train.py (default $HOME/slime)
#   MEGABRIDGE  the megabridge launcher (default: the one of this repository)
set -euo pipefail

EXAMPLE_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
MODEL_NAME=${MODEL_NAME:-Qwen3.5-9B}
MODEL_DIR=${MODEL_DIR:-$HOME/models/$MODEL_NAME}
DATA_DIR=${DATA_DIR:-$HOME/datasets/geo3k_imgurl}
WORK_DIR=${WORK_DIR:-$HOME/work/geo3k-$MODEL_NAME}
MODE=${MODE:-native}
NUM_GPUS=${NUM_GPUS:-8}
DRY_RUN=${DRY_RUN:-0}
FP8=${FP8:-0}
SLIME_DIR=${SLIME_DIR:-$HOME/slime}
MEGABRIDGE=${MEGABRIDGE:-$EXAMPLE_DIR/../../megabridge}

case "$MODE" in
  native) SCHEMA=slime ;;
  bridge) SCHEMA=megatron-bridge ;;
  *) echo "error: MODE=$MODE: expected native or bridge" >&2; exit 2 ;;
esac

fail() {
  echo "error: $*" >&2
  exit 1
}

# Prints a command as one copy-pasteable line.
show() {
  local quoted
  printf -v quoted ' %q' "$@"
  echo "+${quoted}"
}

# step NUMBER TITLE: ends the previous step (its wall time) and prints the new one's header.
STEP_STARTED_NS=""
step() {
  end_step
  echo
  echo "== step $1: $2"
  STEP_STARTED_NS=$(date +%s%N)
}

end_step() {
  if [[ -n "$STEP_STARTED_NS" ]]; then
    local elapsed_ms=$((($(date +%s%N) - STEP_STARTED_NS) / 1000000))
    printf '   (step took %d.%03d s)\n' $((elapsed_ms / 1000)) $((elapsed_ms % 1000))
  fi
}

has_weights() {
  compgen -G "$MODEL_DIR/*.safetensors" > /dev/null
}

# Runs a megabridge CPU step unless the model has no weights (then, in a dry run, only shows it).
cpu_step() {
  show "$MEGABRIDGE" "$@"
  if has_weights; then
    "$MEGABRIDGE" "$@"
  elif [[ "$DRY_RUN" == 1 ]]; then
    echo "   (not run: $MODEL_DIR holds no weights, only a config)"
  else
    fail "$MODEL_DIR holds no *.safetensors weights"
  fi
}

[[ -f "$MODEL_DIR/config.json" ]] || fail "MODEL_DIR=$MODEL_DIR has no config.json"
mkdir -p "$WORK_DIR"
TORCH_DIST="$WORK_DIR/torch_dist"
SAVE_DIR="$WORK_DIR/checkpoints"
echo "MODEL_NAME=$MODEL_NAME MODEL_DIR=$MODEL_DIR MODE=$MODE (schema $SCHEMA) WORK_DIR=$WORK_DIR DRY_RUN=$DRY_RUN"

# ---- 1. inspect: an unsupported or incomplete checkpoint fails here ---------------------------------------
step 1 "inspect $MODEL_DIR"
show "$MEGABRIDGE" inspect "$MODEL_DIR" --json
FACTS=$("$MEGABRIDGE" inspect "$MODEL_DIR" --json) || fail "inspect refused $MODEL_DIR (see above)"
if grep -q '"experts" :' <<< "$FACTS"; then
  IS_MOE=1
  # Expert parallelism over the node, whole experts on every rank (slime's example layout).
  LAYOUT=(--tp 2 --ep "$NUM_GPUS" --etp 1)
else
  IS_MOE=0
  LAYOUT=(--tp 2)
fi
echo "model: $(grep -o '"architecture" : "[^"]*"' <<< "$FACTS" | cut -d'"' -f4), MoE=$IS_MOE; training layout: ${LAYOUT[*]}"
echo "per-rank plan of that layout:"
show "$MEGABRIDGE" inspect "$MODEL_DIR" --schema "$SCHEMA" "${LAYOUT[@]}"
"$MEGABRIDGE" inspect "$MODEL_DIR" --schema "$SCHEMA" "${LAYOUT[@]}" | sed -n '/^ranks:/,$p'

# ---- 2. HF → Megatron torch_dist, in the schema and layout of the run --------------------------------------
step 2 "import to $TORCH_DIST"
if [[ -d "$TORCH_DIST" ]]; then
  echo "   (skipped: $TORCH_DIST exists)"
else
  cpu_step import "$MODEL_DIR" "$TORCH_DIST" --format torch_dist --schema "$SCHEMA" "${LAYOUT[@]}"
fi

# ---- 3. verify: the Megatron checkpoint computes what the HF one does, before any GPU is spent --------------
step 3 "verify $MODEL_DIR against $TORCH_DIST"
PROMPTS="$WORK_DIR/geo3k-prompts.jsonl"
{
  echo '{"text": "In triangle ABC, angle C is a right angle, AC = 6 and BC = 8. Find the length of AB."}'
  printf '{"text": "The figure shows a right triangle. Its legs are 5 and 12. What is its hypotenuse?", "images": ["%s"]}\n' \
    "$EXAMPLE_DIR/triangle.png"
} > "$PROMPTS"
if [[ -f "$WORK_DIR/verify-import.ok" ]]; then
  echo "   (skipped: $WORK_DIR/verify-import.ok exists)"
else
  # Exit 3 (log-probabilities apart beyond the tolerance) stops the script here. Text prompts need the model's
  # tokenizer; without one, verify's own prompts (token ids and a generated image from the config) are used.
  if [[ -f "$MODEL_DIR/tokenizer.json" ]]; then
    cpu_step verify "$MODEL_DIR" "$TORCH_DIST" --prompts "$PROMPTS"
  else
    echo "   ($MODEL_DIR has no tokenizer.json: verify's default text and image prompts instead of $PROMPTS)"
    cpu_step verify "$MODEL_DIR" "$TORCH_DIST"
  fi
  if has_weights; then
    touch "$WORK_DIR/verify-import.ok"
  fi
fi

# ---- 4. slime: GRPO on geo3k ---------------------------------------------------------------------------------
step 4 "slime train.py ($MODE)"
read -r -a MODEL_ARGS <<< "$("$MEGABRIDGE" provider "$MODEL_DIR" --schema "$SCHEMA" --format megatron-args)"
CHECKPOINT_ARGS=(--hf-checkpoint "$MODEL_DIR" --load "$TORCH_DIST" --ref-load "$TORCH_DIST" --save "$SAVE_DIR"
  --save-interval 20)
if [[ "$MODE" == bridge ]]; then
  CHECKPOINT_ARGS+=(--megatron-to-hf-mode bridge)
fi
ROLLOUT_ARGS=(--prompt-data "$DATA_DIR/train.parquet" --input-key problem --label-key answer
  --multimodal-keys '{"image": "images"}' --apply-chat-template --rollout-shuffle --rm-type deepscaler
  --num-rollout 3000 --rollout-batch-size 64 --n-samples-per-prompt 8 --rollout-max-response-len 4096
  --rollout-temperature 0.8 --global-batch-size 512)
EVAL_ARGS=(--eval-interval 20 --eval-prompt-data geo3k "$DATA_DIR/test.parquet" --n-samples-per-eval-prompt 1
  --eval-max-response-len 4096)
GRPO_ARGS=(--advantage-estimator grpo --kl-loss-coef 0.00 --kl-loss-type low_var_kl --kl-coef 0.00
  --entropy-coef 0.00 --eps-clip 0.2 --eps-clip-high 0.28)
OPTIMIZER_ARGS=(--optimizer adam --lr 1e-6 --lr-decay-style constant --weight-decay 0.1 --adam-beta1 0.9
  --adam-beta2 0.98)
SGLANG_ARGS=(--rollout-num-gpus-per-engine "$NUM_GPUS" --sglang-mem-fraction-static 0.7
  --sglang-max-running-requests 512 --sglang-disable-custom-all-reduce)
PARALLEL_ARGS=(--tensor-model-parallel-size 2 --sequence-parallel --pipeline-model-parallel-size 1
  --context-parallel-size 1)
if [[ "$IS_MOE" == 1 ]]; then
  # MoE rollouts as the original example runs them: expert parallel, MTP-based NEXTN speculative decoding, and the
  # hybrid scheduler for the Gated DeltaNet state (page size 64 keeps the radix cache with speculation).
  mapfile -t GRAPH_BATCH_SIZES < <(seq 16 8 256)
  SGLANG_ARGS+=(--sglang-ep-size "$NUM_GPUS" --sglang-cuda-graph-bs 1 2 4 8 "${GRAPH_BATCH_SIZES[@]}"
    --sglang-speculative-algorithm NEXTN --sglang-speculative-num-steps 3 --sglang-speculative-eagle-topk 1
    --sglang-speculative-num-draft-tokens 4 --sglang-mamba-scheduler-strategy extra_buffer --sglang-page-size 64)
  PARALLEL_ARGS+=(--expert-model-parallel-size "$NUM_GPUS" --expert-tensor-parallel-size 1)
fi
# The Gated DeltaNet takes no packed sequences: padded BSHD batches of one.
BACKEND_ARGS=(--train-backend megatron "${PARALLEL_ARGS[@]}" --recompute-granularity full --recompute-method uniform
  --recompute-num-layers 1 --attention-dropout 0.0 --hidden-dropout 0.0 --accumulate-allreduce-grads-in-fp32
  --attention-softmax-in-fp32 --attention-backend flash --qkv-format bshd --micro-batch-size 1 --colocate)
TRAIN=(ray job submit --address=http://127.0.0.1:8265 --working-dir "$SLIME_DIR" -- python3 train.py
  --actor-num-nodes 1 --actor-num-gpus-per-node "$NUM_GPUS" "${MODEL_ARGS[@]}" "${CHECKPOINT_ARGS[@]}"
  "${ROLLOUT_ARGS[@]}" "${EVAL_ARGS[@]}" "${GRPO_ARGS[@]}" "${OPTIMIZER_ARGS[@]}" "${SGLANG_ARGS[@]}"
  "${BACKEND_ARGS[@]}")
show "${TRAIN[@]}"
# The same command, one argument per line, for scripts that check or reuse it.
printf '%s\n' "${TRAIN[@]}" > "$WORK_DIR/train.args"
if [[ -f "$WORK_DIR/train.done" ]]; then
  echo "   (skipped: $WORK_DIR/train.done exists)"
elif [[ "$DRY_RUN" == 1 ]]; then
  echo "   (dry run: not started)"
else
  [[ -f "$DATA_DIR/train.parquet" ]] || fail "DATA_DIR=$DATA_DIR has no train.parquet"
  "${TRAIN[@]}"
  touch "$WORK_DIR/train.done"
fi

# ---- 5. Megatron → HF of the last saved iteration, and what training changed ---------------------------------
step 5 "export the trained model"
if [[ -f "$SAVE_DIR/latest_checkpointed_iteration.txt" ]]; then
  TRAINED="$SAVE_DIR"
else
  # Nothing trained yet (dry run): export what step 2 wrote, which must give back MODEL_DIR exactly.
  TRAINED="$TORCH_DIST"
  echo "   (no $SAVE_DIR/latest_checkpointed_iteration.txt: exporting $TORCH_DIST instead)"
fi
EXPORTED="$WORK_DIR/hf-trained"
if [[ -d "$EXPORTED" ]]; then
  echo "   (skipped: $EXPORTED exists)"
else
  cpu_step export "$TRAINED" "$EXPORTED" --hf-config "$MODEL_DIR"
fi
if [[ "$FP8" == 1 ]]; then
  if [[ -d "$EXPORTED-fp8" ]]; then
    echo "   (skipped: $EXPORTED-fp8 exists)"
  else
    cpu_step export "$TRAINED" "$EXPORTED-fp8" --hf-config "$MODEL_DIR" --quantize fp8-block
  fi
fi
# Exit 3 means the weights differ, which is what training does: report it, do not stop.
set +e
cpu_step verify "$MODEL_DIR" "$EXPORTED" --weights
status=$?
set -e
case "$status" in
  0) echo "weights: identical to $MODEL_DIR" ;;
  3) echo "weights: changed by training (listed above)" ;;
  *) fail "verify --weights failed with exit $status" ;;
esac
end_step
echo
echo "done: $WORK_DIR"
