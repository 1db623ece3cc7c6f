// The capacity preflight's formulas (loadctl/capacity.hpp, docs/capacity.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "control/messages.hpp"
#include "loadctl/capacity.hpp"
#include "loadctl/host_addresses.hpp"
#include "loadctl/wire.hpp"

using namespace loadctl;

namespace {

// One client, one server, one phase, one session: `session` is the body of <session>.
Scenario capacity_scenario(const std::string& client_body, const std::string& load, const std::string& session,
                           const std::string& client_attrs = "",
                           const std::string& servers = R"(<server host="127.0.0.1" port="8080" type="tcp"/>)") {
  std::string text = fmt::format(R"(<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung>
  <clients><client host="localhost" {}>{}</client></clients>
  <servers>{}</servers>
  <load>{}</load>
  <sessions><session name="s" probability="100" type="ts_http">{}</session></sessions>
</tsung>)",
                                 client_attrs, client_body, servers, load, session);
  return load_scenario_text(text, "capacity.xml");
}

HostFacts facts(std::uint64_t nofile, std::uint32_t low, std::uint32_t high, int tw_reuse = 2) {
  HostFacts f;
  f.known = true;
  f.nofile_soft = f.nofile_hard = nofile;
  f.port_low = low;
  f.port_high = high;
  f.tw_reuse = tw_reuse;
  f.mem_available = 8ull << 30;
  f.cores = 2;
  f.threads = 2;
  f.addresses = {"127.0.0.1", "::1"};
  return f;
}

const CapacityItem* item(const CapacityReport& r, const std::string& prefix) {
  for (const CapacityItem& i : r.hosts.at(0).items)
    if (i.what.starts_with(prefix)) return &i;
  return nullptr;
}

CapacityReport run_preflight(const Scenario& s, const HostFacts& f) {
  auto plans = plan_run(s, plan_slots(s), 1);
  return preflight(s, plans, {{"localhost", f}}, 2);
}

}  // namespace

TEST(Capacity, SessionSecondsAddThinktimeMeansAndRequests) {
  Scenario s = capacity_scenario("", R"(<arrivalphase phase="1" duration="1" unit="second"><users arrivalrate="1" unit="second"/></arrivalphase>)",
                                 R"(<request><http url="/"/></request><thinktime value="4"/>
                                    <for from="1" to="3" incr="1" var="i"><request><http url="/"/></request><thinktime min="1" max="3" random="true"/></for>)");
  // 4 requests * kSecondsPerRequest + 4 + 3 * 2
  EXPECT_NEAR(session_seconds(s.sessions[0], s.options), 4 * kSecondsPerRequest + 10, 1e-9);
}

TEST(Capacity, PeakIsRateTimesLifeCappedByMaxnumber) {
  // 100 users/s, 80 users at most (0.8 s of arrivals), each living 5 + 0.02 s: peak 80.
  Scenario s = capacity_scenario("", R"(<arrivalphase phase="1" duration="10" unit="second"><users maxnumber="80" arrivalrate="100" unit="second"/></arrivalphase>)",
                                 R"(<request><http url="/"/></request><thinktime value="5"/>)");
  auto plans = plan_run(s, plan_slots(s), 1);
  std::vector<double> secs{session_seconds(s.sessions[0], s.options)};
  EXPECT_NEAR(peak_users(plans[0], s, secs), 80, 1e-6);
  // Without maxnumber: Little's law, rate * life = 100 * 5.02.
  Scenario open = capacity_scenario("", R"(<arrivalphase phase="1" duration="10" unit="second"><users arrivalrate="100" unit="second"/></arrivalphase>)",
                                    R"(<request><http url="/"/></request><thinktime value="5"/>)");
  auto open_plans = plan_run(open, plan_slots(open), 1);
  EXPECT_NEAR(peak_users(open_plans[0], open, secs), 502, 1e-6);
  // A phase shorter than the life: rate * duration (2 s at 100/s).
  Scenario short_phase = capacity_scenario("", R"(<arrivalphase phase="1" duration="2" unit="second"><users arrivalrate="100" unit="second"/></arrivalphase>)",
                                           R"(<request><http url="/"/></request><thinktime value="5"/>)");
  auto short_plans = plan_run(short_phase, plan_slots(short_phase), 1);
  EXPECT_NEAR(peak_users(short_plans[0], short_phase, secs), 200, 1e-6);
}

TEST(Capacity, OpenFilesBeyondTheHardLimitAreRefusedWithTheFix) {
  Scenario s = capacity_scenario("", R"(<arrivalphase phase="1" duration="10" unit="second"><users maxnumber="300" arrivalrate="300" unit="second"/></arrivalphase>)",
                                 R"(<request><http url="/"/></request><thinktime value="5"/>)");
  CapacityReport r = run_preflight(s, facts(200, 1024, 65535));
  const CapacityItem* fds = item(r, "open files");
  ASSERT_NE(fds, nullptr);
  EXPECT_NEAR(fds->needed, 300 + kAgentBaseFds + 2 * kFdsPerThread, 1e-6);
  EXPECT_EQ(fds->verdict, Verdict::refused);
  EXPECT_TRUE(r.refused());
  std::string text = r.format();
  EXPECT_NE(text.find("ulimit -n 1024"), std::string::npos) << text;
  EXPECT_NE(text.find("'* hard nofile 1024'"), std::string::npos) << text;
  // maxusers floor(200 * 0.8) - 22 = 138 keeps each process's files below the limit: 3 processes.
  EXPECT_NE(text.find("maxusers 138 on <client host=\"localhost\"> so that more agent processes start (3 instead of 1)"),
            std::string::npos) << text;
  // With that maxusers the plan fits.
  Scenario fixed = capacity_scenario("", R"(<arrivalphase phase="1" duration="10" unit="second"><users maxnumber="300" arrivalrate="300" unit="second"/></arrivalphase>)",
                                     R"(<request><http url="/"/></request><thinktime value="5"/>)", R"(maxusers="138")");
  CapacityReport ok = run_preflight(fixed, facts(200, 1024, 65535));
  EXPECT_FALSE(ok.refused()) << ok.format();
  EXPECT_EQ(ok.hosts[0].processes, 3u);
}

TEST(Capacity, PortsPerSourceIpAndDestination) {
  std::string load = R"(<arrivalphase phase="1" duration="10" unit="second"><users maxnumber="80" arrivalrate="100" unit="second"/></arrivalphase>)";
  std::string session = R"(<request><http url="/"/></request><thinktime value="5"/>)";
  Scenario one = capacity_scenario("", load, session);
  CapacityReport r = run_preflight(one, facts(65536, 40000, 40049));
  const CapacityItem* ports = item(r, "ports to 127.0.0.1:8080 from the default source");
  ASSERT_NE(ports, nullptr) << r.format();
  EXPECT_NEAR(ports->needed, 80, 1e-6);
  EXPECT_EQ(ports->available, 50);
  EXPECT_EQ(ports->verdict, Verdict::refused);
  EXPECT_NE(r.format().find("add 1 source IP(s)"), std::string::npos) << r.format();
  EXPECT_NE(r.format().find("net.ipv4.ip_local_port_range = 1024 65535"), std::string::npos);

  Scenario two = capacity_scenario(R"(<ip value="127.0.0.1"/><ip value="127.0.0.2"/>)", load, session);
  CapacityReport r2 = run_preflight(two, facts(65536, 40000, 40049));
  EXPECT_FALSE(r2.refused()) << r2.format();
  const CapacityItem* p2 = item(r2, "ports to 127.0.0.1:8080 from each of 2 source IPs");
  ASSERT_NE(p2, nullptr);
  EXPECT_NEAR(p2->needed, 40, 1e-6);
}

// <ip scan="true">: an agent on this machine will find the interface's addresses, so the
// preflight counts them here; on another host only its agent knows them: not counted, not refused.
TEST(Capacity, ScannedInterfacesCountHereAndAreUnknownElsewhere) {
  std::string load = R"(<arrivalphase phase="1" duration="10" unit="second"><users maxnumber="80" arrivalrate="100" unit="second"/></arrivalphase>)";
  std::string session = R"(<request><http url="/"/></request><thinktime value="5"/>)";
  Scenario s = capacity_scenario(R"(<ip scan="true" value="lo"/>)", load, session);
  std::size_t lo = interface_ipv4_addresses("lo").size();
  ASSERT_GE(lo, 1u);
  CapacityReport here = run_preflight(s, facts(65536, 40000, 40049));
  std::string what = lo == 1 ? "1 source IP" : fmt::format("each of {} source IPs", lo);
  const CapacityItem* ports = item(here, "ports to 127.0.0.1:8080 from " + what);
  ASSERT_NE(ports, nullptr) << here.format();
  EXPECT_NEAR(ports->needed, 80.0 / double(lo), 1e-6);

  auto plans = plan_run(s, plan_slots(s), 1);
  for (AgentPlan& p : plans) p.slot.local = false;
  CapacityReport remote = preflight(s, plans, {{"localhost", facts(65536, 40000, 40049)}}, 2);
  const CapacityItem* unknown = item(remote, "ports to 127.0.0.1:8080 from the <ip scan> addresses");
  ASSERT_NE(unknown, nullptr) << remote.format();
  EXPECT_TRUE(unknown->unknown);
  EXPECT_FALSE(remote.refused()) << remote.format();

  Scenario none = capacity_scenario(R"(<ip scan="true" value="lcnone0"/>)", load, session);
  EXPECT_NE(run_preflight(none, facts(65536, 1024, 65535)).format().find("interface 'lcnone0' has no IPv4 address on this "
                                                                         "host: its agents will not start"),
            std::string::npos);
}

TEST(Capacity, LargeIprangeIsOnePortItemAndOneBoundedNote) {
  // A /16: 65 536 source IPs. One port item, one note, in well under a second.
  std::string load = R"(<arrivalphase phase="1" duration="10" unit="second"><users arrivalrate="100" unit="second"/></arrivalphase>)";
  Scenario s = capacity_scenario(R"(<iprange version="v4" value="10.1.0-255.0-255"/>)", load,
                                 R"(<request><http url="/"/></request><thinktime value="5"/>)");
  ASSERT_EQ(s.clients.at(0).source_ips.size(), 65536u);
  auto start = std::chrono::steady_clock::now();
  CapacityReport r = run_preflight(s, facts(65536, 1024, 65535));
  std::string text = r.format();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  const CapacityItem* ports = item(r, "ports to 127.0.0.1:8080 from each of 65536 source IPs");
  ASSERT_NE(ports, nullptr) << text;
  EXPECT_NEAR(ports->needed, 502.0 / 65536, 1e-9);
  EXPECT_EQ(std::count_if(r.hosts[0].items.begin(), r.hosts[0].items.end(),
                          [](const CapacityItem& i) { return i.what.starts_with("ports"); }), 1);
  EXPECT_LT(std::count(text.begin(), text.end(), '\n'), 10) << text;
  // The host has 127.0.0.1 and ::1 only (a complete list): all 65 536 missing, 5 named.
  EXPECT_NE(text.find("65536 <ip> address(es) are not addresses of this host, e.g. 10.1.0.0, 10.1.0.1, 10.1.0.2, "
                      "10.1.0.3, 10.1.0.4, ...: "),
            std::string::npos) << text;
  // 32 reported addresses: the list may be incomplete, so nothing is called missing.
  HostFacts full = facts(65536, 1024, 65535);
  full.addresses.clear();
  for (int i = 0; i < 32; ++i) full.addresses.push_back(fmt::format("10.1.0.{}", i));
  std::string unchecked = run_preflight(s, full).format();
  EXPECT_EQ(unchecked.find("not addresses of this host"), std::string::npos) << unchecked;
  EXPECT_NE(unchecked.find("<ip> addresses not checked"), std::string::npos) << unchecked;
  // Addresses present (127.x on lo) give no note.
  Scenario lo = capacity_scenario(R"(<ip value="127.0.0.1"/><ip value="127.0.0.2"/>)", load, R"(<request><http url="/"/></request>)");
  EXPECT_EQ(run_preflight(lo, facts(65536, 1024, 65535)).format().find("<ip>"), std::string::npos);
}

TEST(Capacity, TimeWaitPortsCountWithoutTwReuse) {
  // 100/s for 10 s, 0.02 s each: few open at once, but each closed one holds its port 60 s.
  Scenario s = capacity_scenario("", R"(<arrivalphase phase="1" duration="10" unit="second"><users arrivalrate="100" unit="second"/></arrivalphase>)",
                                 R"(<request><http url="/"/></request>)");
  CapacityReport reuse = run_preflight(s, facts(65536, 40000, 41199, 2));  // loopback destination: reused
  EXPECT_NEAR(item(reuse, "ports")->needed, 2, 1e-6);
  CapacityReport none = run_preflight(s, facts(65536, 40000, 41199, 0));
  EXPECT_NEAR(item(none, "ports")->needed, 1000, 1e-6);  // every arrival of the 10 s phase
  EXPECT_EQ(item(none, "ports")->verdict, Verdict::tight);
  EXPECT_NE(none.format(true).find("net.ipv4.tcp_tw_reuse = 1"), std::string::npos) << none.format(true);
}

TEST(Capacity, MemoryFromMeasuredFiguresAndUnknownFacts) {
  Scenario s = capacity_scenario("", R"(<arrivalphase phase="1" duration="100" unit="second"><users arrivalrate="1000" unit="second"/></arrivalphase>)",
                                 R"(<request><http url="/"/></request><thinktime value="60"/>)");
  HostFacts f = facts(1 << 20, 1024, 65535, 1);
  f.mem_available = 64ull << 20;  // 64 MB: 60 020 users need ~95 MB, and 127 processes 12 MB each
  CapacityReport r = run_preflight(s, f);
  const CapacityItem* mem = item(r, "memory");
  ASSERT_NE(mem, nullptr);
  // maxusers 800, 2 threads: each worker of a full agent hands over to a new agent of its own,
  // 1 + 2 + 4 + ... + 64 agents of 800 users until they hold 60 020 (not ceil(60020 / 800) = 76).
  double processes = 127;
  EXPECT_EQ(r.hosts[0].processes, 127u);
  EXPECT_NEAR(mem->needed, (60020 * kBytesPerUser + processes * kAgentBaseBytes) / (1 << 20), 1e-3);
  EXPECT_EQ(mem->verdict, Verdict::refused);
  EXPECT_NE(r.format().find("add "), std::string::npos);
  // Unknown facts: needs printed, nothing refused.
  CapacityReport unknown = preflight(s, plan_run(s, plan_slots(s), 1), {}, 2);
  EXPECT_FALSE(unknown.refused());
  EXPECT_NE(unknown.format().find("limit unknown"), std::string::npos);
}

TEST(Capacity, HelloCarriesHostFactsAndDecodesAnOlderHello) {
  control::Hello h;
  h.token = "t";
  h.agent_id = 3;
  h.facts = facts(4096, 32768, 60999, 2);
  auto back = control::Hello::decode(h.encode());
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->facts.known);
  EXPECT_EQ(back->facts.nofile_hard, 4096u);
  EXPECT_EQ(back->facts.ports(), 28232u);
  EXPECT_EQ(back->facts.addresses, h.facts.addresses);
  // A hello without the facts (protocol 4) still decodes, so the version check can name it.
  std::string old = h.encode();
  std::string facts_field = h.facts.encode();
  old.resize(old.size() - facts_field.size() - 4);
  auto v4 = control::Hello::decode(old);
  ASSERT_TRUE(v4);
  EXPECT_FALSE(v4->facts.known);
  // Truncated facts are malformed.
  std::string cut = h.encode();
  cut.pop_back();
  EXPECT_FALSE(control::Hello::decode(cut));
}

TEST(Capacity, ReadsThisHostsFacts) {
  HostFacts f = read_host_facts();
  EXPECT_TRUE(f.known);
  EXPECT_GT(f.nofile_hard, 0u);
  EXPECT_GT(f.ports(), 0u);
  EXPECT_GT(f.mem_available, 0u);
  EXPECT_GT(f.cores, 0u);
}

TEST(Capacity, AgentProcessesFollowTheHandoversOfEachWorker) {
  EXPECT_EQ(agent_processes(500, 0, 4), 1u);      // no maxusers: one process
  EXPECT_EQ(agent_processes(800, 800, 2), 1u);    // fits in the first
  EXPECT_EQ(agent_processes(801, 800, 2), 3u);    // its 2 workers each hand over
  EXPECT_EQ(agent_processes(2400, 800, 2), 3u);   // 800 + 2 * 800
  EXPECT_EQ(agent_processes(2401, 800, 2), 7u);   // + 4
  EXPECT_EQ(agent_processes(2401, 800, 1), 4u);   // one worker: one handover at a time
  EXPECT_EQ(agent_processes(300, 138, 2), 3u);    // test_capacity_nofile: 138 + 2 * 138 >= 300
  EXPECT_EQ(agent_processes(900, 100, 4), 21u);   // 4 workers of 25: 1 + 4 hold 500, then 16 more
}

TEST(Capacity, RefusedOnlyOnTheLowerBoundWarnedOnTheUpperEstimate) {
  // 1000 users/s, each making 150 requests without thinking: 20 ms per request makes 3 000 users
  // at once, beyond nofile 2048; with requests taking no time, only the agent's own descriptors.
  Scenario s = capacity_scenario("", R"(<arrivalphase phase="1" duration="10" unit="second"><users arrivalrate="1000" unit="second"/></arrivalphase>)",
                                 R"(<for from="1" to="150" incr="1" var="i"><request><http url="/"/></request></for>)",
                                 R"(maxusers="100000")");
  EXPECT_NEAR(session_seconds(s.sessions[0], s.options, true), 0, 1e-12);
  CapacityReport r = run_preflight(s, facts(2048, 1024, 65535, 1));
  const CapacityItem* fds = item(r, "open files");
  ASSERT_NE(fds, nullptr);
  EXPECT_NEAR(fds->needed, 3000 + kAgentBaseFds + 2 * kFdsPerThread, 1e-6);
  EXPECT_NEAR(fds->needed_min, kAgentBaseFds + 2 * kFdsPerThread, 1e-6);
  EXPECT_EQ(fds->verdict, Verdict::tight);
  EXPECT_FALSE(r.refused());
  EXPECT_TRUE(r.tight());
  EXPECT_NE(r.format().find("needs 3022 (at least 22) of 2048 (148%): may run out"), std::string::npos) << r.format();
  // <repeat>: max_repeat times in the upper estimate, once in the lower bound.
  Scenario rep = capacity_scenario("", R"(<arrivalphase phase="1" duration="10" unit="second"><users arrivalrate="1" unit="second"/></arrivalphase>)",
                                   R"(<setdynvars sourcetype="value" value="y"><var name="x"/></setdynvars>
                                      <repeat name="r" max_repeat="10"><thinktime value="2"/><while var="x" eq="y"/></repeat>)");
  EXPECT_NEAR(session_seconds(rep.sessions[0], rep.options), 20, 1e-9);
  EXPECT_NEAR(session_seconds(rep.sessions[0], rep.options, true), 2, 1e-9);
}

TEST(Capacity, TimeWaitCappedByMaxTwBucketsAndOnlyAWarning) {
  // 100/s for 10 s, 0.02 s each: 2 open at once, 998 more closed within 60 s.
  std::string load = R"(<arrivalphase phase="1" duration="10" unit="second"><users arrivalrate="100" unit="second"/></arrivalphase>)";
  Scenario s = capacity_scenario("", load, R"(<request><http url="/"/></request>)");
  HostFacts capped = facts(65536, 40000, 41199, 0);
  capped.tw_buckets = 100;
  EXPECT_NEAR(item(run_preflight(s, capped), "ports")->needed, 102, 1e-6);
  // 500 ports: short only because of TIME_WAIT: a warning with the tcp_tw_reuse fix, not a refusal.
  CapacityReport small = run_preflight(s, facts(65536, 40000, 40499, 0));
  const CapacityItem* ports = item(small, "ports");
  EXPECT_NEAR(ports->needed, 1000, 1e-6);
  EXPECT_EQ(ports->verdict, Verdict::tight);
  EXPECT_FALSE(small.refused());
  EXPECT_NE(small.format().find("998 of them in TIME_WAIT): may run out"), std::string::npos) << small.format();
  EXPECT_NE(small.format().find("net.ipv4.tcp_tw_reuse = 1"), std::string::npos);
  // UDP: no TIME_WAIT.
  Scenario udp = capacity_scenario("", load, R"(<request><http url="/"/></request>)", "",
                                   R"(<server host="10.0.0.9" port="5000" type="udp"/>)");
  EXPECT_NEAR(item(run_preflight(udp, facts(65536, 40000, 41199, 0)), "ports to 10.0.0.9:5000")->needed, 2, 1e-6);
  // Unknown facts (check --hosts for a remote host): TIME_WAIT named, not counted.
  std::string unknown = preflight(s, plan_run(s, plan_slots(s), 1), {}, 2).format();
  EXPECT_NE(unknown.find("ports to 127.0.0.1:8080 from the default source: needs 2 (at least 0) (limit unknown; TIME_WAIT: "
                         "depends on tcp_tw_reuse (up to 998 more))"),
            std::string::npos) << unknown;
  // tcp_max_tw_buckets travels in the hello.
  HostFacts back;
  ASSERT_TRUE(back.decode(capped.encode()));
  EXPECT_EQ(back.tw_buckets, 100u);
}

TEST(Capacity, ServersByWeightIpv6AndLoopbackNames) {
  std::string load = R"(<arrivalphase phase="1" duration="10" unit="second"><users maxnumber="80" arrivalrate="100" unit="second"/></arrivalphase>)";
  std::string session = R"(<request><http url="/"/></request><thinktime value="5"/>)";
  Scenario s = capacity_scenario("", load, session, "",
                                 R"(<server host="10.0.0.1" port="80" type="tcp" weight="1"/><server host="10.0.0.2" port="80" type="tcp" weight="3"/>)");
  CapacityReport r = run_preflight(s, facts(65536, 1024, 65535, 1));
  EXPECT_NEAR(item(r, "ports to 10.0.0.1:80")->needed, 20, 1e-6);
  EXPECT_NEAR(item(r, "ports to 10.0.0.2:80")->needed, 60, 1e-6);
  // IPv6 loopback (tcp_tw_reuse 2 applies): no TIME_WAIT; named with brackets.
  std::string fast = R"(<request><http url="/"/></request>)";
  std::string open_load = R"(<arrivalphase phase="1" duration="10" unit="second"><users arrivalrate="100" unit="second"/></arrivalphase>)";
  Scenario v6 = capacity_scenario("", open_load, fast, "", R"(<server host="::1" port="8080" type="tcp6"/>)");
  CapacityReport r6 = run_preflight(v6, facts(65536, 1024, 65535, 2));  // item() points into it
  const CapacityItem* p6 = item(r6, "ports to [::1]:8080");
  ASSERT_NE(p6, nullptr);
  EXPECT_NEAR(p6->needed, 2, 1e-6);
  // A name resolving to loopback only is loopback too.
  Scenario named = capacity_scenario("", open_load, fast, "", R"(<server host="localhost" port="8080" type="tcp"/>)");
  CapacityReport rn = run_preflight(named, facts(65536, 1024, 65535, 2));
  ASSERT_NE(item(rn, "ports to localhost:8080"), nullptr);
  EXPECT_NEAR(item(rn, "ports to localhost:8080")->needed, 2, 1e-6);
  Scenario remote = capacity_scenario("", open_load, fast, "", R"(<server host="10.0.0.1" port="8080" type="tcp"/>)");
  CapacityReport rr = run_preflight(remote, facts(65536, 1024, 65535, 2));
  ASSERT_NE(item(rr, "ports to 10.0.0.1:8080"), nullptr);
  EXPECT_NEAR(item(rr, "ports to 10.0.0.1:8080")->needed, 1000, 1e-6);
}

TEST(Capacity, HelloWithMoreThan32AddressesIsMalformed) {
  HostFacts none = facts(4096, 32768, 60999);
  none.addresses.clear();
  std::string data = none.encode();
  std::uint32_t count = kMaxReportedAddresses + 1;
  data.replace(data.size() - sizeof count, sizeof count, reinterpret_cast<const char*>(&count), sizeof count);
  std::string addresses;
  wire::Writer w(addresses);
  for (std::uint32_t i = 0; i < count; ++i) w.str(fmt::format("10.0.0.{}", i));
  HostFacts back;
  EXPECT_FALSE(back.decode(data + addresses));
  // 32 decode.
  HostFacts full = none;
  for (std::size_t i = 0; i < kMaxReportedAddresses; ++i) full.addresses.push_back(fmt::format("10.0.0.{}", i));
  ASSERT_TRUE(back.decode(full.encode()));
  EXPECT_EQ(back.addresses.size(), kMaxReportedAddresses);
}
