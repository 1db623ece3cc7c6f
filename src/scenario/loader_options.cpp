// <options>: global settings. Tsung gives connect_timeout, idle_timeout and retry_timeout in
// milliseconds; the model holds seconds.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "loadctl/input_file.hpp"
#include "scenario/loader_internal.hpp"

namespace loadctl::detail {
namespace {

/// bosh_path, websocket_path: written into a request line, so a path ("/..."), without spaces
/// or control characters.
std::string carrier_path_option(XmlElement& el, const char* fallback) {
  std::string value = el.optional("value", fallback);
  if (!value.starts_with('/') ||
      std::any_of(value.begin(), value.end(), [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; }))
    el.fail("value", fmt::format("'{}' is no request path (a '/' first, no space or control character)", value));
  return value;
}

/// Returns false for an option of a protocol (type="ts_..."), which its plugin parses.
bool load_option(pugi::xml_node node, Options& options, const LoadContext& ctx) {
  XmlElement el(node);
  std::string name = el.required("name");
  std::optional<std::string> type = el.maybe("type");
  if (name == "global_number") {  // Tsung's examples give it a type (ts_jabber); any session type uses it
    options.global_number = static_cast<std::uint64_t>(el.integer("value", std::nullopt, 1, 1'000'000'000));
    el.finish();
    el.children({});
    return true;
  }
  if (type) return false;  // a protocol's option: its plugin parses it (Protocol::parse_options)
  if (name == "user_agent") fail_at(node, "option 'user_agent' needs type=\"ts_http\"");

  if (name == "thinktime") {
    ThinkTime think;
    think.random = el.boolean("random", false);
    if (el.has("min") || el.has("max")) {
      think.min = el.number("min", std::nullopt, 0);
      think.max = el.number("max", std::nullopt, 0);
      if (*think.max < *think.min) el.fail("max", "thinktime max is less than min");
    }
    if (el.has("value") || !think.min) think.value = el.number("value", std::nullopt, 0);
    options.thinktime_override = el.boolean("override", false);
    options.thinktime = think;
  } else if (name == "connect_timeout") {
    options.connect_timeout = el.number("value", std::nullopt, 0) / 1000;
  } else if (name == "idle_timeout") {
    options.idle_timeout = el.number("value", std::nullopt, 0) / 1000;
  } else if (name == "global_ack_timeout") {  // ms, as Tsung's; bounds ack="global" requests
    options.global_ack_timeout = el.number("value", std::nullopt, 0) / 1000;
  } else if (name == "retry_timeout") {
    options.retry_timeout = el.number("value", std::nullopt, 0) / 1000;
  } else if (name == "max_retries") {
    options.max_retries = static_cast<unsigned>(el.integer("value", std::nullopt, 0, 1'000'000));
  } else if (name == "tcp_rcv_buffer") {
    options.tcp_rcv_buffer = static_cast<unsigned>(el.integer("value", std::nullopt, 0, 1 << 30));
  } else if (name == "tcp_snd_buffer") {
    options.tcp_snd_buffer = static_cast<unsigned>(el.integer("value", std::nullopt, 0, 1 << 30));
  } else if (name == "tcp_reuseaddr") {
    options.tcp_reuseaddr = el.boolean("value", false);
  } else if (name == "hibernate") {
    // Tsung hibernates (compacts) a user's Erlang process during thinktimes longer than this;
    // a loadctl user is always that compact (docs/scenario.md). The value is still checked.
    std::string value = el.optional("value", "10");
    if (value != "infinity") el.number("value", std::nullopt, 0);
  } else if (name == "ports_range") {
    auto min = static_cast<std::uint16_t>(el.integer("min", std::nullopt, 1, 65535));
    auto max = static_cast<std::uint16_t>(el.integer("max", std::nullopt, 1, 65535));
    if (max < min) el.fail("max", "ports_range max is less than min");
    options.ports_range = std::pair{min, max};
  } else if (name == "rate_limit") {
    options.rate_limit = el.number("value", std::nullopt, 0.001) * 1024;
    options.rate_burst = el.has("max") ? el.number("max", std::nullopt, 0.001) * 1024 : 0;
  } else if (name == "max_frame_size") {  // loadctl's own: connection-level protocols' frame limit
    options.max_frame_size = static_cast<std::size_t>(el.integer("value", std::nullopt, 64, 1LL << 31));
  } else if (name == "max_capture_size") {  // loadctl's own: Tsung keeps whole responses, unbounded
    options.max_capture_size = static_cast<std::size_t>(el.integer("value", std::nullopt, 1024, 1LL << 30));
  } else if (name == "udp_rcv_buffer") {
    options.udp_rcv_buffer = static_cast<unsigned>(el.integer("value", std::nullopt, 0, 1 << 30));
  } else if (name == "udp_snd_buffer") {
    options.udp_snd_buffer = static_cast<unsigned>(el.integer("value", std::nullopt, 0, 1 << 30));
  } else if (name == "ssl_ciphers") {
    // Tsung passes the list to Erlang's ssl as OpenSSL names separated by ',' or ':'.
    std::string value = el.optional("value", "negotiate");
    std::replace(value.begin(), value.end(), ',', ':');
    options.ssl_ciphers = value == "negotiate" ? "" : value;
  } else if (name == "ssl_versions") {
    // An Erlang atom, quoted or not: 'tlsv1.2'.
    std::string value = el.optional("value", "negotiate");
    if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') value = value.substr(1, value.size() - 2);
    static constexpr std::string_view known[] = {"negotiate", "tlsv1", "tlsv1.1", "tlsv1.2", "tlsv1.3"};
    if (std::find(std::begin(known), std::end(known), value) == std::end(known))
      el.fail("value", fmt::format("unknown ssl version '{}' (expected tlsv1, tlsv1.1, tlsv1.2 or tlsv1.3)", value));
    options.ssl_version = value == "negotiate" ? "" : value;
  } else if (name == "ssl_reuse_sessions") {
    options.ssl_reuse_sessions = el.boolean("value", true);
  } else if (name == "ssl_verify") {
    options.ssl_verify = el.boolean("value", false);
  } else if (name == "bosh_path") {  // Tsung's proto_opts of its bosh and websocket server types
    options.carrier.bosh_path = carrier_path_option(el, "/http-bind/");
  } else if (name == "websocket_path") {
    options.carrier.websocket_path = carrier_path_option(el, "/chat");
  } else if (name == "websocket_frame") {
    options.carrier.websocket_text = el.choice("value", {"binary", "text"}, "binary") == "text";
  } else if (name == "websocket_subprotocols") {
    options.carrier.websocket_subprotocols = el.optional("value", "");
  } else if (name == "seed") {
    options.seed = static_cast<std::uint64_t>(el.integer("value", std::nullopt, 0));
  } else {
    el.fail("name", fmt::format("not supported yet: option '{}'", name));
  }
  el.finish();
  el.children({});
  return true;
}

}  // namespace

// Tsung reads file_server data on the controller; so does loadctl, and ships it to agents.
void load_file_server(XmlElement& el, Scenario& scenario, const LoadContext& ctx) {
  el.required("name");
  DataFile file;
  file.id = el.optional("id", "default");
  file.path = el.required("value");
  el.finish();
  el.children({});
  for (const DataFile& f : scenario.files)
    if (f.id == file.id) el.fail("id", fmt::format("duplicate file_server id '{}'", file.id));
  std::string text;
  if (ctx.shipped_files) {
    auto it = std::find_if(ctx.shipped_files->begin(), ctx.shipped_files->end(),
                           [&](const DataFile& f) { return f.id == file.id; });
    if (it == ctx.shipped_files->end()) el.fail("id", fmt::format("file_server '{}' was not shipped by the controller", file.id));
    file.lines = it->lines;
  } else {
    std::filesystem::path path(file.path);
    if (path.is_relative()) path = std::filesystem::path(ctx.scenario_dir) / path;
    std::string text;
    try {
      text = read_regular_file(path.string(), kMaxDataFileBytes);
    } catch (const std::runtime_error& e) {
      el.fail("value", fmt::format("file_server '{}': {}", file.id, e.what()));
    }
    for (std::size_t start = 0; start < text.size();) {
      std::size_t end = std::min(text.find('\n', start), text.size());
      std::string_view line(text.data() + start, end - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty()) file.lines.emplace_back(line);
      start = end + 1;
    }
    if (file.lines.empty()) el.fail("value", fmt::format("file_server '{}': {} has no lines", file.id, path.string()));
  }
  scenario.files.push_back(std::move(file));
}

void load_options(pugi::xml_node node, Scenario& scenario, const LoadContext& ctx) {
  XmlElement options(node);
  options.finish();
  std::map<std::string, std::vector<pugi::xml_node>, std::less<>> by_type;  // document order within a type
  for (pugi::xml_node child : options.children({"option"})) {
    if (XmlElement el(child); el.optional("name") == "file_server" && !el.has("type")) {
      load_file_server(el, scenario, ctx);
      continue;
    }
    if (!load_option(child, scenario.options, ctx)) by_type[child.attribute("type").value()].push_back(child);
  }
  for (auto& [type, nodes] : by_type) {
    const Protocol* protocol = ctx.registry.by_session_type(type);
    if (!protocol)
      unsupported_at(nodes.front(), fmt::format("{} option '{}'", type, nodes.front().attribute("name").value()));
    if (protocol->options_type() != type)
      fail_at(nodes.front(), nodes.front().attribute("type"),
              fmt::format("{} sessions read the options of type=\"{}\"", type, protocol->options_type()));
    scenario.protocol_options[type] = protocol->parse_options_with_files(nodes, scenario.files);
  }
}

}  // namespace loadctl::detail
