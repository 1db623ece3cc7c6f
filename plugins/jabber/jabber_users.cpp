#include "jabber_users.hpp"

#include <random>

namespace loadctl::jabber {

UserPool::UserPool(std::uint64_t userid_max, const std::vector<std::string>& file_users)
    : max_(userid_max + file_users.size()), random_max_(userid_max), state_(max_, offline) {
  for (std::size_t i = 0; i < file_users.size(); ++i) file_ids_.emplace(file_users[i], userid_max + 1 + i);
}

void UserPool::set_slice(unsigned index, unsigned count) {
  std::lock_guard lock(mutex_);
  slice_count_ = count == 0 ? 1 : count;
  slice_index_ = index % slice_count_;
}

std::optional<std::uint64_t> UserPool::next_offline_locked() {
  // The slice's ids are slice_index_ + 1 + j * slice_count_, j in 0..size-1.
  std::uint64_t size = max_ > slice_index_ ? (max_ - slice_index_ - 1) / slice_count_ + 1 : 0;
  std::uint64_t after = last_offline_ > slice_index_ ? (last_offline_ - slice_index_ - 1) / slice_count_ + 1 : 0;
  for (std::uint64_t n = 0; n < size; ++n) {
    std::uint64_t id = slice_index_ + 1 + (after + n) % size * slice_count_;  // after last_offline_, wrapping
    if (state_[id - 1] == offline) return id;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> UserPool::take_idle() {
  std::lock_guard lock(mutex_);
  auto id = next_offline_locked();
  if (!id) return std::nullopt;
  state_[*id - 1] = connected;
  last_offline_ = *id;
  if (!first_) first_ = UserKey{*id, {}};
  return id;
}

void UserPool::add_connected(const UserKey& user) {
  std::lock_guard lock(mutex_);
  if (user.id == UserKey::kNamed) {
    named_connected_.insert(user.name);
    // An offline_from_fileid user logging in by name is no longer offline (Tsung's
    // add_to_connected removes its {User, Pwd} from the offline table).
    if (auto it = file_ids_.find(user.name); it != file_ids_.end()) state_[it->second - 1] = connected;
  } else if (user.id >= 1 && user.id <= max_) {
    state_[user.id - 1] = connected;
  }
  if (!first_) first_ = user;
}

void UserPool::add_to_online(const UserKey& user) {
  std::lock_guard lock(mutex_);
  if (user.id == UserKey::kNamed) {
    if (!named_connected_.erase(user.name)) return;  // as Tsung: only a connected user goes online
  } else {
    if (user.id < 1 || user.id > max_ || state_[user.id - 1] != connected) return;
    state_[user.id - 1] = online;
  }
  online_.insert(user);
  last_online_ = user;
}

void UserPool::remove_from_online(const UserKey& user) {
  std::lock_guard lock(mutex_);
  online_.erase(user);
  if (user.id == UserKey::kNamed) named_connected_.insert(user.name);
  else if (user.id >= 1 && user.id <= max_) state_[user.id - 1] = connected;
}

void UserPool::remove_connected(const UserKey& user) {
  std::lock_guard lock(mutex_);
  online_.erase(user);
  if (user.id == UserKey::kNamed) {
    named_connected_.erase(user.name);
    if (auto it = file_ids_.find(user.name); it != file_ids_.end()) state_[it->second - 1] = offline;
  } else if (user.id >= 1 && user.id <= max_) {
    state_[user.id - 1] = offline;
  }
}

std::optional<UserKey> UserPool::online_other(const UserKey& self) {
  std::lock_guard lock(mutex_);
  auto it = last_online_ ? online_.upper_bound(*last_online_) : online_.begin();
  for (std::size_t n = 0; n < online_.size() + 1; ++n) {
    if (it == online_.end()) it = online_.begin();
    if (it == online_.end()) break;
    if (*it != self) {
      last_online_ = *it;
      return *it;
    }
    ++it;
  }
  if (online_.contains(self)) {  // alone online: Tsung's ets_iterator_next gives the user itself
    last_online_ = self;
    return self;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> UserPool::next_offline() {
  std::lock_guard lock(mutex_);
  auto id = next_offline_locked();
  if (id) last_offline_ = *id;
  return id;
}

namespace {
std::mt19937_64& rng() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return engine;
}
}  // namespace

std::optional<std::uint64_t> UserPool::random_id() {
  if (random_max_ == 0) return std::nullopt;
  return std::uniform_int_distribution<std::uint64_t>(1, random_max_)(rng());
}

std::size_t UserPool::random_index(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng()); }

std::optional<UserKey> UserPool::first() {
  std::lock_guard lock(mutex_);
  return first_;
}

}  // namespace loadctl::jabber
