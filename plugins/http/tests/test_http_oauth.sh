#!/usr/bin/env bash
# OAuth 1.0 as in Tsung's examples/http-oauth.xml, against a checking server written from
# RFC 5849 independently of the plugin (oauth_server.py): a signed POST with a form body gets
# a token (xpath dyn_variables), GETs signed with it (HMAC-SHA1 with query parameters,
# PLAINTEXT) are accepted; a wrong consumer secret is refused.
source "$(dirname "$0")/../../../tests/integration/lib.sh"
source "$(dirname "$0")/http_test_lib.sh"
need_bins loadctl loadagent python3

python3 "$(dirname "$0")/oauth_server.py" > "$TEST_TMP/server.out" 2>&1 &
server_pid=$!
on_exit "_stop_pid $server_pid"
wait_until 10 grep -q '^listening ' "$TEST_TMP/server.out" || fail "oauth_server.py did not start"
port=$(awk '/^listening /{print $2; exit}' "$TEST_TMP/server.out")

http_scenario "$TEST_TMP/scenario.xml" "$port" ts_http 'arrivalrate="3"' '
      <request>
        <dyn_variable name="access_token" xpath="/tokenCreationResponse/tokenInfo/token/text()"/>
        <dyn_variable name="access_token_secret" xpath="/tokenCreationResponse/tokenInfo/tokenSecret/text()"/>
        <http url="/token" method="POST" version="1.1" contents="grant=client&amp;scope=a%20b">
          <oauth consumer_key="key" consumer_secret="secret" method="HMAC-SHA1"/>
        </http>
      </request>
      <request subst="true">
        <http url="/echo?x=1&amp;y=a%20b" method="GET" version="1.1">
          <oauth consumer_key="key" consumer_secret="secret" access_token="%%_access_token%%" access_token_secret="%%_access_token_secret%%"/>
        </http>
      </request>
      <request subst="true">
        <http url="/echo" method="GET" version="1.1">
          <oauth consumer_key="key" consumer_secret="secret" access_token="%%_access_token%%" access_token_secret="%%_access_token_secret%%" method="PLAINTEXT"/>
        </http>
      </request>
      <request subst="true">
        <http url="/echo" method="GET" version="1.1">
          <oauth consumer_key="key" consumer_secret="wrong" access_token="%%_access_token%%" access_token_secret="%%_access_token_secret%%"/>
        </http>
      </request>'
run_loadctl "$TEST_TMP/scenario.xml"
users=$(tsung_sum finish_users_count "$TEST_TMP/run")
[ "$users" -ge 2 ] || fail "only $users users finished"
assert_eq "$(tsung_sum 200 "$TEST_TMP/run")" "$((users * 3))" "requests whose signature the server accepted"
assert_eq "$(tsung_sum 401 "$TEST_TMP/run")" "$users" "requests signed with a wrong secret"
log "ok: $users users signed their requests with OAuth"
