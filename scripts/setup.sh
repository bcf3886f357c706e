#!/usr/bin/env bash
# Installs what vktrain needs (apt on Debian/Ubuntu; elsewhere it prints what to install), then
# configures and builds into ./build. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake gcc make pkg-config libvulkan-dev glslang-tools libcjson-dev libpcre2-dev libutf8proc-dev libsqlite3-dev mesa-vulkan-drivers vulkan-validationlayers)
# Optional: Open MPI for data-parallel training (mpirun -np N vktrain train; its tests run only with it).
# VKT_NO_MPI=1 skips it; a failed install leaves a single-process build.
optional=(libopenmpi-dev openmpi-bin)
[ "${VKT_NO_MPI:-0}" = 1 ] && optional=()
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: installing ${missing[*]}"
        sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    opt_missing=()
    for p in "${optional[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || opt_missing+=("$p")
    done
    if [ ${#opt_missing[@]} -gt 0 ]; then
        echo "setup: installing ${opt_missing[*]} (optional: data-parallel training over MPI)"
        sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        { [ ${#missing[@]} -gt 0 ] || $sudo apt-get update -qq; } &&
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${opt_missing[@]}" \
                >/dev/null || echo "setup: ${opt_missing[*]} not installed: vktrain builds without MPI (one process)"
    fi
else
    for tool in cmake cc glslangValidator; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: not a Debian/Ubuntu system; please install: a C compiler, CMake >= 3.20, the Vulkan loader"
        echo "       and headers, glslang (glslangValidator), cJSON, PCRE2, utf8proc, SQLite 3 with FTS5, and for"
        echo "       tests Mesa lavapipe and the Khronos validation layer; optionally Open MPI (data-parallel"
        echo "       training over several devices or machines). Missing now: ${missing[*]}"
        exit 1
    fi
fi

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
cmake -S . -B build -DCMAKE_BUILD_TYPE="${VKT_BUILD_TYPE:-RelWithDebInfo}" ${VKT_CMAKE_ARGS:-} >/dev/null
if [ "${VKT_QUIET_BUILD:-0}" = 1 ]; then
    # Quiet: the build's output goes to a log, shown only when the build fails.
    echo "setup: building vktrain (log: build/build.log) ..."
    if ! cmake --build build -j"$(nproc)" >build/build.log 2>&1; then
        tail -n 40 build/build.log
        echo "setup: the build failed; the whole log is build/build.log"
        exit 1
    fi
else
    cmake --build build -j"$(nproc)"
fi
