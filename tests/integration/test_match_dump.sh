#!/usr/bin/env bash
# match do="dump" as Tsung 1.7.0's ts_match_logger: the match.log line, and the response in
# match-USER-SESSION-REQUEST-N.dump in the log directory (N: the run's dump count, from 1), its
# bytes as received (CR, LF and backslashes included), mode 0600, cut at 64 KiB; at most 1000
# dump files per run.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget

start_loadtarget --http 127.0.0.1:0 --threads 1
scenario() {  # scenario USERS BODY: a session of BODY for USERS users
  cat <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_HTTP_PORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="20" unit="second" maxnumber="$1"/></arrivalphase></load>
  <sessions><session name="other" probability="0" type="ts_http"><request><http url="/hello"/></request></session>
  <session name="s" probability="100" type="ts_http">$2</session></sessions>
</tsung>
XML
}
run() {  # run NAME: runs $TEST_TMP/NAME.xml into $TEST_TMP/NAME (its stderr in $TEST_TMP/NAME.err)
  run_loadctl "$TEST_TMP/$1.xml" "$TEST_TMP/$1" --threads 1
}

log "dump files: names, bytes, size cap"
scenario 2 '
    <request><match do="dump" name="echo">ab</match>
      <http url="/echo" method="POST" contents="ab\n\\c&#10;d&#13;&#10;e"/></request>
    <request><match do="dump" name="big">HTTP</match><http url="/bytes/70000"/></request>
    <request><match do="dump" when="nomatch" name="never">hello</match><http url="/hello"/></request>' > "$TEST_TMP/files.xml"
run files
dir=$TEST_TMP/files
ls "$dir" | grep '\.dump$' | sort > "$TEST_TMP/names" || true
assert_eq "$(wc -l < "$TEST_TMP/names")" 4 "one file per fired dump (not for the check that did not fire)"
# Session 2 of the scenario ("s"), requests 1 and 2 (pc, as match.log says); N from 1 to 4.
assert_eq "$(grep -c '^match-[0-9]*-2-[12]-[1-4]\.dump$' "$TEST_TMP/names")" 4 "names match-USER-SESSION-REQUEST-N.dump"
assert_eq "$(sed 's/.*-\([0-9]*\)\.dump$/\1/' "$TEST_TMP/names" | sort -n | tr '\n' ' ')" "1 2 3 4 " "N counts the run's dumps"
assert_eq "$(cut -d- -f2 "$TEST_TMP/names" | sort -u | wc -l)" 2 "both users dumped"
printf 'ab\\n\\\\c\nd\r\ne' > "$TEST_TMP/body"
for f in "$dir"/match-*-2-1-*.dump; do
  assert_eq "$(head -c 15 "$f")" "HTTP/1.1 200 OK" "the whole response, headers first: $f"
  tail -c "$(wc -c < "$TEST_TMP/body")" "$f" | cmp -s - "$TEST_TMP/body" || fail "echoed body not kept byte for byte in $f"
  assert_eq "$(stat -c %a "$f")" 600 "dump files readable by the owner only"
done
for f in "$dir"/match-*-2-2-*.dump; do
  assert_eq "$(wc -c < "$f")" 65536 "a dump is cut at 64 KiB: $f"
done
assert_eq "$(grep -c 'do=dump' "$dir/match.log")" 4 "match.log has the dump lines"
assert_eq "$(grep -c 'response=' "$dir/match.log")" 0 "match.log has no response text"

log "a dump file is never written through a symbolic link"
mkdir -p "$TEST_TMP/link"
cp "$TEST_TMP/files.xml" "$TEST_TMP/link.xml"
echo victim > "$TEST_TMP/victim"
ln -s "$TEST_TMP/victim" "$TEST_TMP/link/$(head -1 "$TEST_TMP/names")"
run link
assert_eq "$(cat "$TEST_TMP/victim")" victim "the link's target is untouched"
grep -q "$(head -1 "$TEST_TMP/names"): Too many levels of symbolic links" "$TEST_TMP/link.err" || fail "the refused write is not reported"
assert_eq "$(ls "$TEST_TMP/link" | grep -c '\.dump$')" 4 "the other dumps are written"

log "at most 1000 dump files"
scenario 1 '
    <for from="1" to="1100" var="i"><request><match do="dump">hello</match><http url="/hello"/></request></for>' \
  > "$TEST_TMP/cap.xml"
run cap
assert_eq "$(ls "$TEST_TMP/cap" | grep -c '\.dump$')" 1000 "dump files capped"
assert_eq "$(grep -c 'do=dump' "$TEST_TMP/cap/match.log")" 1100 "every match still logged"
log "ok"
