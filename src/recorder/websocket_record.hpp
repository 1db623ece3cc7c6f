#pragma once
// WebSocketRecorder: one proxied WebSocket connection written as a ts_websocket session of its own
// (a Tsung session has one type, the recorder's main one is ts_http), in the file
// "<output without .xml>-wsN.xml" next to the recording; the main file gets a comment naming it.
//
//   <session name="rec20261206-0118-ws1" probability="100" type="ts_websocket">
//   <request><websocket type="connect" path="/chat?room=1" subprotocols="chat"></websocket></request>
//   <request><websocket type="message" frame="text">hello</websocket></request>   a client message
//   <request><websocket type="message" frame="text" ack="no_ack">bye</websocket></request>
//   <request><websocket type="close"></websocket></request>
//   </session>
//
// The proxy passes every byte on unchanged and shows them here: from_client (masked frames,
// reassembled into messages) and from_server (only counted: a client message the server answered
// before the client's next one is written with Tsung's default ack="parse", one it did not with
// ack="no_ack", so the replay neither waits forever nor races ahead). Thinktimes as the main file's.
// A message kept for the file is at most kMaxRecordedMessage bytes; a larger one, or one that is
// not XML text (binary bytes), is left out with a comment saying so.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "recorder/session_writer.hpp"

namespace loadctl::recorder {

inline constexpr std::size_t kMaxRecordedMessage = 1 << 20;

/// Reads RFC 6455 frames as they pass (masked from the client, plain from the server).
class WsFrameScanner {
 public:
  struct Message {
    std::uint8_t opcode = 0;  ///< 1 text, 2 binary, 8 close
    std::string payload;      ///< unmasked, reassembled ("" when too_large)
    std::uint64_t size = 0;
    bool too_large = false;
  };
  /// `keep_payload`: the payloads are wanted (client side), else only counted.
  explicit WsFrameScanner(bool keep_payload) : keep_(keep_payload) {}
  /// Feeds bytes; complete messages (and close frames) are appended to `out`. False once the
  /// stream is not WebSocket framing as expected (then it stays false).
  bool feed(std::string_view bytes, std::vector<Message>& out);

 private:
  bool keep_;
  bool broken_ = false;
  std::string header_;              ///< the frame header being read (2 to 14 bytes)
  std::uint64_t remaining_ = 0;     ///< payload bytes of the current frame still to come
  std::size_t mask_at_ = 0;
  unsigned char mask_[4] = {};
  bool masked_ = false, fin_ = false, in_payload_ = false;
  std::uint8_t frame_opcode_ = 0;
  Message message_;                 ///< the data message being reassembled
  Message control_;                 ///< the close frame being read
  bool in_message_ = false;
};

class WebSocketRecorder {
 public:
  /// Opens the session file next to `main`'s output, for `path` (the request target) on `origin`
  /// ("ws://host:port", for the comment in the main file). Throws std::runtime_error saying why not.
  WebSocketRecorder(SessionWriter& main, const std::string& origin, const std::string& path,
                    const std::string& subprotocol);
  ~WebSocketRecorder();
  const std::string& file() const { return writer_->path(); }

  void from_client(std::string_view bytes, Clock::time_point at = Clock::now());
  void from_server(std::string_view bytes);
  /// The connection ended: the last message, a close, </session> (idempotent; never throws).
  void finish() noexcept;

 private:
  void flush_pending(bool answered);

  std::unique_ptr<SessionWriter> writer_;
  WsFrameScanner client_{true}, server_{false};
  struct Pending {
    std::string head, tail;  ///< the element before and after where ack="no_ack" goes
    Clock::time_point at;
  };
  std::optional<Pending> pending_;  ///< the last client message: written once its ack is known
  std::size_t server_messages_ = 0, server_messages_at_pending_ = 0;
  bool closed_ = false, finished_ = false, broken_ = false;
};

}  // namespace loadctl::recorder
