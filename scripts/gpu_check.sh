#!/usr/bin/env bash
# One-call GPU check: on a machine with a GPU and its Vulkan driver, builds vktrain (unless --no-build), lists
# the devices, runs the op and model tests on the GPU, then the kernel benchmarks and whole training steps of
# GPT-2 small (124M, ctx 1024) and of a TinyLlama-1.1B shape (full, LoRA over f32 / bf16 / f16 bases, QLoRA),
# in each precision, and writes every figure as JSON under --out. Meant to finish in under 8 minutes on a
# current GPU. Every part's exit code and wall time go to summary.json, and a failing part does not stop the
# others: a precision this build does not offer yet shows up there as a failed part with its message.
#
# Usage: scripts/gpu_check.sh [--out DIR] [--build-dir DIR] [--no-build] [--device INDEX|NAME] [--quick]
#                             [--peak-gflops X] [--peak-gbps X] [--tests REGEX] [--steps N]
#   --no-build      use the binaries already in --build-dir (default build-release)
#   --device        the GPU to use (vktrain devices lists them; default: vktrain's choice, a discrete GPU first)
#   --quick         small kernel-benchmark shapes and 3 timed steps (a smoke run, e.g. on a CPU driver)
#   --peak-*        the GPU's datasheet FP32 FLOP/s and memory bandwidth, printed beside the measured ones
# Without the Khronos validation layer installed the tests run with validation off (said in summary.json).
# Output: devices.json, tests.xml (JUnit), tests.log, bench.json, train.json (one object per training bench),
# train_<case>.log, summary.json.
set -uo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

out=gpu_check build=build-release do_build=1 device="" quick="" steps=10 peaks=()
tests='^test_(op_|model|train$|train_optim|train_precision|lora$|qlora|generate)'
while [ $# -gt 0 ]; do
    case "$1" in
    --out) out=$2; shift ;;
    --build-dir) build=$2; shift ;;
    --no-build) do_build=0 ;;
    --device) device=$2; shift ;;
    --quick) quick=--quick steps=3 ;;
    --steps) steps=$2; shift ;;
    --tests) tests=$2; shift ;;
    --peak-gflops | --peak-gbps) peaks+=("$1" "$2"); shift ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_check: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$out"
rm -f "$out"/train_*.log "$out"/summary.json "$out"/train.json
[ -n "$device" ] && export VKT_DEVICE="$device"
bin="$build/vktrain"
parts=()

# part NAME COMMAND...: runs it, records its exit code and seconds.
part() {
    local name=$1 t0 rc
    shift
    t0=$(date +%s%N)
    "$@"
    rc=$?
    parts+=("$name $rc $((($(date +%s%N) - t0) / 1000000))")
    echo "== $name: exit $rc"
}

build() {
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >"$out/build.log" 2>&1 &&
        cmake --build "$build" -j"$(nproc)" >>"$out/build.log" 2>&1 || { tail -n 30 "$out/build.log"; return 1; }
}

validation_layer() {
    local d
    for d in ${VK_LAYER_PATH:+${VK_LAYER_PATH//:/ }} /usr/share/vulkan/explicit_layer.d /etc/vulkan/explicit_layer.d \
        /usr/local/share/vulkan/explicit_layer.d; do
        ls "$d"/*validation*.json >/dev/null 2>&1 && return 0
    done
    return 1
}

run_tests() {
    if ! validation_layer; then
        echo "gpu_check: no Vulkan validation layer here: tests run with validation off"
        export VKT_VALIDATION=0 VKT_TEST_ALLOW_NO_VALIDATION=1
        validation=off
    fi
    ctest --test-dir "$build" -R "$tests" -j4 --timeout 300 --output-on-failure --output-junit "$PWD/$out/tests.xml" \
        >"$out/tests.log" 2>&1
    local rc=$?
    tail -n 5 "$out/tests.log"
    return $rc
}

# train_case NAME CONFIG [section.key=value ...]: one `bench --train`, its key=value lines kept as the log.
train_case() {
    local name=$1
    shift
    echo "-- $name: $*"
    "$bin" bench --train "$@" --steps "$steps" >"$out/train_$name.log" 2>&1
    local rc=$?
    grep -E "tokens_per_s|^device=" "$out/train_$name.log" || tail -n 3 "$out/train_$name.log"
    return $rc
}

validation=on
[ $do_build = 1 ] && part build build
part devices sh -c "'$bin' devices --json >'$out/devices.json'"
part tests run_tests
part bench "$bin" bench $quick --json "$out/bench.json" "${peaks[@]}"
gpt2=(configs/bench_gpt2_124m.json)
tiny=(configs/finetune_lora_tinyllama_bench_f32.json)
if [ -n "$quick" ]; then # smoke shapes: every part runs, in seconds on a CPU driver
    gpt2+=(model.n_layer=1 model.n_embd=128 model.n_head=2 optim.batch_size=1 optim.seq_len=64)
    tiny+=(model.num_hidden_layers=1 model.hidden_size=256 model.intermediate_size=512 model.num_attention_heads=4
        model.num_key_value_heads=2 optim.seq_len=64)
fi
part train_gpt2_124m_f32 train_case gpt2_124m_f32 "${gpt2[@]}"
for p in bf16 f16; do # mixed precision: the half copy of the weights and activations, f32 master weights
    part "train_gpt2_124m_$p" train_case "gpt2_124m_$p" "${gpt2[@]}" "optim.precision=$p"
done
[ -z "$quick" ] && part train_gpt2_768x2 train_case gpt2_768x2 configs/bench_gpt2_768x2.json
for f in f32 bf16 f16; do
    part "train_tinyllama_lora_$f" train_case "tinyllama_lora_$f" "${tiny[@]}" "finetune.base_format=$f"
done
part train_tinyllama_qlora_nf4 train_case tinyllama_qlora_nf4 "${tiny[@]}" finetune.method=qlora \
    finetune.base_format=nf4
part train_tinyllama_full train_case tinyllama_full "${tiny[@]}" finetune.method=full

# The figures as JSON: each training bench's key=value pairs (numbers as numbers), and the parts.
python3 - "$out" "$validation" "${parts[@]}" <<'PY'
import json, os, re, sys, glob
out, validation, parts = sys.argv[1], sys.argv[2], sys.argv[3:]
def value(v):
    v = v.strip('"')
    try:
        if re.fullmatch(r"-?[0-9]+", v):
            return int(v)
        return float(v) if re.fullmatch(r"-?[0-9.]+(e-?[0-9]+)?", v) else v
    except ValueError:
        return v
train = []
for log in sorted(glob.glob(os.path.join(out, "train_*.log"))):
    row = {"case": os.path.basename(log)[6:-4]}
    for line in open(log, errors="replace"):
        if line.startswith("device=") or "tokens_per_s=" in line:
            row.update({k: value(v) for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', line)})
        elif line.startswith("error:"):
            row.setdefault("error", line[6:].strip())
    train.append(row)
json.dump(train, open(os.path.join(out, "train.json"), "w"), indent=1)
summary = {"validation": validation,
           "parts": [{"name": n, "exit": int(rc), "seconds": round(int(ms) / 1000, 1)}
                     for n, rc, ms in (p.split() for p in parts)]}
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)
for p in summary["parts"]:
    print(f"{p['name']:32s} exit {p['exit']:3d} {p['seconds']:8.1f} s")
PY
