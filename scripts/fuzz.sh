#!/usr/bin/env bash
# Usage: scripts/fuzz.sh [--build-dir DIR] [SECONDS] [TARGET...]
# Builds the libFuzzer targets with clang (ASan+UBSan, coverage) into build-fuzz/ (or into DIR, a
# build already configured with -DLOADCTL_FUZZ=ON such as scripts/build.sh --sanitize's
# build-asan/, where they are usually built already) and runs each for
# SECONDS (default 60): fuzz_scenario_loader, fuzz_control_messages, fuzz_http_response, fuzz_ldap,
# fuzz_mysql_connection (all when no TARGET is given). Corpora grow in <dir>/corpus/<target>/ (seeded from the examples and
# fixtures), crashes land in <dir>/crashes/<target>/. Prints one line per target:
#   fuzz: <target> ok|FAILED runs=<executions> seconds=<time> corpus=<files>
# and exits non-zero when a target found a crash, a leak or a timeout, or did not build.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build-fuzz
configure=1
if [ "${1:-}" = --build-dir ]; then
  [ $# -ge 2 ] || { echo "fuzz.sh: --build-dir needs a value" >&2; exit 2; }
  dir=$2
  configure=0
  shift 2
  grep -q '^LOADCTL_FUZZ:BOOL=ON' "$dir/CMakeCache.txt" 2>/dev/null ||
    { echo "fuzz.sh: $dir is not a build configured with -DLOADCTL_FUZZ=ON" >&2; exit 2; }
fi
seconds=${1:-60}
[[ $seconds =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a number (see --help)" >&2; exit 2; }
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_scenario_loader fuzz_control_messages fuzz_http_response fuzz_ldap fuzz_mysql_connection)

if [ "$configure" = 1 ]; then
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DLOADCTL_FUZZ=ON -DLOADCTL_TESTS=OFF -DLOADCTL_SANITIZE=OFF >/dev/null
fi
build_args=()
for t in "${targets[@]}"; do build_args+=(--target "$t"); done
cmake --build "$dir" -j"$(nproc)" "${build_args[@]}"

# seed TARGET: copies the seed inputs of TARGET into its corpus (kept across runs).
seed() {
  local corpus=$dir/corpus/$1 f n
  mkdir -p "$corpus"
  case "$1" in
    fuzz_scenario_loader)
      for f in examples/*.xml plugins/*/examples/*.xml tests/fixtures/scenarios/*.xml; do
        cp "$f" "$corpus/seed-$(basename "$f")"
      done
      # Nesting just past the loader's limit, so mutations explore both sides of it.
      for n in 95 105; do
        { echo '<?xml version="1.0"?><tsung><clients><client host="localhost"/></clients>'
          echo '<servers><server host="127.0.0.1" port="80" type="tcp"/></servers>'
          echo '<load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="1" unit="second"/></arrivalphase></load>'
          echo '<sessions><session name="s" probability="100" type="ts_http">'
          for _ in $(seq "$n"); do printf '<for from="1" to="2" var="i"><transaction name="t">'; done
          printf '<request><http url="/"/></request>'
          for _ in $(seq "$n"); do printf '</transaction></for>'; done
          echo '</session></sessions></tsung>'
        } > "$corpus/seed-nested-$n.xml"
      done ;;
    fuzz_http_response)
      printf '\x05HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello' > "$corpus/seed-length"
      printf '\x09HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' > "$corpus/seed-chunked"
      printf '\x01HTTP/1.0 404 Not Found\r\nConnection: close\r\n\r\nbody' > "$corpus/seed-close" ;;
    fuzz_control_messages)
      printf '\x00LOADCTL' > "$corpus/seed-hello" ;;
    fuzz_ldap)  # first byte even: a server message; odd: a filter
      printf '\x00\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00' > "$corpus/seed-bind-response"
      printf '\x00\x30\x12\x02\x01\x02\x64\x0d\x04\x05uid=a\x30\x04\x30\x02\x04\x00' > "$corpus/seed-entry"
      printf '\x01(&(objectClass=person)(|(cn=a*b*c)(!(sn~=x)))(uid>=1)(2.5.4.3;lang-en=\\2a))' > "$corpus/seed-filter" ;;
    fuzz_mysql_connection)  # the first byte: the phase (0 greeting, 1 auth, 2 query, 3 rows, ...)
      hexseed() { printf "$(sed 's/../\\x&/g' <<< "$2")" > "$corpus/seed-$1"; }
      hexseed auth-ok 010700000200000002000000
      hexseed select-1 02010000010117000002036465660000000131000c3f000100000003810000000005000003fe0000020002000004013105000005fe00000200
      hexseed rows 0302000004013105000005fe00000200
      hexseed err 020a000001ff2804233432303030 ;;
  esac
}

# Inputs large enough for the loader to reach its nesting limit (100 levels, a few KB).
max_len() { case "$1" in fuzz_scenario_loader) echo 65536 ;; *) echo 16384 ;; esac; }

status=0
for t in "${targets[@]}"; do
  seed "$t"
  mkdir -p "$dir/crashes/$t"
  log=$dir/$t.log
  rc=0
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  bin=$(find "$dir" -type f -name "$t" -perm -u+x | head -1)
  [ -n "$bin" ] || { echo "fuzz: $t FAILED (not built)"; status=1; continue; }
  ASAN_OPTIONS=detect_leaks=1 "$bin" "$dir/corpus/$t" "${dict[@]}" -max_total_time="$seconds" \
    -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/crashes/$t/" > "$log" 2>&1 || rc=$?
  runs=$(awk '/^stat::number_of_executed_units:/{print $2}' "$log" | tail -1)
  took=$(awk '/^Done [0-9]+ runs in/{print $5}' "$log" | tail -1)
  files=$(find "$dir/corpus/$t" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz: $t ok runs=${runs:-0} seconds=${took:-$seconds} corpus=$files"
  else
    status=1
    echo "fuzz: $t FAILED (exit $rc) runs=${runs:-0} corpus=$files; see $log and $dir/crashes/$t/"
    grep -m5 -E 'ERROR:|SUMMARY:|runtime error' "$log" || true
  fi
done
exit "$status"
