#pragma once
// Per-connection state of an MQTT client (Tsung's #mqtt_session): packet ids, which
// acknowledgement the pending request waits for, the keepalive PINGREQ period and the end of a
// waitForMessages. One timer serves both (the engine gives one per connection).

#include <chrono>
#include <cstdint>

#include "loadctl/connection.hpp"
#include "mqtt_frame.hpp"
#include "mqtt_request.hpp"

namespace loadctl::mqtt {

class MqttConnection final : public Connection {
 public:
  explicit MqttConnection(std::size_t max_frame_size) : max_frame_size_(max_frame_size) {}

  bool on_open(ConnectionServices& s) override;
  void encode(ConnectionServices& s, const RequestSpec& request, const EncodeContext& ctx, std::string& out) override;
  ConnResult on_data(ConnectionServices& s, const RequestSpec* pending, std::span<const char> data,
                     ResponseInfo& info) override;
  ConnEvent on_timer(ConnectionServices& s) override;
  bool is_wait(const RequestSpec& request) override;

  using Clock = std::chrono::steady_clock;
  /// For tests: the time used by the next call (default: Clock::now()).
  void set_now_for_test(Clock::time_point now) { fake_now_ = now; }

 private:
  Clock::time_point now() const { return fake_now_ == Clock::time_point{} ? Clock::now() : fake_now_; }
  std::uint16_t next_packet_id();
  void arm_timer(ConnectionServices& s);
  ConnResult on_publish(ConnectionServices& s, const FrameHeader& h, std::span<const char> body);

  // Tsung's counters (ts_mqtt), interned at on_open.
  struct Metrics {
    ConnMetric connected, disconnected, published, server_pubacked, server_published, pubacked;
  };
  Metrics m_{};
  std::size_t max_frame_size_;
  Clock::time_point ping_at_ = Clock::time_point::max();  ///< next PINGREQ; max: none
  Clock::time_point wait_until_ = Clock::time_point::max();  ///< end of waitForMessages
  Clock::time_point fake_now_{};
  std::uint16_t keepalive_ = 0;
  std::uint16_t last_id_ = 0;
  std::uint16_t awaited_id_ = 0;
  std::uint8_t awaited_ = 0;  ///< packet type the pending request waits for; 0: none
};

}  // namespace loadctl::mqtt
