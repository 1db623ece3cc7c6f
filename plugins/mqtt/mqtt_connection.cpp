// The client side of an MQTT 3.1.1 connection, as Tsung's ts_mqtt (parse, parse_bidi, ping_loop).
#include "mqtt_connection.hpp"

namespace loadctl::mqtt {

namespace {

const MqttRequest& as_mqtt(const RequestSpec& r) { return static_cast<const MqttRequest&>(r); }

}  // namespace

bool MqttConnection::on_open(ConnectionServices& s) {
  auto counter = [&s](const char* name) { return s.metric(name, ConnMetricKind::counter); };
  m_ = {counter("mqtt_connected"),       counter("mqtt_disconnected"),      counter("mqtt_published"),
        counter("mqtt_server_pubacked"), counter("mqtt_server_published"), counter("mqtt_pubacked")};
  return false;
}

std::uint16_t MqttConnection::next_packet_id() {
  last_id_ = static_cast<std::uint16_t>(last_id_ == 65535 ? 1 : last_id_ + 1);  // 0 is not a packet id
  return last_id_;
}

void MqttConnection::encode(ConnectionServices& s, const RequestSpec& request, const EncodeContext& ctx,
                            std::string& out) {
  const MqttRequest& r = as_mqtt(request);
  std::uint16_t id = 0;
  awaited_ = 0;
  switch (r.kind) {
    case Kind::connect:
      keepalive_ = r.keepalive;
      awaited_ = kConnack;
      break;
    case Kind::disconnect:
      s.count(m_.disconnected);
      ping_at_ = Clock::time_point::max();  // ts_mqtt stops its ping process
      arm_timer(s);
      break;
    case Kind::publish:
      s.count(m_.published);
      if (r.qos > 0) {
        id = next_packet_id();
        awaited_ = kPuback;
      }
      break;
    case Kind::subscribe:
      id = next_packet_id();
      awaited_ = kSuback;
      break;
    case Kind::unsubscribe:
      id = next_packet_id();
      awaited_ = kUnsuback;
      break;
    case Kind::wait_for_messages:
      wait_until_ = now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(r.timeout_s));
      arm_timer(s);
      break;
  }
  awaited_id_ = id;
  r.encode_with(ctx, out, id);
}

ConnResult MqttConnection::on_data(ConnectionServices& s, const RequestSpec* pending, std::span<const char> data,
                                   ResponseInfo& info) {
  FrameHeader h;
  switch (parse_header(data, h)) {
    case HeaderStatus::need_more:
      return {0, ConnEvent::none};
    case HeaderStatus::malformed:
      info.error = "mqtt_malformed";
      return {data.size(), ConnEvent::fatal};
    case HeaderStatus::ok:
      break;
  }
  // The peer's length is checked before waiting for (and buffering) that many bytes.
  if (h.remaining > max_frame_size_) {
    info.error = "mqtt_frame_too_large";
    return {data.size(), ConnEvent::fatal};
  }
  if (data.size() < h.frame_size()) return {0, ConnEvent::none};
  std::span<const char> body = data.subspan(h.header_size, h.remaining);
  const std::size_t n = h.frame_size();
  std::uint8_t type = h.type();
  if (type == kPublish) return on_publish(s, h, body);
  // An acknowledgement completes the pending request when it is the one it waits for (type and
  // packet id); anything else (PINGRESP, a late ack) is consumed without effect.
  if (!pending || type != awaited_) return {n, ConnEvent::none};
  switch (type) {
    case kConnack: {
      if (body.size() < 2) {
        info.error = "mqtt_malformed";
        return {n, ConnEvent::fatal};
      }
      awaited_ = 0;
      auto code = static_cast<std::uint8_t>(body[1]);
      if (code != 0) {
        // The server closes the connection after a refusal (3.2.2.3): nothing the user sends
        // next could succeed, so the user ends here.
        info.status_code = code;
        info.error = "mqtt_connack_refused";
        return {n, ConnEvent::fatal};
      }
      s.count(m_.connected);
      if (keepalive_ > 0) {  // ts_mqtt's ping_loop: a PINGREQ every keepalive seconds from CONNACK
        ping_at_ = now() + std::chrono::seconds(keepalive_);
        arm_timer(s);
      }
      return {n, ConnEvent::complete};
    }
    case kPuback:
    case kSuback:
    case kUnsuback: {
      if (body.size() < 2) {
        info.error = "mqtt_malformed";
        return {n, ConnEvent::fatal};
      }
      if (read_u16(body, 0) != awaited_id_) return {n, ConnEvent::none};
      awaited_ = 0;
      if (type == kPuback) s.count(m_.server_pubacked);
      if (type == kSuback && body.size() >= 3 && static_cast<std::uint8_t>(body[2]) == 0x80) {
        info.error = "mqtt_subscribe_refused";  // SUBACK return code 0x80: failure
        return {n, ConnEvent::failed};
      }
      return {n, ConnEvent::complete};
    }
    default:
      return {n, ConnEvent::none};
  }
}

// A message the server pushes: counted whatever the user is doing, never a response.
ConnResult MqttConnection::on_publish(ConnectionServices& s, const FrameHeader& h, std::span<const char> body) {
  const std::size_t n = h.frame_size();
  std::uint8_t qos = (h.flags() >> 1) & 0x03;
  if (body.size() < 2 || body.size() < 2 + read_u16(body, 0) + (qos > 0 ? 2u : 0u)) {
    s.error("mqtt_malformed");
    return {n, ConnEvent::none};
  }
  // ts_mqtt's parse_bidi counts both for every message received.
  s.count(m_.server_published);
  s.count(m_.pubacked);
  if (qos == 1) {
    std::uint16_t id = read_u16(body, 2 + read_u16(body, 0));
    const char ack[4] = {static_cast<char>(kPuback << 4), 2, static_cast<char>(id >> 8), static_cast<char>(id & 0xFF)};
    s.send({ack, sizeof ack});
  }
  return {n, ConnEvent::none};
}

ConnEvent MqttConnection::on_timer(ConnectionServices& s) {
  Clock::time_point t = now();
  ConnEvent event = ConnEvent::none;
  if (t >= wait_until_) {
    wait_until_ = Clock::time_point::max();
    event = ConnEvent::waited;  // the waitForMessages request: its time is up (untimed, as a thinktime)
  }
  if (t >= ping_at_) {
    s.send(pingreq_frame());
    ping_at_ += std::chrono::seconds(keepalive_);
    if (ping_at_ <= t) ping_at_ = t + std::chrono::seconds(keepalive_);
  }
  arm_timer(s);
  return event;
}

void MqttConnection::arm_timer(ConnectionServices& s) {
  Clock::time_point next = std::min(ping_at_, wait_until_);
  if (next == Clock::time_point::max()) {
    s.cancel_timer();
    return;
  }
  s.set_timer(std::max(0.0, std::chrono::duration<double>(next - now()).count()));
}

bool MqttConnection::is_wait(const RequestSpec& request) { return as_mqtt(request).kind == Kind::wait_for_messages; }

}  // namespace loadctl::mqtt
