#include "support/map_vars.hpp"
#include <map>

#include <gtest/gtest.h>

#include "loadctl/template.hpp"

namespace {

using loadctl::register_substitution_function;
using loadctl::Template;
using loadctl::VariableSource;

using loadctl::test::MapVars;

TEST(Template, LiteralWhenNotSubstituting) {
  Template t("GET /%%_id%%", false);
  EXPECT_TRUE(t.is_literal());
  EXPECT_EQ(t.literal(), "GET /%%_id%%");
  EXPECT_TRUE(t.variables().empty());
}

TEST(Template, EmptyTextIsLiteral) {
  Template t("", true);
  EXPECT_TRUE(t.is_literal());
  EXPECT_EQ(t.literal(), "");
  EXPECT_EQ(t.render(nullptr), "");
}

TEST(Template, SplitsVariables) {
  Template t("/user/%%_id%%/page/%%_page.no%%?x=1", true);
  EXPECT_FALSE(t.is_literal());
  ASSERT_EQ(t.variables().size(), 2u);
  EXPECT_EQ(t.variables()[0], "id");
  EXPECT_EQ(t.variables()[1], "page.no");
  MapVars vars;
  vars.values = {{"id", "42"}, {"page.no", "7"}};
  EXPECT_EQ(t.render(&vars), "/user/42/page/7?x=1");
}

TEST(Template, VariableAtBothEnds) {
  Template t("%%_a%%-%%_b%%", true);
  MapVars vars;
  vars.values = {{"a", "x"}, {"b", "y"}};
  EXPECT_EQ(t.render(&vars), "x-y");
}

TEST(Template, MissingVariablesRenderEmptyAndAreCounted) {
  Template t("a%%_x%%b%%_y%%c", true);
  MapVars vars;
  vars.values = {{"y", "Y"}};
  std::string out = ">";
  unsigned missing = 0;
  t.render(&vars, out, &missing);
  EXPECT_EQ(out, ">abYc");
  EXPECT_EQ(missing, 1u);
  missing = 0;
  t.render(nullptr, out, &missing);
  EXPECT_EQ(missing, 2u);
}

TEST(Template, PercentSignsThatAreNotPlaceholdersStayLiteral) {
  Template t("50%% off, %%_code%% 100%%", true);
  ASSERT_EQ(t.variables().size(), 1u);
  EXPECT_EQ(t.variables()[0], "code");
  MapVars vars;
  vars.values = {{"code", "Z"}};
  EXPECT_EQ(t.render(&vars), "50%% off, Z 100%%");
  Template unterminated("%%_open", true);
  EXPECT_TRUE(unterminated.is_literal());
  EXPECT_EQ(unterminated.literal(), "%%_open");
}

TEST(Template, ReportsErlangFunctionCalls) {
  Template t("id=%%ts_user_server:get_unique_id%%&v=%%_v%%", true);
  ASSERT_EQ(t.function_calls().size(), 1u);
  EXPECT_EQ(t.function_calls()[0], "ts_user_server:get_unique_id");
  ASSERT_EQ(t.variables().size(), 1u);
  EXPECT_EQ(t.variables()[0], "v");
  Template off("%%mod:fun%%", false);
  EXPECT_TRUE(off.function_calls().empty());
}

struct UserNine : VariableSource {
  bool append(std::string_view, std::string&) const override { return false; }
  std::uint64_t user_id() const override { return 9; }
};

TEST(Template, FunctionCallsAreResolvedWhenTheTemplateIsBuilt) {
  // Rendering calls the function found at build time: no look-up by name per request.
  register_substitution_function("tmpl_test:f", [](const VariableSource& v, std::string& o) {
    o += "a" + std::to_string(v.user_id());
  });
  Template built("<%%tmpl_test:f%%>", true);
  Template unknown("<%%tmpl_test:none%%>", true);
  register_substitution_function("tmpl_test:f", [](const VariableSource&, std::string& o) { o += "b"; });
  register_substitution_function("tmpl_test:none", [](const VariableSource&, std::string& o) { o += "c"; });
  UserNine vars;
  unsigned missing = 0;
  std::string out;
  built.render(&vars, out, &missing);
  unknown.render(&vars, out, &missing);
  EXPECT_EQ(out, "<a9><>");
  EXPECT_EQ(missing, 1u);  // the call with nothing registered when it was built
  EXPECT_EQ(Template("%%tmpl_test:f%%", true).render(&vars), "b");
}

}  // namespace
