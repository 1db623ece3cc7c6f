#pragma once
// The <websocket> request element (Tsung's #websocket_request) and the per-connection state.

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <vector>

#include "loadctl/connection.hpp"
#include "loadctl/protocol.hpp"
#include "loadctl/template.hpp"
#include "ws_frame.hpp"

namespace loadctl::websocket {

class WsRequest final : public RequestSpec {
 public:
  enum class Kind : std::uint8_t { connect, message, close };
  struct Header {
    std::string name;
    Template value;
  };

  Kind kind = Kind::message;
  // connect
  Template path;
  std::string origin;        ///< empty: the Host header's value, as Tsung
  std::string subprotocols;  ///< Sec-WebSocket-Protocol, sent when not empty
  std::vector<Header> headers;
  // message
  Template data;
  Opcode frame = op_binary;  ///< Tsung's default frame="binary"
  bool ack = true;           ///< ack="parse" (default): wait for one message back

  /// The opening handshake with a fresh key (returned, for the expected accept value).
  void encode_connect(const EncodeContext& ctx, std::string& out, char (&key)[kKeySize]) const;
  /// A message or close frame, masked.
  void encode_frame(const EncodeContext& ctx, std::string& out) const;

  void encode(const EncodeContext& ctx, std::string& out) const override;
  bool awaits_response() const override { return kind != Kind::message || ack; }
  ParseResult parse_response(ParserState& state, std::span<const char> data, ResponseInfo& info) const override;
  std::string describe() const override;
};

std::shared_ptr<const WsRequest> parse_websocket_request(pugi::xml_node node, const RequestParseContext& ctx);

/// One WebSocket: handshake state, the message being reassembled from fragments.
class WsConnection final : public Connection {
 public:
  explicit WsConnection(std::size_t max_frame_size) : max_frame_size_(max_frame_size) {}

  bool on_open(ConnectionServices& services) override;
  void encode(ConnectionServices& services, const RequestSpec& request, const EncodeContext& ctx,
              std::string& out) override;
  ConnResult on_data(ConnectionServices& services, const RequestSpec* pending, std::span<const char> data,
                     ResponseInfo& info) override;
  ConnEvent on_timer(ConnectionServices& services) override;
  bool on_eof(const RequestSpec* pending, ResponseInfo& info) override;

  /// Bytes of reassembly buffer held (tests: at most 64 KB once no message is in progress).
  std::size_t held_bytes() const { return message_.capacity(); }

 private:
  enum class State : std::uint8_t { idle, handshaking, open, closing, closed };

  ConnResult on_handshake(ConnectionServices& services, std::string_view data, ResponseInfo& info);
  ConnEvent on_message(const RequestSpec* pending, std::string_view payload, ResponseInfo& info);
  ConnEvent on_control(ConnectionServices& services, std::uint8_t opcode, std::string_view payload, ResponseInfo& info);
  ConnResult protocol_error(ResponseInfo& info);

  std::size_t max_frame_size_;
  std::uint64_t frame_left_ = 0;  ///< payload bytes of the current data frame still to come
  std::string message_;           ///< a fragmented (or partly received) message
  ConnMetric succ_ = 0, fail_ = 0;
  State state_ = State::idle;
  bool in_message_ = false;  ///< a data message has started and its final fragment not arrived
  bool in_frame_ = false;    ///< inside a data frame's payload
  bool frame_fin_ = false;   ///< the current data frame is the message's last
  bool bad_request_ = false;
  char accept_[kAcceptSize] = {};
};

}  // namespace loadctl::websocket
