#!/usr/bin/env bash
# ts_jabber's vhost_file (Tsung's choose_domain) against a private prosody (Debian package) with
# two virtual hosts, started here with its own config, data directory and port on 127.0.0.1:
# each user logs in (SASL PLAIN) on a domain drawn from the file, with an id of that domain's
# own pool. Asserted: prosody's logins per domain add up to the users, both domains are used
# (12 users: all on one domain has a chance of 2^-11), every login is user<id>@<domain> with an
# id of 1..userid_max, no error. (A 3 s phase: maxnumber users all start, Poisson arrivals or not.)
source "$(dirname "$0")/../../../tests/integration/lib.sh"
need_bins loadctl loadagent prosody

source "$(dirname "$0")/jabber_prosody_lib.sh"

USERS=12
start_prosody a.test "" 'VirtualHost "b.test"'
# Accounts as prosody's internal_plain stores them (data/<host, '.' as %2e>/accounts/<user>.dat).
for host in a%2etest b%2etest; do
  mkdir -p "$P/data/$host/accounts"
  for i in $(seq 1 "$USERS"); do
    printf 'return {\n\t["password"] = "pass%s";\n};\n' "$i" > "$P/data/$host/accounts/user$i.dat"
  done
done
printf 'a.test\nb.test\n' > "$TEST_TMP/hosts.txt"
cat > "$TEST_TMP/vhost.xml" <<XML
<?xml version="1.0"?>
<tsung loglevel="notice" version="1.0">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$PORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="3" unit="second">
    <users arrivalrate="$USERS" unit="second" maxnumber="$USERS"/></arrivalphase></load>
  <options>
    <option name="file_server" id="hosts" value="$TEST_TMP/hosts.txt"/>
    <option type="ts_jabber" name="vhost_file" value="hosts"/>
    <option type="ts_jabber" name="userid_max" value="$USERS"/>
    <option type="ts_jabber" name="username" value="user"/>
    <option type="ts_jabber" name="passwd" value="pass"/>
  </options>
  <sessions>
  <session probability="100" name="vhost" type="ts_jabber">
    <request><jabber type="connect" ack="local"/></request>
    <request><jabber type="auth_sasl" ack="local"/></request>
    <request><jabber type="connect" ack="local"/></request>
    <request><jabber type="auth_sasl_bind" ack="local"/></request>
    <request><jabber type="auth_sasl_session" ack="local"/></request>
    <request><jabber type="presence:initial" ack="no_ack"/></request>
    <thinktime value="0.2"/>
    <request><jabber type="close" ack="local"/></request>
  </session>
  </sessions>
</tsung>
XML
run_scenario "$TEST_TMP/vhost.xml" "$TEST_TMP/vhost"
R=$TEST_TMP/vhost
users=$(tsung_sum users_count "$R")
assert_eq "$users" "$USERS" "users started"
assert_eq "$(tsung_sum finish_users_count "$R")" "$USERS" "users that ended their session"
on_a=$(grep -c 'Authenticated as user[0-9]*@a\.test' "$P/prosody.log" || true)
on_b=$(grep -c 'Authenticated as user[0-9]*@b\.test' "$P/prosody.log" || true)
log "logins: $on_a on a.test, $on_b on b.test"
assert_eq "$((on_a + on_b))" "$USERS" "logins prosody accepted on the two domains"
[ "$on_a" -gt 0 ] && [ "$on_b" -gt 0 ] || fail "a domain was never chosen"
bad=$(grep -o 'Authenticated as [^ ]*' "$P/prosody.log" | grep -vcE "as user([1-9]|1[0-2])@[ab]\.test$" || true)
assert_eq "$bad" 0 "logins with an id outside 1..$USERS"
errors=$(awk '$1 == "stats:" && $2 ~ /^error_/ && $3 > 0 { print $2 }' "$R/tsung.log" | sort -u | tr '\n' ' ')
[ -z "$errors" ] || fail "errors counted: $errors"
log "ok"
