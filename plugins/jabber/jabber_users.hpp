#pragma once
// Tsung's ts_user_server for one loadctl process: which simulated XMPP users are offline,
// connected or online, so that a user gets a free id at its first request and finds the
// destinations of destination="online|offline|random|unique". Shared by all worker threads of
// an agent (one mutex); see README.md for the difference with Tsung's controller-wide server.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace loadctl::jabber {

/// A user: a numeric id (username = prefix + id), or a name given by <xmpp_authenticate>
/// (id = kNamed). Ordered as Tsung's ordered_set: ids first, then names.
struct UserKey {
  static constexpr std::uint64_t kNamed = ~std::uint64_t{0};
  std::uint64_t id = 0;
  std::string name;
  auto operator<=>(const UserKey&) const = default;
};

class UserPool {
 public:
  /// Ids 1..userid_max, then one per name of `file_users` (offline_from_fileid), offline.
  explicit UserPool(std::uint64_t userid_max, const std::vector<std::string>& file_users = {});

  /// This agent's share of the ids when several agents run the scenario: agent k (0-based) of n
  /// takes (get_idle, get_offline) only the ids i with (i - 1) mod n = k, so no two agents hand
  /// out the same id. Set at each connection (the same values for the whole run).
  void set_slice(unsigned index, unsigned count);

  /// get_idle: the next offline id (marked connected), or nothing when none is free.
  std::optional<std::uint64_t> take_idle();
  /// add_to_connected (xmpp_authenticate users).
  void add_connected(const UserKey& user);
  void add_to_online(const UserKey& user);       ///< presence:initial
  void remove_from_online(const UserKey& user);  ///< presence:final
  void remove_connected(const UserKey& user);    ///< close (or the connection ended)
  /// get_online: another online user than `self`, round robin; `self` when it is the only one
  /// online (as Tsung); nothing when nobody is.
  std::optional<UserKey> online_other(const UserKey& self);
  /// get_offline: the next offline id, round robin.
  std::optional<std::uint64_t> next_offline();
  /// get_id: a random id in 1..userid_max; nothing when userid_max is 0.
  std::optional<std::uint64_t> random_id();
  /// A random index in 0..n-1 (n > 0): get_id's random line of random_from_fileid.
  static std::size_t random_index(std::size_t n);
  /// get_first: the first user that connected.
  std::optional<UserKey> first();

 private:
  std::optional<std::uint64_t> next_offline_locked();
  enum : std::uint8_t { offline, connected, online };
  std::mutex mutex_;
  std::uint64_t max_;                ///< userid_max + file users
  std::uint64_t random_max_;         ///< userid_max
  std::map<std::string, std::uint64_t, std::less<>> file_ids_;  ///< file user name -> its id
  std::uint64_t slice_index_ = 0, slice_count_ = 1;
  std::vector<std::uint8_t> state_;  ///< index id-1
  std::uint64_t last_offline_ = 0;
  std::set<UserKey> online_;
  std::optional<UserKey> last_online_;
  std::optional<UserKey> first_;
  std::set<std::string> named_connected_;
};

}  // namespace loadctl::jabber
