#include <fmt/format.h>

#include "loadctl/xml_reader.hpp"
#include "shell_request.hpp"

namespace loadctl::shell {

std::shared_ptr<const RequestSpec> parse_shell(pugi::xml_node node, const RequestParseContext& ctx) {
  XmlElement el(node);
  auto req = std::make_shared<ShellRequest>();
  if (!el.has("cmd")) el.fail("cmd", "missing attribute 'cmd'");
  req->command = el.template_attr("cmd", ctx.subst);
  req->args = el.template_attr("args", ctx.subst);
  el.finish();
  el.children({});  // none
  return req;
}

void ShellRequest::render(const EncodeContext& ctx, std::string& out) const {
  command.render(ctx.vars, out, ctx.missing_vars);
  out += ' ';
  args.render(ctx.vars, out, ctx.missing_vars);
}

std::string ShellRequest::describe() const {
  std::string line;
  render(EncodeContext{}, line);
  return "shell " + line;
}

}  // namespace loadctl::shell
