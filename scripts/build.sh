#!/usr/bin/env bash
# Usage: scripts/build.sh [--sanitize] [--no-deps] [--target TARGET]...
# Installs dependencies (scripts/deps.sh), configures and builds loadctl (RelWithDebInfo) into
# build/, or with --sanitize into build-asan/ with ASan+UBSan (-DLOADCTL_SANITIZE=ON); with clang
# (scripts/deps.sh installs it) that build is also the libFuzzer one (-DLOADCTL_FUZZ=ON: coverage
# instrumentation and the fuzz targets), so scripts/fuzz.sh --build-dir build-asan needs no build
# of its own.
# --target limits the build to the given CMake targets (repeatable); --no-deps skips deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=0
deps=1
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize=1 ;;
    --no-deps) deps=0 ;;
    --target) [ $# -ge 2 ] || { echo "build.sh: --target needs a value" >&2; exit 2; }; targets+=(--target "$2"); shift ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

[ "$deps" = 1 ] && scripts/deps.sh

if [ "$sanitize" = 1 ]; then
  dir=build-asan
  flags=(-DLOADCTL_SANITIZE=ON)
  if command -v clang++ >/dev/null; then
    flags+=(-DCMAKE_CXX_COMPILER=clang++ -DLOADCTL_FUZZ=ON)
  else
    flags+=(-DLOADCTL_FUZZ=OFF)
  fi
else
  dir=build
  flags=(-DLOADCTL_SANITIZE=OFF)
fi

cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)" "${targets[@]}"
echo "build.sh: built into $dir/"
