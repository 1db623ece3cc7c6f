// <monitor type="munin">: munin-node's text protocol, as Tsung's ts_os_mon_munin speaks it.
// connect -> "# munin node at NAME" -> "config cpu" (CPUs) -> each poll: "fetch cpu", "fetch
// memory", "fetch load" -> {cpu,"NAME"} (busy %), {freemem,"NAME"} (MB), {load,"NAME"}.

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "monitor/remote_monitors.hpp"

namespace loadctl::monitor {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

class MuninPoller final : public Exchange {
 public:
  MuninPoller(asio::io_context& ctx, const MonitorSpec& spec, std::chrono::milliseconds timeout, Sink sink)
      : Exchange(ctx, "munin", spec.host, timeout), resolver_(ctx), socket_(ctx), name_(spec.host),
        port_(spec.port), sink_(std::move(sink)) {}

  void poll() override {
    if (!begin()) return;
    answered_ = false;
    if (socket_.is_open()) {
      reused_ = true;
      fetch();
      return;
    }
    connect();
  }

 private:
  void connect() {
    reused_ = false;
    resolver_.async_resolve(host_, std::to_string(port_), [this, g = generation()](const boost::system::error_code& ec, tcp::resolver::results_type r) {
      if (!current(g)) return;
      if (ec) return fail("cannot resolve: " + ec.message());
      asio::async_connect(socket_, r, [this, g](const boost::system::error_code& ec2, const tcp::endpoint&) {
        if (!current(g)) return;
        if (ec2) return fail("cannot connect: " + ec2.message());
        read_line([this](std::string_view banner) {
          // Tsung names the host's metrics after the node's own name in its banner.
          constexpr std::string_view prefix = "# munin node at ";
          if (!banner.starts_with(prefix)) return fail(fmt::format("not a munin node (said \"{}\")", banner));
          name_ = std::string(banner.substr(prefix.size()));
          command("config cpu\n", 1, [this] {
            ncpus_ = blocks_[0].upper_limit > 0 ? blocks_[0].upper_limit / 100 : 1;
            fetch();
          });
        });
      });
    });
  }

  /// munin-node ends an idle session after its global_timeout (900 s): a reused connection that
  /// fails before the first answer line is reopened once, within the same exchange.
  bool reconnect_after(const boost::system::error_code& ec) {
    if (!reused_ || answered_ || !(ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe))
      return false;
    boost::system::error_code ignored;
    socket_.close(ignored);
    in_.consume(in_.size());
    connect();
    return true;
  }

  void fetch() {
    command("fetch cpu\nfetch memory\nfetch load\n", 3, [this] { publish(); });
  }

  void publish() {
    succeed();
    std::string missing;  // plugins that answered without a value (e.g. "# Bad exit")
    for (std::size_t i = 0; i < 3; ++i)
      if (blocks_[i].values.empty()) missing += std::string(missing.empty() ? "" : ", ") + kPlugins[i];
    if (!missing.empty()) report_gap("munin", host_, "no values from plugin(s) " + missing);
    MetricSet set;
    // Jiffies (1/100 s) busy, all CPUs, all kinds but idle (Tsung's sum), as % of all CPUs.
    if (auto step = cpu_.next(blocks_[0].sum_except("idle"), Clock::now()))  // no values: 0, skipped
      set.sample(set.intern(fmt::format("{{cpu,\"{}\"}}", name_), MetricKind::sample), step->delta / step->seconds / ncpus_);
    double free = blocks_[1].sum({"free", "buffers", "cached"});
    if (free > 0) set.sample(set.intern(fmt::format("{{freemem,\"{}\"}}", name_), MetricKind::sample), free / 1048576);
    if (!blocks_[2].values.empty())
      set.sample(set.intern(fmt::format("{{load,\"{}\"}}", name_), MetricKind::sample), blocks_[2].sum_except(""));
    if (!set.empty()) sink_(set);
  }

  // Sends `text` (one or more commands) and reads `answers` blocks ending with "." into blocks_.
  void command(std::string text, std::size_t answers, std::function<void()> done) {
    out_ = std::move(text);
    blocks_.assign(answers, MuninBlock{});
    asio::async_write(socket_, asio::buffer(out_), [this, g = generation(), done = std::move(done)](const boost::system::error_code& ec, std::size_t) mutable {
      if (!current(g)) return;
      if (ec && reconnect_after(ec)) return;
      if (ec) return fail("cannot send: " + ec.message());
      read_blocks(0, std::move(done));
    });
  }

  void read_blocks(std::size_t index, std::function<void()> done) {
    if (index == blocks_.size()) return done();
    read_line([this, index, done = std::move(done)](std::string_view line) mutable {
      bool more = blocks_[index].add_line(line);
      if (blocks_[index].too_long()) return fail(fmt::format("more than {} lines in one answer", MuninBlock::kMaxLines));
      read_blocks(more ? index : index + 1, std::move(done));
    });
  }

  template <class Handler>
  void read_line(Handler handler) {
    asio::async_read_until(socket_, in_, '\n', [this, g = generation(), handler = std::move(handler)](const boost::system::error_code& ec, std::size_t n) mutable {
      if (!current(g)) return;
      if (ec && reconnect_after(ec)) return;
      if (ec) return fail(ec == asio::error::eof ? std::string("connection closed by the node") : "cannot read: " + ec.message());
      if (n > kMaxLine) return fail("answer line too long");
      std::string line(asio::buffers_begin(in_.data()), asio::buffers_begin(in_.data()) + static_cast<std::ptrdiff_t>(n) - 1);
      in_.consume(n);
      answered_ = true;
      handler(line);
    });
  }

  void close_transport() override {
    boost::system::error_code ignored;
    resolver_.cancel();
    socket_.close(ignored);
    in_.consume(in_.size());
  }

  static constexpr std::size_t kMaxLine = 64 * 1024;
  static constexpr const char* kPlugins[] = {"cpu", "memory", "load"};
  tcp::resolver resolver_;
  tcp::socket socket_;
  asio::streambuf in_{kMaxLine + 1};
  std::string out_;
  std::vector<MuninBlock> blocks_;
  std::string name_;   ///< the node's name from its banner
  std::uint16_t port_;
  Sink sink_;
  double ncpus_ = 1;
  bool reused_ = false;    ///< this exchange started on the previous exchanges' connection
  bool answered_ = false;  ///< this exchange read a line
  CounterDelta cpu_;
};

}  // namespace

std::unique_ptr<RemotePoller> make_munin_poller(asio::io_context& ctx, const MonitorSpec& spec,
                                                std::chrono::milliseconds timeout, Sink sink) {
  return std::make_unique<MuninPoller>(ctx, spec, timeout, std::move(sink));
}

}  // namespace loadctl::monitor
