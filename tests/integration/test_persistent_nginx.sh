#!/usr/bin/env bash
# <session persistent> against a real nginx that closes idle connections after 1 s
# (keepalive_timeout 1s) while each user thinks 2 s between its requests. Tsung's default
# (persistent, every protocol's session_defaults) forgets the closed connection and reconnects at
# the next request: every request is served, no error. persistent="false": the close is
# error_closed and the user stops, so only its first request reaches nginx (its access log says so).
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent nginx

port=$(free_port)
NGINX_DIR=$TEST_TMP/nginx
mkdir -p "$NGINX_DIR"
echo "keepalive_timeout 1s;" > "$NGINX_DIR/server.conf"
start_nginx "$port"

users=4
scenario() {  # FILE PERSISTENT_ATTRIBUTE
  cat > "$1" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$port" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="20" unit="second" maxnumber="$users"/></arrivalphase></load>
  <sessions><session name="s" probability="100" type="ts_http"$2>
    <request><http url="/?first" version="1.1"/></request>
    <thinktime value="2" random="false"/>
    <request><http url="/?second" version="1.1"/></request>
    <thinktime value="2" random="false"/>
    <request><http url="/?third" version="1.1"/></request>
  </session></sessions>
</tsung>
XML
}
served() { grep -c "GET /?$1 " "$NGINX_ACCESS_LOG" || true; }

log "persistent (the default): the closed connections are reopened"
scenario "$TEST_TMP/default.xml" ""
run_loadctl "$TEST_TMP/default.xml" "$TEST_TMP/default"
run=$TEST_TMP/default
assert_eq "$(tsung_sum request "$run")" $((3 * users)) "requests"
assert_eq "$(tsung_sum 200 "$run")" $((3 * users)) "200s"
assert_eq "$(tsung_sum error_closed "$run")" 0 "error_closed"
assert_eq "$(awk '$1 == "stats:" && $2 ~ /^error_/ && $3 > 0' "$run/tsung.log" | wc -l)" 0 "no error of any kind"
for r in first second third; do assert_eq "$(served $r)" "$users" "nginx served every $r request"; done
assert_eq "$(tsung_sum finish_users_count "$run")" "$users" "finished users"

log "persistent=\"false\": error_closed, the users stop"
: > "$NGINX_ACCESS_LOG"
scenario "$TEST_TMP/nonpersistent.xml" ' persistent="false"'
run_loadctl "$TEST_TMP/nonpersistent.xml" "$TEST_TMP/nonpersistent"
run=$TEST_TMP/nonpersistent
assert_eq "$(tsung_sum error_closed "$run")" "$users" "error_closed, one per user"
assert_eq "$(tsung_sum request "$run")" "$users" "requests: the first of each user"
assert_eq "$(served first)" "$users" "nginx served the first requests"
assert_eq "$(served second)" 0 "nginx saw no second request"
assert_eq "$(served third)" 0 "nginx saw no third request"
assert_eq "$(tsung_sum finish_users_count "$run")" "$users" "the users ended"
log "ok"
