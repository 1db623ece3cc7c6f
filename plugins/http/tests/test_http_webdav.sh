#!/usr/bin/env bash
# A ts_webdav session against loadtarget: every WebDAV method Tsung sends goes out with its body
# (loadtarget's /echo answers non-GET requests with the body it received, framed by
# Content-Length) and its headers; MKCOL has none. Asserted on loadtarget's access log and on
# a <match> of the echoed body.
source "$(dirname "$0")/../../../tests/integration/lib.sh"
source "$(dirname "$0")/http_test_lib.sh"
need_bins loadctl loadagent loadtarget

access_log=$TEST_TMP/access.log
start_loadtarget --http 127.0.0.1:0 --threads 1 --access-log "$access_log"
requests=""
for m in PROPFIND PROPPATCH COPY MOVE LOCK UNLOCK MKACTIVITY REPORT VERSION-CONTROL; do
  requests+="<request><match do=\"abort\" when=\"nomatch\">body-of-$m</match>
    <http url=\"/echo?m=$m\" method=\"$m\" contents=\"body-of-$m\" content_type=\"text/xml\">
    <http_header name=\"Depth\" value=\"1\"/></http></request>
"
done
http_scenario "$TEST_TMP/scenario.xml" "$LOADTARGET_HTTP_PORT" ts_webdav 'arrivalrate="4" maxnumber="4"' "
$requests
      <request><http url=\"/dav/new/\" method=\"MKCOL\"/></request>
      <request><http url=\"/hello\"/></request>"
run_loadctl "$TEST_TMP/scenario.xml"
users=$(tsung_sum finish_users_count "$TEST_TMP/run")
[ "$users" -ge 1 ] || fail "no user finished"
# Every echo matched its own body (a mismatch aborts the user: finish_users_count would be short).
assert_eq "$(tsung_sum users_count "$TEST_TMP/run")" "$users" "users that finished"
assert_eq "$(tsung_sum match "$TEST_TMP/run")" "$((users * 9))" "bodies echoed"
for m in PROPFIND PROPPATCH COPY MOVE LOCK UNLOCK MKACTIVITY REPORT VERSION-CONTROL; do
  assert_eq "$(grep -c " $m /echo?m=$m 200\$" "$access_log" || true)" "$users" "$m requests"
done
assert_eq "$(grep -c ' MKCOL /dav/new/ 404$' "$access_log" || true)" "$users" "MKCOL requests"
log "ok: $users users sent every WebDAV method"
