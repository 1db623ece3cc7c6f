#!/usr/bin/env bash
# Cookies against a real nginx: each user gets its own cookies (Set-Cookie from /c/login) and
# sends them back on later requests, also after the server closed the connection; Path, Domain,
# Secure and Max-Age=0 are honoured; <add_cookie> adds one to a request; a new user starts with
# an empty jar. Asserted on nginx's log of the Cookie header each request carried.
source "$(dirname "$0")/../../../tests/integration/lib.sh"
source "$(dirname "$0")/http_test_lib.sh"
need_bins loadctl loadagent nginx

start_cookie_nginx 'add_header Set-Cookie "sid=$arg_u; Path=/c"; add_header Set-Cookie "scoped=1; Path=/c/app";
    add_header Set-Cookie "foreign=1; Domain=example.org"; add_header Set-Cookie "sec=1; Secure";'
u=%%_tsung_userid%%
http_scenario "$TEST_TMP/scenario.xml" "$NGINX_PORT" ts_http 'arrivalrate="10"' "
      <request subst=\"true\"><http url=\"/c/login?u=$u\"/></request>
      <request subst=\"true\"><http url=\"/c/page?u=$u\"/></request>
      <request subst=\"true\"><http url=\"/c/bye?u=$u\"/></request>
      <thinktime value=\"0.05\"/>
      <request subst=\"true\"><http url=\"/c/app/x?u=$u\"/></request>
      <request subst=\"true\"><http url=\"/c/addc?u=$u\"><add_cookie key=\"extra\" value=\"x$u\"/></http></request>
      <request subst=\"true\"><http url=\"/c/logout?u=$u\"/></request>
      <request subst=\"true\"><http url=\"/c/after?u=$u\"/></request>"
run_loadctl "$TEST_TMP/scenario.xml"

users=$(grep -c '"GET /c/login' "$COOKIE_LOG" || true)
[ "$users" -ge 5 ] || fail "only $users users logged in"
assert_eq "$(count_lines "$COOKIE_LOG")" "$((users * 7))" "requests logged"
# Expected Cookie header per request, from the user id in the query ("-": none).
bad=$(awk -F'"' '{
    split($2, r, " "); path = r[2]; u = path; sub(/.*u=/, "", u); sub(/\?.*/, "", path)
    want["/c/login"] = "-"; want["/c/page"] = "sid=" u; want["/c/bye"] = "sid=" u
    want["/c/app/x"] = "scoped=1; sid=" u; want["/c/addc"] = "sid=" u "; extra=x" u
    want["/c/logout"] = "sid=" u; want["/c/after"] = "-"
    if (!(path in want) || $4 != want[path]) print $0 " (want " want[path] ")" }' "$COOKIE_LOG")
[ -z "$bad" ] || fail "wrong Cookie headers:
$(echo "$bad" | head -5)"
carried=$(grep -vc '" "-"$' "$COOKIE_LOG" || true)
assert_eq "$carried" "$((users * 5))" "requests that carried a cookie"
log "ok: $users users, $carried requests carried their cookies"
