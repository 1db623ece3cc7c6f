// Beast's string_view is std::string_view, as in http_proxy.cpp and src/control/web_server.cpp (ODR).
#ifndef BOOST_BEAST_USE_STD_STRING_VIEW
#define BOOST_BEAST_USE_STD_STRING_VIEW
#endif
#include "recorder/response_relay.hpp"

#include <limits>
#include <vector>

#include <boost/beast/http/parser.hpp>
#include <fmt/format.h>

#include "loadctl/text.hpp"

namespace loadctl::recorder {

namespace http = boost::beast::http;
using error_code = boost::system::error_code;

namespace relay_detail {  // named: ResponseRelay::Parser, which has linkage, derives from a parser of it

// The body as the parser sees it: kept only while `keep` (the http://- rewrite), else dropped (the
// proxy forwards the raw bytes the parser consumed).
struct RelayBody {
  struct value_type {
    std::string kept;
    bool keep = false;
  };
  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}
    void init(const boost::optional<std::uint64_t>&, error_code& ec) { ec = {}; }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, error_code& ec) {
      ec = {};
      std::size_t n = boost::asio::buffer_size(buffers);
      if (!body_.keep) return n;
      if (body_.kept.size() + n > kMaxRewrittenBody) {
        ec = http::error::body_limit;
        return 0;
      }
      for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it)
        body_.kept.append(static_cast<const char*>((*it).data()), (*it).size());
      return n;
    }
    void finish(error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

using Message = http::response<RelayBody>;

}  // namespace relay_detail

namespace {

using relay_detail::Message;

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (std::size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) s.replace(at, from.size(), to);
  return s;
}

bool is_text_type(std::string_view ct) {
  std::string lower = text::lowered(ct);
  return lower.starts_with("text/") || lower.find("javascript") != std::string::npos ||
         lower.find("json") != std::string::npos || lower.find("xml") != std::string::npos;
}

// Tsung's from_https for the header: Location back through the proxy as http://-, cookies not Secure.
void rewrite_header(Message& res) {
  std::vector<std::string> cookies;
  for (const auto& f : res)
    if (f.name() == http::field::set_cookie) cookies.emplace_back(f.value());
  if (!cookies.empty()) {
    res.erase(http::field::set_cookie);
    for (std::string& c : cookies) {
      c = replace_all(replace_all(c, "; Secure", ""), "; secure", "");
      res.insert(http::field::set_cookie, c);
    }
  }
  if (auto location = res.find(http::field::location); location != res.end() && location->value().starts_with("https://"))
    res.set(http::field::location, "http://-" + std::string(location->value().substr(8)));
}

void append_header(const Message& res, std::string& out) {
  out += fmt::format("HTTP/{}.{} {} {}\r\n", res.version() / 10, res.version() % 10, res.result_int(), std::string(res.reason()));
  for (const auto& f : res) {
    out += f.name_string();
    out += ": ";
    out += f.value();
    out += "\r\n";
  }
  out += "\r\n";
}

}  // namespace

struct ResponseRelay::Parser : http::response_parser<relay_detail::RelayBody> {};

ResponseRelay::ResponseRelay(bool head_request, bool rewrite_https, bool client_keep_alive, bool upgrade)
    : head_request_(head_request), rewrite_https_(rewrite_https), client_keep_alive_(client_keep_alive), upgrade_(upgrade) {}

ResponseRelay::~ResponseRelay() = default;

std::string ResponseRelay::header(std::string_view name) const {
  return parser_ ? std::string(parser_->get()[name]) : std::string();
}

ResponseRelay::Status ResponseRelay::fail(std::string why) {
  error_ = std::move(why);
  return Status::failed;
}

ResponseRelay::Status ResponseRelay::feed(std::string_view data, std::size_t& used, std::string& out) {
  used = 0;
  while (used < data.size()) {
    if (!parser_) {  // a new response: the first, or the final one after an interim 1xx
      parser_ = std::make_unique<Parser>();
      parser_->header_limit(kMaxResponseHeader);
      // Streamed: its length costs nothing here. (Not boost::none: Beast 1.74 compares a
      // Content-Length with an empty optional as over the limit.)
      parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
      if (head_request_) parser_->skip(true);
    }
    bool in_body = parser_->is_header_done();
    error_code ec;
    std::size_t n = parser_->put(boost::asio::const_buffer(data.data() + used, data.size() - used), ec);
    if (n > 0) got_some_ = true;
    if (in_body && !rewriting_) out.append(data.substr(used, n));
    used += n;
    if (ec == http::error::need_more) break;
    if (ec == http::error::header_limit) return fail(fmt::format("upstream response header larger than {} KiB", kMaxResponseHeader / 1024));
    if (ec == http::error::body_limit)
      return fail(fmt::format("upstream text response larger than {} MiB (read whole to rewrite its https:// links)", kMaxRewrittenBody >> 20));
    if (ec) return fail("upstream response: " + ec.message());
    if (!in_body && parser_->is_header_done()) {
      unsigned status = parser_->get().result_int();
      if (status == 101 && upgrade_) {  // the WebSocket handshake's answer: what follows is frames
        append_header(parser_->get(), out);
        forwarded_ = switched_ = true;
        return Status::done;
      }
      if (status == 101) return fail("upstream switched protocols (101) unasked");
      if (status >= 100 && status < 200) {  // 100, 103 Early Hints: the final answer follows
        parser_.reset();
        continue;
      }
      on_header(out);
    }
    if (parser_->is_done()) {
      finish(out);
      return Status::done;
    }
    if (n == 0) break;
  }
  return Status::more;
}

ResponseRelay::Status ResponseRelay::feed_eof(std::string& out) {
  if (!parser_ || !parser_->got_some()) return fail("upstream closed the connection without an answer");
  error_code ec;
  parser_->put_eof(ec);
  if (ec || !parser_->is_done())
    return fail(forwarded_ ? "upstream closed the connection before the end of the response"
                           : "upstream closed the connection in the middle of the response header");
  finish(out);
  return Status::done;
}

ResponseRelay::Status ResponseRelay::on_header(std::string& out) {
  Message& res = parser_->get();
  upstream_keep_alive_ = parser_->keep_alive() && !parser_->need_eof();
  client_keep_alive_ = client_keep_alive_ && !parser_->need_eof();
  if (rewrite_https_) {
    rewrite_header(res);
    std::string type = text::lowered(std::string(res[http::field::content_type]));
    rewriting_ = !parser_->is_done() && is_text_type(type) && !type.starts_with("text/event-stream") &&
                 !res.count(http::field::content_encoding);
    res.body().keep = rewriting_;
  }
  if (rewriting_) return Status::more;  // the header goes with the rewritten body (its length changes)
  res.keep_alive(client_keep_alive_);
  append_header(res, out);
  forwarded_ = true;
  return Status::more;
}

void ResponseRelay::finish(std::string& out) {
  if (!rewriting_) return;
  Message& res = parser_->get();
  std::string body = replace_all(std::move(res.body().kept), "https://", "http://-");
  res.chunked(false);
  res.content_length(body.size());
  res.keep_alive(client_keep_alive_);
  append_header(res, out);
  out += body;
  forwarded_ = true;
}

}  // namespace loadctl::recorder
