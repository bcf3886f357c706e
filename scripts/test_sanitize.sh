#!/usr/bin/env bash
# The whole CTest suite built with AddressSanitizer + UndefinedBehaviorSanitizer (VKT_SANITIZE=ON)
# into ./build-asan, with the Vulkan validation layer on as in scripts/test.sh. CI runs it after
# scripts/test.sh.
#
# Every UBSan report is fatal (-fno-sanitize-recover=all, halt_on_error), so it fails its test. LSan
# reports leaks at exit; tests/sanitize/lsan.supp silences only the allocations the Vulkan loader,
# lavapipe/LLVM and the validation layer keep for the process lifetime, so our own leaks still fail.
# Extra arguments go to ctest (e.g. -R tokenizer).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null # packages (and the plain build; a no-op after scripts/test.sh)
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVKT_SANITIZE=ON ${VKT_CMAKE_ARGS:-} >/dev/null
cmake --build build-asan -j"$(nproc)"

supp="$PWD/tests/sanitize/lsan.supp"
export ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:strict_string_checks=1:detect_stack_use_after_return=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
start=$(date +%s)
cd build-asan
ctest --output-on-failure -j"$(nproc)" "$@"
echo "test_sanitize.sh: sanitizer suite passed in $(($(date +%s) - start)) s"
