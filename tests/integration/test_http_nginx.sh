#!/usr/bin/env bash
# A scenario against a real nginx: every request loadctl counts in tsung.log is one nginx logged,
# status codes are counted, and the log directory has everything it should.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent nginx

port=$(free_port)
start_nginx "$port"
sed "s/@PORT@/$port/" "$LOADCTL_SRC/tests/fixtures/scenarios/http_nginx.xml" > "$TEST_TMP/scenario.xml"

run_loadctl "$TEST_TMP/scenario.xml" "$TEST_TMP/run" --dump-interval 1
run=$TEST_TMP/run
for f in tsung.log stats.jsonl run.json controller.log agent-0.log scenario.xml; do
  [ -s "$run/$f" ] || fail "$f missing or empty in the log directory"
done

sum() { tsung_sum "$1" "$run"; }
requests=$(sum request)
logged=$(count_lines "$NGINX_ACCESS_LOG")
log "tsung.log requests=$requests nginx=$logged"
[ "$requests" -gt 50 ] || fail "too few requests: $requests"
assert_eq "$requests" "$logged" "request total in tsung.log vs nginx access log"

# nginx answers 200 on / only and 404 elsewhere: each code counted by loadctl matches nginx's log.
assert_eq "$(sum 200)" "$(grep -c ' 200$' "$NGINX_ACCESS_LOG" || true)" "200 count"
assert_eq "$(sum 404)" "$(grep -c ' 404$' "$NGINX_ACCESS_LOG" || true)" "404 count"
assert_eq "$(( $(sum 200) + $(sum 404) ))" "$requests" "status codes add up to requests"
# Every started user finished: users_count total equals finish_users_count total.
assert_eq "$(sum users_count)" "$(sum finish_users_count)" "users started vs finished"
started=$(sum users_count)
# phase 1: 20/s for 2 s (Poisson: 40 +- 4 sigma); phase 2: capped at 30.
[ "$started" -ge 45 ] && [ "$started" -le 95 ] || fail "users started $started outside [45, 95]"
[ "$(sum tr_two)" -gt 0 ] || fail "no tr_two samples"
grep -q '"exit_status": 0' "$run/run.json" || fail "run.json does not record exit status 0"
grep -q '"final":true' "$run/stats.jsonl" || grep -q '"final": true' "$run/stats.jsonl" || fail "stats.jsonl has no final line"
log "ok"
