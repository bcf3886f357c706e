#!/usr/bin/env bash
# The main job. Builds vktrain and runs it on the default device.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
./build/vktrain devices
