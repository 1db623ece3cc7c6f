// XMPP over BOSH (see jabber_bosh.hpp), Tsung's ts_bosh: the same requests, bodies, rids and
// counters (bosh_http_req, bosh_http_conn, error_bosh_terminated, error_bosh_socket_closed,
// error_bosh_maxqueued). Tsung keeps a pool of HTTP connections; with hold=1 at most two requests
// are open at once (its rule: a stanza goes when no request is open or rid - lowest open rid <=
// 1, else it is queued), so two lanes carry them: the connection (lane 0) and its second lane.
#include "jabber_bosh.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <random>
#include <vector>

#include "jabber_services.hpp"
#include "jabber_stream.hpp"
#include "loadctl/text.hpp"

namespace loadctl::jabber {
namespace {

constexpr std::string_view kHttpBind = "<body xmlns='http://jabber.org/protocol/httpbind' ";
constexpr std::size_t kMaxHead = 16 * 1024;  // response headers longer than this are an error
constexpr std::size_t kKeptDecoded = 4 * 1024;  // a decoded chunked content's capacity kept between responses

/// What a lane's open request was: the answer to a creation or a restart starts a stream.
enum class Sent : std::uint8_t { none, create, restart, data, terminate };

class BoshXmppConnection;

/// The engine's services, with the XMPP connection's own sends (bidi replies) sent as stanzas.
class BoshServices final : public ForwardingServices {
 public:
  BoshServices(ConnectionServices& s, BoshXmppConnection& bosh) : ForwardingServices(s), bosh_(bosh) {}
  void send(std::string_view bytes) override;

 private:
  BoshXmppConnection& bosh_;
};

class BoshXmppConnection final : public Connection {
 public:
  BoshXmppConnection(std::unique_ptr<Connection> xmpp, const ConnectionContext& ctx)
      : xmpp_(std::move(xmpp)), max_frame_size_(ctx.max_frame_size), host_(ctx.host) {
    static const CarrierOptions defaults;
    path_ = (ctx.carrier ? *ctx.carrier : defaults).bosh_path;
  }

  bool on_open(ConnectionServices& s) override {
    http_req_ = s.metric("bosh_http_req", ConnMetricKind::counter);
    http_conn_ = s.metric("bosh_http_conn", ConnMetricKind::counter);
    s.count(http_conn_);  // the connection itself: Tsung's first socket
    lanes_[0].connected = true;
    BoshServices bosh(s, *this);
    return xmpp_->on_open(bosh);
  }

  void encode(ConnectionServices& s, const RequestSpec& request, const EncodeContext& ctx, std::string& out) override {
    BoshServices bosh(s, *this);
    std::string& xml = encoded_;
    xml.clear();
    xmpp_->encode(bosh, request, ctx, xml);
    content_.clear();
    if (!xml.empty()) stanza(s, xml);  // nothing in `out`: the bodies go on a lane each
  }

  /// Tsung's ts_bosh:send: a stream header creates the session or restarts it, a stream end
  /// terminates it, anything else goes in a body (or waits in the queue).
  void stanza(ConnectionServices& s, std::string_view xml) {
    if (fatal_) return;  // the user is ending (on_timer)
    if (xml.starts_with("<?xml")) {
      if (sid_.empty() && !creating_) create(s, xml);
      else control(s, Sent::restart);
    } else if (xml.starts_with("</stream:stream>")) {
      control(s, Sent::terminate);
    } else if (sid_.empty() && !creating_) {
      // No session and none being created (this connection replaced one whose session was
      // lost): in Tsung the BOSH process is gone and the user ends; here counted, then ended.
      end_user(s, "bosh_no_session");
    } else {
      queue_.append(xml);
      if (queue_.size() > max_frame_size_) {  // Tsung: 5 stanzas (its client waits meanwhile)
        end_user(s, "bosh_maxqueued");
        return;
      }
      flush_queue(s);
    }
  }

  /// Counts error_<name> and ends the user from on_timer (encode cannot return an event).
  void end_user(ConnectionServices& s, const char* name) {
    s.error(name);
    std::string().swap(queue_);
    fatal_ = true;
    s.set_timer(0);
  }

  ConnResult on_data(ConnectionServices& s, const RequestSpec* pending, std::span<const char> data,
                     ResponseInfo& info) override {
    return lane_data(s, 0, pending, data, info);
  }
  ConnResult on_lane_data(ConnectionServices& s, unsigned lane, const RequestSpec* pending, std::span<const char> data,
                          ResponseInfo& info) override {
    return lane_data(s, lane, pending, data, info);
  }

  /// Tsung's ts_bosh: any of its HTTP connections closed by the server while free is dropped
  /// silently and reopened when needed, the first one (lane 0) as the others.
  bool reopens_lane0() const override { return true; }

  ConnEvent on_lane_closed(ConnectionServices& s, unsigned lane, const RequestSpec* pending, bool eof,
                           ResponseInfo& info) override {
    Lane& l = lanes_[lane];
    l.connected = false;
    l.owed = 0;
    l.scan = {};
    if (l.sent == Sent::none) return ConnEvent::none;  // an idle connection: reopened when needed
    l.sent = Sent::none;
    s.error("bosh_socket_closed");  // Tsung: an open request closed by the server
    return ConnEvent::close;
  }

  ConnEvent on_timer(ConnectionServices& s) override {
    if (fatal_) return ConnEvent::fatal_counted;
    BoshServices bosh(s, *this);
    return xmpp_->on_timer(bosh);
  }
  bool is_wait(const RequestSpec& request) override { return xmpp_->is_wait(request); }
  bool on_eof(const RequestSpec* pending, ResponseInfo& info) override { return xmpp_->on_eof(pending, info); }

 private:
  struct Lane {
    Sent sent = Sent::none;   ///< the open request's kind; none: the lane is free
    std::uint64_t rid = 0;    ///< the open request's rid
    bool connected = false;   ///< as far as this connection knows (bosh_http_conn on a new one)
    std::size_t owed = 0;     ///< bytes of responses handled but not reported consumed yet
    BoshScan scan;            ///< the partial response's chunks walked so far
  };

  void create(ConnectionServices& s, std::string_view header) {
    // Tsung's extract_domain: the stream header's to='...'.
    std::size_t to = header.find("to='");
    if (to != std::string_view::npos) {
      to += 4;
      domain_ = header.substr(to, header.find('\'', to) - to);
    }
    thread_local std::mt19937_64 rng{std::random_device{}()};
    rid_ = 1000 + std::uniform_int_distribution<std::uint64_t>(1, 100000)(rng);
    std::string& b = body_;
    b.assign(kHttpBind).append("content='text/xml; charset=utf-8' ver='1.8' to='").append(domain_);
    b.append("' rid='").append(std::to_string(rid_));
    b.append("' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0' wait='60' hold='1'/>");
    // Tsung's creation body has "xmlns='...' content=" with one space (its other bodies two).
    creating_ = true;
    post(s, free_lane(), Sent::create, b);
  }

  /// A restart or a terminate: on a free lane, or once one is free.
  void control(ConnectionServices& s, Sent kind) {
    int lane = free_lane();
    if (lane < 0) {
      held_control_ = kind;
      return;
    }
    std::string& b = body_;
    b.assign(kHttpBind).append(" rid='").append(std::to_string(rid_)).append("' sid='").append(sid_);
    if (kind == Sent::restart) {
      b.append("' xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh' to='").append(domain_).append("'/>");
      state_ = State::normal;
    } else {
      b.append("' type='terminate' xmlns:xmpp='urn:xmpp:xbosh'/>");
      state_ = State::closing;
    }
    post(s, lane, kind, b);
  }

  /// Tsung's do_send: the queued stanzas go when no request is open or the lowest open rid is
  /// rid - 1 at least.
  void flush_queue(ConnectionServices& s) {
    if (queue_.empty() || sid_.empty()) return;
    std::uint64_t lowest = UINT64_MAX;
    for (const Lane& l : lanes_)
      if (l.sent != Sent::none) lowest = std::min(lowest, l.rid);
    if (lowest != UINT64_MAX && rid_ - lowest > 1) return;
    int lane = free_lane();
    if (lane < 0) return;
    send_stanzas(s, lane);
  }

  void send_stanzas(ConnectionServices& s, int lane) {
    std::string& b = body_;
    b.assign(kHttpBind).append(" rid='").append(std::to_string(rid_)).append("' sid='").append(sid_).append("'>");
    b.append(queue_).append("</body>");
    queue_.clear();
    post(s, lane, Sent::data, b);
  }

  /// Tsung's make_request: POST the body on `lane` with its headers, in its order.
  void post(ConnectionServices& s, int lane, Sent kind, std::string_view body) {
    Lane& l = lanes_[static_cast<std::size_t>(lane)];
    if (!l.connected) {
      l.connected = true;
      s.count(http_conn_);
    }
    std::string& r = request_;
    r.assign("POST ").append(path_).append(" HTTP/1.1\r\nkeep-alive:true\r\nContent-Type:text/xml; charset=utf-8\r\n");
    r.append("Content-Length:").append(std::to_string(body.size())).append("\r\nHost:").append(host_).append("\r\n\r\n");
    r.append(body);
    l.sent = kind;
    l.rid = rid_++;
    s.count(http_req_);
    s.send_on(static_cast<unsigned>(lane), r);
  }

  int free_lane() const {
    for (std::size_t i = 0; i < lanes_.size(); ++i)
      if (lanes_[i].sent == Sent::none) return static_cast<int>(i);
    return -1;
  }

  /// Bytes of `lane`: whole HTTP responses, their bodies' children handed to the XMPP connection.
  ConnResult lane_data(ConnectionServices& s, unsigned lane, const RequestSpec* pending, std::span<const char> data,
                       ResponseInfo& info) {
    Lane& l = lanes_[lane];
    BoshServices bosh(s, *this);
    // Elements received while no request waits (pushes while the user thinks) are no response's
    // content: only the XMPP connection sees them.
    awaiting_ = pending != nullptr;
    if (!awaiting_) content_.clear();
    auto done = [&](ConnEvent event, bool again = false) {
      if (pending) info.content = std::string_view(content_);
      std::size_t consumed = l.owed;  // every response handled so far
      l.owed = 0;
      return ConnResult{consumed, event, again};
    };
    for (;;) {
      if (!xml_.empty()) {
        ConnResult r = xmpp_->on_data(bosh, pending, std::span<const char>(xml_.data(), xml_.size()), info);
        xml_.erase(0, r.consumed);
        if (bosh.tls_asked()) {
          info.error = "xmpp_starttls_over_bosh";
          return done(ConnEvent::fatal);
        }
        if (r.event != ConnEvent::none) {
          // Elements left (several in one body): the engine calls again at once for them,
          // unless the connection ends.
          bool goes_on = r.event == ConnEvent::complete || r.event == ConnEvent::failed ||
                         r.event == ConnEvent::ready || r.event == ConnEvent::waited;
          return done(r.event, goes_on && !xml_.empty());
        }
        if (r.consumed != 0) continue;
      }
      std::string_view rest(data.data() + l.owed, data.size() - l.owed);
      BoshResponse response;
      switch (parse_bosh_response(rest, max_frame_size_, response, decoded_, &l.scan)) {
        case BoshParse::need_more:
          return done(ConnEvent::none);
        case BoshParse::too_large:
          info.error = "bosh_response_too_large";
          return done(ConnEvent::fatal);
        case BoshParse::error:
          info.error = "bosh_bad_response";
          return done(ConnEvent::fatal);
        case BoshParse::complete:
          break;
      }
      l.owed += response.length;
      l.scan = {};
      ConnEvent event = answered(s, l, lane, response, info);
      // A large chunked content's buffer is not kept for the connection's life (the engine's
      // kKeptInput likewise); answered() copied what it keeps.
      if (decoded_.capacity() > kKeptDecoded) std::string().swap(decoded_);
      if (event != ConnEvent::none) return done(event);
    }
  }

  /// Tsung's do_receive_http_response for one whole response on `lane`.
  ConnEvent answered(ConnectionServices& s, Lane& l, unsigned lane, const BoshResponse& response, ResponseInfo& info) {
    Sent kind = l.sent;
    l.sent = Sent::none;
    if (response.status != 200) {  // Tsung's ts_client: error_inet_<code>, the user ends
      error_name_ = "inet_" + std::to_string(response.status);
      info.error = error_name_.c_str();
      return ConnEvent::fatal;
    }
    std::string_view tag, children;
    if (!split_body(response.body, tag, children)) {
      info.error = "bosh_bad_response";
      return ConnEvent::fatal;
    }
    if (attribute(tag, "type") == "terminate") {
      if (state_ != State::closing) s.error("bosh_terminated");
      return append_xml("</stream:stream>", info);
    }
    if (kind == Sent::create) {
      creating_ = false;
      sid_ = attribute(tag, "sid");
      // Written back raw in sid='...' and in the stream header: refused when it would need escaping.
      if (sid_.empty() || sid_.find_first_of("'\"<>&") != std::string::npos) {
        info.error = sid_.empty() ? "bosh_bad_response" : "bosh_bad_sid";
        return ConnEvent::fatal;
      }
    }
    if (kind == Sent::create || kind == Sent::restart) {
      std::string header = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='";
      header.append(sid_).append("' from='").append(domain_).append("' version='1.0'>");
      if (append_xml(header, info) != ConnEvent::none) return ConnEvent::fatal;
    }
    if (!children.empty() && append_xml(children, info) != ConnEvent::none) return ConnEvent::fatal;
    // The lane is free: a restart or terminate that waited for one, else Tsung's rule: in a
    // normal session the server always holds a request (an empty one, or the queued stanzas).
    if (held_control_ != Sent::none) {
      Sent held = held_control_;
      held_control_ = Sent::none;
      control(s, held);
    } else {
      int open = 0;
      for (const Lane& other : lanes_) open += other.sent != Sent::none;
      if (open == 0 && state_ == State::normal) send_stanzas(s, static_cast<int>(lane));
      else flush_queue(s);
    }
    return ConnEvent::none;
  }

  /// Hands `xml` to the XMPP connection and, while a request waits for its response, to that
  /// response's content. Either beyond max_frame_size (pushes piling up while the XMPP
  /// connection cannot consume them, a response larger than a frame): fatal.
  ConnEvent append_xml(std::string_view xml, ResponseInfo& info) {
    if (xml_.size() + xml.size() > max_frame_size_ ||
        (awaiting_ && content_.size() + xml.size() > max_frame_size_)) {
      info.error = "bosh_frame_too_large";
      return ConnEvent::fatal;
    }
    xml_.append(xml);
    if (awaiting_) content_.append(xml);
    return ConnEvent::none;
  }

  enum class State : std::uint8_t { fresh, normal, closing };

  std::unique_ptr<Connection> xmpp_;
  std::size_t max_frame_size_;
  std::string host_, path_, domain_, sid_;
  std::uint64_t rid_ = 0;
  State state_ = State::fresh;
  bool creating_ = false;
  bool fatal_ = false;  ///< the queue overflowed: on_timer ends the user
  bool awaiting_ = false;  ///< a request waits for its response (content_ collects it)
  Sent held_control_ = Sent::none;
  std::array<Lane, 2> lanes_;
  ConnMetric http_req_ = 0, http_conn_ = 0;
  std::string queue_;    ///< stanzas waiting for Tsung's rid rule
  std::string xml_;      ///< bodies' children the XMPP connection has not consumed yet
  std::string content_;  ///< received since the last request: its response's content
  std::string decoded_;   ///< a chunked response's content, decoded
  std::string encoded_, body_, request_, error_name_;
};

void BoshServices::send(std::string_view bytes) { bosh_.stanza(s_, bytes); }

}  // namespace

std::unique_ptr<Connection> make_bosh_connection(std::unique_ptr<Connection> xmpp, const ConnectionContext& ctx) {
  return std::make_unique<BoshXmppConnection>(std::move(xmpp), ctx);
}

namespace {

constexpr std::size_t kMaxChunkLine = 1024;  // a chunk-size line, extensions included

/// Walks a chunked body from `at` (RFC 9112 7.1): a chunk-size in hex, optional extensions
/// (ignored), CRLF, the data, CRLF; a zero size ends it, then trailer lines (ignored) up to an
/// empty one. Sizes are checked before they are added (the content stays within `max_body`),
/// every line is bounded. Copies the content into `decoded` when given (once it is whole), so
/// that a call on a partial body costs a pass over its chunk lines only.
BoshParse walk_chunks(std::string_view data, std::size_t at, std::size_t max_body, std::size_t& end,
                      std::string* decoded, BoshScan* scan) {
  std::size_t content = 0;
  if (scan && scan->at > at && scan->at <= data.size()) {  // resumed after the chunks walked before
    at = scan->at;
    content = scan->content;
  }
  for (;;) {
    std::size_t eol = data.find("\r\n", at);
    // Not found yet: the bytes so far may end in the CRLF's '\r', one more than the line.
    if (eol == std::string_view::npos) return data.size() - at > kMaxChunkLine + 1 ? BoshParse::error : BoshParse::need_more;
    if (eol - at > kMaxChunkLine) return BoshParse::error;
    std::string_view line = data.substr(at, eol - at);
    std::size_t size = 0, i = 0;
    for (; i < line.size(); ++i) {
      char c = line[i];
      unsigned d = c >= '0' && c <= '9'   ? unsigned(c - '0')
                   : c >= 'a' && c <= 'f' ? unsigned(c - 'a' + 10)
                   : c >= 'A' && c <= 'F' ? unsigned(c - 'A' + 10)
                                          : 16u;
      if (d == 16) break;
      if (d > max_body || size > (max_body - d) / 16) return BoshParse::too_large;  // size * 16 + d > max_body
      size = size * 16 + d;
    }
    if (i == 0) return BoshParse::error;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i < line.size() && line[i] != ';') return BoshParse::error;
    if (size > max_body - content) return BoshParse::too_large;
    at = eol + 2;
    if (size == 0) break;
    if (size > data.size() - at || data.size() - at - size < 2) return BoshParse::need_more;  // no size + 2: it may wrap
    if (data.substr(at + size, 2) != "\r\n") return BoshParse::error;
    if (decoded) decoded->append(data.substr(at, size));
    content += size;
    at += size + 2;
    if (scan) *scan = BoshScan{at, content};
  }
  std::size_t trailers = at;
  for (;;) {
    std::size_t eol = data.find("\r\n", at);
    if (eol == std::string_view::npos) return data.size() - trailers > kMaxHead + 1 ? BoshParse::error : BoshParse::need_more;
    if (eol - trailers > kMaxHead) return BoshParse::error;
    bool empty = eol == at;
    at = eol + 2;
    if (empty) break;
  }
  end = at;
  return BoshParse::complete;
}

}  // namespace

BoshParse parse_bosh_response(std::string_view data, std::size_t max_body, BoshResponse& out, std::string& decoded,
                              BoshScan* scan) {
  std::size_t head_end = data.find("\r\n\r\n");
  // Not found yet: the bytes so far may end in up to 3 bytes of the "\r\n\r\n" (as the found case,
  // which does not count it), so that where a read splits does not decide.
  if (head_end == std::string_view::npos) return data.size() > kMaxHead + 3 ? BoshParse::error : BoshParse::need_more;
  if (head_end > kMaxHead) return BoshParse::error;
  std::string_view head = data.substr(0, head_end);
  std::size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  // "HTTP/1.x NNN" then a space and a reason (or nothing).
  if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.") || !digit(status_line[7]) || status_line[8] != ' ' ||
      !digit(status_line[9]) || !digit(status_line[10]) || !digit(status_line[11]) ||
      (status_line.size() > 12 && status_line[12] != ' '))
    return BoshParse::error;
  unsigned status = static_cast<unsigned>((status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0'));
  std::optional<std::size_t> length;
  bool chunked = false;
  while (eol != std::string_view::npos) {
    std::size_t next = head.find("\r\n", eol + 2);
    std::string_view line = head.substr(eol + 2, next == std::string_view::npos ? std::string_view::npos : next - eol - 2);
    eol = next;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon), value = text::trim(line.substr(colon + 1));
    if (text::iequals_lower(name, "content-length")) {
      std::size_t n = 0;
      auto [q, e] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (e == std::errc::result_out_of_range) return BoshParse::too_large;
      if (e != std::errc{} || q != value.data() + value.size() || length) return BoshParse::error;  // a duplicate too
      length = n;
    } else if (text::iequals_lower(name, "transfer-encoding")) {
      // Only "chunked" (no other coding), once, and not with a Content-Length (RFC 9112 6.3).
      if (!text::iequals_lower(value, "chunked") || chunked) return BoshParse::error;
      chunked = true;
    }
  }
  if (chunked) {
    if (length) return BoshParse::error;
    std::size_t end = 0;
    BoshParse parsed = walk_chunks(data, head_end + 4, max_body, end, nullptr, scan);
    if (parsed != BoshParse::complete) return parsed;
    decoded.clear();
    walk_chunks(data, head_end + 4, max_body, end, &decoded, nullptr);
    out.length = end;
    out.status = status;
    out.body = decoded;
    return BoshParse::complete;
  }
  if (!length) return BoshParse::error;
  if (*length > max_body) return BoshParse::too_large;  // before the sum below, which could wrap
  std::size_t total = head_end + 4 + *length;
  if (data.size() < total) return BoshParse::need_more;
  out.length = total;
  out.status = status;
  out.body = data.substr(head_end + 4, *length);
  return BoshParse::complete;
}

bool split_body(std::string_view body, std::string_view& start_tag, std::string_view& children) {
  std::size_t open = body.find("<body");
  if (open == std::string_view::npos) return false;
  std::size_t end = body.find('>', open);
  if (end == std::string_view::npos) return false;
  start_tag = body.substr(open, end + 1 - open);
  children = {};
  if (body[end - 1] == '/') return true;
  std::size_t close = body.rfind("</body>");
  if (close == std::string_view::npos || close < end) return false;
  children = body.substr(end + 1, close - end - 1);
  return true;
}

}  // namespace loadctl::jabber
