#include "mqtt_frame.hpp"

#include <algorithm>

namespace loadctl::mqtt {

void append_length(std::string& out, std::size_t n) {
  do {
    auto digit = static_cast<unsigned char>(n % 128);
    n /= 128;
    if (n > 0) digit |= 0x80;
    out.push_back(static_cast<char>(digit));
  } while (n > 0);
}

void append_u16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xFF));
}

void append_string(std::string& out, std::string_view text) {
  text = text.substr(0, std::min(text.size(), kMaxString));
  append_u16(out, static_cast<std::uint16_t>(text.size()));
  out.append(text);
}

HeaderStatus parse_header(std::span<const char> data, FrameHeader& header) {
  if (data.size() < 2) return HeaderStatus::need_more;
  header.first = static_cast<std::uint8_t>(data[0]);
  std::size_t value = 0, multiplier = 1;
  for (std::size_t i = 1; i <= 4; ++i) {
    if (i >= data.size()) return HeaderStatus::need_more;
    auto byte = static_cast<std::uint8_t>(data[i]);
    value += (byte & 0x7F) * multiplier;
    if ((byte & 0x80) == 0) {
      header.remaining = value;
      header.header_size = i + 1;
      return HeaderStatus::ok;
    }
    multiplier *= 128;
  }
  return HeaderStatus::malformed;  // a fifth length byte: not MQTT
}

void append_puback(std::string& out, std::uint16_t packet_id) {
  out.push_back(static_cast<char>(kPuback << 4));
  out.push_back(2);
  append_u16(out, packet_id);
}

}  // namespace loadctl::mqtt
