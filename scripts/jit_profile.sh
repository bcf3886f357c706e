#!/usr/bin/env bash
# Where a kernel's time goes on lavapipe: samples the JIT code llvmpipe generated for one `vktrain bench` case
# in steady state (perf), disassembles it from the running process (gdb), and prints the share of samples
# per instruction, with the hottest instruction's neighbourhood. llvmpipe writes no symbols for its JIT code,
# so this is the way to see what a shader became: how the buffer loads were compiled, what spilled, whether
# an fma() became a multiply and an add. shaders/LAVAPIPE.md records what it has shown so far.
#
# Usage: scripts/jit_profile.sh FILTER [VAR=VALUE ...]
#   FILTER     one `vktrain bench --filter` case, e.g. wide_NT_char_fwd_mlp_fc (the case should be the only
#              one matched: the samples are taken 20 s in, after the ceilings, while it repeats)
#   VAR=VALUE  environment for the bench (e.g. VKT_BENCH_ATTENTION_SHAPE=12,64,4,4,32)
# Environment: VKTRAIN (default build-release/vktrain), SECONDS_IN (default 20), SAMPLE_S (default 5).
# Needs perf and gdb (Debian: linux-perf, gdb) and permission to attach to the process (root, or
# kernel.yama.ptrace_scope=0 and a low kernel.perf_event_paranoid).
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,16p' "$0"; exit 2; }
filter=$1
shift
cd "$(dirname "$0")/.."
bin=${VKTRAIN:-build-release/vktrain}
[ -x "$bin" ] || { echo "jit_profile: no $bin (build first, or set VKTRAIN)" >&2; exit 2; }
for tool in perf gdb python3; do
    command -v $tool >/dev/null || { echo "jit_profile: $tool is not installed" >&2; exit 2; }
done
work=$(mktemp -d /tmp/vkt_jitprof_XXXXXX)
env "$@" XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}" VKT_TUNE=0 "$bin" bench --filter "$filter" --reps 100000 \
    >"$work/bench.txt" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
sleep "${SECONDS_IN:-20}"
kill -0 $pid 2>/dev/null || { echo "jit_profile: the bench ended early:" >&2; tail -3 "$work/bench.txt" >&2; exit 1; }
perf record -q -o "$work/perf.data" -p $pid sleep "${SAMPLE_S:-5}" >/dev/null 2>&1
perf script -i "$work/perf.data" -F ip 2>/dev/null | sort | uniq -c | sort -rn >"$work/ips.txt"
# The JIT code lies in anonymous memory; disassemble from the lowest sampled address of the busiest 64 KiB.
start=$(python3 - "$work/ips.txt" <<'EOF'
import collections, sys
pages, ips = collections.Counter(), []
for line in open(sys.argv[1]):
    count, ip = line.split()
    a = int(ip, 16)
    if a >> 47 == 0: pages[a >> 16] += int(count); ips.append(a)
page = pages.most_common(1)[0][0]
lo = min(p for p, n in pages.items() if n * 20 >= pages[page] and abs(p - page) < 64)
print(hex(min(a for a in ips if a >> 16 == lo)))
EOF
)
gdb -p $pid -batch -ex "x/100000i $start" 2>/dev/null | grep '^ ' >"$work/jit.asm" || true
kill $pid 2>/dev/null || true
python3 - "$work/ips.txt" "$work/jit.asm" <<'EOF'
import collections, re, sys
ins, order = {}, []
for line in open(sys.argv[2]):
    m = re.match(r'\s*0x([0-9a-f]+):\s*(\S+)\s*(.*)', line)
    if m:
        a = int(m.group(1), 16)
        ins[a] = (m.group(2), m.group(3))
        order.append(a)
total, outside, by_op, hottest = 0, 0, collections.Counter(), (0, 0)
for line in open(sys.argv[1]):
    count, ip = line.split()
    count, a = int(count), int(ip, 16)
    if a not in ins:
        outside += count
        continue
    op, args = ins[a]
    by_op[op + (' [stack]' if '%rsp' in args and op.startswith('v') else '')] += count
    total += count
    hottest = max(hottest, (count, a))
print(f'{total} samples in the disassembled JIT code, {outside} elsewhere (kernel, driver, other code)')
for op, n in by_op.most_common(20):
    print(f'  {100 * n / total:5.1f}%  {op}')
i = order.index(hottest[1])
print(f'around the hottest instruction ({hottest[0]} samples):')
for a in order[max(0, i - 16):i + 4]:
    print(f'  {a:x}  {ins[a][0]} {ins[a][1]}')
EOF
echo "(files in $work)"
