#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/fuzz_<parser>.c, clang + ASan + UBSan) into build-fuzz and
# runs each one, one after another, seeded from tests/fuzz/corpus/<parser>.
#
#   scripts/fuzz.sh [SECONDS|--runs N] [parser...]     default: 60 seconds each, every parser
#
# New inputs go to build-fuzz/corpus/<parser> (kept between runs, so a rerun continues), crashes to
# build-fuzz/artifacts/<parser>/. A crash stops that parser's run and the script exits 1 at the end.
# To keep a crash as a regression test: minimise it (fuzz_<parser> -minimize_crash=1 -runs=10000 FILE),
# copy it into tests/fuzz/regressions/<parser>/ with a name that says what broke, fix the parser;
# CTest's fuzz_replay_<parser> then replays it in every build. Runs at low priority (nice) so it can
# share a machine. Needs clang and libclang-rt (libFuzzer); VKT_FUZZ_ARGS adds libFuzzer flags.
set -euo pipefail
cd "$(dirname "$0")/.."

limit=(-max_total_time=60)
if [ "${1:-}" = "--runs" ]; then
    limit=(-runs="$2")
    shift 2
elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then
    limit=(-max_total_time="$1")
    shift
fi
parsers=("$@")
if [ ${#parsers[@]} -eq 0 ]; then
    for f in tests/fuzz/fuzz_*.c; do
        p=$(basename "$f" .c)
        parsers+=("${p#fuzz_}")
    done
fi

command -v clang >/dev/null || { echo "fuzz.sh: needs clang with libFuzzer (apt install clang libclang-rt-dev)"; exit 1; }
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVKT_FUZZ=ON >/dev/null
targets=()
for p in "${parsers[@]}"; do targets+=(--target "fuzz_$p"); done
cmake --build build-fuzz -j"${VKT_JOBS:-2}" "${targets[@]}"

# Leaks are findings too; an allocation a header asks for beyond 2 GiB is one as well (a size taken
# from the file before it was checked against the file).
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
failed=()
summary=()
for p in "${parsers[@]}"; do
    work=build-fuzz/corpus/$p art=build-fuzz/artifacts/$p log=build-fuzz/fuzz_$p.log
    mkdir -p "$work" "$art"
    dict=()
    [ -f "tests/fuzz/dict/$p.dict" ] && dict=(-dict="tests/fuzz/dict/$p.dict")
    echo "fuzz.sh: $p (${limit[*]}), log $log"
    rc=0
    # -close_fd_mask=2 silences the parsers' error messages; libFuzzer and the sanitizers keep a copy
    # of stderr for their reports. -timeout is wall time: at nice 19 on a busy machine an input that
    # runs in milliseconds can wait 10 s for a CPU, so only a minute counts as a hang.
    nice -n 19 "build-fuzz/fuzz_$p" "$work" "tests/fuzz/corpus/$p" "${limit[@]}" "${dict[@]}" \
        -artifact_prefix="$art/" -timeout=60 -rss_limit_mb=2048 -malloc_limit_mb=2048 -close_fd_mask=2 \
        -print_final_stats=1 ${VKT_FUZZ_ARGS:-} >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    summary+=("$(printf '%-14s %12s execs %8s exec/s  %s  rc=%d' "$p" "${execs:-?}" "${rate:-?}" "$cov" "$rc")")
    if [ "$rc" -ne 0 ]; then
        failed+=("$p")
        grep -E "ERROR|runtime error|invariant failed|Test unit written" "$log" | head -5 || true
    fi
done
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: FAILED: ${failed[*]} (see build-fuzz/fuzz_<parser>.log and build-fuzz/artifacts/)"
    exit 1
fi
