// libFuzzer target for the http response parser: any input, fed whole and split in two at a
// point chosen by the first byte, must give the same result and never over-consume. Set-Cookie
// lines go to a jar, which a request then encodes from.
// Build and run: scripts/fuzz.sh (clang, -DLOADCTL_FUZZ=ON, build-fuzz/).
#include <cstdlib>
#include <string>

#include "http_request.hpp"

using loadctl::ParseResult;
using loadctl::ParserState;
using loadctl::ParseStatus;
using loadctl::ResponseInfo;

namespace {

struct Outcome {
  ParseStatus status = ParseStatus::need_more;
  std::size_t consumed = 0;
  std::uint16_t code = 0;
  bool close = false;
  bool operator==(const Outcome&) const = default;
};

Outcome feed(const loadctl::http::HttpRequest& req, std::string_view a, std::string_view b) {
  ParserState state;
  state.reset();
  std::unique_ptr<loadctl::UserSession> jar;
  ResponseInfo info;
  info.session = &jar;
  info.host = "fuzz.example";
  auto encode_with_jar = [&] {  // the cookies stored must encode into a request
    if (!jar) return;
    loadctl::EncodeContext ctx;
    ctx.host_header = "www.fuzz.example:8080";
    ctx.session = jar.get();
    std::string request;
    req.encode(ctx, request);
  };
  std::string buffer;
  Outcome out;
  for (std::string_view piece : {a, b}) {
    buffer.append(piece);
    ParseResult r = req.parse_response(state, {buffer.data(), buffer.size()}, info);
    if (r.consumed > buffer.size()) std::abort();
    out.consumed += r.consumed;
    buffer.erase(0, r.consumed);
    out = Outcome{r.status, out.consumed, info.status_code, info.close};
    if (r.status != ParseStatus::need_more) {
      encode_with_jar();
      return out;
    }
  }
  encode_with_jar();
  if (req.complete_on_eof(state, info))
    out = Outcome{ParseStatus::complete, out.consumed, info.status_code, info.close};
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const loadctl::http::HttpRequest get({}, "GET /", false, std::nullopt);
  static const loadctl::http::HttpRequest head({}, "HEAD /", true, std::nullopt);
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::size_t cut = data[0] % (input.size() + 1);
  for (const auto* req : {&get, &head}) {
    Outcome whole = feed(*req, input, {});
    Outcome split = feed(*req, input.substr(0, cut), input.substr(cut));
    if (!(whole == split)) std::abort();
  }
  return 0;
}
