#!/usr/bin/env bash
# The main job: install what is missing, build (quietly), learn a 1024-id byte-level BPE vocabulary from
# tiny Shakespeare (shipped in data/, so the demo is the same online and offline), train a small GPT on it
# for a few minutes and print a sampled passage.
# Extra arguments go to `vktrain train` (e.g. optim.steps=2000, or --resume runs/demo to continue).
set -euo pipefail
cd "$(dirname "$0")/.."
VKT_QUIET_BUILD=1 ./scripts/setup.sh
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

tok=runs/demo-tokenizer/tokenizer.json
if [ ! -s "$tok" ]; then
    mkdir -p "$(dirname "$tok")"
    ./build/vktrain tokenizer train --corpus data/tinyshakespeare.txt --vocab 1024 --out "$tok"
fi
fresh=--overwrite
for a in "$@"; do [ "$a" = --resume ] && fresh=""; done
./build/vktrain train configs/demo.json $fresh "$@"
