#pragma once
// Encoding of <jabber> requests (Tsung's ts_jabber_common:get_message) with the state Tsung
// keeps per user: its id and credentials, the last chat destination, the last roster jid.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "jabber_request.hpp"

namespace loadctl {
class ConnectionServices;
}

namespace loadctl::jabber {

/// What Tsung keeps per session (not per connection): the user's identity, its last chat
/// destination and roster jid. Lives in the user's UserSession slot, so a reconnect keeps it;
/// the id goes back to the pool when the user ends.
struct JabberSession final : UserSession {
  const JabberOptions* options = nullptr;
  bool have_user = false;
  bool in_pool = false;  ///< the pool counts it connected (until close)
  bool have_domain = false;
  std::size_t vhost = 0;  ///< its domain among JabberOptions::vhosts (vhost_file)
  UserKey key;
  std::string username, passwd;
  std::optional<std::string> previous;   ///< Tsung's get(previous): last chat destination
  std::optional<std::string> rosterjid;  ///< last iq:roster:add jid
  ~JabberSession() override;
};

/// A connection's encoding state; `session` is the user's (the engine's slot or `owned`).
struct UserState {
  const JabberOptions* options = nullptr;
  JabberSession* session = nullptr;
  /// The session made by this connection until the engine's slot takes it (ResponseInfo::session).
  std::unique_ptr<JabberSession> owned;
  bool no_free_userid = false;  ///< the pool had no free id: the user must end
  std::uint64_t next_id = 0;
  std::string iq_id;  ///< the id of the iq just encoded (empty when the request sends none)
  bool sent_chat = false;  ///< the request just encoded sent a chat message

  /// Points `session` at the engine's slot when it holds ours, else at `owned` (made if needed).
  void attach(UserSession* slot);
};

/// Appends `s` with &, <, >, ' and " escaped (attribute values and text; the report's escaping).
void append_escaped(std::string& out, std::string_view s);

/// Appends `request` for the user `state` to `out` (nothing when Tsung sends nothing, e.g. no
/// online user to chat with: then `services` counts error_no_online when given).
void encode_request(UserState& state, const JabberRequest& request, const VariableSource* vars,
                    unsigned* missing, ConnectionServices* services, std::string& out);

/// "@@@<node>,<mega>;<secs>;<micro>@@@" as Tsung stamps messages (stamped="true").
void append_stamp(std::string& out);
/// The latency in ms of a stamp found in `text` made by this process, or nothing.
std::optional<double> stamp_latency_ms(std::string_view text);

std::string sha1_hex(std::string_view in);
std::string md5_hex(std::string_view in);
std::string base64(std::string_view in);

}  // namespace loadctl::jabber
