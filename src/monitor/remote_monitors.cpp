#include "monitor/remote_monitors.hpp"

#include <charconv>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace loadctl::monitor {

RemoteMonitors::RemoteMonitors(boost::asio::io_context& ctx, const std::vector<MonitorSpec>& specs,
                               std::chrono::milliseconds interval, PollSink sink,
                               std::chrono::milliseconds slow_host_period)
    : timer_(ctx), interval_(interval) {
  // An exchange must end before the next poll, inside the interval it started in. Tsung waits
  // 5 s for snmp, and 2.5 s per recv for munin: a whole munin exchange gets the snmp budget.
  auto timeout = budget(interval);
  Sink stamped = [this, sink = std::move(sink)](const MetricSet& s) { sink(s, started_); };
  unsigned slow = slow_host_every(interval, slow_host_period);
  for (const MonitorSpec& spec : specs) {
    if (spec.type == "munin") pollers_.push_back({make_munin_poller(ctx, spec, timeout, stamped), slow});
    if (spec.type == "snmp") pollers_.push_back({make_snmp_poller(ctx, spec, timeout, stamped), slow});
    if (spec.mysqladmin) pollers_.push_back({make_mysqladmin_poller(ctx, spec, timeout, stamped), 1});
  }
}

std::chrono::milliseconds RemoteMonitors::budget(std::chrono::milliseconds interval) {
  return std::min(std::chrono::milliseconds(5000), interval * 8 / 10);
}

unsigned RemoteMonitors::slow_host_every(std::chrono::milliseconds interval, std::chrono::milliseconds period) {
  if (interval.count() <= 0 || period <= interval) return 1;
  return static_cast<unsigned>((period.count() + interval.count() - 1) / interval.count());
}

void RemoteMonitors::start(std::chrono::steady_clock::time_point zero) {
  if (pollers_.empty()) return;
  next_ = zero + interval_;
  round_ = 1;
  started_ = std::chrono::steady_clock::now();
  for (auto& p : pollers_) p.poller->poll();  // the base poll, before time zero
  arm();
}

void RemoteMonitors::tick() {
  if (stopped_) return;
  started_ = std::chrono::steady_clock::now();
  for (auto& p : pollers_)
    if (round_ % p.every == 0) p.poller->poll();
  arm();
}

void RemoteMonitors::arm() {
  // Absolute boundaries: a late wake-up neither drifts the schedule nor polls twice to catch up.
  while (next_ <= std::chrono::steady_clock::now()) {
    next_ += interval_;
    ++round_;
  }
  timer_.expires_at(next_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

void RemoteMonitors::stop() {
  stopped_ = true;
  timer_.cancel();
  for (auto& p : pollers_) p.poller->stop();
}

Exchange::Exchange(boost::asio::io_context& ctx, std::string kind, std::string host, std::chrono::milliseconds timeout)
    : host_(std::move(host)), deadline_(ctx), kind_(std::move(kind)), timeout_(timeout) {}

bool Exchange::begin() {
  if (stopped_ || busy_) return false;
  busy_ = true;
  deadline_.expires_after(timeout_);
  deadline_.async_wait([this, g = generation_](const boost::system::error_code& ec) {
    if (!ec && current(g)) fail(fmt::format("no answer within {} ms", timeout_.count()));
  });
  return true;
}

void Exchange::end() {
  busy_ = false;
  ++generation_;
  deadline_.cancel();
}

void Exchange::succeed() { end(); }

void Exchange::fail(const std::string& why) {
  if (!busy_) return;  // already reported for this poll
  end();
  close_transport();  // a fresh connection (and resolve) next time: the host may have moved
  if (!stopped_) report_gap(kind_, host_, why);
}

void Exchange::stop() {
  stopped_ = true;
  end();
  close_transport();
}

std::optional<CounterDelta::Step> CounterDelta::next(double value, std::chrono::steady_clock::time_point at) {
  if (value == 0 || (unchanged_is_stale_ && last_ && value == *last_)) return std::nullopt;
  std::optional<Step> step;
  if (last_ && value >= *last_ && at > last_at_)
    step = Step{value - *last_, std::chrono::duration<double>(at - last_at_).count()};
  last_ = value;
  last_at_ = at;
  return step;
}

bool MuninBlock::add_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line == ".") return false;
  if (++lines > kMaxLines) return false;
  if (line.starts_with("graph_args ")) {
    auto at = line.find("--upper-limit ");
    if (at != std::string_view::npos) {
      std::string_view n = line.substr(at + 14);
      std::from_chars(n.data(), n.data() + n.size(), upper_limit);
    }
    return true;
  }
  auto space = line.find(' ');
  if (space == std::string_view::npos || !line.substr(0, space).ends_with(".value")) return true;
  std::string_view text = line.substr(space + 1);
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc() && end == text.data() + text.size())  // "U" (unknown) and the like: no value
    values.emplace_back(std::string(line.substr(0, space - 6)), v);
  return true;
}

double MuninBlock::sum(std::initializer_list<std::string_view> fields) const {
  double total = 0;
  for (const auto& [name, v] : values)
    for (std::string_view f : fields)
      if (name == f) total += v;
  return total;
}

double MuninBlock::sum_except(std::string_view field) const {
  double total = 0;
  for (const auto& [name, v] : values)
    if (name != field) total += v;
  return total;
}

void report_gap(const std::string& kind, const std::string& host, const std::string& why) {
  spdlog::warn("{} monitor {}: {}; no sample for this interval", kind, host, why);
}

}  // namespace loadctl::monitor
