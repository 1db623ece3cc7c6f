#pragma once
// Tsung's ts_jabber: the <jabber> request element, the ts_jabber options and what a
// connection needs to encode a request (ts_jabber_common.erl).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "jabber_users.hpp"
#include "loadctl/dynamics.hpp"
#include "loadctl/protocol.hpp"
#include "loadctl/template.hpp"

namespace loadctl::jabber {

/// <option type="ts_jabber" name=".." value=".."/> (defaults from Tsung's jabber.hrl).
struct JabberOptions final : ProtocolOptions {
  std::string username = "tsunguser";
  std::string passwd = "sesame";
  std::string domain = "erlang-projects.org";
  std::uint64_t userid_max = 10000;
  std::optional<std::string> muc_service;
  std::optional<std::string> pubsub_service;
  /// random_from_fileid: a random destination is the first field of a random line of that file.
  std::vector<std::string> random_users;
  /// offline_from_fileid: users (name, password: a line's first two fields) that follow the ids
  /// 1..userid_max in the pool (id userid_max + 1 + index), in Tsung's order (sorted).
  std::vector<std::pair<std::string, std::string>> file_users;
  /// Tsung's ts_user_server, for this process; made at the end of parse_options.
  std::unique_ptr<UserPool> users;
  /// vhost_file (when no domain option is given, as in Tsung): a user's domain is a random line of
  /// that file, chosen at its first request, and its id comes from that domain's own pool (one
  /// per domain: a domain on several lines is chosen as often, as in Tsung, with one pool).
  std::vector<std::string> vhosts;
  std::vector<std::size_t> vhost_pool;  ///< per line of vhosts: its domain's index in vhost_pools
  std::vector<std::unique_ptr<UserPool>> vhost_pools;
  bool domain_set = false;  ///< a domain option was given (it wins over vhost_file, as in Tsung)

  const std::string& domain_of(std::size_t vhost) const { return vhosts.empty() ? domain : vhosts[vhost]; }
  UserPool& pool_of(std::size_t vhost) const { return vhosts.empty() ? *users : *vhost_pools[vhost_pool[vhost]]; }

  /// The username and password of pool id `id` (prefix + id, or a file user's).
  std::string user_name(std::uint64_t id) const {
    return id > userid_max ? file_users[id - userid_max - 1].first : username + std::to_string(id);
  }
  std::string user_passwd(std::uint64_t id) const {
    return id > userid_max ? file_users[id - userid_max - 1].second : passwd + std::to_string(id);
  }
};

enum class Type : std::uint8_t {
  connect, close, starttls, wait, raw,
  auth_get, auth_set_plain, auth_set_digest, auth_set_sip,
  auth_sasl, auth_sasl_anonymous, auth_sasl_external, auth_sasl_bind, auth_sasl_session,
  registration,
  presence, presence_initial, presence_final, presence_broadcast, presence_directed, presence_subscribe,
  presence_roster,
  chat,
  roster_add, roster_rename, roster_remove, roster_get,
  muc_join, muc_chat, muc_nick, muc_exit,
  pubsub_create, pubsub_delete, pubsub_subscribe, pubsub_unsubscribe, pubsub_publish,
  privacy_get_names, privacy_set_active,
  ping,
};

/// global: sent, then the user waits until global_number users reached such a request (or a
/// wait_global thinktime) across the run; parse: the first element received, or matching regexp.
enum class Ack : std::uint8_t { local, no_ack, bidi_ack, global, parse };
enum class Dest : std::uint8_t { random, online, offline, unique, previous };

/// What a connection waits for after sending a request with ack="local|bidi_ack".
enum class Awaits : std::uint8_t {
  any,        ///< any top-level element (Tsung: any data)
  stream,     ///< the stream header (and <stream:features> for version 1.0)
  iq,         ///< the <iq> answering the id we sent
  sasl,       ///< <success> or <failure>
  proceed,    ///< <proceed> then the TLS handshake
  stream_end  ///< </stream:stream>
};

class JabberRequest final : public RequestSpec {
 public:
  Type type = Type::chat;
  std::string type_name;
  Ack ack = Ack::no_ack;
  Dest dest = Dest::random;
  std::size_t size = 0;
  bool stamped = false;
  std::optional<Template> data;
  std::string show = "chat", status = "Available";
  Template resource{"tsung", false};
  std::optional<Template> room, nick, node, subid;
  bool node_user_root = false;  ///< node="": the user's root node
  std::string group = "Tsung Group";
  std::optional<std::string> node_type;
  std::string version = "1.0";  ///< connect/close: "1.0", "legacy", "websocket" (RFC 7395 framing) or any
  std::shared_ptr<const Regex> regexp;
  std::optional<Template> auth_username, auth_passwd;  ///< <xmpp_authenticate>
  const JabberOptions* options = nullptr;
  std::shared_ptr<const JabberOptions> own_options;  ///< parsed without options (tools, tests)

  Awaits awaits() const;
  bool is_auth() const;
  /// Without a connection (never used by the engine, which encodes through the connection):
  /// the request as a fresh user would send it.
  void encode(const EncodeContext& ctx, std::string& out) const override;
  bool awaits_response() const override { return ack != Ack::no_ack; }
  bool global_ack() const override { return ack == Ack::global; }
  ParseResult parse_response(ParserState&, std::span<const char>, ResponseInfo& info) const override {
    info.error = "xmpp_not_connection_level";
    return {ParseStatus::error, 0};
  }
  std::string describe() const override { return "jabber " + type_name; }
};

}  // namespace loadctl::jabber
