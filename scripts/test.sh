#!/usr/bin/env bash
# Usage: scripts/test.sh
# Runs the whole test suite: installs dependencies, builds build/ and runs every ctest test (unit and
# integration, -j2), then builds everything with ASan+UBSan in build-asan/ (clang, with the libFuzzer
# targets) and runs the unit tests and the engine-heavy integration tests there (all of them when
# LOADCTL_ASAN_INTEGRATION=1), then runs the libFuzzer targets (scripts/fuzz.sh) for
# LOADCTL_FUZZ_SECONDS (default 20) each.
# Ends with the line "N passed, N failed" (both ctest runs together); exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# timed NAME COMMAND...: runs COMMAND, then prints how long it took (CI's time budget is watched).
timed() {
  local name=$1 start=$SECONDS rc=0
  shift
  "$@" || rc=$?
  echo "test.sh: $name took $((SECONDS - start)) s"
  return "$rc"
}

summary() {
  echo "test.sh: total $SECONDS s"
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# run_ctest NAME CTEST_ARGS... : runs ctest, adds its counts to passed/failed.
run_ctest() {
  local name=$1 rc=0 line total nfail
  shift
  echo "== ctest ($name)"
  timeout 1200 ctest "$@" --output-on-failure 2>&1 | tee "$logs/$name.log" || rc=$?
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$logs/$name.log" | tail -1 || true)
  if [ -n "$line" ]; then
    nfail=$(sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/' <<<"$line")
    total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
    passed=$((passed + total - nfail))
    failed=$((failed + nfail))
    if [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ]; then failed=$((failed + 1)); fi  # e.g. timeout
  elif grep -q 'No tests were found' "$logs/$name.log"; then
    echo "test.sh: ctest ($name) found no tests"
  else
    echo "test.sh: ctest ($name) ended without a summary (exit $rc)"
    failed=$((failed + 1))
  fi
}

timed deps scripts/deps.sh
if ! timed build scripts/build.sh --no-deps; then
  echo "test.sh: build failed" >&2
  failed=$((failed + 1))
  summary
  exit 1
fi
# Each integration test runs once. Those that drive the engine, the controller and the agents
# hardest run in the sanitizer build (the same -O2 code plus ASan+UBSan, so they test the release
# code paths too); the rest run in the release build: the report renderers, scenario checks and
# launchers, and the slow-starting servers' second suites (RabbitMQ, prosody's features,
# websocketd), and the fd-exhaustion test (a sanitizer runtime needs descriptors of its own: UBSan's
# vptr check opens a pipe, and reports an error when it cannot), and the side-by-side comparison
# with Tsung (its `users` peak needs four static users started at one instant on two threads,
# which ASan's slower threads do not always give), and the tests that measure rates or drive a
# browser, Tsung's two monitoring examples, the capacity preflight's runs and host_setup.sh (a
# shell script). Unit tests run in both builds.
# LOADCTL_TEST_BOTH=1 runs every integration test in both builds (LOADCTL_ASAN_INTEGRATION=1, its
# old name, too).
release_only='integration\.test_(accept_emfile|loadtarget|tsung_renderer|report_.*|rsh_daemon|agent_listen|distributed|controller_lost|scenario_errors|run_schedule|source_binding|compare_tsung|amqp_rabbitmq|jabber_prosody_features|websocket_websocketd|dashboard_agents|monitor_tsung_examples|host_setup|capacity_nofile|capacity_ports|recorder_chromium)$'
main_ctest=(--test-dir build -j2)
asan_ctest=(--test-dir build-asan -j2)
if [ "${LOADCTL_TEST_BOTH:-${LOADCTL_ASAN_INTEGRATION:-0}}" != 1 ]; then
  asan_only=$(ctest --test-dir build -N | grep -oE 'integration\.[A-Za-z0-9_]+' | grep -vE "$release_only" |
    sed 's/^integration\.//' | paste -sd'|' || true)
  [ -n "$asan_only" ] && main_ctest+=(-E "^integration\.($asan_only)\$")
  asan_ctest+=(-E "$release_only")
fi
timed "ctest (main)" run_ctest main "${main_ctest[@]}"

asan_build=(scripts/build.sh --no-deps --sanitize)
# A sanitizer report exits 86, never 1 (a scenario error) nor 2/3 (loadctl's own statuses).
if timed "sanitizer build" "${asan_build[@]}"; then
  ASAN_OPTIONS=detect_leaks=1:exitcode=86 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=86 \
    timed "ctest (asan)" run_ctest asan "${asan_ctest[@]}"
else
  echo "test.sh: sanitizer build failed" >&2
  failed=$((failed + 1))
fi

# libFuzzer targets, ${LOADCTL_FUZZ_SECONDS:-20} s each: every target is one test.
echo "== fuzz"
fuzz_rc=0
# With clang the sanitizer build is also the fuzzing one (scripts/build.sh): no third build.
fuzz_args=()
grep -q '^LOADCTL_FUZZ:BOOL=ON' build-asan/CMakeCache.txt 2>/dev/null && fuzz_args=(--build-dir build-asan)
timed fuzz scripts/fuzz.sh "${fuzz_args[@]}" "${LOADCTL_FUZZ_SECONDS:-20}" 2>&1 | tee "$logs/fuzz.log" || fuzz_rc=$?
fuzz_ok=$(grep -c '^fuzz: .* ok ' "$logs/fuzz.log" || true)
fuzz_bad=$(grep -c '^fuzz: .* FAILED' "$logs/fuzz.log" || true)
passed=$((passed + fuzz_ok))
failed=$((failed + fuzz_bad))
if [ "$fuzz_rc" -ne 0 ] && [ "$fuzz_bad" -eq 0 ]; then failed=$((failed + 1)); fi  # build failed

summary
