// Compiling sessions into flat programs: static sessions stay static (no variable store),
// dynamic constructs become the expected ops, names become ids, and shipped files load.

#include <gtest/gtest.h>

#include "engine/program.hpp"
#include "fake_protocol.hpp"
#include "loadctl/scenario.hpp"

namespace {

using namespace loadctl;
using namespace loadctl::engine;
using Code = Op::Code;

Scenario load(const std::string& sessions, const std::string& options = "",
              const std::vector<DataFile>* files = nullptr) {
  std::string text = R"(<?xml version="1.0"?><tsung><clients><client host="localhost"/></clients>
<servers><server host="127.0.0.1" port="80" type="tcp"/></servers>
<load><arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="1" unit="second"/></arrivalphase></load>
)" + options + "<sessions><session name=\"s\" probability=\"100\" type=\"ts_fake\">" + sessions +
                     "</session></sessions></tsung>";
  return load_scenario_text(text, "t.xml", fake::fake_registry(), files);
}

std::vector<Code> codes(const UserProgram& p) {
  std::vector<Code> out;
  for (const Op& op : p.ops) out.push_back(op.code);
  return out;
}

std::vector<bool> endpages(const UserProgram& p) {
  std::vector<bool> out;
  for (const CompiledRequest& r : p.requests) out.push_back(r.endpage);
  return out;
}

// Tsung's pages (ts_config:mark_prev_req): a request ends its page unless the next step is a
// request; transactions are looked through, a <repeat> has no opening step, an <if> no closing one.
TEST(Program, PagesEndWhereNoRequestFollows) {
  Scenario s = load(R"(<setdynvars sourcetype="value" value="x"><var name="v"/></setdynvars>
<request><fake data="a"/></request>
<for from="1" to="3" var="i"><request><fake data="b"/></request><request><fake data="c"/></request>
  <thinktime value="1" random="false"/></for>
<repeat name="r" max_repeat="2"><request><fake data="d"/></request><while var="v" eq="x"/></repeat>
<transaction name="t"><request><fake data="e"/></request></transaction>
<request><fake data="f"/></request>
<if var="v" eq="x"><request><fake data="g"/></request></if>
<request><fake data="h"/></request>
<setdynvars sourcetype="value" value="x"><var name="v"/></setdynvars>
<request><fake data="i"/></request>)");
  UserProgram p = compile_session(s.sessions[0], s.options);
  // a: a loop starts after it; b: c follows; c: thinktime; d: end of repeat; e: f follows across
  // the transaction end; f: the if starts; g: h follows (no end-of-if step); h: setdynvars; i: last.
  EXPECT_EQ(endpages(p), (std::vector<bool>{true, false, true, true, false, true, false, true, true}));
}

TEST(Program, RequestBeforeRepeatBodyIsNotAPageEnd) {
  Scenario s = load(R"(<setdynvars sourcetype="value" value="x"><var name="v"/></setdynvars>
<request><fake data="a"/></request>
<repeat name="r" max_repeat="2"><request><fake data="b"/></request><until var="v" eq="x"/></repeat>)");
  UserProgram p = compile_session(s.sessions[0], s.options);
  EXPECT_EQ(endpages(p), (std::vector<bool>{false, true}));
}

TEST(Program, StaticLoopNeedsNoVariables) {
  Scenario s = load(R"(<for from="1" to="3" var="i"><request><fake data="x"/></request></for>)");
  UserProgram p = compile_session(s.sessions[0], s.options);
  EXPECT_FALSE(p.dynamic);
  EXPECT_EQ(p.loops[0].var_id, -1);
  EXPECT_EQ(codes(p), (std::vector<Code>{Code::loop_init, Code::request, Code::loop_next}));
}

TEST(Program, LoopCounterReadBySubstitutionIsAVariable) {
  Scenario s = load(R"(<for from="1" to="3" var="i"><request subst="true"><fake data="%%_i%%"/></request></for>)");
  UserProgram p = compile_session(s.sessions[0], s.options);
  EXPECT_TRUE(p.dynamic);
  EXPECT_EQ(p.loops[0].var_id, p.vars.id("i"));
}

TEST(Program, RepeatCounterReadBySubstitutionIsAVariable) {
  Scenario s = load(R"(<setdynvars sourcetype="value" value="x"><var name="v"/></setdynvars>
<repeat name="r" max_repeat="2"><request subst="true"><fake data="%%_r%%"/></request><until var="v" eq="x"/></repeat>
<if var="r" eq="2"><request><fake data="y"/></request></if>)");
  UserProgram p = compile_session(s.sessions[0], s.options);
  EXPECT_EQ(p.loops[p.repeats[0].loop].var_id, p.vars.id("r"));
  EXPECT_GE(p.vars.id("r"), 0);
}

// A <setdynvars> naming a <repeat> sets its counter (Tsung's counter is that variable): the
// program links the variable to the loop's slot; a setdynvars of other names has no link.
TEST(Program, SetdynvarsOfARepeatsNameIsLinkedToItsCounter) {
  Scenario s = load(R"(<setdynvars sourcetype="value" value="x"><var name="v"/></setdynvars>
<for from="1" to="2" var="i"><request><fake/></request></for>
<setdynvars sourcetype="server"><var name="v"/><var name="r"/></setdynvars>
<repeat name="r" max_repeat="2"><request><fake/></request><until var="v" eq="x"/></repeat>)");
  UserProgram p = compile_session(s.sessions[0], s.options);
  ASSERT_EQ(p.set_var_repeats.size(), 2u);
  EXPECT_TRUE(p.set_var_repeats[0].empty());
  EXPECT_EQ(p.set_var_repeats[1], (std::vector<std::int32_t>{-1, static_cast<std::int32_t>(p.repeats[0].loop)}));
  EXPECT_EQ(p.repeats[0].loop, 1u);  // after the <for>'s slot
}

TEST(Program, IfRepeatSetVarsAbort) {
  Scenario s = load(R"X(
<setdynvars sourcetype="random_number" start="1" end="3"><var name="n"/></setdynvars>
<if var="n" gt="1"><request><fake/></request></if>
<repeat name="r" max_repeat="5">
  <request><dyn_variable name="t" re="x(.)"/><fake/></request>
  <until var="t" eq="y"/>
</repeat>
<abort type="all"/>)X");
  UserProgram p = compile_session(s.sessions[0], s.options);
  EXPECT_TRUE(p.dynamic);
  // No step at the start of the <repeat>: its counter is not reset on entry (Tsung).
  EXPECT_EQ(codes(p), (std::vector<Code>{Code::set_vars, Code::jump_unless, Code::request, Code::request,
                                         Code::repeat_next, Code::abort}));
  EXPECT_EQ(p.ops[1].target, 3u);  // past the if body
  EXPECT_EQ(p.ops[4].target, 3u);  // back to the repeat body
  EXPECT_EQ(p.ops[5].arg, 1u);
  EXPECT_EQ(p.loops[p.repeats[0].loop].var_id, -1);  // nothing reads %%_r%%
  EXPECT_EQ(p.repeats[0].max_repeat, 5u);
  EXPECT_FALSE(p.repeats[0].while_);
  EXPECT_EQ(p.requests[0].dyn, nullptr);
  ASSERT_NE(p.requests[1].dyn, nullptr);
  EXPECT_EQ(p.requests[1].dyn_ids[0], p.vars.id("t"));
  EXPECT_EQ(p.conditions[0].var_id, p.vars.id("n"));
  EXPECT_EQ(p.set_var_ids[0][0], static_cast<std::uint32_t>(p.vars.id("n")));
}

TEST(Program, FileServerShippedContents) {
  std::vector<DataFile> shipped{{"users", "/controller/only/users.csv", {"a;1", "b;2"}}};
  Scenario s = load(R"(<setdynvars sourcetype="file" fileid="users" order="iter"><var name="u"/><var name="p"/></setdynvars>
<request subst="true"><fake data="%%_u%%"/></request>)",
                    R"(<options><option name="file_server" id="users" value="/controller/only/users.csv"/></options>)",
                    &shipped);
  ASSERT_EQ(s.files.size(), 1u);
  EXPECT_EQ(s.files[0].lines, (std::vector<std::string>{"a;1", "b;2"}));
  const Action& a = s.sessions[0].actions[0];
  EXPECT_EQ(a.set_vars.source, SetDynVars::Source::file);
  EXPECT_TRUE(a.set_vars.iter);
  EXPECT_EQ(a.set_vars.vars, (std::vector<std::string>{"u", "p"}));
}

TEST(Program, DefaultDynVariableIsAFormField) {
  Scenario s = load(R"(<request><dyn_variable name="random_num"/><fake/></request>)");
  const DynVariable& v = s.sessions[0].actions[0].dynamics->variables[0];
  EXPECT_EQ(v.kind, DynVariable::Kind::form);
  std::string out;
  ASSERT_TRUE(v.extract("HTTP/1.1 200 OK\r\n\r\n<form><hidden name=\"random_num\" value=\"42\"></form>", out));
  EXPECT_EQ(out, "42");
  ASSERT_TRUE(v.extract("<input type='hidden' name='random_num' value='x.y'>", out));
  EXPECT_EQ(out, "x.y");
  EXPECT_FALSE(v.extract("<input name=\"other\" value=\"1\">", out));
}

TEST(Program, ThinkTimeVariable) {
  Scenario s = load(R"(<setdynvars sourcetype="value" value="0.5"><var name="t"/></setdynvars><thinktime value="%%_t%%"/>)");
  UserProgram p = compile_session(s.sessions[0], s.options);
  EXPECT_EQ(p.thinks[0].var_id, p.vars.id("t"));
}

}  // namespace
