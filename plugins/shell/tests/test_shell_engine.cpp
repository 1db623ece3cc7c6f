// A <dyn_variable> that finds nothing, through a real Engine with ts_shell users: Tsung's
// ts_search:parse_dynvar sets an re (and pgsql_expr) variable to empty then, it does not keep
// the value of an earlier response (user_dynamics.cpp: the same branch for every extractor kind
// Tsung empties: re, form, a protocol's own as pgsql_expr).

#include <gtest/gtest.h>

#include <string>

#include "loadctl/protocol.hpp"
#include "support/local_engine.hpp"

namespace loadctl::shell {
namespace {

TEST(ShellEngine, DynVariableNotFoundIsEmptiedAsTsung) {
  set_shell_allowed(true);
  std::string xml = R"x(<?xml version="1.0"?><tsung>
    <clients><client host="localhost" use_controller_vm="true"/></clients>
    <servers><server host="127.0.0.1" port="1" type="erlang"/></servers>
    <load><user session="s" start_time="0" unit="second"/><user session="s" start_time="0" unit="second"/></load>
    <sessions><session name="s" probability="100" type="ts_shell">
      <request><dyn_variable name="v" re="val=(\w+)"/><shell cmd="echo" args="val=abc"/></request>
      <request><dyn_variable name="v" re="val=(\w+)"/><shell cmd="echo" args="nothing"/></request>
      <request subst="true"><match do="continue" when="match">^\[\]$</match><shell cmd="echo" args="[%%_v%%]"/></request>
    </session></sessions></tsung>)x";
  MetricSet m = test::run_local_engine(xml, "shell.xml");
  set_shell_allowed(false);
  EXPECT_EQ(test::metric_total(m, "finish_users_count"), 2u);
  EXPECT_EQ(test::metric_total(m, "shell_exit_0"), 6u);
  EXPECT_EQ(test::metric_total(m, "match"), 2u);    // "[]": emptied by the second response
  EXPECT_EQ(test::metric_total(m, "nomatch"), 0u);  // "[abc]" if the old value were kept
}

}  // namespace
}  // namespace loadctl::shell
