#!/bin/sh
# The GRPO demonstration on stories260K (configs/grpo_lora_stories260k.json): stories260K has never seen a digit
# answer, so a short supervised warm-up on the same problems (their "completion" field) teaches it the answer
# format first; GRPO then trains the warm-up's LoRA adapter on the exact-match reward.
#   scripts/grpo_demo.sh [OUT]      (default runs/grpo_demo; about 5 minutes on 2 CPU cores with lavapipe)
set -e
OUT=${1:-runs/grpo_demo}
VKT=${VKT:-./build/vktrain}
$VKT finetune configs/finetune_lora_stories260k.json data.train=data/rl/arithmetic_train.jsonl \
    data.val=data/rl/arithmetic_val.jsonl data.format=sft optim.batch_size=16 optim.seq_len=24 optim.steps=40 \
    optim.lr=0.005 optim.warmup_steps=3 eval.interval=100 eval.generations=0 log.interval=10 \
    output.checkpoint_interval=0 sample.tokens=0 output.dir="$OUT/sft" --overwrite
$VKT finetune configs/grpo_lora_stories260k.json --adapter "$OUT/sft/step-000040" output.dir="$OUT/grpo" --overwrite
