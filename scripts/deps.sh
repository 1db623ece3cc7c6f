#!/usr/bin/env bash
# Installs everything loadctl needs to build, test and benchmark, from Debian packages only.
# Idempotent: packages already present are skipped by apt-get.
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config
  libboost-dev libboost-system-dev libpugixml-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libssl-dev
  libpcre2-dev)   # PCRE2: Perl-compatible regexes (Tsung uses Erlang re), JIT, fast
runtime_pkgs=(nginx-light ncat iproute2 procps time wrk python3 perl gnuplot-nox)
optional_pkgs=(tsung)   # reference implementation: compatibility tests and bench ratios
# Headless browser for tests/integration/test_report_chromium.sh (it skips without it). Measured:
# `apt-get install -y --no-install-recommends chromium` took 66 s here (24 packages).
# LOADCTL_NO_CHROMIUM=1 leaves it out.

want=("${build_pkgs[@]}" "${runtime_pkgs[@]}")
[ "${LOADCTL_NO_TSUNG:-0}" = 1 ] || want+=("${optional_pkgs[@]}")
[ "${LOADCTL_NO_CHROMIUM:-0}" = 1 ] || want+=(chromium)

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian enables nginx's default site on install; the tests start their own nginx instances.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true; fi
$SUDO pkill -x nginx 2>/dev/null || true
