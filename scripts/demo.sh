#!/usr/bin/env bash
# The main job: install what is missing, build (quietly), then train a small character-level GPT for a few
# minutes on tiny Shakespeare (shipped in data/, the same online and offline) and print a sample.
# Extra arguments go to `vktrain train` (e.g. optim.steps=2000, or --resume runs/demo to continue).
set -euo pipefail
cd "$(dirname "$0")/.."
VKT_QUIET_BUILD=1 ./scripts/setup.sh
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

fresh=--overwrite
for a in "$@"; do [ "$a" = --resume ] && fresh=""; done
./build/vktrain train configs/demo.json $fresh "$@"
