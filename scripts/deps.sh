#!/usr/bin/env bash
# Installs everything loadctl needs to build, test and benchmark, from Debian packages only.
# Idempotent: packages already present are skipped by apt-get.
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config
  libboost-dev libboost-system-dev libpugixml-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libssl-dev
  libpcre2-dev)   # PCRE2: Perl-compatible regexes (Tsung uses Erlang re), JIT, fast
runtime_pkgs=(nginx-light ncat iproute2 procps time wrk python3 perl gnuplot-nox openssl
  nghttp2-client)   # h2load: TLS handshake and HTTP benchmark rows
tool_pkgs=(ccache clang libclang-rt-14-dev)   # ccache: faster rebuilds; clang + its runtime (libFuzzer,
                                              # only Recommended by clang): scripts/fuzz.sh
# Servers the protocol integration tests start themselves (own config, port and data directory;
# the policy-rc.d below keeps apt-get from starting the packaged services).
server_pkgs=(mosquitto mosquitto-clients websocketd rabbitmq-server prosody
  postgresql postgresql-contrib mariadb-server mariadb-client slapd ldap-utils
  munin-node snmpd)   # <monitor type="munin"> and type="snmp" (tests/integration/test_monitor_*.sh)
optional_pkgs=(tsung)   # reference implementation: compatibility tests and bench ratios
# Headless browser for tests/integration/test_report_chromium.sh (it skips without it). Measured:
# `apt-get install -y --no-install-recommends chromium` took 66 s here (24 packages).
# LOADCTL_NO_CHROMIUM=1 leaves it out.

want=("${build_pkgs[@]}" "${runtime_pkgs[@]}" "${tool_pkgs[@]}" "${server_pkgs[@]}")
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
# Packages must not start services as a side effect (Debian starts nginx on port 80 at install):
# a policy-rc.d that denies every start is put in place for the install only, and only if the
# machine has none. Services and processes that exist already are never touched.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# created by loadctl scripts/deps.sh for the duration of apt-get install\nexit 101\n' |
    $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  own_policy=1
fi
remove_policy() { [ "$own_policy" = 1 ] && $SUDO rm -f "$policy"; return 0; }
trap remove_policy EXIT
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
