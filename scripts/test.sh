#!/usr/bin/env bash
# The test command: install, build, and run every test with the Vulkan validation layer on.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
cd build
ctest --output-on-failure -j"$(nproc)" "$@"
