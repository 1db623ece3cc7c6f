#!/usr/bin/env bash
# A full disk under the log directory (a small private tmpfs, filled once the load starts):
#  * full until the end: "disk full: .../tsung.log: No space left on device" on the console,
#    exit status 2, and the final summary, with every request the target served, on stdout;
#  * full for a while: the same message, then the statistics kept in memory are written once
#    there is room again: exit 0 and tsung.log counts every request the target served.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget

mnt=$TEST_TMP/mnt
mkdir -p "$mnt"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=1m,mode=0700 loadctl-test-disk-full "$mnt" 2>"$TEST_TMP/mount.err"; then
  echo "SKIP: $TEST_NAME: cannot mount a tmpfs (needs root): $(cat "$TEST_TMP/mount.err" 2>/dev/null)"
  exit 0
fi
on_exit "umount '$mnt' 2>/dev/null || umount -l '$mnt'"

start_loadtarget --http 127.0.0.1:0 --access-log "$TEST_TMP/access.log"
one_request_scenario "$TEST_TMP/s.xml" "$LOADTARGET_HTTP_PORT" /hello 20 5

# run_full NAME FREE_AFTER: starts a run in $mnt/NAME, fills the disk as soon as the load starts
# (tsung.log and stats.jsonl are still empty), frees it after FREE_AFTER seconds (never if 0).
# Sets st; stdout and stderr in $TEST_TMP/NAME.out/.err; the target's count in served.
run_full() {
  local name=$1 free_after=$2 ctl before
  before=$(count_lines "$TEST_TMP/access.log")
  "$LOADCTL" -q -f "$TEST_TMP/s.xml" --run-dir "$mnt/$name" --dump-interval 1 -w 0.5 start \
    >"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.err" &
  ctl=$!
  on_exit "_stop_pid $ctl"
  wait_until 20 grep -q "time zero" "$mnt/$name/controller.log" 2>/dev/null || fail "$name: the load did not start"
  dd if=/dev/zero of="$mnt/fill" bs=4k 2>/dev/null || true
  log "$name: disk full ($(df -k --output=avail "$mnt" | tail -1 | tr -d ' ') KB free)"
  if [ "$free_after" != 0 ]; then
    sleep "$free_after"
    rm -f "$mnt/fill"
    log "$name: disk freed"
  fi
  st=0
  wait "$ctl" || st=$?
  rm -f "$mnt/fill"
  sleep 0.3  # loadtarget flushes its access log every 100 ms
  served=$(($(count_lines "$TEST_TMP/access.log") - before))
  cat "$TEST_TMP/$name.err" >&2
}

run_full full 0
assert_eq "$st" 2 "exit status when the results could not be written"
grep -q "disk full: $mnt/full/tsung.log: No space left on device" "$TEST_TMP/full.err" || fail "no disk full message for tsung.log"
grep -q "disk full: $mnt/full/stats.jsonl: No space left on device" "$TEST_TMP/full.err" || fail "no disk full message for stats.jsonl"
grep -q "final summary follows on stdout" "$TEST_TMP/full.err" || fail "no notice about the summary on stdout"
summary_requests=$(awk '$1 == "request" { print $2 }' "$TEST_TMP/full.out")
log "full: served=$served summary requests=${summary_requests:-none}"
[ "$served" -gt 50 ] || fail "too few requests served: $served"
assert_eq "$summary_requests" "$served" "request count in the summary on stdout"

run_full recovered 2.5
assert_eq "$st" 0 "exit status once the disk had room again"
grep -q "disk full: $mnt/recovered/tsung.log: No space left on device" "$TEST_TMP/recovered.err" || fail "no disk full message"
grep -q "$mnt/recovered/tsung.log: written again" "$TEST_TMP/recovered.err" || fail "no notice that tsung.log was written again"
logged=$(tsung_sum request "$mnt/recovered")
log "recovered: served=$served tsung.log requests=$logged"
[ "$served" -gt 50 ] || fail "too few requests served: $served"
assert_eq "$logged" "$served" "requests in tsung.log after the disk had room again"
tail -1 "$mnt/recovered/stats.jsonl" | grep -q '"final":true' || fail "stats.jsonl has no final line"
grep -q '"exit_status": 0' "$mnt/recovered/run.json" || fail "run.json missing or wrong"
echo "PASS: $TEST_NAME"
