#!/usr/bin/env bash
# <repeat> counters as Tsung 1.7.0 keeps them (ts_client, ctrl_struct repeat): a dynamic variable
# named after the loop, never reset, so a <repeat> entered again inside a <for> continues from its
# count (and, once past max_repeat, leaves after one pass, counting max_repeat); %%_name%% reads
# it; a condition on an unset variable leaves the loop uncounted, as error_repeat_<name>undef.
source "$(dirname "$0")/lib.sh"
need_bins loadctl loadagent loadtarget

access_log=$TEST_TMP/access.log
start_loadtarget --http 127.0.0.1:0 --threads 1 --access-log "$access_log"
cat > "$TEST_TMP/repeat.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_HTTP_PORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="20" unit="second" maxnumber="2"/></arrivalphase></load>
  <sessions><session name="s" probability="100" type="ts_http">
    <setdynvars sourcetype="value" value="yes"><var name="go"/></setdynvars>
    <for from="1" to="3" var="i">
      <repeat name="r" max_repeat="4">
        <request subst="true"><http url="/hello?a=%%_i%%-%%_r%%"/></request>
        <while var="go" eq="yes"/>
      </repeat>
    </for>
    <for from="1" to="7" var="j">
      <repeat name="u" max_repeat="5">
        <request subst="true"><http url="/hello?b=%%_j%%-%%_u%%"/></request>
        <until var="go" eq="yes"/>
      </repeat>
    </for>
    <if var="go" eq="no"><setdynvars sourcetype="value" value="x"><var name="later"/></setdynvars></if>
    <for from="1" to="2" var="k">
      <repeat name="w" max_repeat="3">
        <request subst="true"><http url="/hello?c=%%_k%%-%%_w%%"/></request>
        <while var="later" eq="x"/>
      </repeat>
    </for>
    <request><http url="/hello?end"/></request>
  </session></sessions>
</tsung>
XML
run_loadctl "$TEST_TMP/repeat.xml" "$TEST_TMP/run" --threads 1
RUN=$TEST_TMP/run
wait_until 5 bash -c "[ \$(grep -c ' GET /hello?end ' '$access_log') -ge 2 ]" || fail "the users did not finish"
seen() { grep -o " GET /hello?$1=[0-9]*-[0-9]* " "$access_log" | sed "s/.*=//" | LC_ALL=C sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }'; }

# while, always true, max_repeat=4: 5 passes on the first entry (the variable unset on the first,
# then 2..5); later entries find the count past max_repeat and leave after one pass.
assert_eq "$(seen a)" "1-:2 1-2:2 1-3:2 1-4:2 1-5:2 2-5:2 3-5:2 " "repeat inside for: the counter continues"
# until, always true: one pass per entry, each counted; from the 6th entry on max_repeat=5 is past.
assert_eq "$(seen b)" "1-:2 2-2:2 3-3:2 4-4:2 5-5:2 6-6:2 7-6:2 " "repeat ended by its condition is not reset"
# The condition's variable is unset: one pass, counted as Tsung's error, the counter unchanged.
assert_eq "$(seen c)" "1-:2 2-:2 " "repeat on an unset variable"
assert_eq "$(tsung_sum max_repeat "$RUN")" 10 "max_repeat: 3 + 2 per user"
assert_eq "$(tsung_sum error_repeat_wundef "$RUN")" 4 "error_repeat_wundef: 2 per user (Tsung's name)"
log "match do=\"restart\" keeps the counter (Tsung keeps the session's dynamic variables)"
: > "$access_log"
cat > "$TEST_TMP/restart.xml" <<XML
<?xml version="1.0"?>
<tsung>
  <clients><client host="localhost" use_controller_vm="true"/></clients>
  <servers><server host="127.0.0.1" port="$LOADTARGET_HTTP_PORT" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="20" unit="second" maxnumber="1"/></arrivalphase></load>
  <sessions><session name="s" probability="100" type="ts_http">
    <setdynvars sourcetype="value" value="yes"><var name="go"/></setdynvars>
    <repeat name="q" max_repeat="2">
      <request subst="true"><http url="/hello?d=%%_q%%"/></request>
      <until var="go" eq="yes"/>
    </repeat>
    <request><match do="restart" max_restart="3">hello</match><http url="/hello?restart"/></request>
  </session></sessions>
</tsung>
XML
run_loadctl "$TEST_TMP/restart.xml" "$TEST_TMP/restart" --threads 1
wait_until 5 bash -c "[ \$(grep -c ' GET /hello?restart ' '$access_log') -ge 4 ]" || fail "the user did not restart 3 times"
# Four passes over the session: the counter goes on from one to the next (2, 3), then past max_repeat.
assert_eq "$(grep -o ' GET /hello?d=[0-9]* ' "$access_log" | tr -d ' ' | tr '\n' ' ')" \
  "GET/hello?d= GET/hello?d=2 GET/hello?d=3 GET/hello?d=3 " "repeat counter across restarts"
assert_eq "$(tsung_sum max_repeat "$TEST_TMP/restart")" 2 "max_repeat on the 3rd and 4th pass"
log "ok"
