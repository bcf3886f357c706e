#!/usr/bin/env bash
# GRPO with a trained reward model as its reward, on stories260K: trains the LoRA reward model of
# configs/reward_lora_stories260k.json (HH harmless pairs) unless runs/reward_lora_stories260k/step-000150 is
# there, then runs configs/grpo_rm_lora_stories260k.json (the happy-story prompts, reward: that model's score)
# and prints the mean reward-model score per step (training completions) and at each validation.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
bin=${VKTRAIN:-./build/vktrain}
[ -d runs/reward_lora_stories260k/step-000150 ] ||
    "$bin" finetune configs/reward_lora_stories260k.json --no-sample --overwrite
"$bin" finetune configs/grpo_rm_lora_stories260k.json --no-sample --overwrite
python3 - <<'PY'
import json
for line in open("runs/grpo_rm_lora_stories260k/metrics.jsonl"):
    m = json.loads(line)
    if "rewards/rm/mean" in m:
        print(f'step {m["step"]:3d} {m.get("kind", "train"):5s} mean reward-model score {m["rewards/rm/mean"]:8.4f}'
              + (f'  kl {m["kl"]:.4f}' if "kl" in m else ""))
PY
