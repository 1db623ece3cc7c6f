#pragma once
// The controller's side of thinktime value="wait_global" (Tsung's ts_timer): agents report how
// many of their users reached the rendezvous; once global_number of them wait across all agents,
// whole groups are released, the users that arrived first going first; an incomplete group is
// released when no user arrived for global_ack_timeout (release_all).

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace loadctl::controller {

class BarrierBook {
 public:
  /// An agent never has this many users waiting: a report past it is refused (a broken peer).
  static constexpr std::uint64_t kMaxWaiting = 1'000'000'000;

  explicit BarrierBook(std::uint64_t group) : group_(group) {}

  /// A report's count: a decimal number of at least 1, nothing else.
  static std::optional<std::uint64_t> parse_count(std::string_view text) {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || n == 0) return std::nullopt;
    return n;
  }

  /// `count` more users of `agent` wait. False (nothing recorded) when the agent would then have
  /// more than kMaxWaiting waiting.
  bool arrive(std::size_t agent, std::uint64_t count) {
    if (count == 0 || count > kMaxWaiting - std::min(kMaxWaiting, waiting_of(agent))) return false;
    if (!queue_.empty() && queue_.back().first == agent) queue_.back().second += count;
    else queue_.emplace_back(agent, count);
    waiting_ += count;
    return true;
  }

  /// The agent is gone: its waiting users no longer count toward a group.
  void drop(std::size_t agent) {
    std::erase_if(queue_, [&](const auto& entry) {
      if (entry.first != agent) return false;
      waiting_ -= entry.second;
      return true;
    });
  }

  /// Releases every whole group now waiting, oldest reports first: (agent, users) with at most
  /// one entry per agent, in the order of their oldest report.
  std::vector<std::pair<std::size_t, std::uint64_t>> release() {
    if (group_ == 0 || waiting_ < group_) return {};
    return take(waiting_ / group_ * group_);
  }

  /// Releases every user waiting, the incomplete group too (Tsung's ts_timer after
  /// global_ack_timeout without an arrival), in the same order as release().
  std::vector<std::pair<std::size_t, std::uint64_t>> release_all() { return take(waiting_); }

  std::uint64_t waiting() const { return waiting_; }
  std::uint64_t waiting_of(std::size_t agent) const {
    std::uint64_t n = 0;
    for (const auto& [a, count] : queue_)
      if (a == agent) n += count;
    return n;
  }

 private:
  std::vector<std::pair<std::size_t, std::uint64_t>> take(std::uint64_t left) {
    std::vector<std::pair<std::size_t, std::uint64_t>> out;
    waiting_ -= left;
    while (left > 0) {
      // Not a structured binding: clang 14 (the sanitizer build's compiler) cannot capture one.
      const std::size_t agent = queue_.front().first;
      std::uint64_t& count = queue_.front().second;
      std::uint64_t k = std::min(left, count);
      auto it = std::find_if(out.begin(), out.end(), [&](const auto& e) { return e.first == agent; });
      if (it == out.end()) out.emplace_back(agent, k);
      else it->second += k;
      left -= k;
      count -= k;
      if (count == 0) queue_.pop_front();
    }
    return out;
  }

  std::uint64_t group_;
  std::uint64_t waiting_ = 0;
  std::deque<std::pair<std::size_t, std::uint64_t>> queue_;  ///< (agent, users) in report order
};

}  // namespace loadctl::controller
