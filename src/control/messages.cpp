#include "control/messages.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "loadctl/wire.hpp"

namespace loadctl::control {

const char* to_string(MsgType type) {
  switch (type) {
    case MsgType::hello: return "hello";
    case MsgType::welcome: return "welcome";
    case MsgType::reject: return "reject";
    case MsgType::setup: return "setup";
    case MsgType::ready: return "ready";
    case MsgType::setup_failed: return "setup_failed";
    case MsgType::go: return "go";
    case MsgType::stats: return "stats";
    case MsgType::done: return "done";
    case MsgType::stop: return "stop";
    case MsgType::heartbeat: return "heartbeat";
    case MsgType::bye: return "bye";
    case MsgType::handover: return "handover";
    case MsgType::log: return "log";
    case MsgType::barrier: return "barrier";
    case MsgType::release: return "release";
    case MsgType::rate: return "rate";
    case MsgType::abort: return "abort";
  }
  return "unknown";
}

std::string Hello::encode() const {
  std::string out;
  wire::Writer w(out);
  w.str(kMagic);
  w.u32(version);
  w.str(token);
  w.u32(agent_id);
  w.str(hostname);
  w.u32(pid);
  w.str(software_version);
  w.str(facts.encode());
  return out;
}

std::optional<Hello> Hello::decode(std::string_view payload) {
  wire::Reader r(payload);
  if (r.str() != kMagic) return std::nullopt;
  Hello h;
  h.version = r.u32();
  h.token = r.str();
  h.agent_id = r.u32();
  h.hostname = r.str();
  h.pid = r.u32();
  h.software_version = r.str();
  if (!r.ok()) return std::nullopt;
  if (r.at_end()) return h;  // a peer of protocol version 4 or older: the version check refuses it
  std::string facts = r.str();
  if (!r.ok() || !r.at_end() || !h.facts.decode(facts)) return std::nullopt;
  return h;
}

std::string Setup::encode() const {
  std::string out;
  wire::Writer w(out);
  w.str(scenario_name);
  w.str(scenario_text);
  w.str(plan);
  w.u32(threads);
  w.u32(agent_count);
  w.u32(static_cast<std::uint32_t>(files.size()));
  for (const DataFile& f : files) {
    w.str(f.id);
    w.str(f.path);
    w.u32(static_cast<std::uint32_t>(f.lines.size()));
    for (const std::string& line : f.lines) w.str(line);
  }
  w.u32(static_cast<std::uint32_t>(plugins.size()));
  for (const PluginFile& p : plugins) {
    w.str(p.name);
    w.str(p.bytes);
  }
  w.u32(static_cast<std::uint32_t>(exclude_tags.size()));
  for (const std::string& tag : exclude_tags) w.str(tag);
  w.u32(ssl_session_lifetime);
  w.f64(arrival_lag_limit);
  return out;
}

std::optional<Setup> Setup::decode(std::string_view payload) {
  wire::Reader r(payload);
  Setup s;
  s.scenario_name = r.str();
  s.scenario_text = r.str();
  s.plan = r.str();
  s.threads = r.u32();
  s.agent_count = r.u32();
  std::uint32_t nfiles = r.u32();
  for (std::uint32_t i = 0; i < nfiles && r.ok(); ++i) {
    DataFile f;
    f.id = r.str();
    f.path = r.str();
    std::uint32_t nlines = r.u32();
    for (std::uint32_t j = 0; j < nlines && r.ok(); ++j) f.lines.push_back(r.str());
    s.files.push_back(std::move(f));
  }
  std::uint32_t nplugins = r.u32();
  for (std::uint32_t i = 0; i < nplugins && r.ok(); ++i) {
    PluginFile p;
    p.name = r.str();
    p.bytes = r.str();
    s.plugins.push_back(std::move(p));
  }
  std::uint32_t ntags = r.u32();
  for (std::uint32_t i = 0; i < ntags && r.ok(); ++i) s.exclude_tags.push_back(r.str());
  s.ssl_session_lifetime = r.u32();
  s.arrival_lag_limit = r.f64();
  if (!(s.arrival_lag_limit > 0)) return std::nullopt;
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return s;
}

std::string Go::encode() const {
  std::string out;
  wire::Writer(out).f64(delay);
  return out;
}

std::optional<Go> Go::decode(std::string_view payload) {
  wire::Reader r(payload);
  Go g;
  g.delay = r.f64();
  if (!r.ok() || !r.at_end() || !(g.delay > -86400 && g.delay < 3600)) return std::nullopt;
  return g;
}

std::string Done::encode() const {
  std::string out;
  wire::Writer(out).u8(static_cast<std::uint8_t>((hard_stopped ? 1 : 0) | (test_aborted ? 2 : 0)));
  return out;
}

std::optional<Done> Done::decode(std::string_view payload) {
  wire::Reader r(payload);
  std::uint8_t flags = r.u8();
  if (!r.ok() || !r.at_end() || flags > 3) return std::nullopt;
  return Done{(flags & 1) != 0, (flags & 2) != 0};
}

namespace {

bool is_control(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }

std::string one_line(std::string_view text) {
  std::string out(text.substr(0, kMaxReason));
  for (char& c : out)
    if (is_control(c)) c = ' ';
  return out;
}

std::optional<std::string> decode_reason(std::string_view payload) {
  auto text = decode_text(payload);
  if (!text || text->size() > kMaxReason || std::any_of(text->begin(), text->end(), is_control)) return std::nullopt;
  return text;
}

}  // namespace

std::string TestAbort::encode() const { return encode_text(one_line(cause)); }

std::optional<TestAbort> TestAbort::decode(std::string_view payload) {
  auto cause = decode_reason(payload);
  if (!cause || cause->empty()) return std::nullopt;
  return TestAbort{std::move(*cause)};
}

std::string Stop::encode() const { return reason.empty() ? std::string() : encode_text(one_line(reason)); }

std::optional<Stop> Stop::decode(std::string_view payload) {
  if (payload.empty()) return Stop{};
  auto reason = decode_reason(payload);
  if (!reason) return std::nullopt;
  return Stop{std::move(*reason)};
}

std::string encode_text(std::string_view text) {
  std::string out;
  wire::Writer(out).str(text);
  return out;
}

std::optional<std::string> decode_text(std::string_view payload) {
  wire::Reader r(payload);
  std::string s = r.str();
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return s;
}

}  // namespace loadctl::control

namespace loadctl::control {

std::string encode_rate(double factor) { return encode_text(fmt::format("{}", factor)); }

std::optional<double> decode_rate(std::string_view payload) {
  auto text = decode_text(payload);
  if (!text || text->empty() || text->size() > 32) return std::nullopt;
  double f = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), f);
  if (ec != std::errc() || end != text->data() + text->size() || !(f >= 0) || f > kMaxWireRateFactor) return std::nullopt;
  return f;
}

}  // namespace loadctl::control
