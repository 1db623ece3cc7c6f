#!/usr/bin/env bash
# Side by side with Tsung 1.7.0 (skipped when tsung is not installed): the same cookie scenario
# against the same nginx; both tools must send the same Cookie header on every request
# (Set-Cookie with Path, reconnect after Connection: close, <add_cookie>), user by user.
source "$(dirname "$0")/../../../tests/integration/lib.sh"
source "$(dirname "$0")/http_test_lib.sh"
need_bins loadctl loadagent nginx
command -v tsung > /dev/null || { echo "SKIP: tsung not installed (apt-get install tsung)"; exit 0; }

start_cookie_nginx 'add_header Set-Cookie "sid=$arg_u; Path=/c"; add_header Set-Cookie "scoped=1; Path=/c/app";'
u=%%_tsung_userid%%
http_scenario "$TEST_TMP/scenario.xml" "$NGINX_PORT" ts_http 'arrivalrate="5" maxnumber="6"' "
      <request subst=\"true\"><http url=\"/c/login?u=$u\"/></request>
      <request subst=\"true\"><http url=\"/c/page?u=$u\"/></request>
      <request subst=\"true\"><http url=\"/c/bye?u=$u\"/></request>
      <request subst=\"true\"><http url=\"/c/app/x?u=$u\"/></request>
      <request subst=\"true\"><http url=\"/c/addc?u=$u\"><add_cookie key=\"extra\" value=\"x\"/></http></request>"
# What the requests carried, with the user id replaced by U: the distinct "request cookie" lines
# (the tools start different numbers of users); every user made its 5 requests.
summary() {
  local users
  users=$(grep -c '"GET /c/login' "$COOKIE_LOG" || true)
  [ "$users" -ge 1 ] && assert_eq "$(count_lines "$COOKIE_LOG")" "$((users * 5))" "$1: requests of $users users"
  sed -E 's/=[0-9]+/=U/g' "$COOKIE_LOG" | sort -u
}

(cd "$TEST_TMP" && tsung -f scenario.xml -l "$TEST_TMP/tsung" start > "$TEST_TMP/tsung.out" 2>&1) ||
  { cat "$TEST_TMP/tsung.out" >&2; fail "tsung exited with $?"; }
tsung_requests=$(count_lines "$COOKIE_LOG")
[ "$tsung_requests" -ge 5 ] || fail "tsung made only $tsung_requests requests"
summary tsung > "$TEST_TMP/tsung.summary"
: > "$COOKIE_LOG"
run_loadctl "$TEST_TMP/scenario.xml"
summary loadctl > "$TEST_TMP/loadctl.summary"
diff "$TEST_TMP/tsung.summary" "$TEST_TMP/loadctl.summary" > "$TEST_TMP/diff" ||
  fail "Cookie headers differ (< tsung, > loadctl):
$(head -20 "$TEST_TMP/diff")"
assert_eq "$(grep -vc '" "-"$' "$TEST_TMP/loadctl.summary" || true)" 4 "kinds of request that carried a cookie"
log "ok: tsung and loadctl sent the same Cookie headers: $(tr '\n' ' ' < "$TEST_TMP/loadctl.summary")"
