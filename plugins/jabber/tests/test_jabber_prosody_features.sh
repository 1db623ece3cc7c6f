#!/usr/bin/env bash
# Tsung's other XMPP examples against a real prosody (started here: own config, data, TLS
# certificate, MUC and pubsub components, port on 127.0.0.1), each changed only in the server's
# host and port, the domain, the user counts, the durations (thinktimes and arrival phases of
# a second or less; see shrink below) and the user name and password prefixes (user/pass, the
# accounts registered first): jabber_roster.xml, jabber_muc.xml, jabber_privacy.xml,
# jabber_node.xml; a STARTTLS + SASL session of our own; jabber_starttls.xml (users from a
# file_server file); chat destinations from a file (offline_from_fileid, random_from_fileid).
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
# run_tls_logins SCENARIO DIR NAME: runs it; every user ended without error, upgraded to TLS and
# logged in (its authenticate transaction), as many logins as prosody accepted meanwhile.
run_tls_logins() {
  local logins users
  logins=$(prosody_logins)
  run_scenario "$1" "$2"
  all_finished "$2" "$3"
  users=$(tsung_sum users_count "$2")
  assert_eq "$(errors "$2")" 0 "$3: errors"
  assert_eq "$(tsung_sum xmpp_starttls "$2")" "$users" "$3: TLS upgrades"
  assert_eq "$(tsung_sum tr_authenticate "$2")" "$users" "$3: logins"
  assert_eq "$(( $(prosody_logins) - logins ))" "$users" "$3: logins prosody accepted"
  log "$3: $users users upgraded to TLS and logged in"
}
run_tls_logins "$TEST_TMP/starttls.xml" "$TEST_TMP/tls" starttls

# Tsung's jabber_starttls.xml: users and passwords from a file_server file (setdynvars, and the
# ts_jabber options random_from_fileid, offline_from_fileid, fileid_delimiter with userid_max 0),
# STARTTLS, SASL. Changed: server host and port, domain, the file's path (user1..user30 of the
# accounts registered above, "," as in its fileid_delimiter) and the arrival phase (1 hour -> 2 s).
for i in $(seq 1 $USERS_MAX); do echo "user$i,pass$i"; done > "$TEST_TMP/usernames.csv"
sed -e "s#/home/nniclaus/.tsung/usernames.csv#$TEST_TMP/usernames.csv#" -e "s/host=\"myserver\" port=\"5222\"/host=\"127.0.0.1\" port=\"$PORT\"/" \
    -e "s/value=\"mydomain\"/value=\"$DOMAIN\"/" -e 's/duration="1" unit="hour"/duration="2" unit="second"/' \
    "$EX/jabber_starttls.xml" > "$TEST_TMP/jabber_starttls.xml"
[ "$(diff "$EX/jabber_starttls.xml" "$TEST_TMP/jabber_starttls.xml" | grep -c '^>')" = 4 ] ||
  fail "jabber_starttls.xml changed: its server, domain, file path or phase was not found"
run_tls_logins "$TEST_TMP/jabber_starttls.xml" "$TEST_TMP/tlsex" jabber_starttls.xml

# The file's users as chat destinations: 4 static users (0.1 s apart) log in as user21..user24 (the file's lines, in
# order) and send one message to destination="offline" (offline_from_fileid: a user of the file
# not logged in) and one to destination="random" (random_from_fileid: a random line's first
# field), with ";" as delimiter. None sends presence, so prosody stores every message offline:
# the stored ones are counted per recipient, all users of the file.
for i in $(seq 21 $USERS_MAX); do echo "user$i;pass$i"; done > "$TEST_TMP/chatusers.csv"
cat > "$TEST_TMP/filechat.xml" <<XML
<?xml version="1.0"?>
<tsung loglevel="notice" version="1.0">
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$PORT" type="tcp"/></servers>
  <load><user session="filechat" start_time="0.1" unit="second"/><user session="filechat" start_time="0.2" unit="second"/>
    <user session="filechat" start_time="0.3" unit="second"/><user session="filechat" start_time="0.4" unit="second"/></load>
  <options>
    <option type="ts_jabber" name="domain" value="$DOMAIN"/>
    <option type="ts_jabber" name="userid_max" value="0"/>
    <option type="ts_jabber" name="random_from_fileid" value="chatusers"/>
    <option type="ts_jabber" name="offline_from_fileid" value="chatusers"/>
    <option type="ts_jabber" name="fileid_delimiter" value=";"/>
    <option name="file_server" id="chatusers" value="$TEST_TMP/chatusers.csv"/>
  </options>
  <sessions>
  <session probability="100" name="filechat" type="ts_jabber">
    <setdynvars sourcetype="file" fileid="chatusers" delimiter=";" order="iter">
      <var name="username"/><var name="password"/>
    </setdynvars>
    <request subst="true"><jabber type="connect" ack="local"><xmpp_authenticate username="%%_username%%" passwd="%%_password%%"/></jabber></request>
    <request><jabber type="auth_sasl" ack="local"/></request>
    <request><jabber type="connect" ack="local"/></request>
    <request><jabber type="auth_sasl_bind" ack="local"/></request>
    <request><jabber type="auth_sasl_session" ack="local"/></request>
    <thinktime value="1"/>
    <request><jabber type="chat" ack="no_ack" destination="offline" data="to-offline-file-user"/></request>
    <request><jabber type="chat" ack="no_ack" destination="random" data="to-random-file-user"/></request>
    <thinktime value="0.5"/>
    <request><jabber type="close" ack="local"/></request>
  </session>
  </sessions>
</tsung>
XML
run_scenario "$TEST_TMP/filechat.xml" "$TEST_TMP/filechat"
all_finished "$TEST_TMP/filechat" filechat
assert_eq "$(errors "$TEST_TMP/filechat")" 0 "filechat: errors"
assert_eq "$(tsung_sum xmpp_chat_sent "$TEST_TMP/filechat")" 8 "filechat: messages sent"
# stored MARKER: "user count" of the recipients prosody stored MARKER for.
stored() {
  local f
  for f in "$P"/data/*/offline/*.list; do
    [ -e "$f" ] || continue
    n=$(grep -c "$1" "$f" || true)
    [ "$n" = 0 ] || echo "$(basename "$f" .list) $n"
  done
}
for marker in to-offline-file-user to-random-file-user; do
  total=$(stored $marker | awk '{ s += $2 } END { print s + 0 }')
  assert_eq "$total" 4 "$marker: messages prosody stored"
  outside=$(stored $marker | awk '{ sub(/^user/, "", $1) } $1 < 21 || $1 > 30' | wc -l)
  assert_eq "$outside" 0 "$marker: recipients outside the file ($(stored $marker | tr '\n' ' '))"
done
# Offline destinations skip the users logged in from the file when they were chosen: each user
# sends after all four logged in (1 s thinktime), so user21..user24 never get one.
assert_eq "$(stored to-offline-file-user | awk '$1 ~ /^user2[1-4]$/' | wc -l)" 0 \
  "offline destinations among the logged-in users ($(stored to-offline-file-user | tr '\n' ' '))"
log "filechat: stored for $(stored to-offline-file-user | tr '\n' ' ')(offline), $(stored to-random-file-user | tr '\n' ' ')(random)"
# ack="global" (Tsung's rendezvous, global_number 4), on two agents: 4 static users start 0.3 s apart,
# log in and go online with presence:initial ack="global"; the controller releases them once the
# fourth is there: the first user's request (a transaction) lasts until then, about 0.9 s, not
# the few ms prosody takes. Then each chats to an online user: every message is received.
cat > "$TEST_TMP/global.xml" <<XML
<?xml version="1.0"?>
<tsung loglevel="notice" version="1.0">
  <clients><client host="localhost" use_controller_vm="true" cpu="2"/></clients>
  <servers><server host="127.0.0.1" port="$PORT" type="tcp"/></servers>
  <load duration="30" unit="second"><user session="global" start_time="0.1" unit="second"/><user session="global" start_time="0.4" unit="second"/>
    <user session="global" start_time="0.7" unit="second"/><user session="global" start_time="1" unit="second"/></load>
  <options>
    <option type="ts_jabber" name="global_number" value="4"/>
    <option type="ts_jabber" name="userid_max" value="$USERS_MAX"/>
    <option type="ts_jabber" name="domain" value="$DOMAIN"/>
    <option type="ts_jabber" name="username" value="user"/>
    <option type="ts_jabber" name="passwd" value="pass"/>
  </options>
  <sessions>
  <session probability="100" name="global" type="ts_jabber">
    <request><jabber type="connect" ack="local"/></request>
    <request><jabber type="auth_sasl" ack="local"/></request>
    <request><jabber type="connect" ack="local"/></request>
    <request><jabber type="auth_sasl_bind" ack="local"/></request>
    <request><jabber type="auth_sasl_session" ack="local"/></request>
    <transaction name="rendezvous"><request><jabber type="presence:initial" ack="global"/></request></transaction>
    <request><jabber type="chat" ack="no_ack" destination="online" size="16"/></request>
    <thinktime value="1"/>
    <request><jabber type="close" ack="local"/></request>
  </session>
  </sessions>
</tsung>
XML
run_scenario "$TEST_TMP/global.xml" "$TEST_TMP/global"
all_finished "$TEST_TMP/global" global
assert_eq "$(tsung_sum users_count "$TEST_TMP/global")" 4 "global: users"
assert_eq "$(tsung_sum error_no_online "$TEST_TMP/global")" 0 "global: chats that found nobody online"
assert_eq "$(errors "$TEST_TMP/global")" 0 "global: errors"
assert_eq "$(tsung_sum xmpp_chat_sent "$TEST_TMP/global")" 4 "global: messages sent"
assert_eq "$(tsung_sum xmpp_chat_received "$TEST_TMP/global")" 4 "global: messages received"
# the rendezvous transaction of the first user lasted until the fourth arrived (0.9 s later)
max_ms=$(awk '$1 == "stats:" && $2 == "tr_rendezvous" && $3 > 0 && $6 > m { m = $6 } END { print int(m) }' "$TEST_TMP/global/tsung.log")
[ "$max_ms" -ge 600 ] || fail "global: the longest rendezvous took $max_ms ms, expected about 900"
log "global: 4 users released together (longest wait $max_ms ms), 4 messages received"

log "ok"
