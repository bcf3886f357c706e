#!/usr/bin/env bash
# Retrieval-augmented fine-tuning that a tiny model learns, with nothing outside the repository:
# data/rag_facts (made by scripts/gen_rag_facts.py) holds 1,050 one-line documents about made-up people (home
# town, trade, pet, locker code) and questions about them. The script indexes the documents, fine-tunes
# stories260K (all weights) on conversations about the first 1,000 people with the retrieved passage in the
# system message (configs/sft_rag_facts_stories260k.json), then asks `vktrain chat` the 200 questions about the
# 50 held-out people, whose facts no training record holds, with and without `--index`, before and after the
# fine-tuning, and prints the exact-match accuracy of each, by attribute.
# Usage: scripts/rag_demo.sh [extra section.key=value overrides for `vktrain finetune`]
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
bin=./build/vktrain
dir=runs/rag_facts
base=data/models/stories260K/stories260K.bin
tok=data/models/stories260K/tok512.bin
[ -x "$bin" ] || { echo "rag_demo: build vktrain first (scripts/setup.sh or cmake, see README)" >&2; exit 1; }
mkdir -p "$dir"

$bin index data/rag_facts/docs --out "$dir/index.db"
start=$(date +%s)
$bin finetune configs/sft_rag_facts_stories260k.json --overwrite "$@" 2>&1 | tee "$dir/train.log" |
    grep -E "^step .*val|^step +[0-9]*[05]0/|^done|^retrieval|^sft batches" || true
echo "fine-tuning took $(( $(date +%s) - start )) s"
model=$(ls -d $dir/stories260k/step-* | sort | tail -n 1)

echo "== stories260K before fine-tuning"
python3 scripts/rag_eval.py "$bin" "$base" "$tok" "$dir/index.db" 1 --quiet
echo "== after fine-tuning ($model)"
python3 scripts/rag_eval.py "$bin" "$model" "$tok" "$dir/index.db" 1
