// AMQP 0-9-1 frames and methods (amqp_codec.hpp).
#include "amqp_codec.hpp"

#include <algorithm>

namespace loadctl::amqp {

void Writer::u16(std::uint16_t v) {
  u8(static_cast<std::uint8_t>(v >> 8));
  u8(static_cast<std::uint8_t>(v));
}
void Writer::u32(std::uint32_t v) {
  u16(static_cast<std::uint16_t>(v >> 16));
  u16(static_cast<std::uint16_t>(v));
}
void Writer::u64(std::uint64_t v) {
  u32(static_cast<std::uint32_t>(v >> 32));
  u32(static_cast<std::uint32_t>(v));
}
void Writer::shortstr(std::string_view s) {
  s = s.substr(0, 255);
  u8(static_cast<std::uint8_t>(s.size()));
  out.append(s);
}
void Writer::longstr(std::string_view s) {
  u32(static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

std::uint8_t Reader::u8() {
  if (pos + 1 > data.size()) {
    bad = true;
    return 0;
  }
  return data[pos++];
}
std::uint16_t Reader::u16() {
  std::uint16_t hi = u8();
  return static_cast<std::uint16_t>(hi << 8 | u8());
}
std::uint32_t Reader::u32() {
  std::uint32_t hi = u16();
  return hi << 16 | u16();
}
std::uint64_t Reader::u64() {
  std::uint64_t hi = u32();
  return hi << 32 | u32();
}
std::string_view Reader::shortstr() {
  std::size_t n = u8();
  if (bad || pos + n > data.size()) {
    bad = true;
    return {};
  }
  std::string_view s(reinterpret_cast<const char*>(data.data()) + pos, n);
  pos += n;
  return s;
}
std::string_view Reader::longstr() {
  std::size_t n = u32();
  if (bad || n > data.size() - pos) {
    bad = true;
    return {};
  }
  std::string_view s(reinterpret_cast<const char*>(data.data()) + pos, n);
  pos += n;
  return s;
}

Frame parse_frame(std::span<const char> data, std::size_t max_payload) {
  Frame f;
  if (data.size() < 7) return f;
  auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])); };
  f.type = static_cast<std::uint8_t>(byte(0));
  f.channel = static_cast<std::uint16_t>(byte(1) << 8 | byte(2));
  std::size_t payload = byte(3) << 24 | byte(4) << 16 | byte(5) << 8 | byte(6);
  if (payload > max_payload) {
    f.status = Frame::Status::too_large;
    return f;
  }
  if (data.size() < payload + kFrameOverhead) return f;
  if (static_cast<unsigned char>(data[7 + payload]) != kFrameEnd) {
    f.status = Frame::Status::bad_end;
    return f;
  }
  f.status = Frame::Status::whole;
  f.payload = data.subspan(7, payload);
  f.size = payload + kFrameOverhead;
  return f;
}

std::size_t begin_frame(std::string& out, std::uint8_t type, std::uint16_t channel) {
  std::size_t start = out.size();
  Writer w{out};
  w.u8(type);
  w.u16(channel);
  w.u32(0);
  return start;
}

void end_frame(std::string& out, std::size_t start) {
  auto size = static_cast<std::uint32_t>(out.size() - start - 7);
  for (int i = 0; i < 4; ++i) out[start + 3 + static_cast<std::size_t>(i)] = static_cast<char>(size >> (24 - 8 * i));
  out.push_back(static_cast<char>(kFrameEnd));
}

std::size_t begin_method(std::string& out, std::uint16_t channel, std::uint32_t id) {
  std::size_t start = begin_frame(out, kFrameMethod, channel);
  Writer{out}.u32(id);
  return start;
}

void heartbeat(std::string& out) { end_frame(out, begin_frame(out, kFrameHeartbeat, 0)); }

namespace {

// A field-table entry: name, type tag, value.
void table_bool(Writer& w, std::string_view name, bool v) {
  w.shortstr(name);
  w.u8('t');
  w.u8(v ? 1 : 0);
}
void table_str(Writer& w, std::string_view name, std::string_view v) {
  w.shortstr(name);
  w.u8('S');
  w.longstr(v);
}

// Patches the 32-bit length of a table begun at `start` (its length field).
void end_table(std::string& out, std::size_t start) {
  auto size = static_cast<std::uint32_t>(out.size() - start - 4);
  for (int i = 0; i < 4; ++i) out[start + static_cast<std::size_t>(i)] = static_cast<char>(size >> (24 - 8 * i));
}

}  // namespace

void connection_start_ok(std::string& out, std::string_view user, std::string_view password) {
  std::size_t frame = begin_method(out, 0, method::connection_start_ok);
  Writer w{out};
  std::size_t props = out.size();
  w.u32(0);
  table_str(w, "product", "loadctl");
  table_str(w, "platform", "C++");
  // Tsung's client capabilities (ts_amqp.hrl CLIENT_CAPABILITIES).
  w.shortstr("capabilities");
  w.u8('F');
  std::size_t caps = out.size();
  w.u32(0);
  table_bool(w, "publisher_confirms", true);
  table_bool(w, "exchange_exchange_bindings", true);
  table_bool(w, "basic.nack", true);
  table_bool(w, "consumer_cancel_notify", true);
  // Not in Tsung's list: a refused login is then told (connection.close 403), not just cut.
  table_bool(w, "authentication_failure_close", true);
  end_table(out, caps);
  end_table(out, props);
  w.shortstr("PLAIN");
  w.u32(static_cast<std::uint32_t>(user.size() + password.size() + 2));
  w.u8(0);
  out.append(user);
  w.u8(0);
  out.append(password);
  w.shortstr("en_US");
  end_frame(out, frame);
}

void connection_tune_ok(std::string& out, std::uint16_t channel_max, std::uint32_t frame_max, std::uint16_t hb) {
  std::size_t frame = begin_method(out, 0, method::connection_tune_ok);
  Writer w{out};
  w.u16(channel_max);
  w.u32(frame_max);
  w.u16(hb);
  end_frame(out, frame);
}

void connection_open(std::string& out, std::string_view vhost) {
  std::size_t frame = begin_method(out, 0, method::connection_open);
  Writer w{out};
  w.shortstr(vhost);
  w.shortstr("");  // reserved (capabilities)
  w.u8(0);         // reserved (insist)
  end_frame(out, frame);
}

namespace {
void close_method(std::string& out, std::uint16_t channel, std::uint32_t id) {
  std::size_t frame = begin_method(out, channel, id);
  Writer w{out};
  w.u16(200);
  w.shortstr("Goodbye");
  w.u16(0);
  w.u16(0);
  end_frame(out, frame);
}
}  // namespace

void connection_close(std::string& out) { close_method(out, 0, method::connection_close); }
void channel_close(std::string& out, std::uint16_t channel) { close_method(out, channel, method::channel_close); }

void empty_method(std::string& out, std::uint16_t channel, std::uint32_t id) {
  end_frame(out, begin_method(out, channel, id));
}

void channel_open(std::string& out, std::uint16_t channel) {
  std::size_t frame = begin_method(out, channel, method::channel_open);
  Writer{out}.shortstr("");  // reserved
  end_frame(out, frame);
}

void confirm_select(std::string& out, std::uint16_t channel) {
  std::size_t frame = begin_method(out, channel, method::confirm_select);
  Writer{out}.u8(0);  // no-wait: false
  end_frame(out, frame);
}

void basic_qos(std::string& out, std::uint16_t channel, std::uint32_t prefetch_size, std::uint16_t prefetch_count) {
  std::size_t frame = begin_method(out, channel, method::basic_qos);
  Writer w{out};
  w.u32(prefetch_size);
  w.u16(prefetch_count);
  w.u8(0);  // global: false
  end_frame(out, frame);
}

void basic_consume(std::string& out, std::uint16_t channel, std::string_view queue, std::string_view tag, bool no_ack) {
  std::size_t frame = begin_method(out, channel, method::basic_consume);
  Writer w{out};
  w.u16(0);  // reserved
  w.shortstr(queue);
  w.shortstr(tag);
  w.u8(no_ack ? 0x02 : 0x00);  // no-local, no-ack, exclusive, no-wait
  w.u32(0);                    // arguments: empty table
  end_frame(out, frame);
}

void basic_ack(std::string& out, std::uint16_t channel, std::uint64_t tag) {
  std::size_t frame = begin_method(out, channel, method::basic_ack);
  Writer w{out};
  w.u64(tag);
  w.u8(0);  // multiple: false
  end_frame(out, frame);
}

void basic_publish(std::string& out, std::uint16_t channel, std::string_view exchange, std::string_view routing_key,
                   bool persistent, std::string_view body, std::uint32_t frame_max) {
  std::size_t frame = begin_method(out, channel, method::basic_publish);
  Writer w{out};
  w.u16(0);  // reserved
  w.shortstr(exchange);
  w.shortstr(routing_key);
  w.u8(0);  // mandatory, immediate: false
  end_frame(out, frame);

  frame = begin_frame(out, kFrameHeader, channel);
  w.u16(60);  // class basic
  w.u16(0);   // weight
  w.u64(body.size());
  if (persistent) {
    w.u16(0x1000);  // property flags: delivery-mode
    w.u8(2);
  } else {
    w.u16(0);
  }
  end_frame(out, frame);

  std::size_t chunk = frame_max > kFrameOverhead ? frame_max - kFrameOverhead : body.size();
  for (std::size_t at = 0; at < body.size(); at += chunk) {
    frame = begin_frame(out, kFrameBody, channel);
    out.append(body.substr(at, std::min(chunk, body.size() - at)));
    end_frame(out, frame);
  }
}

const char* reply_code_name(std::uint16_t code) {
  switch (code) {
    case 320: return "amqp_connection_forced";
    case 402: return "amqp_invalid_path";
    case 403: return "amqp_access_refused";
    case 404: return "amqp_not_found";
    case 405: return "amqp_resource_locked";
    case 406: return "amqp_precondition_failed";
    case 501: return "amqp_frame_error";
    case 502: return "amqp_syntax_error";
    case 503: return "amqp_command_invalid";
    case 504: return "amqp_channel_error";
    case 505: return "amqp_unexpected_frame";
    case 506: return "amqp_resource_error";
    case 530: return "amqp_not_allowed";
    case 540: return "amqp_not_implemented";
    case 541: return "amqp_internal_error";
    default: return "amqp_close_other";
  }
}

}  // namespace loadctl::amqp
