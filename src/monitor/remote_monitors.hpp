#pragma once
// Monitoring of hosts that run no loadctl process: <monitor type="munin"> (munin-node's text
// protocol) and <monitor type="snmp"> (SNMP v1/v2c GET of net-snmp's MIB). Like Tsung's
// ts_os_mon_munin and ts_os_mon_snmp, they poll from the controller, on its event loop, without
// blocking it. Order of events per host: poll (every interval) -> [connect -> banner -> config]
// -> request -> on_answer -> sink; or deadline -> report_gap (once for that interval).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "loadctl/scenario.hpp"
#include "loadctl/stats.hpp"

namespace loadctl::monitor {

/// Receives each host's samples of one poll ({cpu,"host"}, {freemem,"host"}, ...).
using Sink = std::function<void(const MetricSet&)>;
/// The same, with the time the poll started: the samples belong to the dump interval holding it.
using PollSink = std::function<void(const MetricSet&, std::chrono::steady_clock::time_point started)>;

/// One polled host. poll() starts one exchange that ends, before `timeout`, with samples to the
/// sink or with one warning; poll() while the previous exchange runs does nothing (that one ends,
/// reported, within its timeout).
class RemotePoller {
 public:
  virtual ~RemotePoller() = default;
  virtual void poll() = 0;
  virtual void stop() = 0;
};

/// What both pollers share: one exchange at a time, bounded by a deadline; a failed exchange is
/// reported once (report_gap) and its late handlers, holding an old generation, do nothing.
class Exchange : public RemotePoller {
 public:
  void stop() override;

 protected:
  Exchange(boost::asio::io_context& ctx, std::string kind, std::string host, std::chrono::milliseconds timeout);
  /// Starts an exchange; false when stopped or while the previous one runs (it ends, reported,
  /// within its timeout).
  bool begin();
  /// The exchange ended with an answer.
  void succeed();
  /// The exchange failed: one warning, close_transport(), a new generation.
  void fail(const std::string& why);
  /// True for handlers of the running exchange.
  bool current(unsigned generation) const { return generation == generation_ && !stopped_; }
  unsigned generation() const { return generation_; }
  virtual void close_transport() = 0;

  const std::string host_;  ///< <monitor host>

 private:
  void end();
  boost::asio::steady_timer deadline_;
  std::string kind_;
  std::chrono::milliseconds timeout_;
  unsigned generation_ = 0;
  bool busy_ = false;
  bool stopped_ = false;
};

std::unique_ptr<RemotePoller> make_munin_poller(boost::asio::io_context& ctx, const MonitorSpec& spec,
                                                std::chrono::milliseconds timeout, Sink sink);
std::unique_ptr<RemotePoller> make_mysqladmin_poller(boost::asio::io_context& ctx, const MonitorSpec& spec,
                                                     std::chrono::milliseconds timeout, Sink sink);
std::unique_ptr<RemotePoller> make_snmp_poller(boost::asio::io_context& ctx, const MonitorSpec& spec,
                                               std::chrono::milliseconds timeout, Sink sink);

/// The munin, snmp and mysqladmin monitors of a scenario (erlang hosts are sampled by agents),
/// polled together. Polls start at the dump boundaries (time zero + k x interval, absolute, no
/// drift) and end within 0.8 x interval, so each poll's samples reach the sink inside the
/// interval it started in; the sink gets that start time (the controller dumps a boundary that
/// passed before merging them).
class RemoteMonitors {
 public:
  RemoteMonitors(boost::asio::io_context& ctx, const std::vector<MonitorSpec>& specs,
                 std::chrono::milliseconds interval, PollSink sink,
                 std::chrono::milliseconds slow_host_period = std::chrono::milliseconds(5000));
  /// First poll at once (it only sets counter bases), then at zero + k x interval, k >= 1: munin
  /// and snmp hosts every max(interval, slow_host_period) only (a multiple of interval), mysqladmin at each.
  void start(std::chrono::steady_clock::time_point zero);
  void stop();
  std::size_t size() const { return pollers_.size(); }
  /// The budget of one exchange: 0.8 x interval, at most 5 s (Tsung's snmp timeout).
  static std::chrono::milliseconds budget(std::chrono::milliseconds interval);
  /// munin and snmp hosts: snmpd refreshes its CPU counters every 5 s and munin-node forks its
  /// plugins at each fetch, so they are polled every max(interval, 5 s), in whole intervals.
  static unsigned slow_host_every(std::chrono::milliseconds interval, std::chrono::milliseconds period);

 private:
  void tick();
  void arm();
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point next_;     ///< the next poll's boundary
  std::chrono::steady_clock::time_point started_;  ///< the running poll round's start
  struct Polled {
    std::unique_ptr<RemotePoller> poller;
    unsigned every;  ///< polled at boundaries k with k % every == 0
  };
  std::vector<Polled> pollers_;
  std::uint64_t round_ = 0;  ///< k of next_
  bool stopped_ = false;
};

/// Tsung's sample_counter for a counter read at each poll: the increase since the previous
/// reading and the seconds between them; nothing on the first reading or when the counter went
/// back (restart, wrap), which only sets a new base; a reading of 0 is skipped (Tsung: an agent
/// that has no value yet). With `unchanged_is_stale`, an unchanged reading is skipped too and
/// the base kept: for agents that refresh a counter less often than they are polled (snmpd
/// updates ssCpuRaw* every 5 s).
class CounterDelta {
 public:
  explicit CounterDelta(bool unchanged_is_stale = false) : unchanged_is_stale_(unchanged_is_stale) {}
  struct Step {
    double delta, seconds;
  };
  std::optional<Step> next(double value, std::chrono::steady_clock::time_point at);

 private:
  bool unchanged_is_stale_;
  std::optional<double> last_;
  std::chrono::steady_clock::time_point last_at_{};
};

/// Munin's answer to one `fetch`/`config` command: "field.value N" lines, and for `config cpu`
/// the number of CPUs from "graph_args ... --upper-limit N" (N = 100 per CPU).
struct MuninBlock {
  std::vector<std::pair<std::string, double>> values;
  double upper_limit = 0;
  std::size_t lines = 0;
  /// A node's cpu, memory and load plugins say a few dozen lines: more is a broken node.
  static constexpr std::size_t kMaxLines = 1000;
  /// Adds one line of the answer (without the newline); false for the closing "." and for a
  /// line beyond kMaxLines (then too_long()).
  bool add_line(std::string_view line);
  bool too_long() const { return lines > kMaxLines; }
  double sum(std::initializer_list<std::string_view> fields) const;
  double sum_except(std::string_view field) const;
};

/// Logs "monitor <host>: <why>" as a warning: a poll without samples.
void report_gap(const std::string& kind, const std::string& host, const std::string& why);

}  // namespace loadctl::monitor
