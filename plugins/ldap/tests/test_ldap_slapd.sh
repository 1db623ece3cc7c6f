#!/usr/bin/env bash
# ts_ldap against a private slapd (own slapd.conf, mdb database, port and log under $TEST_TMP, on
# 127.0.0.1; a self-signed certificate for StartTLS):
#  1. Tsung's own example /usr/share/doc/tsung/examples/ldap.xml, changed only in: the server
#     host and port; its SNMP monitor of that host (removed: there is no SNMP agent); the arrival
#     phase (4 s instead of 10 min, a user every 0.5 s instead of 2 s); the DNs (bases and the
#     modified entry under this directory's suffix; the bind as its rootdn, with its password);
#     and, since the example uses variables it never sets, a <setdynvars> giving them values
#     (%%_new_user_cn%%, random; %%_new_user_dn%% is spelled cn=%%_new_user_cn%%,ou=people,...),
#     and %%cn:f%% (an Erlang function cn:f that does not exist) replaced by the variable %%_f%%.
#     Checks: every user's add created its entry (as ldapsearch counts them), the modify changed
#     the entry, each search found what the directory holds (2 entries a user, as counted by the
#     plugin and as slapd's log says), no error.
#  2. A wrong password: counted as Tsung's ldap_bind_error, the connection closes, the user goes
#     on (its next search, on a new connection, still finds the entry), nothing crashes.
#  3. StartTLS then bind and search: slapd logs each TLS session; no ldap_starttls_error.
#  4. The plugin's example (examples/ldap.xml: StartTLS, bind, search with attributes and
#     result_var, an <if> on it, add, modify, delete, unbind), changed in port, password and
#     arrivals: each user's entry is gone afterwards, slapd logged the deletes and the attribute
#     list, and the search of the DN result_var held.
source "$(dirname "$0")/../../../tests/integration/lib.sh"
need_bins loadctl loadagent /usr/sbin/slapd /usr/sbin/slappasswd ldapadd ldapsearch openssl

source "$(dirname "$0")/slapd_lib.sh"
start_slapd 256  # stats: every operation and TLS session in $SLAPD_LOG
suffix=$SUFFIX rootdn=$ROOTDN secret=$ROOTPW port=$SLAPD_PORT url=$SLAPD_URL slog=$SLAPD_LOG
# The password goes into the scenarios through a sed script file only its owner reads (printf is a
# builtin): never on sed's command line.
(umask 077 && printf '%s\n' "s/user=\"uid=nniclausse\" password=\"XXX\"/user=\"$rootdn\" password=\"$secret\"/" \
  "s/password=\"secret\"/password=\"$secret\"/" > "$TEST_TMP/password.sed")

cat > "$TEST_TMP/base.ldif" <<LDIF
dn: $suffix
objectClass: dcObject
objectClass: organization
dc: example
o: example

dn: ou=people,$suffix
objectClass: organizationalUnit
ou: people

dn: cn=user2,ou=people,$suffix
objectClass: person
cn: user2
sn: two

dn: cn=u119843,ou=people,$suffix
objectClass: inetOrgPerson
cn: u119843
sn: before

dn: cn=alice-bin,ou=people,$suffix
objectClass: person
objectClass: dcObject
cn: alice-bin
sn: bin
dc: pablo-desktop
LDIF
slapd_add "$TEST_TMP/base.ldif"
count_entries() {  # count_entries FILTER [BASE]
  ldapsearch -x -LLL -H "$url" -b "${2:-ou=people,$suffix}" "$1" dn | grep -c '^dn:' || true
}
assert_eq "$(count_entries '(cn=*)')" 3 "entries loaded"

run() {  # run NAME SCENARIO
  "$LOADCTL" -q -f "$2" --run-dir "$TEST_TMP/$1" start >/dev/null 2>"$TEST_TMP/$1.err" ||
    { cat "$TEST_TMP/$1.err" >&2; fail "$1: loadctl exited with $?"; }
}
sum() { tsung_sum "$1" "$TEST_TMP/$2"; }
errors() { awk '$1 == "stats:" && ($2 ~ /^error_/ || $2 ~ /^ldap_.*error/ || $2 == "ldap_unexpected_msg_resp") && $3 > 0 { print $2, $3 }' "$TEST_TMP/$1/tsung.log" | sort | uniq; }

# --- 1. Tsung's example -------------------------------------------------------------------------
ex=/usr/share/doc/tsung/examples/ldap.xml
sed -e 's/host="myserver" port="80"/host="127.0.0.1" port="'"$port"'"/' \
    -e '/<monitor host="myserver"/d' \
    -e 's/duration="10" unit="minute"/duration="4" unit="second"/' \
    -e 's/interarrival="2" unit="second"/interarrival="0.5" unit="second"/' \
    -f "$TEST_TMP/password.sed" \
    -e "s/base=\"dc=pablo-desktop\"/base=\"$suffix\"/" \
    -e "s/%%cn:f%%/%%_f%%/" \
    -e "s/dn=\"%%_new_user_dn%%\"/dn=\"cn=%%_new_user_cn%%,ou=people,$suffix\"/" \
    -e "s/dn=\"cn=u119843,dc=pablo-desktop\"/dn=\"cn=u119843,ou=people,$suffix\"/" \
    -e 's|\(<session name="ldap-example".*>\)|\1<setdynvars sourcetype="random_string" length="16"><var name="new_user_cn"/></setdynvars><setdynvars sourcetype="value" value="lic"><var name="f"/></setdynvars>|' \
    "$ex" > "$TEST_TMP/example.xml"
assert_eq "$(diff "$ex" "$TEST_TMP/example.xml" | grep -c '^<')" 11 "example: lines changed (see the header)"
run example "$TEST_TMP/example.xml"
log "example: $(for m in users_count finish_users_count ldap_bind_ok ldap_search_entries request; do printf '%s=%s ' $m "$(sum $m example)"; done)"
[ -z "$(errors example)" ] || fail "example: errors: $(errors example)"
users=$(sum users_count example)
[ "$users" -ge 2 ] || fail "example: only $users users arrived"
assert_eq "$(sum finish_users_count example)" "$users" "example: users finished"
assert_eq "$(sum ldap_bind_ok example)" "$users" "example: binds"
# bind, 3 searches, add, modify: 6 requests a user; the thinktime after the second search splits
# them into 2 pages (Tsung's ts_config:mark_prev_req: a page ends where no request follows).
assert_eq "$(sum request example)" $((6 * users)) "example: requests"
assert_eq "$(sum page example)" $((2 * users)) "example: pages"
# (cn=user2): 1; (&(cn=a*lic*n)(dc=pablo-desktop)): alice-bin; (filename=C:\MyFile): none.
assert_eq "$(sum ldap_search_entries example)" $((2 * users)) "example: entries found"
assert_eq "$(grep -c 'SEARCH RESULT tag=101 err=0 .*nentries=1 ' "$slog")" $((2 * users)) "example: slapd's searches with 1 entry"
assert_eq "$(count_entries '(&(objectClass=inetOrgPerson)(sn=fffs))')" "$users" "example: entries the users added"
assert_eq "$(ldapsearch -x -LLL -H "$url" -b "cn=u119843,ou=people,$suffix" -s base '(objectClass=*)' sn mail |
  grep -E '^(sn|mail):' | sort | tr '\n' ' ')" "mail: some@mail.com sn: SomeSN " "example: the modified entry"

# --- 2. a wrong password ------------------------------------------------------------------------
scenario() {  # scenario NAME USERS REQUESTS...
  local name=$1 n=$2
  shift 2
  local users="" requests=""
  for _ in $(seq "$n"); do users+="<user session=\"s\" start_time=\"0\" unit=\"second\"/>"; done
  for r in "$@"; do requests+="<request>$r</request>"; done
  cat > "$TEST_TMP/$name.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$port" type="tcp"/></servers>
  <load duration="20" unit="second">$users</load>
  <sessions><session name="s" probability="100" type="ts_ldap">$requests</session></sessions>
</tsung>
XML
}
search='<ldap type="search" base="ou=people,'"$suffix"'" filter="(cn=user2)" scope="singleLevel"/>'
scenario badpw 3 "<ldap type=\"bind\" user=\"$rootdn\" password=\"wrong\"/>" "$search"
run badpw "$TEST_TMP/badpw.xml"
log "wrong password: $(for m in users_count ldap_bind_ok ldap_bind_error ldap_search_entries connect; do printf '%s=%s ' $m "$(sum $m badpw)"; done)"
assert_eq "$(sum ldap_bind_error badpw)" 3 "wrong password: bind errors"
assert_eq "$(sum ldap_bind_ok badpw)" 0 "wrong password: binds accepted"
assert_eq "$(sum finish_users_count badpw)" 3 "wrong password: users finished"
assert_eq "$(sum ldap_search_entries badpw)" 3 "wrong password: the search after it found its entry"
assert_eq "$(sum connect badpw)" 6 "wrong password: connections (the failed bind closes its own)"
[ -z "$(awk '$1 == "stats:" && $2 ~ /^error_/ && $3 > 0' "$TEST_TMP/badpw/tsung.log")" ] || fail "wrong password: $(errors badpw)"

# --- 3. StartTLS --------------------------------------------------------------------------------
tls_before=$(grep -c 'TLS established' "$slog" || true)
scenario starttls 4 '<ldap type="start_tls"/>' "<ldap type=\"bind\" user=\"$rootdn\" password=\"$secret\"/>" "$search"
run starttls "$TEST_TMP/starttls.xml"
log "starttls: $(for m in users_count ldap_bind_ok ldap_search_entries; do printf '%s=%s ' $m "$(sum $m starttls)"; done)"
[ -z "$(errors starttls)" ] || fail "starttls: errors: $(errors starttls)"
assert_eq "$(sum ldap_bind_ok starttls)" 4 "starttls: binds over TLS"
assert_eq "$(sum ldap_search_entries starttls)" 4 "starttls: entries found over TLS"
assert_eq "$(($(grep -c 'TLS established' "$slog") - tls_before))" 4 "starttls: TLS sessions slapd established"

# --- 4. the plugin's example ----------------------------------------------------------------------
tls_before=$(grep -c 'TLS established' "$slog" || true)
sed -e "s/port=\"389\"/port=\"$port\"/" -f "$TEST_TMP/password.sed" \
    -e 's/duration="1" unit="minute"/duration="2" unit="second"/' -e 's/arrivalrate="10"/arrivalrate="3"/' \
    "$(dirname "$0")/../examples/ldap.xml" > "$TEST_TMP/own.xml"
run own "$TEST_TMP/own.xml"
log "own example: $(for m in users_count ldap_bind_ok ldap_search_entries request request_noack; do printf '%s=%s ' $m "$(sum $m own)"; done)"
[ -z "$(errors own)" ] || fail "own example: errors: $(errors own)"
users=$(sum users_count own)
[ "$users" -ge 1 ] || fail "own example: no user arrived"
assert_eq "$(sum finish_users_count own)" "$users" "own example: users finished"
# start_tls, bind, search, the <if> on its result_var's search, add, modify, delete.
assert_eq "$(sum request own)" $((7 * users)) "own example: acknowledged requests"
assert_eq "$(sum request_noack own)" "$users" "own example: unbinds"
assert_eq "$(sum ldap_search_entries own)" $((2 * users)) "own example: entries found (cn=user2, then by its DN from result_var)"
assert_eq "$(grep -c 'SRCH base="cn=user2,ou=people,dc=example,dc=com" scope=0 ' "$slog")" "$users" "own example: searches of the DN in result_var"
assert_eq "$(($(grep -c 'TLS established' "$slog") - tls_before))" "$users" "own example: TLS sessions"
assert_eq "$(grep -c 'SRCH attr=cn sn$' "$slog")" "$users" "own example: searches asking for cn and sn"
assert_eq "$(grep -c ' DEL dn="cn=.*,dc=example,dc=com"' "$slog")" "$users" "own example: deletes slapd got"
assert_eq "$(grep -c 'tag=107 err=0 ' "$slog")" "$users" "own example: deletes that succeeded"
assert_eq "$(count_entries '(|(sn=load)(sn=changed))' "$suffix")" 0 "own example: entries left behind"
log "ok"
