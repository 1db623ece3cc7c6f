#!/usr/bin/env bash
# Tsung's own example http_setdynvars.xml (setdynvars: file, random_string, random_number, its
# unique-id Erlang callbacks; a dyn_variable; session_setup) runs against loadtarget, with its
# times shortened. Asserted on the access log: file lines in order, values in range.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget
example=/usr/share/doc/tsung/examples/http_setdynvars.xml
[ -f "$example" ] || { echo "SKIP: $example not installed (apt-get install tsung)"; exit 0; }

access_log=$TEST_TMP/access.log
start_loadtarget --http 127.0.0.1:0 --threads 1 --access-log "$access_log"
printf 'user1;pass1\nuser2;pass2\nuser3;pass3\n' > "$TEST_TMP/ids.csv"
sed -e "s/port=\"80\"/port=\"$LOADTARGET_HTTP_PORT\"/" -e 's/unit="minute"/unit="second"/g' \
    -e 's/min="2" max="4"/min="0.01" max="0.02"/' -e 's/value="5" random/value="0.05" random/' \
    -e 's/value="4" random/value="0.04" random/' -e 's|value="./src/test/test_file_server.csv"|value="ids.csv"|' \
    "$example" > "$TEST_TMP/scenario.xml"
run_loadctl "$TEST_TMP/scenario.xml" "$TEST_TMP/run"
sleep 0.3

sessions=$(grep -c ' GET /index.html?' "$access_log" || true)
[ "$sessions" -ge 2 ] || fail "only $sessions http_test_1 sessions ran"
# order="iter": users take the lines in turn, wrapping.
expected=$(for i in $(seq 0 $((sessions - 1))); do n=$((i % 3 + 1)); echo "user$n&password=pass$n"; done)
actual=$(grep -o 'user=user[0-9]&password=pass[0-9]' "$access_log" | sed 's/^user=//')
assert_eq "$actual" "$expected" "file lines in order"
# random_number 3..32 then the unique id; random_string of 5 characters; id2 Tsung's "really unique" id, UNIXTIME-ID.
awk '$3 ~ /^\/test.html/ { if (!match($3, /^\/test.html([0-9]+)&id=[0-9]+$/)) bad = 1
       n = substr($3, 11) + 0; if (n < 3 || n > 32) bad = 1 } END { exit bad }' "$access_log" ||
  fail "random_number or unique id wrong: $(grep test.html "$access_log")"
grep ' GET /index.html?' "$access_log" | grep -qv '&id=[A-Za-z0-9]\{5\}&id2=[0-9]\{10,\}-[0-9]\{1,\} ' &&
  fail "random_string or id2 wrong: $(grep index.html "$access_log")"
log "ok ($sessions sessions)"
