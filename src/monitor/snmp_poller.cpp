// <monitor type="snmp">: one SNMP GET per poll of the net-snmp (UCD-SNMP-MIB) values Tsung's
// ts_os_mon_snmp reads, plus the scenario's <oid> elements, over UDP.
//   ssCpuRawUser + ssCpuRawSystem (ticks) -> {cpu,"host"}: ticks/s, 100 = one CPU busy (Tsung)
//   memAvailReal (kB) / 1000 -> {freemem,"host"};  laLoadInt.1 / 100 -> {load,"host"}

#include <array>
#include <cmath>

#include <boost/asio/ip/udp.hpp>
#include <fmt/format.h>

#include "monitor/remote_monitors.hpp"
#include "monitor/snmp_ber.hpp"

namespace loadctl::monitor {
namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using Clock = std::chrono::steady_clock;

const Oid kCpuRawUser{1, 3, 6, 1, 4, 1, 2021, 11, 50, 0};
const Oid kCpuRawSystem{1, 3, 6, 1, 4, 1, 2021, 11, 52, 0};
const Oid kMemAvailReal{1, 3, 6, 1, 4, 1, 2021, 4, 6, 0};
const Oid kLoadInt1{1, 3, 6, 1, 4, 1, 2021, 10, 1, 5, 1};

class SnmpPoller final : public Exchange {
 public:
  SnmpPoller(asio::io_context& ctx, const MonitorSpec& spec, std::chrono::milliseconds timeout, Sink sink)
      : Exchange(ctx, "snmp", spec.host, timeout), resolver_(ctx), socket_(ctx), retransmit_(ctx), timeout_(timeout),
        spec_(spec), sink_(std::move(sink)),
        oids_{kCpuRawUser, kCpuRawSystem, kMemAvailReal, kLoadInt1}, custom_(spec.oids.size()) {
    for (const SnmpOid& o : spec.oids) oids_.push_back(o.oid);
  }

  void poll() override {
    if (!begin()) return;
    if (socket_.is_open()) return send();
    resolver_.async_resolve(udp::v4(), spec_.host, std::to_string(spec_.port),
                            [this, g = generation()](const boost::system::error_code& ec, udp::resolver::results_type r) {
      if (!current(g)) return;
      if (ec || r.empty()) return fail("cannot resolve: " + ec.message());
      boost::system::error_code ec2;
      socket_.open(udp::v4(), ec2);
      if (!ec2) socket_.connect(*r.begin(), ec2);  // a UDP connect only fixes the peer
      if (ec2) return fail("cannot open a UDP socket: " + ec2.message());
      send();
    });
  }

 private:
  int version() const { return spec_.snmp_version == "v2" ? 1 : 0; }

  void send() {
    ++request_id_;
    request_ = encode_snmp_get(version(), spec_.community, request_id_, oids_);
    if (request_.empty()) return fail(fmt::format("{} OIDs do not fit in one SNMP datagram", oids_.size()));
    transmit(/*first=*/true);
  }

  // The request, and once more (same request-id) at half the budget if nothing came: one lost
  // datagram is no gap, as with net-snmp's retries.
  void transmit(bool first) {
    socket_.async_send(asio::buffer(request_), [this, g = generation(), first](const boost::system::error_code& ec, std::size_t) {
      if (!current(g)) return;
      if (ec) return fail("cannot send: " + ec.message());
      if (!first) return;
      receive();
      retransmit_.expires_after(timeout_ / 2);
      retransmit_.async_wait([this, g](const boost::system::error_code& ec2) {
        if (!ec2 && current(g)) transmit(/*first=*/false);
      });
    });
  }

  void receive() {
    socket_.async_receive(asio::buffer(in_), [this, g = generation()](const boost::system::error_code& ec, std::size_t n) {
      if (!current(g)) return;
      // A closed port answers with ICMP, which a connected UDP socket reports here.
      if (ec) return fail("cannot receive: " + ec.message());
      auto r = decode_snmp_response(std::string_view(in_.data(), n));
      // A late answer to an earlier poll, or another agent's or community's: not this poll's.
      if (!r || r->request_id != request_id_ || r->version != version() || r->community != spec_.community)
        return receive();
      retransmit_.cancel();
      answer(*r);
    });
  }

  void answer(const SnmpResponse& r) {
    if (r.error_status != 0) {
      std::size_t i = static_cast<std::size_t>(r.error_index);
      return fail(fmt::format("error-status {}{}", r.error_status,
                              i >= 1 && i <= oids_.size() ? " for " + oid_text(oids_[i - 1]) : std::string()));
    }
    succeed();
    auto at = Clock::now();
    auto bind = [&](const Oid& oid) -> const SnmpVarBind* {
      for (const SnmpVarBind& b : r.varbinds)
        if (b.oid == oid) return &b;
      return nullptr;
    };
    auto value = [&](const Oid& oid) -> std::optional<double> {
      const SnmpVarBind* b = bind(oid);
      return b ? b->value : std::nullopt;
    };
    MetricSet set;
    auto put = [&](const std::string& name, double v) {
      set.sample(set.intern(fmt::format("{{{},\"{}\"}}", name, spec_.host), MetricKind::sample), v);
    };
    auto user = value(kCpuRawUser), system = value(kCpuRawSystem);
    if (user && system)
      if (auto step = cpu_.next(*user + *system, at)) put("cpu", step->delta / step->seconds);
    if (auto mem = value(kMemAvailReal)) put("freemem", *mem / 1000);
    if (auto load = value(kLoadInt1)) put("load", *load / 100);
    for (std::size_t i = 0; i < spec_.oids.size(); ++i) {
      const SnmpOid& o = spec_.oids[i];
      auto raw = value(o.oid);
      if (!raw) continue;  // noSuchObject/noSuchInstance (v2c) or not a number: no sample
      double v = *raw * o.factor;
      if (o.type == "sample") {
        put(o.name, v);
      } else if (o.type == "counter") {
        if (auto step = custom_[i].next(v, at)) put(o.name, step->delta);  // per poll, as Tsung's
      } else {  // sum: the values add up, like a Tsung {sum, Name, Value}, a float when Erlang's is
        set.add_value(set.intern(fmt::format("{{{},\"{}\"}}", o.name, spec_.host), MetricKind::counter), v,
                      o.float_result || bind(o.oid)->is_float);
      }
    }
    if (!set.empty()) sink_(set);
  }

  void close_transport() override {
    boost::system::error_code ignored;
    resolver_.cancel();
    retransmit_.cancel();
    socket_.close(ignored);
  }

  udp::resolver resolver_;
  udp::socket socket_;
  asio::steady_timer retransmit_;
  std::chrono::milliseconds timeout_;
  MonitorSpec spec_;
  Sink sink_;
  std::vector<Oid> oids_;
  std::string request_;
  std::array<char, 65536> in_{};
  std::int32_t request_id_ = 0;
  CounterDelta cpu_{/*unchanged_is_stale=*/true};
  std::vector<CounterDelta> custom_;
};

}  // namespace

std::unique_ptr<RemotePoller> make_snmp_poller(asio::io_context& ctx, const MonitorSpec& spec,
                                               std::chrono::milliseconds timeout, Sink sink) {
  return std::make_unique<SnmpPoller>(ctx, spec, timeout, std::move(sink));
}

}  // namespace loadctl::monitor
