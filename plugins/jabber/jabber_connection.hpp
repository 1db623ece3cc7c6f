#pragma once
// One XMPP client connection: encodes requests with the user's state, splits the received
// stream into top-level elements, completes the pending request when its answer arrives and
// handles what the server pushes (messages, presences, pings) while the user thinks.

#include <chrono>

#include "jabber_encode.hpp"
#include "jabber_stream.hpp"
#include "loadctl/connection.hpp"

namespace loadctl::jabber {

class JabberConnection final : public Connection {
 public:
  /// `bidi`: the session's bidi attribute (answers to subscriptions and pings, latency samples).
  JabberConnection(const JabberOptions* options, std::size_t max_frame_size, bool bidi = false);
  bool on_open(ConnectionServices& services) override;
  void encode(ConnectionServices& services, const RequestSpec& request, const EncodeContext& ctx,
              std::string& out) override;
  ConnResult on_data(ConnectionServices& services, const RequestSpec* pending, std::span<const char> data,
                     ResponseInfo& info) override;
  ConnEvent on_timer(ConnectionServices& services) override;
  ConnEvent on_tls_ready(ConnectionServices& services) override;
  bool on_eof(const RequestSpec* pending, ResponseInfo& info) override;
  /// Options this connection owns (made without a scenario's); kept until it is destroyed.
  void keep(std::shared_ptr<const JabberOptions> options) { own_options_ = std::move(options); }

 private:
  ConnResult next_unit(ConnectionServices& services, const RequestSpec* pending, std::string_view bytes,
                       ResponseInfo& info);
  /// Server push (or a stanza that is not the awaited answer): bidi replies and counters.
  void pushed(ConnectionServices& services, const StreamUnit& unit);
  ConnResult unit_for(ConnectionServices& services, const JabberRequest& request, const StreamUnit& unit,
                      std::size_t consumed, ResponseInfo& info);

  /// Hands the session this connection made to the engine's slot (once it offers one).
  void give_session(ResponseInfo& info);

  std::shared_ptr<const JabberOptions> own_options_;  // before user_: its session uses the pool
  UserState user_;
  std::size_t max_frame_size_;
  bool bidi_;
  bool sent_nothing_ = false;  ///< the request just encoded sent no bytes: on_timer completes it
  StreamScanner scanner_;
  std::size_t header_len_ = 0;  ///< connect: the stream header seen, waiting for the features
  std::chrono::steady_clock::time_point sent_at_;
  ConnMetric msg_sent_ = 0, msg_received_ = 0, latency_ = 0, starttls_ = 0, iq_error_ = 0;
};

}  // namespace loadctl::jabber
