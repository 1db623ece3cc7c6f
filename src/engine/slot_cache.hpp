#pragma once
// A worker's dynamic client certificates (<set_option name="certificate"> with %%var%%): each
// distinct rendered certificate gets a slot (its TLS context and resumable sessions), found
// again by its key. Per-user certificates would make that grow with the users of a run, so the
// cache is bounded: once it holds `limit` keys, adding one first frees every slot no live user
// holds (the caller says which) and forgets the refused keys (a file that could not be loaded:
// loaded again on next use). If live users hold them all, the limit becomes twice what is left,
// so that a full cache costs a scan per `limit` additions, not one per addition.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace loadctl::engine {

class SlotCache {
 public:
  static constexpr std::uint32_t kRefused = UINT32_MAX;

  explicit SlotCache(std::size_t limit) : limit_(limit), base_limit_(limit) {}

  /// The key's slot, kRefused, or nothing for a key not seen (or forgotten) yet.
  std::optional<std::uint32_t> find(const std::string& key) const {
    auto it = slots_.find(key);
    if (it == slots_.end()) return std::nullopt;
    return it->second;
  }

  /// Called before adding a key: when full, drops the keys whose slot `in_use(slot)` denies,
  /// calling `freed(slot)` for each (the slot number is then given again by add).
  template <class InUse, class Freed>
  void make_room(InUse&& in_use, Freed&& freed) {
    if (!full()) return;
    std::erase_if(slots_, [&](const auto& entry) {
      if (entry.second == kRefused) return true;
      if (in_use(entry.second)) return false;
      freed(entry.second);
      free_.push_back(entry.second);
      return true;
    });
    limit_ = std::max(base_limit_, 2 * slots_.size());
  }

  /// Gives `key` a slot: a freed one first, else the next one (slots() grows by one).
  std::uint32_t add(std::string key) {
    std::uint32_t slot = next_;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      ++next_;
    }
    slots_[std::move(key)] = slot;
    return slot;
  }

  /// Remembers that `key` could not be loaded (until the next make_room that trims).
  void refuse(std::string key) { slots_[std::move(key)] = kRefused; }

  std::size_t size() const { return slots_.size(); }
  /// The next make_room trims.
  bool full() const { return slots_.size() >= limit_; }
  /// Slots ever given: [0, slots()).
  std::uint32_t slots() const { return next_; }

 private:
  std::unordered_map<std::string, std::uint32_t> slots_;
  std::vector<std::uint32_t> free_;
  std::uint32_t next_ = 0;
  std::size_t limit_;
  std::size_t base_limit_;
};

}  // namespace loadctl::engine
