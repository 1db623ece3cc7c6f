// The WebSocket plugin (Tsung's ts_websocket): <websocket type="connect|message|close">.
// connect sends the RFC 6455 opening handshake and checks the server's 101 answer; message sends
// one masked frame and (ack="parse", Tsung's default) waits for one message back; close sends a
// close frame and waits for the server's. Server pings are answered, fragmented messages are
// reassembled, frames over max_frame_size end the user (error_websocket_frame_too_large).
#include <cstring>

#include "loadctl/connection.hpp"
#include "loadctl/protocol.hpp"
#include "loadctl/scenario_error.hpp"
#include "loadctl/xml_reader.hpp"
#include "websocket_request.hpp"
#include "ws_frame.hpp"
#include "loadctl/text.hpp"

namespace loadctl::websocket {

namespace {

// Header names the handshake sets itself (Tsung's websocket:headers/1 drops them silently).
constexpr std::string_view kHandshakeHeaders[] = {"host",          "upgrade",           "connection",
                                                  "origin",        "sec-websocket-key", "sec-websocket-version",
                                                  "sec-websocket-protocol"};

// A handshake answer longer than this without its blank line is an error.
constexpr std::size_t kMaxHandshakeResponse = 16 * 1024;
// A connection keeps at most this much reassembly buffer between messages.
constexpr std::size_t kKeptMessageBuffer = 64 * 1024;

}  // namespace

void WsRequest::encode_connect(const EncodeContext& ctx, std::string& out, char (&key)[kKeySize]) const {
  make_key(key);
  out += "GET ";
  path.render(ctx.vars, out, ctx.missing_vars);
  out += " HTTP/1.1\r\nHost: ";
  out += ctx.host_header;
  out += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nOrigin: ";
  if (origin.empty()) {
    // An RFC 6454 origin: Tsung sends the bare host, which servers checking it as a URL (Go's
    // x/net/websocket, hence websocketd) refuse with 403.
    out += ctx.transport == Transport::ssl ? "https://" : "http://";
    out += ctx.host_header;
  } else {
    out += origin;
  }
  out += "\r\nSec-WebSocket-Key: ";
  out.append(key, kKeySize);
  out += "\r\nSec-WebSocket-Version: 13\r\n";
  for (const Header& h : headers) {
    out += h.name;
    out += ": ";
    h.value.render(ctx.vars, out, ctx.missing_vars);
    out += "\r\n";
  }
  if (!subprotocols.empty()) {
    out += "Sec-WebSocket-Protocol: ";
    out += subprotocols;
    out += "\r\n";
  }
  out += "\r\n";
}

void WsRequest::encode_frame(const EncodeContext& ctx, std::string& out) const {
  if (kind == Kind::close) {
    // Tsung's websocket:encode_close(<<"close">>): status 1000 (normal closure) and a reason.
    append_frame(out, op_close, std::string_view("\x03\xe8" "close", 7));
    return;
  }
  if (data.is_literal()) {
    append_frame(out, frame, data.literal());
    return;
  }
  thread_local std::string scratch;
  scratch.clear();
  data.render(ctx.vars, scratch, ctx.missing_vars);
  append_frame(out, frame, scratch);
}

void WsRequest::encode(const EncodeContext& ctx, std::string& out) const {
  char key[kKeySize];
  if (kind == Kind::connect) encode_connect(ctx, out, key);
  else encode_frame(ctx, out);
}

ParseResult WsRequest::parse_response(ParserState&, std::span<const char>, ResponseInfo& info) const {
  info.error = "websocket_not_connection_level";  // never called: WsConnection gets every byte
  return {ParseStatus::error, 0};
}

std::string WsRequest::describe() const {
  switch (kind) {
    case Kind::connect:
      return "websocket connect " + std::string(path.is_literal() ? path.literal() : "(dynamic path)");
    case Kind::message:
      return std::string("websocket message (") + (frame == op_text ? "text" : "binary") + ")";
    case Kind::close:
      break;
  }
  return "websocket close";
}

std::shared_ptr<const WsRequest> parse_websocket_request(pugi::xml_node node, const RequestParseContext& ctx) {
  XmlElement el(node);
  if (!el.has("type")) fail_at(node, "missing attribute 'type' (connect | message | close)");
  std::string type = el.choice("type", {"connect", "message", "close"}, "");
  auto request = std::make_shared<WsRequest>();
  request->kind = type == "connect" ? WsRequest::Kind::connect
                  : type == "message" ? WsRequest::Kind::message
                                      : WsRequest::Kind::close;
  // Tsung reads every attribute whatever the type and uses those of the type; loadctl refuses
  // the ones that would have no effect.
  auto only_for = [&](std::initializer_list<const char*> names, WsRequest::Kind kind, const char* type_name) {
    for (const char* name : names)
      if (request->kind != kind && el.has(name))
        el.fail(name, std::string("attribute '") + name + "' applies to type=\"" + type_name + "\" only");
  };
  only_for({"path", "origin", "subprotocols"}, WsRequest::Kind::connect, "connect");
  only_for({"ack", "frame"}, WsRequest::Kind::message, "message");
  std::string text = element_text(node);
  if (request->kind != WsRequest::Kind::message && !text.empty())
    fail_at(node, "a websocket " + type + " has no text content (only type=\"message\" sends data)");

  switch (request->kind) {
    case WsRequest::Kind::connect: {
      std::string path = el.optional("path", "/");
      if (path.empty() || path.find_first_of(" \r\n") != std::string::npos)
        el.fail("path", "attribute 'path': expected a request target without spaces or line breaks");
      request->path = checked_template(node, path, ctx.subst);
      request->origin = el.optional("origin");
      request->subprotocols = el.optional("subprotocols");
      for (const std::string* v : {&request->origin, &request->subprotocols})
        if (v->find_first_of("\r\n") != std::string::npos) fail_at(node, "a header value with a line break");
      for (pugi::xml_node child : el.children({"http_header"})) {
        XmlElement c(child);
        std::string name = c.required("name");
        std::string value = c.optional("value");
        bool base64 = c.choice("encoding", {"none", "base64"}, "none") == "base64";
        c.finish();
        if (name.empty() || name.find_first_of(" \t:\r\n") != std::string::npos)
          c.fail("name", "attribute 'name': bad header name '" + name + "'");
        for (std::string_view fixed : kHandshakeHeaders)
          if (text::iequals(name, fixed))
            c.fail("name", "header '" + name + "' is set by the WebSocket handshake (Tsung drops it silently)");
        if (value.find_first_of("\r\n") != std::string::npos) c.fail("value", "a header value with a line break");
        if (base64) {
          // Tsung encodes the attribute text at load time; the result is never substituted.
          std::string encoded(4 * ((value.size() + 2) / 3) + 1, '\0');
          int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                  reinterpret_cast<const unsigned char*>(value.data()), static_cast<int>(value.size()));
          encoded.resize(static_cast<std::size_t>(n));
          request->headers.push_back({name, Template(encoded, false)});
        } else {
          request->headers.push_back({name, checked_template(child, value, ctx.subst)});
        }
      }
      break;
    }
    case WsRequest::Kind::message:
      request->ack = el.choice("ack", {"parse", "no_ack"}, "parse") == "parse";
      request->frame = el.choice("frame", {"binary", "text"}, "binary") == "text" ? op_text : op_binary;
      request->data = checked_template(node, text, ctx.subst && ctx.subst_body);
      for (pugi::xml_node child : node.children())
        if (child.type() == pugi::node_element) fail_at(child, std::string("unexpected element <") + child.name() + "> in <websocket type=\"message\">");
      break;
    case WsRequest::Kind::close:
      el.children({});
      break;
  }
  el.finish();
  return request;
}

// --- the connection ---------------------------------------------------------------------------

ConnResult WsConnection::on_handshake(ConnectionServices& services, std::string_view data, ResponseInfo& info) {
  std::size_t end = handshake_end(data);
  if (end == std::string_view::npos) {
    if (data.size() <= kMaxHandshakeResponse) return {0, ConnEvent::none};
    end = data.size();
  }
  if (end > kMaxHandshakeResponse || check_handshake(data.substr(0, end), std::string_view(accept_, kAcceptSize))) {
    services.count(fail_);  // Tsung's websocket_fail; the user cannot go on without a WebSocket
    info.error = "websocket_handshake";
    state_ = State::closed;
    return {end, ConnEvent::fatal};
  }
  services.count(succ_);  // Tsung's websocket_succ
  state_ = State::open;
  return {end, ConnEvent::complete};
}

ConnResult WsConnection::on_data(ConnectionServices& services, const RequestSpec* pending, std::span<const char> data,
                                 ResponseInfo& info) {
  if (state_ == State::handshaking) return on_handshake(services, std::string_view(data.data(), data.size()), info);
  if (state_ == State::idle || state_ == State::closed) return {data.size(), ConnEvent::none};  // no WebSocket yet/any more
  // Frame headers, pings and pieces of a message are not the pending request's content: only a
  // whole message's payload (or the server's close payload) is, so that dyn_variables and
  // max_capture_size see the payload alone.
  if (pending) info.content = std::string_view();

  std::size_t consumed = 0;
  if (frame_left_ == 0 && !in_frame_) {
    FrameHeader h;
    if (parse_header(data, h) == HeaderStatus::need_more) return {0, ConnEvent::none};
    if (h.rsv || h.masked) return protocol_error(info);  // no extension negotiated; servers never mask
    if (h.payload_size > max_frame_size_) {
      info.error = "websocket_frame_too_large";
      state_ = State::closed;
      return {data.size(), ConnEvent::fatal};
    }
    if (h.opcode >= op_close) {  // control frames: whole, at most 125 bytes, never fragmented
      if (!h.fin || h.payload_size > 125 || h.opcode > op_pong) return protocol_error(info);
      std::size_t size = h.header_size + h.payload_size;
      if (data.size() < size) return {0, ConnEvent::none};
      return {size, on_control(services, h.opcode, std::string_view(data.data() + h.header_size, h.payload_size), info)};
    }
    if (h.opcode > op_binary) return protocol_error(info);
    if ((h.opcode == op_cont) != in_message_) return protocol_error(info);  // a continuation needs a start, a start none
    if (message_.size() + h.payload_size > max_frame_size_) {
      info.error = "websocket_frame_too_large";
      state_ = State::closed;
      return {data.size(), ConnEvent::fatal};
    }
    std::size_t size = h.header_size + h.payload_size;
    if (!in_message_ && h.fin && data.size() >= size)  // the usual case: a whole message, used in place
      return {size, on_message(pending, std::string_view(data.data() + h.header_size, h.payload_size), info)};
    if (!in_message_) {
      message_.clear();
      in_message_ = true;
    }
    frame_left_ = h.payload_size;
    frame_fin_ = h.fin;
    in_frame_ = true;
    consumed = h.header_size;
  }
  // The payload of a fragment (or of a message larger than what has arrived), piece by piece.
  std::size_t take = std::min<std::uint64_t>(frame_left_, data.size() - consumed);
  message_.append(data.data() + consumed, take);
  frame_left_ -= take;
  consumed += take;
  if (frame_left_ > 0) return {consumed, ConnEvent::none};
  in_frame_ = false;
  if (!frame_fin_) return {consumed, ConnEvent::none};
  in_message_ = false;
  if (message_.capacity() > kKeptMessageBuffer) {
    // A large message: its buffer moves to the thread's spare (freeing the spare's previous one),
    // so that an idle connection keeps no large buffer. The content stays valid until the
    // engine's next call into the plugin (ResponseInfo::content).
    thread_local std::string spare;
    spare.swap(message_);
    std::string().swap(message_);
    return {consumed, on_message(pending, spare, info)};
  }
  return {consumed, on_message(pending, message_, info)};
}

ConnEvent WsConnection::on_message(const RequestSpec* pending, std::string_view payload, ResponseInfo& info) {
  // Tsung's parse/2: the first message received completes a message request (ack="parse");
  // messages while the user thinks, or while a close waits for the server's, are not responses.
  if (!pending || static_cast<const WsRequest*>(pending)->kind != WsRequest::Kind::message) return ConnEvent::none;
  info.content = payload;  // dyn_variables and matches see the payload (Tsung's decode_buffer)
  return ConnEvent::complete;
}

ConnEvent WsConnection::on_control(ConnectionServices& services, std::uint8_t opcode, std::string_view payload,
                                   ResponseInfo& info) {
  thread_local std::string reply;
  switch (opcode) {
    case op_ping:
      reply.clear();
      append_frame(reply, op_pong, payload);
      services.send(reply);
      return ConnEvent::none;
    case op_close:
      if (state_ != State::closing) {  // the server closes first: answer with its status code
        reply.clear();
        // A 1-byte payload is no status code (RFC 6455 section 5.5.1): 1002, protocol error.
        append_frame(reply, op_close,
                     payload.size() == 1 ? std::string_view("\x03\xea", 2) : payload.substr(0, std::min<std::size_t>(payload.size(), 2)));
        services.send(reply);
      }
      if (info.content) info.content = payload;  // what a pending request sees
      state_ = State::closed;
      return ConnEvent::close;  // completes a pending request, as Tsung's parse/2 does
    default:
      return ConnEvent::none;  // pong
  }
}

ConnResult WsConnection::protocol_error(ResponseInfo& info) {
  info.error = "websocket_protocol";
  state_ = State::closed;
  return {0, ConnEvent::fatal};
}

void WsConnection::encode(ConnectionServices& services, const RequestSpec& spec, const EncodeContext& ctx,
                          std::string& out) {
  const auto& request = static_cast<const WsRequest&>(spec);
  State needed = request.kind == WsRequest::Kind::connect ? State::idle : State::open;
  if (state_ != needed) {
    // A connect on a connection that has one, or a frame before a connect (or after a close):
    // Tsung's get_message has no clause for it and the user crashes. Nothing is sent; the error
    // (error_protocol) is counted here, once, and the timer ends the user as soon as this call
    // returns. Counted here because a no_ack request's user goes on meanwhile and may end
    // (closing the connection and its timer) before the timer fires.
    if (!bad_request_) services.error("protocol");
    bad_request_ = true;
    services.set_timer(0);
    return;
  }
  if (request.kind == WsRequest::Kind::connect) {
    char key[kKeySize];
    request.encode_connect(ctx, out, key);
    accept_for(std::string_view(key, kKeySize), accept_);
    state_ = State::handshaking;
    return;
  }
  request.encode_frame(ctx, out);
  if (request.kind == WsRequest::Kind::close) state_ = State::closing;
}

ConnEvent WsConnection::on_timer(ConnectionServices&) {
  if (!bad_request_) return ConnEvent::none;
  bad_request_ = false;
  return ConnEvent::fatal_counted;
}

bool WsConnection::on_eof(const RequestSpec* pending, ResponseInfo&) {
  // Tsung's parse(closed, ...) completes whatever waits; a handshake cut short is an error.
  return pending && state_ != State::handshaking;
}

bool WsConnection::on_open(ConnectionServices& services) {
  succ_ = services.metric("websocket_succ", ConnMetricKind::counter);
  fail_ = services.metric("websocket_fail", ConnMetricKind::counter);
  return false;
}

namespace {

class WebSocketProtocol final : public Protocol {
 public:
  std::string_view element() const override { return "websocket"; }
  std::string_view session_type() const override { return "ts_websocket"; }
  std::shared_ptr<const RequestSpec> parse_request(pugi::xml_node element,
                                                   const RequestParseContext& ctx) const override {
    return parse_websocket_request(element, ctx);
  }
  bool connection_level() const override { return true; }
  std::unique_ptr<Connection> open_connection(const ConnectionContext& ctx) const override {
    return std::make_unique<WsConnection>(ctx.max_frame_size);
  }
};

}  // namespace
}  // namespace loadctl::websocket

void loadctl_register_websocket(loadctl::ProtocolRegistry& registry) {
  registry.add(std::make_unique<loadctl::websocket::WebSocketProtocol>());
}
