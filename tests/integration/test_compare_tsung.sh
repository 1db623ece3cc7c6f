#!/usr/bin/env bash
# Side by side with real Tsung 1.7.0 (scripts/compare_tsung.sh, one private nginx): the counters
# in tsung.log agree exactly for pages in <for>/<repeat>/<transaction> and after a match abort,
# match do="loop", users ended by a match abort, a restart or a refused connection
# (finish_users_count), the users peak, max_repeat and match_* counters (fixture compare_semantics.xml); and for users cut off by
# <load duration> (still in `users`, error_abort 1, not finished; compare_cutoff.xml). Also:
# request time includes the connect (as in Tsung), and the last block's count column holds every
# sample, so tsung_stats.pl's Count shows the true totals. Without tsung installed, loadctl's own
# numbers are still asserted (compare_tsung.sh --loadctl-only); only the comparison is skipped.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent nginx
mode=()
command -v tsung >/dev/null || { mode=(--loadctl-only); log "tsung not installed: loadctl's numbers only"; }

fixtures=$LOADCTL_SRC/tests/fixtures/tsung
run_compare() {  # NAME: compares fixture compare_NAME.xml, output in $TEST_TMP/NAME.txt
  local st=0
  LOADCTL_BIN=$LOADCTL_BIN "$LOADCTL_SRC/scripts/compare_tsung.sh" "${mode[@]}" "$fixtures/compare_$1.xml" "$TEST_TMP/$1" \
    > "$TEST_TMP/$1.txt" 2>&1 || st=$?
  cat "$TEST_TMP/$1.txt" >&2
  assert_eq "$st" 0 "compare_tsung.sh $1: every counter agrees with Tsung (the '*' lines differ)"
}
value() { awk -v m="$2" '$1 == m { print $3 }' "$TEST_TMP/$1.txt"; }

run_compare semantics
assert_eq "$(value semantics request)" 66 "requests (12 per pages user, 6 per restart user, 6 for the loop user)"
assert_eq "$(value semantics page)" 38 "pages (7 per pages user, 3 per restart user, 4 for the loop user)"
assert_eq "$(value semantics match_loop)" 3 "match_loop"
assert_eq "$(value semantics finish_users_count)" 8 "users ended by abort, restart abort or error are finished"
log=$TEST_TMP/semantics/loadctl/tsung.log
# Request time runs from before the connect: the longest request is at least the longest connect.
awk '$2 == "request" { r = $5 } $2 == "connect" { c = $5 } END { exit !(r >= c) }' "$log" ||
  fail "request max below connect max: the connect is not part of the request time"
# The last block is empty: its "count before" column is the whole run (tsung_stats.pl's Count).
assert_eq "$(awk '$2 == "request" { g = $9 } END { print g }' "$log")" 66 "request count in the last block"

run_compare repeat
assert_eq "$(value repeat request)" 61 "requests (16 per nested user, 8 for the restart user, 5 for the setcounter user)"
assert_eq "$(value repeat max_repeat)" 19 "max_repeat (5 per nested user, 2 over the restarts, 2 after setdynvars)"
assert_eq "$(value repeat error_repeat_wundef)" 6 "error_repeat_wundef (2 per nested user)"

run_compare cutoff
assert_eq "$(value cutoff users_at_end)" 3 "users cut off by the load duration stay in users"
assert_eq "$(value cutoff error_abort)" 1 "error_abort at the load duration"
assert_eq "$(value cutoff finish_users_count)" 1 "only the user that ended is finished"
echo "PASS: $TEST_NAME"
