// XMPP over WebSocket (see jabber_ws.hpp). Received frames are decoded whole (a frame waits in
// the engine's buffer until complete, within max_frame_size); their payloads, unframed, are the
// bytes the XMPP connection reads.
#include "jabber_ws.hpp"

#include "jabber_services.hpp"
#include "ws_frame.hpp"

namespace loadctl::jabber {
namespace {

namespace ws = loadctl::websocket;

constexpr std::string_view kFramingNs = "urn:ietf:params:xml:ns:xmpp-framing";
// A handshake answer longer than this without its blank line is an error.
constexpr std::size_t kMaxHandshakeResponse = 16 * 1024;

std::string& scratch() {
  thread_local std::string s;
  s.clear();
  return s;
}

bool starts_with_element(std::string_view p, std::string_view name) {
  return p.size() > name.size() + 1 && p[0] == '<' && p.substr(1, name.size()) == name &&
         (p[name.size() + 1] == ' ' || p[name.size() + 1] == '/' || p[name.size() + 1] == '>');
}

/// One message: `xml` in a frame. Over RFC 7395 framing (`framing`) a stanza without a namespace
/// gets xmlns='jabber:client', which RFC 7395 section 3.3.3 requires (Tsung 1.8 sends none, and
/// prosody then ignores its iqs).
void append_message(std::string& out, ws::Opcode opcode, std::string_view xml, bool framing) {
  std::size_t name_end = 0;
  if (framing && (starts_with_element(xml, "iq") || starts_with_element(xml, "message") ||
                  starts_with_element(xml, "presence"))) {
    name_end = xml.find_first_of(" />");
    std::string_view tag = xml.substr(0, xml.find('>'));
    if (tag.find("xmlns=") != std::string_view::npos) name_end = 0;
  }
  if (name_end == 0) {
    ws::append_frame(out, opcode, xml);
    return;
  }
  std::string& with_ns = scratch();
  with_ns.append(xml.substr(0, name_end)).append(" xmlns='jabber:client'").append(xml.substr(name_end));
  ws::append_frame(out, opcode, with_ns);
}

/// The engine's services, with the XMPP connection's own messages (bidi replies) framed.
class FramedServices final : public ForwardingServices {
 public:
  FramedServices(ConnectionServices& s, ws::Opcode opcode, bool framing)
      : ForwardingServices(s), opcode_(opcode), framing_(framing) {}
  void send(std::string_view bytes) override {
    std::string frame;
    append_message(frame, opcode_, bytes, framing_);
    s_.send(frame);
  }

 private:
  ws::Opcode opcode_;
  bool framing_;
};

class WsXmppConnection final : public Connection {
 public:
  WsXmppConnection(std::unique_ptr<Connection> xmpp, const ConnectionContext& ctx)
      : xmpp_(std::move(xmpp)), max_frame_size_(ctx.max_frame_size) {
    static const CarrierOptions defaults;
    const CarrierOptions& o = ctx.carrier ? *ctx.carrier : defaults;
    opcode_ = o.websocket_text ? ws::op_text : ws::op_binary;
    char key[ws::kKeySize];
    ws::make_key(key);
    ws::accept_for(std::string_view(key, ws::kKeySize), accept_);
    // Tsung's websocket:get_handshake: Host and Origin are the server's host as written.
    handshake_.append("GET ").append(o.websocket_path).append(" HTTP/1.1\r\nHost: ").append(ctx.host);
    handshake_.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nOrigin: ").append(ctx.host);
    handshake_.append("\r\nSec-WebSocket-Key: ").append(key, ws::kKeySize).append("\r\nSec-WebSocket-Version: 13\r\n");
    if (!o.websocket_subprotocols.empty())
      handshake_.append("Sec-WebSocket-Protocol: ").append(o.websocket_subprotocols).append("\r\n");
    handshake_ += "\r\n";
  }

  bool on_open(ConnectionServices& s) override {
    FramedServices framed(s, opcode_, framing_);
    xmpp_->on_open(framed);
    s.send(handshake_);
    std::string().swap(handshake_);
    return true;  // the first request waits for the server's 101
  }

  void encode(ConnectionServices& s, const RequestSpec& request, const EncodeContext& ctx, std::string& out) override {
    FramedServices framed(s, opcode_, framing_);
    std::string& xml = encoded_;
    xml.clear();
    xmpp_->encode(framed, request, ctx, xml);
    if (xml.starts_with("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'")) framing_ = true;
    if (!xml.empty()) append_message(out, opcode_, xml, framing_);
    content_.clear();
  }

  ConnResult on_data(ConnectionServices& s, const RequestSpec* pending, std::span<const char> data,
                     ResponseInfo& info) override {
    if (!open_) return on_handshake(data, info);
    FramedServices framed(s, opcode_, framing_);
    // What dyn_variables and matches see: the messages received since the request, unframed
    // bytes and frame headers never (set on every return: content_ may have grown).
    auto done = [&](std::size_t consumed, ConnEvent event) {
      if (pending) info.content = std::string_view(content_);
      return ConnResult{consumed, event};
    };
    for (;;) {
      if (!xml_.empty()) {
        ConnResult r = xmpp_->on_data(framed, pending, std::span<const char>(xml_.data(), xml_.size()), info);
        xml_.erase(0, r.consumed);
        if (framed.tls_asked()) {
          info.error = "xmpp_starttls_over_websocket";
          return done(report(false), ConnEvent::fatal);
        }
        if (r.event != ConnEvent::none) return done(report(!xml_.empty()), r.event);
        if (r.consumed != 0) continue;
      }
      // The XMPP connection needs more: the next frame, if it is all there.
      ConnEvent event = ConnEvent::none;
      switch (next_frame(s, pending, data.subspan(owed_), info, event)) {
        case Step::need_more:
          return done(report(false), ConnEvent::none);
        case Step::decoded:
          break;
        case Step::event:
          return done(report(false), event);
      }
    }
  }

  ConnEvent on_timer(ConnectionServices& s) override {
    FramedServices framed(s, opcode_, framing_);
    return xmpp_->on_timer(framed);
  }
  bool is_wait(const RequestSpec& request) override { return xmpp_->is_wait(request); }
  bool on_eof(const RequestSpec* pending, ResponseInfo& info) override { return xmpp_->on_eof(pending, info); }

 private:
  enum class Step : std::uint8_t { need_more, decoded, event };

  /// Received bytes to report consumed: all decoded ones, or one while decoded elements remain
  /// for the XMPP connection (so that the engine calls again with the rest).
  std::size_t report(bool more) {
    std::size_t n = more && owed_ > 1 ? 1 : owed_;
    owed_ -= n;
    return n;
  }

  ConnResult on_handshake(std::span<const char> data, ResponseInfo& info) {
    std::string_view text(data.data(), data.size());
    std::size_t end = ws::handshake_end(text);
    if (end == std::string_view::npos) {
      if (text.size() <= kMaxHandshakeResponse) return {0, ConnEvent::none};
      end = text.size();
    }
    if (end > kMaxHandshakeResponse ||
        ws::check_handshake(text.substr(0, end), std::string_view(accept_, ws::kAcceptSize))) {
      info.error = "websocket_handshake";
      return {end, ConnEvent::fatal};
    }
    open_ = true;
    return {end, ConnEvent::ready};
  }

  Step fail(ResponseInfo& info, const char* error, ConnEvent& event) {
    info.error = error;
    event = ConnEvent::fatal;
    return Step::event;
  }

  /// Decodes one whole frame of `rest` (control frames answered, data frames' payloads
  /// unframed into xml_ once a message is complete).
  Step next_frame(ConnectionServices& s, const RequestSpec* pending, std::span<const char> rest, ResponseInfo& info,
                  ConnEvent& event) {
    ws::FrameHeader h;
    if (ws::parse_header(rest, h) == ws::HeaderStatus::need_more) return Step::need_more;
    if (h.rsv || h.masked) return fail(info, "websocket_protocol", event);  // no extension; servers never mask
    if (h.payload_size > max_frame_size_ || message_.size() + h.payload_size > max_frame_size_)
      return fail(info, "websocket_frame_too_large", event);
    std::size_t size = h.header_size + h.payload_size;
    if (rest.size() < size) return Step::need_more;
    owed_ += size;
    std::string_view payload(rest.data() + h.header_size, h.payload_size);
    switch (h.opcode) {
      case ws::op_ping: {
        std::string pong;
        ws::append_frame(pong, ws::op_pong, payload);
        s.send(pong);
        return Step::decoded;
      }
      case ws::op_pong:
        return Step::decoded;
      case ws::op_close:
        event = ConnEvent::close;  // Tsung: the transport is closed
        return Step::event;
      case ws::op_cont:
      case ws::op_text:
      case ws::op_binary:
        if ((h.opcode == ws::op_cont) != in_message_) return fail(info, "websocket_protocol", event);
        message_.append(payload);
        in_message_ = !h.fin;
        if (in_message_) return Step::decoded;
        if (pending) content_.append(message_);
        append_unframed(xml_, message_);
        message_.clear();
        return Step::decoded;
      default:
        return fail(info, "websocket_protocol", event);
    }
  }

  std::unique_ptr<Connection> xmpp_;
  std::size_t max_frame_size_;
  ws::Opcode opcode_ = ws::op_binary;
  char accept_[ws::kAcceptSize] = {};
  std::string handshake_;  ///< until on_open sends it
  bool open_ = false;      ///< the server accepted the handshake
  bool framing_ = false;   ///< the stream was opened with RFC 7395's <open/> (version="websocket")
  bool in_message_ = false;
  std::size_t owed_ = 0;   ///< bytes of frames decoded but not reported consumed yet
  std::string message_;    ///< payload of the message being received (fragments)
  std::string xml_;        ///< unframed messages the XMPP connection has not consumed yet
  std::string content_;    ///< messages received since the last request: its response's content
  std::string encoded_;    ///< a request's XMPP bytes, before framing
};

}  // namespace

std::unique_ptr<Connection> make_ws_connection(std::unique_ptr<Connection> xmpp, const ConnectionContext& ctx) {
  return std::make_unique<WsXmppConnection>(std::move(xmpp), ctx);
}

void append_unframed(std::string& out, std::string_view payload) {
  std::string_view p = payload;
  while (!p.empty() && (p.front() == ' ' || p.front() == '\n' || p.front() == '\r' || p.front() == '\t'))
    p.remove_prefix(1);
  std::size_t end = p.find('>');
  if (end != std::string_view::npos && p.substr(0, end).find(kFramingNs) != std::string_view::npos) {
    if (starts_with_element(p, "open")) {
      std::string_view attributes = p.substr(5, end - 5);
      if (attributes.ends_with('/')) attributes.remove_suffix(1);
      out.append("<stream:stream").append(attributes).append(">");
      return;
    }
    if (starts_with_element(p, "close")) {
      out += "</stream:stream>";
      return;
    }
  }
  out.append(payload);
}

}  // namespace loadctl::jabber
