#!/usr/bin/env bash
# Tsung's other XMPP examples against a real prosody (started here: own config, data, TLS
# certificate, MUC and pubsub components, port on 127.0.0.1), each changed only in the server's
# host and port, the domain, the user counts, the durations (thinktimes and arrival phases of
# a second or less; see shrink below) and the user name and password prefixes (user/pass, the
# accounts registered first): jabber_roster.xml, jabber_muc.xml, jabber_privacy.xml,
# jabber_node.xml; a STARTTLS + SASL session of our own (jabber_starttls.xml itself takes its
# users from a file_server file, which is refused by name: asserted too).
source "$(dirname "$0")/../../../tests/integration/lib.sh"
need_bins loadctl loadagent prosody openssl
source "$(dirname "$0")/jabber_prosody_lib.sh"

DOMAIN=loadctl.test
USERS_MAX=30
EX=/usr/share/doc/tsung/examples
mkdir -p "$TEST_TMP/prosody"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=$DOMAIN" \
  -keyout "$TEST_TMP/prosody/key.pem" -out "$TEST_TMP/prosody/cert.pem" 2> /dev/null
# admins: prosody lets only admins create pubsub nodes (jabber_node.xml's create_node user).
admins=$(for i in $(seq 1 $USERS_MAX); do printf '"user%d@%s"; ' "$i" "$DOMAIN"; done)
start_prosody "$DOMAIN" "admins = { $admins }
ssl = { key = \"$TEST_TMP/prosody/key.pem\"; certificate = \"$TEST_TMP/prosody/cert.pem\" }" \
  "Component \"conference.$DOMAIN\" \"muc\"
  muc_room_locking = false
  muc_room_default_persistent = true
Component \"pubsub.$DOMAIN\" \"pubsub\"
  autocreate_on_subscribe = true"
register_users "$DOMAIN" "$USERS_MAX"

# shrink EXAMPLE OUT [SED...]: the example with our port, domain, user counts and short durations.
shrink() {
  local in=$1 out=$2
  shift 2
  sed -e "s/port=['\"]5222['\"]/port=\"$PORT\"/" -e "s/host=\"localhost\" port/host=\"127.0.0.1\" port/" \
      -e "s/mydomain.org/$DOMAIN/g" -e "s/erlang-projects.org/$DOMAIN/" -e "s/\"localhost\"/\"$DOMAIN\"/" \
      -e "s/pubsub.localhost/pubsub.$DOMAIN/" \
      -e "s/name=\"userid_max\" value=\"[0-9]*\"/name=\"userid_max\" value=\"$USERS_MAX\"/" \
      -e 's/name="username" value="[a-z]*"/name="username" value="user"/' -e 's/name="passwd" value="[a-z]*"/name="passwd" value="pass"/' \
      "$@" -e 's/thinktime value="[0-9]* *"/thinktime value="0.3"/g' "$EX/$in" > "$out"
  grep -q "port=\"$PORT\"" "$out" || fail "$in changed: port not substituted"
}
errors() { awk '$1 == "stats:" && $2 ~ /^error_/ && $2 != "error_no_online" { s += $3 } END { print s + 0 }' "$1/tsung.log"; }
all_finished() {
  local users
  users=$(tsung_sum users_count "$1")
  [ "$users" -gt 0 ] || fail "$2: no user"
  assert_eq "$(tsung_sum finish_users_count "$1")" "$users" "$2: users that ended their session"
}

# jabber_roster.xml (bidi): each user adds online users to its roster and subscribes to their
# presence; the other user's connection answers "subscribed" (Tsung's presence_bidi), so
# prosody's roster of the subscriber holds the contact with subscription "to" (or "both"). A 3 s
# phase (the example's is 5 min): with 1 s, a loaded machine could start one user, alone online.
shrink jabber_roster.xml "$TEST_TMP/roster.xml" -e 's/duration="5" unit="minute"/duration="3" unit="second"/' \
  -e 's/interarrival="0.1"/interarrival="0.15"/'
run_scenario "$TEST_TMP/roster.xml" "$TEST_TMP/roster"
all_finished "$TEST_TMP/roster" roster
assert_eq "$(errors "$TEST_TMP/roster")" 0 "roster: errors"
to=$(cat "$P"/data/*/roster/*.dat | grep -c '\["subscription"\] = "\(to\|both\)"' || true)
from=$(cat "$P"/data/*/roster/*.dat | grep -c '\["subscription"\] = "\(from\|both\)"' || true)
log "roster: $to contacts with subscription to/both, $from from/both"
[ "$to" -gt 0 ] || fail "roster: no subscription was accepted"
assert_eq "$from" "$to" "roster: accepted subscriptions seen from both sides"

# jabber_muc.xml: users join random rooms and chat; prosody reflects each groupchat message to
# every occupant, the sender included (counted as xmpp_chat_received by the users).
shrink jabber_muc.xml "$TEST_TMP/muc.xml" -e 's/duration="1" unit="minute"/duration="2" unit="second"/' \
  -e 's/interarrival="2"/interarrival="0.4"/'
run_scenario "$TEST_TMP/muc.xml" "$TEST_TMP/muc"
all_finished "$TEST_TMP/muc" muc
assert_eq "$(errors "$TEST_TMP/muc")" 0 "muc: errors"
chats=$(tsung_sum tr_online_chat "$TEST_TMP/muc")
got=$(tsung_sum xmpp_chat_received "$TEST_TMP/muc")
users=$(tsung_sum users_count "$TEST_TMP/muc")
log "muc: $chats groupchat messages sent by $users users, $got received"
# The example closes right after its last message: that one's echo may not be read any more.
[ "$chats" -gt 0 ] && [ "$got" -ge "$((chats - users))" ] || fail "muc: $got messages received for $chats sent"

# jabber_privacy.xml: prosody 0.12 has no privacy lists (XEP-0016), so each of the 3 privacy
# requests is answered with an iq error, counted, and the session goes on to close.
shrink jabber_privacy.xml "$TEST_TMP/privacy.xml" -e 's/duration="15" unit="second"/duration="1" unit="second"/' \
  -e 's/maxnumber="1" interarrival="1.0"/maxnumber="4" interarrival="0.2"/'
run_scenario "$TEST_TMP/privacy.xml" "$TEST_TMP/privacy"
all_finished "$TEST_TMP/privacy" privacy
users=$(tsung_sum users_count "$TEST_TMP/privacy")
assert_eq "$(tsung_sum xmpp_iq_error "$TEST_TMP/privacy")" "$((3 * users))" "privacy: iq errors"
assert_eq "$(tsung_sum error_xmpp_auth_failed "$TEST_TMP/privacy")" 0 "privacy: failed logins"

# jabber_node.xml: one static user creates the node /test (SASL login, bind, session), then users
# subscribe and publish 10 items each.
shrink jabber_node.xml "$TEST_TMP/node.xml" -e 's/duration="1" unit="minute"/duration="2" unit="second"/' \
  -e 's/interarrival="2"/interarrival="0.5"/' -e 's/<thinktime value="15"\/>/<thinktime value="2.5"\/>/'
run_scenario "$TEST_TMP/node.xml" "$TEST_TMP/node"
all_finished "$TEST_TMP/node" node
assert_eq "$(errors "$TEST_TMP/node")" 0 "node: errors"
# prosody refuses the example's node configuration (pubsub#max_items 0: "out of bounds"), so the
# node is made by the first subscription (autocreate_on_subscribe); every other pubsub request
# (1 subscribe + 10 publish per user, all admins hence owners) succeeds.
assert_eq "$(tsung_sum xmpp_iq_error "$TEST_TMP/node")" 1 "node: iq errors"
requests=$(tsung_sum request "$TEST_TMP/node")
users=$(tsung_sum users_count "$TEST_TMP/node")
assert_eq "$requests" "$(( 7 + (users - 1) * 17 ))" "node: requests answered (create_node: 7, sasl: 17 each)"

# STARTTLS then SASL PLAIN, bind, session, roster, close (the session of jabber_starttls.xml with
# users from the pool instead of a file).
cat > "$TEST_TMP/starttls.xml" <<XML
<?xml version="1.0"?>
<tsung loglevel="notice" version="1.0">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$PORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users maxnumber="4" interarrival="0.2" unit="second"/></arrivalphase></load>
$(jabber_options "$DOMAIN" "$USERS_MAX")
  <sessions>
  <session bidi="true" probability="100" name="jabber-starttls" type="ts_jabber">
    <request> <jabber type="connect" ack="local"/> </request>
    <request> <jabber type="starttls" ack="bidi_ack"/> </request>
    <request> <jabber type="connect" ack="local"/> </request>
    <transaction name="authenticate">
      <request> <jabber type="auth_sasl" ack="local"/> </request>
      <request> <jabber type="connect" ack="local"/> </request>
      <request> <jabber type="auth_sasl_bind" ack="local"/> </request>
      <request> <jabber type="auth_sasl_session" ack="local"/> </request>
    </transaction>
    <request> <jabber type="presence:initial" ack="no_ack"/> </request>
    <request> <jabber type="iq:roster:get" ack="local"/> </request>
    <request> <jabber type="close" ack="local"/> </request>
  </session>
  </sessions>
</tsung>
XML
logins=$(prosody_logins)
run_scenario "$TEST_TMP/starttls.xml" "$TEST_TMP/tls"
all_finished "$TEST_TMP/tls" starttls
users=$(tsung_sum users_count "$TEST_TMP/tls")
assert_eq "$(errors "$TEST_TMP/tls")" 0 "starttls: errors"
assert_eq "$(tsung_sum xmpp_starttls "$TEST_TMP/tls")" "$users" "starttls: TLS upgrades"
assert_eq "$(tsung_sum tr_authenticate "$TEST_TMP/tls")" "$users" "starttls: logins"
assert_eq "$(( $(prosody_logins) - logins ))" "$users" "starttls: logins prosody accepted"

# jabber_starttls.xml (with its users file where we made it) is refused at check time, naming
# the option's file:line:column.
echo "user1,pass1" > "$TEST_TMP/usernames.csv"
sed "s#/home/nniclaus/.tsung/usernames.csv#$TEST_TMP/usernames.csv#" "$EX/jabber_starttls.xml" > "$TEST_TMP/jabber_starttls.xml"
if "$LOADCTL" -f "$TEST_TMP/jabber_starttls.xml" check > /dev/null 2> "$TEST_TMP/err"; then fail "jabber_starttls.xml accepted"; fi
grep -q "jabber_starttls.xml:[0-9]*:[0-9]*.*not supported yet: ts_jabber option 'random_from_fileid'" "$TEST_TMP/err" ||
  { cat "$TEST_TMP/err" >&2; fail "jabber_starttls.xml: unexpected error"; }
log "ok"
