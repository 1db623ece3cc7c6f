// libFuzzer target for the http response parser: any input, fed whole and split in two at a
// point chosen by the first byte, must give the same result and never over-consume. Set-Cookie
// lines go to a jar, which a request then encodes from.
// Build and run: scripts/fuzz.sh (clang, -DLOADCTL_FUZZ=ON, build-fuzz/).
#include <cstdlib>
#include <string>
#include <vector>

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

// A request without a body: header lines free of CR and LF, ended by exactly one blank line
// (a cookie value with a CR or LF would inject a header or end the head early).
void check_head(std::string_view request) {
  auto end = request.find("\r\n\r\n");
  if (end == std::string_view::npos || end + 4 != request.size()) std::abort();
  std::string_view head = request.substr(0, end + 2);
  while (!head.empty()) {
    auto eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    if (line.empty() || line.find_first_of("\r\n") != std::string_view::npos) std::abort();
    head.remove_prefix(eol + 2);
  }
}

// "GET /p HTTP/1.1", Host and the cookies chunk (with the final CRLF), as parse_http_request
// builds a static request; a nested path so Path attributes matter.
std::vector<loadctl::http::Chunk> request_chunks(std::string_view method) {
  using Kind = loadctl::http::Chunk::Kind;
  std::vector<loadctl::http::Chunk> chunks(3);
  chunks[0].text = std::string(method) + " /a/b HTTP/1.1\r\n";
  chunks[1].kind = Kind::host;
  chunks[2].kind = Kind::cookies;
  chunks[2].text = "\r\n";
  return chunks;
}

Outcome feed(const loadctl::http::HttpRequest& req, std::string_view a, std::string_view b) {
  ParserState state;
  state.reset();
  std::unique_ptr<loadctl::UserSession> jar;
  ResponseInfo info;
  info.session = &jar;
  info.host = "fuzz.example";
  auto encode_with_jar = [&] {  // the cookies stored must encode into a well-formed request
    if (!jar) return;
    loadctl::EncodeContext ctx;
    ctx.host_header = "www.fuzz.example:8080";
    ctx.session = jar.get();
    std::string request;
    req.encode(ctx, request);
    check_head(request);
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
  static const loadctl::http::HttpRequest get(request_chunks("GET"), "GET /a/b", false, std::nullopt);
  static const loadctl::http::HttpRequest head(request_chunks("HEAD"), "HEAD /a/b", true, std::nullopt);
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::size_t cut = data[0] % (input.size() + 1);
  for (const auto* req : {&get, &head}) {
    Outcome whole = feed(*req, input, {});
    Outcome split = feed(*req, input.substr(0, cut), input.substr(cut));
    if (!(whole == split)) std::abort();
  }
  return 0;
}
