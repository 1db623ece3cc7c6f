// The AMQP 0-9-1 plugin (Tsung's ts_amqp): a connection-level protocol. One AmqpConnection per
// socket holds the handshake phase, the channels, publisher confirms and the heartbeat; requests
// are the <amqp type="..."> elements of Tsung's ts_config_amqp, with its attributes and defaults.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <random>

#include "amqp_codec.hpp"
#include "loadctl/connection.hpp"
#include "loadctl/protocol.hpp"
#include "loadctl/scenario_error.hpp"
#include "loadctl/xml_reader.hpp"

namespace loadctl::amqp {
namespace {

using SteadyClock = std::chrono::steady_clock;

/// <option type="ts_amqp" name="username|password|heartbeat" value=".."/> (Tsung's defaults).
struct AmqpOptions final : ProtocolOptions {
  std::string username = "guest";
  std::string password = "guest";
  std::uint16_t heartbeat = 600;  ///< seconds, sent in connection.tune_ok; 0 = none
};

const AmqpOptions& default_options() {
  static const AmqpOptions defaults;
  return defaults;
}

enum class Type : std::uint8_t {
  connection_open,
  connection_close,
  channel_open,
  channel_close,
  confirm_select,
  basic_qos,
  basic_publish,
  basic_consume,
  wait_confirms,
  wait_messages,
};

constexpr std::string_view kTypeNames[] = {"connection.open", "connection.close", "channel.open",
                                           "channel.close",   "confirm.select",   "basic.qos",
                                           "basic.publish",   "basic.consume",    "waitForConfirms",
                                           "waitForMessages"};

constexpr std::size_t kMaxPayloadSize = 64u << 20;

class AmqpRequest final : public RequestSpec {
 public:
  Type type = Type::connection_open;
  std::string vhost = "/";
  Template channel;          ///< when not literal: rendered and parsed for each request
  int literal_channel = -1;  ///< the channel when literal
  Template exchange, routing_key, payload, queue;
  bool has_payload = false;  ///< payload (else payload_size random bytes)
  std::size_t payload_size = 100;
  bool persistent = false;
  bool ack = false;
  std::uint32_t prefetch_size = 0;
  std::uint16_t prefetch_count = 0;
  double timeout = 1;  ///< waitForConfirms / waitForMessages, seconds

  // Every byte is written by AmqpConnection::encode, which holds the connection's state.
  void encode(const EncodeContext&, std::string&) const override {}
  // basic.publish is Tsung's no_ack: counted when written (request_noack), confirms come later.
  bool awaits_response() const override { return type != Type::basic_publish; }
  ParseResult parse_response(ParserState&, std::span<const char>, ResponseInfo& info) const override {
    info.error = "amqp_not_connection_level";
    return {ParseStatus::error, 0};
  }
  std::string describe() const override { return "amqp " + std::string(kTypeNames[static_cast<int>(type)]); }
  bool is_wait() const { return type == Type::wait_confirms || type == Type::wait_messages; }
};

// Random payload bytes (Tsung's ts_utils:urandomstr_noflat): a block made once, read from a
// random offset for each message.
std::string_view random_block() {
  static const std::string block = [] {
    std::mt19937 rng(std::random_device{}());
    const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::string b(8192, ' ');
    for (char& c : b) c = alphabet[rng() % (sizeof alphabet - 1)];
    return b;
  }();
  return block;
}

void append_random(std::string& out, std::size_t n) {
  thread_local std::minstd_rand rng(std::random_device{}());
  std::string_view block = random_block();
  std::size_t at = rng() % block.size();
  while (n > 0) {
    std::size_t take = std::min(n, block.size() - at);
    out.append(block.substr(at, take));
    n -= take;
    at = 0;
  }
}

/// Sends the frames `write` appends (to a per-thread buffer): replies, acks, heartbeats.
template <class Write>
void send_frames(ConnectionServices& s, Write&& write) {
  thread_local std::string buffer;
  buffer.clear();
  write(buffer);
  s.send(buffer);
}

/// A template rendered into a per-thread buffer `slot` (0..2), valid until that slot is reused.
std::string_view render(const Template& t, const EncodeContext& ctx, int slot) {
  thread_local std::string buffers[3];
  std::string& b = buffers[slot];
  b.clear();
  t.render(ctx.vars, b, ctx.missing_vars);
  return b;
}

/// Per-channel state: consumer ack mode and publisher confirms (seqno window).
struct Channel {
  std::uint16_t id = 0;
  bool ack = false;                ///< basic.consume ack="true": each delivery is acknowledged
  std::uint64_t next_seqno = 0;    ///< 0 until confirm.select_ok, then the next publish's seqno
  std::uint64_t first = 1;         ///< seqno of window[head]
  std::vector<std::uint8_t> window;  ///< 1 = confirmed (ack or nack); from head on
  std::size_t head = 0;
  // Content of a basic.deliver (or basic.return) being received: its header, then body bytes.
  enum class Content : std::uint8_t { none, header, body } content = Content::none;
  bool content_is_delivery = false;  ///< basic.deliver (counted, acked), not basic.return
  std::uint64_t content_tag = 0;     ///< the delivery tag to acknowledge
  std::uint64_t content_left = 0;    ///< body bytes still to come
};

class AmqpConnection final : public Connection {
 public:
  AmqpConnection(const AmqpOptions& options, std::size_t max_frame_size)
      : options_(options), max_frame_size_(max_frame_size) {}

  bool on_open(ConnectionServices& s) override {
    constexpr std::string_view names[] = {"amqp_connected", "amqp_channel_opened", "amqp_channel_closed",
                                          "amqp_consumer",  "amqp_closed",         "amqp_published",
                                          "amqp_delivered", "amqp_confirmed",      "amqp_unconfirmed",
                                          "amqp_error",     "amqp_unexpected"};
    for (std::size_t i = 0; i < std::size(names); ++i) m_[i] = s.metric(names[i], ConnMetricKind::counter);
    return false;
  }

  void encode(ConnectionServices& s, const RequestSpec& spec, const EncodeContext& ctx, std::string& out) override;
  ConnResult on_data(ConnectionServices& s, const RequestSpec* pending, std::span<const char> data,
                     ResponseInfo& info) override;
  ConnEvent on_timer(ConnectionServices& s) override;

  bool is_wait(const RequestSpec& request) override { return static_cast<const AmqpRequest&>(request).is_wait(); }
  bool on_eof(const RequestSpec* pending, ResponseInfo&) override {
    // The server closing after connection.close_ok was due completes connection.close.
    return pending && expect_ == method::connection_close_ok;
  }

 private:
  enum Metric { connected, channel_opened, channel_closed, consumer, closed, published, delivered,
                confirmed, unconfirmed, error, unexpected, metric_count };
  enum class Phase : std::uint8_t { idle, start, tune, opening, open, closing };

  ConnEvent on_method(ConnectionServices& s, bool awaiting, std::uint16_t channel, std::span<const char> payload,
                      ResponseInfo& info);
  ConnEvent expected(ConnectionServices& s, std::uint32_t id, std::uint16_t channel, ResponseInfo& info);
  void on_confirm(ConnectionServices& s, std::uint16_t channel, std::uint64_t tag, bool multiple, bool ack);
  void drop_channel(std::uint16_t id);
  ConnEvent on_content(ConnectionServices& s, const Frame& f, ResponseInfo& info);
  void content_done(ConnectionServices& s, Channel& c);
  /// A substituted name longer than a short string (255 bytes): counted, the user ends.
  bool too_long(ConnectionServices& s, std::string_view name) {
    if (name.size() <= 255) return false;
    s.count(m_[error]);
    defer(s, ConnEvent::fatal);
    return true;
  }
  std::size_t frame_limit() const {
    std::size_t negotiated = frame_max_ ? frame_max_ : max_frame_size_;
    return std::min(max_frame_size_, negotiated) - std::min<std::size_t>(negotiated, kFrameOverhead);
  }
  Channel* find(std::uint16_t id) {
    auto it = std::find_if(channels_.begin(), channels_.end(), [id](const Channel& c) { return c.id == id; });
    return it == channels_.end() ? nullptr : &*it;
  }
  Channel& find_or_add(std::uint16_t id) {
    if (Channel* c = find(id)) return *c;
    channels_.push_back({});
    channels_.back().id = id;
    return channels_.back();
  }
  // Tsung's new_number: a free channel id, the proposed one when free (0: any).
  int new_number(int proposed) const;
  int channel_of(const AmqpRequest& r, const EncodeContext& ctx);
  // An outcome for the timer; a pending fatal is never replaced by a milder one.
  void defer(ConnectionServices& s, ConnEvent event) {
    if (deferred_ != ConnEvent::fatal) deferred_ = event;
    s.set_timer(0);
  }
  void arm(ConnectionServices& s);

  const AmqpOptions& options_;
  std::size_t max_frame_size_;
  ConnMetric m_[metric_count] = {};
  Phase phase_ = Phase::idle;
  std::uint32_t expect_ = 0;  ///< the method that completes the pending request, 0 none
  std::uint16_t expect_channel_ = 0;
  const AmqpRequest* opening_ = nullptr;  ///< connection.open being negotiated (its vhost)
  std::uint32_t frame_max_ = kClientFrameMax;
  std::uint16_t channel_max_ = 65535;
  std::vector<Channel> channels_;
  bool waiting_ = false;  ///< a waitForConfirms / waitForMessages runs until wait_deadline_
  SteadyClock::time_point wait_deadline_{};
  SteadyClock::duration heartbeat_{};  ///< interval between our heartbeats, zero = none
  SteadyClock::time_point heartbeat_next_{};
  ConnEvent deferred_ = ConnEvent::none;  ///< an outcome decided while encoding, delivered by the timer
};

int AmqpConnection::new_number(int proposed) const {
  auto used = [this](int id) { return std::any_of(channels_.begin(), channels_.end(), [id](const Channel& c) { return c.id == id; }); };
  if (proposed > 0 && proposed <= channel_max_ && !used(proposed)) return proposed;
  if (channels_.empty()) return 1;
  int smallest = 65536, largest = 0;
  for (const Channel& c : channels_) {
    smallest = std::min<int>(smallest, c.id);
    largest = std::max<int>(largest, c.id);
  }
  if (smallest > 1) return smallest - 1;
  if (largest < channel_max_) return largest + 1;
  for (int id = 1; id <= channel_max_; ++id)
    if (!used(id)) return id;
  return -1;
}

int AmqpConnection::channel_of(const AmqpRequest& r, const EncodeContext& ctx) {
  if (r.channel.is_literal()) return r.literal_channel;
  std::string_view text = render(r.channel, ctx, 0);
  int value = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < 0 || value > 65535) return -1;
  return value;
}

void AmqpConnection::arm(ConnectionServices& s) {
  if (deferred_ != ConnEvent::none) {
    s.set_timer(0);
    return;
  }
  auto next = SteadyClock::time_point::max();
  if (waiting_) next = wait_deadline_;
  if (heartbeat_.count() > 0) next = std::min(next, heartbeat_next_);
  if (next == SteadyClock::time_point::max()) return;
  s.set_timer(std::max(0.0, std::chrono::duration<double>(next - SteadyClock::now()).count()));
}

void AmqpConnection::encode(ConnectionServices& s, const RequestSpec& spec, const EncodeContext& ctx,
                            std::string& out) {
  const auto& r = static_cast<const AmqpRequest&>(spec);
  expect_ = 0;
  if (r.type == Type::connection_open) {
    if (phase_ != Phase::idle) {  // a second connection.open on an open connection
      s.count(m_[error]);
      defer(s, ConnEvent::fatal);
      return;
    }
    out.append(kProtocolHeader);
    phase_ = Phase::start;
    opening_ = &r;
    expect_ = method::connection_open_ok;
    expect_channel_ = 0;
    return;
  }
  if (phase_ != Phase::open) {  // no connection.open before (or the server closed it)
    s.count(m_[error]);
    defer(s, ConnEvent::fatal);
    return;
  }
  int channel = 0;
  if (r.type != Type::connection_close && !r.is_wait()) {
    channel = channel_of(r, ctx);
    if (r.type == Type::channel_open && channel >= 0) channel = new_number(channel);
    if (channel <= 0) {  // not a channel number, or none free
      s.count(m_[error]);
      defer(s, ConnEvent::fatal);
      return;
    }
  }
  auto ch = static_cast<std::uint16_t>(channel);
  expect_channel_ = ch;
  switch (r.type) {
    case Type::connection_open:
      break;
    case Type::connection_close:
      connection_close(out);
      expect_ = method::connection_close_ok;
      phase_ = Phase::closing;
      break;
    case Type::channel_open:
      channel_open(out, ch);
      expect_ = method::channel_open_ok;
      break;
    case Type::channel_close:
      channel_close(out, ch);
      expect_ = method::channel_close_ok;
      break;
    case Type::confirm_select:
      confirm_select(out, ch);
      expect_ = method::confirm_select_ok;
      break;
    case Type::basic_qos:
      basic_qos(out, ch, r.prefetch_size, r.prefetch_count);
      expect_ = method::basic_qos_ok;
      break;
    case Type::basic_consume:
      if (too_long(s, render(r.queue, ctx, 0))) return;
      find_or_add(ch).ack = r.ack;
      basic_consume(out, ch, render(r.queue, ctx, 0), "", !r.ack);
      expect_ = method::basic_consume_ok;
      break;
    case Type::basic_publish: {
      std::string_view exchange = render(r.exchange, ctx, 0), key = render(r.routing_key, ctx, 1);
      if (too_long(s, exchange) || too_long(s, key)) return;
      thread_local std::string body;
      body.clear();
      if (r.has_payload) r.payload.render(ctx.vars, body, ctx.missing_vars);
      if (body.empty()) append_random(body, r.payload_size);  // Tsung: an empty payload means payload_size
      basic_publish(out, ch, exchange, key, r.persistent, body, frame_max_);
      s.count(m_[published]);
      if (Channel* c = find(ch); c && c->next_seqno > 0) {
        ++c->next_seqno;
        c->window.push_back(0);
      }
      break;
    }
    case Type::wait_confirms:  // Tsung's thinktimes of `timeout`: confirms and deliveries are
    case Type::wait_messages:  // counted as they come, whenever they come
      waiting_ = true;
      wait_deadline_ = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                                std::chrono::duration<double>(r.timeout));
      arm(s);
      break;
  }
}

ConnResult AmqpConnection::on_data(ConnectionServices& s, const RequestSpec* pending, std::span<const char> data,
                                   ResponseInfo& info) {
  std::size_t used = 0;
  while (used < data.size()) {
    std::span<const char> rest = data.subspan(used);
    if (phase_ == Phase::start && std::string_view(rest.data(), std::min<std::size_t>(rest.size(), 4)) == "AMQP") {
      s.count(m_[error]);  // the server refused our protocol header and offers its own
      info.error = "amqp_protocol_version";
      return {data.size(), ConnEvent::fatal};
    }
    Frame f = parse_frame(rest, frame_limit());
    if (f.status == Frame::Status::partial) break;
    if (f.status != Frame::Status::whole) {
      s.count(m_[error]);
      info.error = f.status == Frame::Status::too_large ? "amqp_frame_too_large" : "amqp_bad_frame";
      return {used, ConnEvent::fatal};
    }
    used += f.size;
    ConnEvent event = ConnEvent::none;
    if (f.type == kFrameHeader || f.type == kFrameBody) {
      event = on_content(s, f, info);
    } else if (f.type == kFrameMethod) {
      if (Channel* c = find(f.channel); c && c->content != Channel::Content::none) {
        s.count(m_[error]);  // a method before the content of a delivery was complete
        info.error = "amqp_unexpected_frame";
        return {used, ConnEvent::fatal};
      }
      event = on_method(s, pending != nullptr, f.channel, f.payload, info);
    }
    if (event != ConnEvent::none) return {used, event};
  }
  return {used, ConnEvent::none};
}

// A content header or body frame: only after basic.deliver / basic.return on its channel.
ConnEvent AmqpConnection::on_content(ConnectionServices& s, const Frame& f, ResponseInfo& info) {
  Channel* c = find(f.channel);
  bool header = f.type == kFrameHeader;
  auto want = header ? Channel::Content::header : Channel::Content::body;
  if (!c || c->content != want || (!header && f.payload.size() > c->content_left)) {
    s.count(m_[error]);
    info.error = "amqp_unexpected_frame";
    return ConnEvent::fatal;
  }
  if (header) {
    Reader in(f.payload);
    in.u16();  // class
    in.u16();  // weight
    c->content_left = in.u64();
    if (in.bad) {
      s.count(m_[error]);
      info.error = "amqp_bad_frame";
      return ConnEvent::fatal;
    }
    c->content = Channel::Content::body;
  } else {
    c->content_left -= f.payload.size();
  }
  if (c->content_left == 0) content_done(s, *c);
  return ConnEvent::none;
}

// The whole message arrived: a delivery is counted, and acknowledged when the consumer acks.
void AmqpConnection::content_done(ConnectionServices& s, Channel& c) {
  c.content = Channel::Content::none;
  if (!c.content_is_delivery) return;
  s.count(m_[delivered]);
  if (c.ack) send_frames(s, [&](std::string& b) { basic_ack(b, c.id, c.content_tag); });
}

// The pending request's answer, when `id` on `channel` is what it waits for.
// On another channel it is not ours (Tsung goes on waiting); another method on ours is
// unexpected: counted, and the user ends.
ConnEvent AmqpConnection::expected(ConnectionServices& s, std::uint32_t id, std::uint16_t channel,
                                   ResponseInfo& info) {
  if (expect_channel_ != channel) return ConnEvent::none;
  if (expect_ == id) {
    expect_ = 0;
    return ConnEvent::complete;
  }
  s.count(m_[unexpected]);
  info.error = "amqp_unexpected";
  return ConnEvent::fatal;
}

ConnEvent AmqpConnection::on_method(ConnectionServices& s, bool awaiting, std::uint16_t channel,
                                   std::span<const char> payload, ResponseInfo& info) {
  Reader in(payload);
  std::uint32_t id = in.u32();
  switch (id) {
    case method::basic_deliver: {
      in.shortstr();  // consumer tag
      std::uint64_t tag = in.u64();
      if (in.bad) {
        s.count(m_[error]);
        info.error = "amqp_bad_frame";
        return ConnEvent::fatal;
      }
      Channel& c = find_or_add(channel);  // counted and acked when its content is complete
      c.content = Channel::Content::header;
      c.content_is_delivery = true;
      c.content_tag = tag;
      return ConnEvent::none;
    }
    case method::basic_return: {  // an unroutable mandatory message comes back with its content
      Channel& c = find_or_add(channel);
      c.content = Channel::Content::header;
      c.content_is_delivery = false;
      break;
    }
    case method::basic_ack:
    case method::basic_nack: {
      std::uint64_t tag = in.u64();
      bool multiple = in.u8() & 1;
      on_confirm(s, channel, tag, multiple, id == method::basic_ack);
      return ConnEvent::none;
    }
    case method::connection_close: {
      std::uint16_t code = in.u16();
      send_frames(s, [](std::string& b) { empty_method(b, 0, method::connection_close_ok); });
      if (awaiting && expect_ == method::connection_close_ok) {  // both sides closed at once
        s.count(m_[closed]);
        return ConnEvent::close;
      }
      if (awaiting) s.count(m_[unexpected]);
      phase_ = Phase::idle;
      info.error = reply_code_name(code);
      return ConnEvent::fatal;
    }
    case method::channel_close: {
      std::uint16_t code = in.u16();
      send_frames(s, [&](std::string& b) { empty_method(b, channel, method::channel_close_ok); });
      drop_channel(channel);  // its unconfirmed publishes will never be confirmed
      info.error = reply_code_name(code);
      if (awaiting && expect_channel_ == channel && expect_ != 0) {
        s.count(m_[unexpected]);
        expect_ = 0;
        return ConnEvent::failed;  // the request failed; the connection and the user go on
      }
      s.error(info.error);
      return ConnEvent::none;
    }
    case method::channel_flow: {
      bool active = in.u8() & 1;
      send_frames(s, [&](std::string& b) {
        std::size_t frame = begin_method(b, channel, method::channel_flow_ok);
        Writer{b}.u8(active ? 1 : 0);
        end_frame(b, frame);
      });
      return ConnEvent::none;
    }
    case method::connection_start: {
      if (!awaiting || phase_ != Phase::start) break;
      in.u8();
      in.u8();
      in.skip_table();
      std::string_view mechanisms = in.longstr();
      bool plain = false;  // mechanisms: a space-separated list
      for (std::size_t at = 0; at < mechanisms.size() && !plain;) {
        std::size_t end = std::min(mechanisms.find(' ', at), mechanisms.size());
        plain = mechanisms.substr(at, end - at) == "PLAIN";
        at = end + 1;
      }
      if (in.bad || !plain) {
        s.count(m_[error]);
        info.error = "amqp_no_plain_mechanism";
        return ConnEvent::fatal;
      }
      send_frames(s, [&](std::string& b) { connection_start_ok(b, options_.username, options_.password); });
      phase_ = Phase::tune;
      return ConnEvent::none;
    }
    case method::connection_tune: {
      if (!awaiting || phase_ != Phase::tune) break;
      std::uint16_t channel_max = in.u16();
      std::uint32_t frame_max = in.u32();
      in.u16();  // the server's heartbeat: ours is the option's, as in Tsung
      channel_max_ = channel_max ? channel_max : 65535;
      std::uint64_t limit = std::min<std::uint64_t>(kClientFrameMax, max_frame_size_);
      if (frame_max) limit = std::min<std::uint64_t>(limit, frame_max);
      // AMQP's minimum is 4096, but never above what the engine lets a frame be (max_frame_size):
      // what we advertise is what we accept.
      limit = std::max<std::uint64_t>(limit, 4096);
      frame_max_ = static_cast<std::uint32_t>(std::min<std::uint64_t>(limit, max_frame_size_));
      send_frames(s, [&](std::string& b) {
        connection_tune_ok(b, channel_max_, frame_max_, options_.heartbeat);
        connection_open(b, opening_ ? std::string_view(opening_->vhost) : "/");
      });
      phase_ = Phase::opening;
      if (options_.heartbeat > 0) {
        heartbeat_ = std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(options_.heartbeat / 2.0));
        heartbeat_next_ = SteadyClock::now() + heartbeat_;
        arm(s);
      }
      return ConnEvent::none;
    }
    case method::connection_open_ok:
      if (!awaiting || phase_ != Phase::opening) break;
      phase_ = Phase::open;
      s.count(m_[connected]);
      return expected(s, id, channel, info);
    case method::channel_open_ok:
      if (!awaiting) break;
      if (expect_ == id && expect_channel_ == channel) find_or_add(channel);
      if (ConnEvent e = expected(s, id, channel, info); e != ConnEvent::complete) return e;
      s.count(m_[channel_opened]);
      return ConnEvent::complete;
    case method::channel_close_ok: {
      if (!awaiting) break;
      if (ConnEvent e = expected(s, id, channel, info); e != ConnEvent::complete) return e;
      drop_channel(channel);
      s.count(m_[channel_closed]);
      return ConnEvent::complete;
    }
    case method::confirm_select_ok:
      if (!awaiting) break;
      if (ConnEvent e = expected(s, id, channel, info); e != ConnEvent::complete) return e;
      if (Channel& c = find_or_add(channel); c.next_seqno == 0) {
        c.next_seqno = 1;
        c.first = 1;
      }
      return ConnEvent::complete;
    case method::basic_qos_ok:
      if (!awaiting) break;
      return expected(s, id, channel, info);
    case method::basic_consume_ok:
      if (!awaiting) break;
      if (ConnEvent e = expected(s, id, channel, info); e != ConnEvent::complete) return e;
      s.count(m_[consumer]);
      return ConnEvent::complete;
    case method::connection_close_ok:
      if (!awaiting) break;
      if (ConnEvent e = expected(s, id, channel, info); e != ConnEvent::complete) return e;
      s.count(m_[closed]);
      phase_ = Phase::idle;
      return ConnEvent::close;
    default:
      break;
  }
  // Anything else (basic.return, basic.cancel, connection.blocked, ...) is not an answer; on the
  // channel the pending request waits on, Tsung counts it as unexpected and gives up.
  bool async = (id >> 16) == 60 || id == method_id(10, 60) || id == method_id(10, 61);  // basic.*, blocked
  if (awaiting && expect_ != 0 && channel == expect_channel_ && !async) {
    s.count(m_[unexpected]);
    info.error = "amqp_unexpected";
    return ConnEvent::fatal;
  }
  return ConnEvent::none;
}

void AmqpConnection::on_confirm(ConnectionServices& s, std::uint16_t channel, std::uint64_t tag, bool multiple,
                                bool ack) {
  Channel* c = find(channel);
  if (!c || c->next_seqno == 0 || tag < c->first) return;
  std::size_t pending = c->window.size() - c->head;
  if (pending == 0) return;
  auto settle = [&](std::size_t index) {
    if (c->window[index]) return;
    c->window[index] = 1;
    s.count(m_[ack ? confirmed : unconfirmed]);
  };
  std::uint64_t offset = tag - c->first;
  if (multiple) {
    std::uint64_t last = std::min<std::uint64_t>(offset, pending - 1);
    for (std::uint64_t i = 0; i <= last; ++i) settle(c->head + i);
  } else if (offset < pending) {
    settle(c->head + offset);
  }
  while (c->head < c->window.size() && c->window[c->head]) {
    ++c->head;
    ++c->first;
  }
  if (c->head > 1024 && c->head * 2 > c->window.size()) {
    c->window.erase(c->window.begin(), c->window.begin() + static_cast<std::ptrdiff_t>(c->head));
    c->head = 0;
  }
}

void AmqpConnection::drop_channel(std::uint16_t id) {
  Channel* c = find(id);
  if (c) channels_.erase(channels_.begin() + (c - channels_.data()));
}

ConnEvent AmqpConnection::on_timer(ConnectionServices& s) {
  if (deferred_ != ConnEvent::none) {
    ConnEvent event = deferred_;
    deferred_ = ConnEvent::none;
    if (event != ConnEvent::fatal) arm(s);
    return event;
  }
  auto now = SteadyClock::now();
  ConnEvent event = ConnEvent::none;
  if (waiting_ && now >= wait_deadline_) {
    waiting_ = false;  // waitForConfirms / waitForMessages: over after `timeout`, untimed
    event = ConnEvent::waited;
  }
  if (heartbeat_.count() > 0 && now >= heartbeat_next_) {
    send_frames(s, [](std::string& b) { heartbeat(b); });
    heartbeat_next_ = now + heartbeat_;
  }
  arm(s);
  return event;
}

// Tsung's ts_config_amqp: which attributes each type reads, with its defaults.
std::shared_ptr<const RequestSpec> parse_amqp(pugi::xml_node node, const RequestParseContext& ctx) {
  XmlElement el(node);
  std::string type_text = el.required("type");
  auto found = std::find(std::begin(kTypeNames), std::end(kTypeNames), type_text);
  if (found == std::end(kTypeNames)) {
    std::string list;
    for (std::string_view n : kTypeNames) list += (list.empty() ? "" : ", ") + std::string(n);
    el.fail("type", "unknown amqp type '" + type_text + "', expected one of " + list);
  }
  auto r = std::make_shared<AmqpRequest>();
  r->type = static_cast<Type>(found - std::begin(kTypeNames));
  bool subst = ctx.subst;
  auto channel = [&](std::string_view fallback) {
    r->channel = el.template_attr("channel", subst, fallback);
    if (!r->channel.is_literal()) return;
    std::string_view text = r->channel.literal();
    int min = r->type == Type::channel_open ? 0 : 1;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), r->literal_channel);
    if (ec != std::errc{} || end != text.data() + text.size() || r->literal_channel < min || r->literal_channel > 65535)
      el.fail("channel", "attribute channel: expected a channel number from " + std::to_string(min) +
                             " to 65535, got '" + std::string(text) + "'");
  };
  auto short_name = [&](const char* name, const Template& t) {
    if (t.is_literal() && t.literal().size() > 255)
      el.fail(name, std::string("attribute ") + name + ": longer than 255 bytes (an AMQP short string)");
  };
  switch (r->type) {
    case Type::connection_open:
      r->vhost = el.optional("vhost", "/");
      if (r->vhost.size() > 255) el.fail("vhost", "attribute vhost: longer than 255 bytes (an AMQP short string)");
      break;
    case Type::connection_close:
      break;
    case Type::channel_open:
      channel("0");  // 0: the next free channel number
      break;
    case Type::channel_close:
    case Type::confirm_select:
      channel("1");
      break;
    case Type::basic_qos:
      channel("1");
      r->prefetch_size = static_cast<std::uint32_t>(el.integer("prefetch_size", 0, 0, 0xFFFFFFFF));
      r->prefetch_count = static_cast<std::uint16_t>(el.integer("prefetch_count", 0, 0, 65535));
      break;
    case Type::basic_publish:
      channel("1");
      r->exchange = el.template_attr("exchange", subst, "");
      r->routing_key = el.template_attr("routing_key", subst, "/");
      short_name("exchange", r->exchange);
      short_name("routing_key", r->routing_key);
      r->payload_size = static_cast<std::size_t>(el.integer("payload_size", 100, 0, kMaxPayloadSize));
      r->persistent = el.boolean("persistent", false);
      r->payload = el.template_attr("payload", subst, "");
      // As in Tsung, a non-empty payload overrides payload_size.
      r->has_payload = !r->payload.is_literal() || !r->payload.literal().empty();
      if (r->payload.is_literal() && r->has_payload && node.attribute("payload_size"))
        el.fail("payload_size", "attribute payload_size: the non-empty payload is sent instead (as in Tsung); "
                                "remove one of them");
      break;
    case Type::basic_consume:
      channel("1");
      r->queue = el.template_attr("queue", subst, "");
      short_name("queue", r->queue);
      r->ack = el.boolean("ack", false);
      break;
    case Type::wait_confirms:
      r->timeout = el.number("timeout", 1, 0, 1e6);
      break;
    case Type::wait_messages:
      r->timeout = el.number("timeout", 60, 0, 1e6);
      break;
  }
  el.finish();
  if (!element_text(node).empty()) fail_at(node, "<amqp> takes no text (its attributes say everything)");
  for (pugi::xml_node child : node.children())
    if (child.type() == pugi::node_element) fail_at(child, "<amqp> takes no child elements");
  return r;
}

class AmqpProtocol final : public Protocol {
 public:
  std::string_view element() const override { return "amqp"; }
  std::string_view session_type() const override { return "ts_amqp"; }
  std::shared_ptr<const RequestSpec> parse_request(pugi::xml_node element, const RequestParseContext& ctx) const override {
    return parse_amqp(element, ctx);
  }
  bool connection_level() const override { return true; }
  std::unique_ptr<Connection> open_connection(const ConnectionContext& ctx) const override {
    const auto* options = static_cast<const AmqpOptions*>(ctx.options);
    return std::make_unique<AmqpConnection>(options ? *options : default_options(), ctx.max_frame_size);
  }
  std::shared_ptr<const ProtocolOptions> parse_options(std::span<const pugi::xml_node> nodes) const override {
    auto options = std::make_shared<AmqpOptions>();
    for (pugi::xml_node node : nodes) {
      XmlElement el(node);
      el.ignore({"type"});
      std::string name = el.choice("name", {"username", "password", "heartbeat"}, "");
      if (name.empty()) el.fail("name", "missing attribute 'name' (username, password or heartbeat)");
      if (name == "username") options->username = el.optional("value", "guest");
      else if (name == "password") options->password = el.optional("value", "guest");
      else options->heartbeat = static_cast<std::uint16_t>(el.integer("value", 600, 0, 65535));
      el.finish();
    }
    return options;
  }
};

}  // namespace
}  // namespace loadctl::amqp

void loadctl_register_amqp(loadctl::ProtocolRegistry& registry) {
  registry.add(std::make_unique<loadctl::amqp::AmqpProtocol>());
}
