#pragma once
// AMQP 0-9-1 wire format: the frames and methods loadctl's ts_amqp plugin sends and reads.
// Frames are type(1) channel(2) size(4) payload(size) 0xCE; integers are big-endian.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace loadctl::amqp {

inline constexpr std::string_view kProtocolHeader{"AMQP\0\0\x09\x01", 8};
inline constexpr std::uint8_t kFrameMethod = 1, kFrameHeader = 2, kFrameBody = 3, kFrameHeartbeat = 8;
inline constexpr unsigned char kFrameEnd = 0xCE;
inline constexpr std::size_t kFrameOverhead = 8;  // header (7) and frame end (1)
/// frame_max loadctl proposes in connection.tune_ok (Tsung's 131072), lowered to the server's.
inline constexpr std::uint32_t kClientFrameMax = 131072;

/// class << 16 | method
constexpr std::uint32_t method_id(std::uint16_t cls, std::uint16_t m) { return std::uint32_t{cls} << 16 | m; }
namespace method {
inline constexpr std::uint32_t connection_start = method_id(10, 10), connection_start_ok = method_id(10, 11),
                               connection_secure = method_id(10, 20), connection_tune = method_id(10, 30),
                               connection_tune_ok = method_id(10, 31), connection_open = method_id(10, 40),
                               connection_open_ok = method_id(10, 41), connection_close = method_id(10, 50),
                               connection_close_ok = method_id(10, 51), channel_open = method_id(20, 10),
                               channel_open_ok = method_id(20, 11), channel_flow = method_id(20, 20),
                               channel_flow_ok = method_id(20, 21), channel_close = method_id(20, 40),
                               channel_close_ok = method_id(20, 41), basic_qos = method_id(60, 10),
                               basic_qos_ok = method_id(60, 11), basic_consume = method_id(60, 20),
                               basic_consume_ok = method_id(60, 21), basic_publish = method_id(60, 40),
                               basic_return = method_id(60, 50),
                               basic_deliver = method_id(60, 60), basic_ack = method_id(60, 80),
                               basic_nack = method_id(60, 120), confirm_select = method_id(85, 10),
                               confirm_select_ok = method_id(85, 11);
}

/// Appends big-endian integers and AMQP strings to a buffer.
struct Writer {
  std::string& out;
  void u8(std::uint8_t v) { out.push_back(static_cast<char>(v)); }
  void u16(std::uint16_t v);
  void u32(std::uint32_t v);
  void u64(std::uint64_t v);
  void shortstr(std::string_view s);  ///< truncated to 255 bytes
  void longstr(std::string_view s);
};

/// Reads a method's arguments; every read past the end sets `bad` and returns zero/empty.
struct Reader {
  std::span<const unsigned char> data;
  std::size_t pos = 0;
  bool bad = false;
  explicit Reader(std::span<const char> d)
      : data(reinterpret_cast<const unsigned char*>(d.data()), d.size()) {}
  std::uint8_t u8();
  std::uint16_t u16();
  std::uint32_t u32();
  std::uint64_t u64();
  std::string_view shortstr();
  std::string_view longstr();
  void skip_table() { (void)longstr(); }  // a field table is a long-string of fields
};

/// One frame at the start of `data`: `status` says whether it is whole, cut or invalid.
struct Frame {
  enum class Status : std::uint8_t { whole, partial, bad_end, too_large } status = Status::partial;
  std::uint8_t type = 0;
  std::uint16_t channel = 0;
  std::span<const char> payload;
  std::size_t size = 0;  ///< bytes the whole frame takes
};
/// Parses the frame header; a frame whose payload exceeds `max_payload` is too_large before any
/// of its payload arrived (nothing is kept for it).
Frame parse_frame(std::span<const char> data, std::size_t max_payload);

/// Frame writing: begin_frame leaves the size to patch; end_frame patches it and adds 0xCE.
std::size_t begin_frame(std::string& out, std::uint8_t type, std::uint16_t channel);
void end_frame(std::string& out, std::size_t start);
/// A method frame start: the frame header and class/method ids; arguments follow, then end_frame.
std::size_t begin_method(std::string& out, std::uint16_t channel, std::uint32_t id);
void heartbeat(std::string& out);

void connection_start_ok(std::string& out, std::string_view user, std::string_view password);
void connection_tune_ok(std::string& out, std::uint16_t channel_max, std::uint32_t frame_max, std::uint16_t heartbeat);
void connection_open(std::string& out, std::string_view vhost);
/// connection.close / channel.close with reply code 200 "Goodbye", as Tsung sends them.
void connection_close(std::string& out);
void channel_close(std::string& out, std::uint16_t channel);
void empty_method(std::string& out, std::uint16_t channel, std::uint32_t id);  ///< *_ok replies
void channel_open(std::string& out, std::uint16_t channel);
void confirm_select(std::string& out, std::uint16_t channel);
void basic_qos(std::string& out, std::uint16_t channel, std::uint32_t prefetch_size, std::uint16_t prefetch_count);
void basic_consume(std::string& out, std::uint16_t channel, std::string_view queue, std::string_view tag, bool no_ack);
void basic_ack(std::string& out, std::uint16_t channel, std::uint64_t tag);
/// basic.publish, its content header (delivery_mode 2 when persistent) and body frames of at
/// most frame_max bytes each (frame_max 0: one body frame).
void basic_publish(std::string& out, std::uint16_t channel, std::string_view exchange, std::string_view routing_key,
                   bool persistent, std::string_view body, std::uint32_t frame_max);

/// A static name for an AMQP reply code ("amqp_access_refused"), "amqp_close_other" otherwise.
const char* reply_code_name(std::uint16_t code);

}  // namespace loadctl::amqp
