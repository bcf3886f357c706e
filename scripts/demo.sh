#!/usr/bin/env bash
# The main job: install what is missing, build, then train a small character-level GPT for a few
# minutes on an offline corpus and print samples. The corpus is tiny Shakespeare when the machine is
# online, else the fortune-cookie texts of Debian's `fortunes` package (installed with apt).
# Extra arguments go to `vktrain train` (e.g. optim.steps=2000). Each demo starts afresh in runs/demo
# (--overwrite) unless the arguments ask to --resume.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

corpus=build/demo/corpus.txt
if [ ! -s "$corpus" ]; then
    mkdir -p build/demo
    url=https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt
    if command -v curl >/dev/null && curl -fsSL --max-time 20 "$url" -o "$corpus.tmp" 2>/dev/null; then
        mv "$corpus.tmp" "$corpus"
        echo "demo: corpus is tiny Shakespeare ($url)"
    else
        rm -f "$corpus.tmp"
        if [ ! -d /usr/share/games/fortunes ]; then
            sudo=""
            [ "$(id -u)" -ne 0 ] && sudo="sudo"
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq fortunes >/dev/null
        fi
        find /usr/share/games/fortunes -maxdepth 1 -type f ! -name '*.dat' ! -name '*.u8' | sort |
            xargs cat > "$corpus"
        echo "demo: offline; corpus is Debian's fortunes ($(wc -c < "$corpus") bytes)"
    fi
fi
fresh=--overwrite
for a in "$@"; do [ "$a" = --resume ] && fresh=""; done
./build/vktrain train configs/demo.json data.train="$corpus" $fresh "$@"
