#!/usr/bin/env bash
# Digest authentication as in Tsung's examples/http-digest.xml, against loadtarget's /digest:
# the 401's WWW-Authenticate gives realm and nonce (dyn_variable header="www-authenticate/..."),
# the next requests answer the challenge (without and with qop) and are accepted (200).
source "$(dirname "$0")/../../../tests/integration/lib.sh"
source "$(dirname "$0")/http_test_lib.sh"
need_bins loadctl loadagent loadtarget

start_loadtarget --http 127.0.0.1:0 --threads 1
http_scenario "$TEST_TMP/scenario.xml" "$LOADTARGET_HTTP_PORT" ts_http 'arrivalrate="5"' '
      <request>
        <dyn_variable name="nonce" header="www-authenticate/nonce"/>
        <dyn_variable name="realm" header="www-authenticate/realm"/>
        <dyn_variable name="opaque" header="www-authenticate/opaque"/>
        <http url="/digest" method="GET" version="1.1"/>
      </request>
      <request subst="true">
        <http url="/digest" method="GET" version="1.1">
          <www_authenticate userid="user" passwd="passwd" type="digest" realm="%%_realm%%" nonce="%%_nonce%%" opaque="%%_opaque%%"/>
        </http>
      </request>
      <request subst="true">
        <http url="/digest" method="GET" version="1.1">
          <www_authenticate userid="user" passwd="passwd" type="digest" realm="%%_realm%%" nonce="%%_nonce%%" qop="auth" nc="00000001"/>
        </http>
      </request>
      <request subst="true">
        <http url="/digest" method="GET" version="1.1">
          <www_authenticate userid="user" passwd="wrong" type="digest" realm="%%_realm%%" nonce="%%_nonce%%"/>
        </http>
      </request>
      <request>
        <match do="abort" when="nomatch" skip_headers="http" apply_to_content="ts_digest:md5hex">5d41402abc4b2a76b9719d911017c592</match>
        <match do="abort" when="nomatch" skip_headers="http" apply_to_content="ts_digest:shahex">^aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d$</match>
        <match do="abort" when="nomatch" skip_headers="http" apply_to_content="ts_digest:tohex">^68656c6c6f$</match>
        <match do="continue" skip_headers="http" apply_to_content="ts_digest:md5hex">hello</match>
        <http url="/hello"/>
      </request>'
run_loadctl "$TEST_TMP/scenario.xml"
users=$(tsung_sum finish_users_count "$TEST_TMP/run")
[ "$users" -ge 3 ] || fail "only $users users finished"
assert_eq "$(tsung_sum users_count "$TEST_TMP/run")" "$users" "users that finished (none aborted by a match)"
assert_eq "$(tsung_sum 200 "$TEST_TMP/run")" "$((users * 3))" "accepted digest answers and /hello"
assert_eq "$(tsung_sum match "$TEST_TMP/run")" "$((users * 3))" "digests of the body that matched"
assert_eq "$(tsung_sum nomatch "$TEST_TMP/run")" "$users" "the body itself is not what is matched"
assert_eq "$(tsung_sum 401 "$TEST_TMP/run")" "$((users * 2))" "challenges and the wrong password"
log "ok: $users users authenticated with digest"
