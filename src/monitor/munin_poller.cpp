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

class MuninPoller final : public RemotePoller {
 public:
  MuninPoller(asio::io_context& ctx, const MonitorSpec& spec, std::chrono::milliseconds timeout, Sink sink)
      : resolver_(ctx), socket_(ctx), deadline_(ctx), host_(spec.host), name_(spec.host),
        port_(spec.port), timeout_(timeout), sink_(std::move(sink)) {}

  void poll() override {
    if (stopped_) return;
    if (busy_) return;  // the previous exchange is still within its timeout (reported when it ends)
    busy_ = true;
    deadline_.expires_after(timeout_);
    deadline_.async_wait([this, g = gen_](const boost::system::error_code& ec) {
      if (!ec && g == gen_) fail(fmt::format("no answer within {} ms", timeout_.count()));
    });
    if (socket_.is_open()) {
      fetch();
      return;
    }
    resolver_.async_resolve(host_, std::to_string(port_), [this, g = gen_](const boost::system::error_code& ec, tcp::resolver::results_type r) {
      if (g != gen_) return;
      if (ec) return fail("cannot resolve: " + ec.message());
      asio::async_connect(socket_, r, [this, g](const boost::system::error_code& ec2, const tcp::endpoint&) {
        if (g != gen_) return;
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

  void stop() override {
    stopped_ = true;
    ++gen_;
    deadline_.cancel();
    close();
  }

 private:
  void fetch() {
    command("fetch cpu\nfetch memory\nfetch load\n", 3, [this] { publish(); });
  }

  void publish() {
    deadline_.cancel();
    busy_ = false;
    MetricSet set;
    // Jiffies (1/100 s) busy, all CPUs, all kinds but idle (Tsung's sum), as % of all CPUs.
    if (auto step = cpu_.next(blocks_[0].sum_except("idle"), Clock::now()))
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
    asio::async_write(socket_, asio::buffer(out_), [this, g = gen_, done = std::move(done)](const boost::system::error_code& ec, std::size_t) mutable {
      if (g != gen_) return;
      if (ec) return fail("cannot send: " + ec.message());
      read_blocks(0, std::move(done));
    });
  }

  void read_blocks(std::size_t index, std::function<void()> done) {
    if (index == blocks_.size()) return done();
    read_line([this, index, done = std::move(done)](std::string_view line) mutable {
      bool more = blocks_[index].add_line(line);
      read_blocks(more ? index : index + 1, std::move(done));
    });
  }

  template <class Handler>
  void read_line(Handler handler) {
    asio::async_read_until(socket_, in_, '\n', [this, g = gen_, handler = std::move(handler)](const boost::system::error_code& ec, std::size_t n) mutable {
      if (g != gen_) return;
      if (ec) return fail(ec == asio::error::eof ? std::string("connection closed by the node") : "cannot read: " + ec.message());
      if (n > kMaxLine) return fail("answer line too long");
      std::string line(asio::buffers_begin(in_.data()), asio::buffers_begin(in_.data()) + static_cast<std::ptrdiff_t>(n) - 1);
      in_.consume(n);
      handler(line);
    });
  }

  void fail(const std::string& why) {
    if (!busy_) return;  // already reported for this poll
    busy_ = false;
    ++gen_;  // handlers of this exchange still queued (aborted by close) do nothing
    deadline_.cancel();
    close();
    if (!stopped_) report_gap("munin", host_, why);
  }

  void close() {
    boost::system::error_code ignored;
    resolver_.cancel();
    socket_.close(ignored);
    in_.consume(in_.size());
  }

  static constexpr std::size_t kMaxLine = 64 * 1024;
  tcp::resolver resolver_;
  tcp::socket socket_;
  asio::steady_timer deadline_;
  asio::streambuf in_{kMaxLine + 1};
  std::string out_;
  std::vector<MuninBlock> blocks_;
  std::string host_;   ///< <monitor host>
  std::string name_;   ///< the node's name from its banner
  std::uint16_t port_;
  std::chrono::milliseconds timeout_;
  Sink sink_;
  double ncpus_ = 1;
  CounterDelta cpu_;
  unsigned gen_ = 0;  ///< exchange generation: a failed exchange's late handlers are ignored
  bool busy_ = false;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<RemotePoller> make_munin_poller(asio::io_context& ctx, const MonitorSpec& spec,
                                                std::chrono::milliseconds timeout, Sink sink) {
  return std::make_unique<MuninPoller>(ctx, spec, timeout, std::move(sink));
}

}  // namespace loadctl::monitor
