// The raw plugin (Tsung's ts_raw): send bytes, optionally wait for any reply.
#include <charconv>

#include "loadctl/protocol.hpp"
#include "loadctl/scenario_error.hpp"
#include "loadctl/xml_reader.hpp"
#include "raw_request.hpp"

namespace loadctl::raw {

RawRequest::RawRequest(Template data, Template datasize, std::size_t static_size, Ack ack)
    : data_(std::move(data)),
      datasize_(std::move(datasize)),
      static_size_(static_size),
      ack_(ack),
      has_data_(!data_.is_literal() || !data_.literal().empty()) {}

void RawRequest::encode(const EncodeContext& ctx, std::string& out) const {
  if (has_data_) {
    data_.render(ctx.vars, out, ctx.missing_vars);
    return;
  }
  std::size_t size = static_size_;
  if (!datasize_.is_literal()) {
    thread_local std::string scratch;
    scratch.clear();
    datasize_.render(ctx.vars, scratch, ctx.missing_vars);
    size = 0;
    auto [end, ec] = std::from_chars(scratch.data(), scratch.data() + scratch.size(), size);
    if (ec != std::errc{} || end != scratch.data() + scratch.size() || size > k_max_datasize)
      size = 0;  // an unusable dynamic size sends nothing rather than failing the user
  }
  out.append(size, '\0');
}

ParseResult RawRequest::parse_response(ParserState&, std::span<const char> data,
                                       ResponseInfo&) const {
  if (ack_ == Ack::no_ack) return {ParseStatus::complete, 0};
  // local: any bytes from the server complete the request
  if (data.empty()) return {ParseStatus::need_more, 0};
  return {ParseStatus::complete, data.size()};
}

std::string RawRequest::describe() const {
  if (has_data_) return "raw data";
  if (!datasize_.is_literal()) return "raw datasize (dynamic)";
  return "raw datasize=" + std::to_string(static_size_);
}

std::shared_ptr<const RawRequest> parse_raw_request(pugi::xml_node node,
                                                    const RequestParseContext& ctx) {
  XmlElement el(node);
  std::string ack_text = el.choice("ack", {"local", "no_ack", "global"}, "");
  if (!el.has("ack")) fail_at(node, "missing attribute ack (local | no_ack | global)");
  if (ack_text == "global") unsupported_at(node, "raw ack=\"global\"");
  auto data = el.maybe("data");
  auto datasize = el.maybe("datasize");
  el.finish();
  if (!data && !datasize) fail_at(node, "expected attribute data or datasize");
  Ack ack = ack_text == "local" ? Ack::local : Ack::no_ack;
  // As in Tsung, datasize (when set) wins over data.
  if (!datasize)
    return std::make_shared<RawRequest>(checked_template(node, *data, ctx.subst), Template{}, 0,
                                        ack);
  Template size_template = checked_template(node, *datasize, ctx.subst);
  std::size_t size = 0;
  if (size_template.is_literal()) {
    std::string_view text = size_template.literal();
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), size);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() ||
        size > k_max_datasize)
      fail_at(node, node.attribute("datasize"),
              "attribute datasize: expected a byte count from 0 to " +
                  std::to_string(k_max_datasize) + ", got '" + std::string(text) + "'");
    size_template = Template{};
  }
  return std::make_shared<RawRequest>(Template{}, std::move(size_template), size, ack);
}

namespace {

class RawProtocol final : public Protocol {
 public:
  std::string_view element() const override { return "raw"; }
  std::string_view session_type() const override { return "ts_raw"; }
  std::shared_ptr<const RequestSpec> parse_request(pugi::xml_node element,
                                                   const RequestParseContext& ctx) const override {
    return parse_raw_request(element, ctx);
  }
};

}  // namespace
}  // namespace loadctl::raw

void loadctl_register_raw(loadctl::ProtocolRegistry& registry) {
  registry.add(std::make_unique<loadctl::raw::RawProtocol>());
}
