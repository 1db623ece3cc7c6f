#include "engine/engine.hpp"

#include <algorithm>
#include <stdexcept>

#include <boost/asio/ip/tcp.hpp>
#include <fmt/format.h>

#include "loadctl/host_addresses.hpp"

namespace loadctl::engine {

namespace {

// tcp6/ssl6/udp6 ask for an IPv6 address; otherwise the resolver's first answer.
asio::ip::tcp::endpoint resolve(const Endpoint& endpoint) {
  asio::io_context ctx;
  asio::ip::tcp::resolver resolver(ctx);
  boost::system::error_code ec;
  auto results = endpoint.ipv6 ? resolver.resolve(asio::ip::tcp::v6(), endpoint.host, std::to_string(endpoint.port), ec)
                               : resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
  if (ec || results.empty())
    throw std::runtime_error(fmt::format("cannot resolve server {}:{}: {}", endpoint.host,
                                         endpoint.port, ec ? ec.message() : "no address"));
  return *results.begin();
}

std::string host_header(const Endpoint& endpoint) {
  bool default_port = (endpoint.transport == Transport::ssl && endpoint.port == 443) ||
                      (endpoint.transport != Transport::ssl && endpoint.port == 80);
  bool ipv6 = endpoint.host.find(':') != std::string::npos;
  std::string host = ipv6 ? "[" + endpoint.host + "]" : endpoint.host;
  return default_port ? host : fmt::format("{}:{}", host, endpoint.port);
}

Target make_target(const Endpoint& endpoint) { return {endpoint, resolve(endpoint), host_header(endpoint)}; }

// <server type="erlang">: nothing to resolve (Tsung: "server is not used by fs plugin").
Target make_local_target(const Endpoint& endpoint) { return {endpoint, {}, host_header(endpoint), "erlang"}; }

// TLS contexts: [0] from the options; one per distinct client certificate, which the
// certificate set_option ops of the programs then point at.
void make_tls_contexts(RunConfig& config, const Scenario& scenario) {
  // Connection-level plugins may upgrade with STARTTLS.
  bool tls = std::any_of(config.servers.begin(), config.servers.end(),
                         [](const Target& t) { return t.endpoint.transport == Transport::ssl; }) ||
             std::any_of(config.programs.begin(), config.programs.end(), [](const UserProgram& p) { return p.connections; });
  if (!tls) return;
  config.tls_contexts.push_back(make_tls_context(scenario.options, nullptr));
  std::vector<const TlsCertificate*> known;
  for (UserProgram& program : config.programs) {
    for (SessionOption& option : program.options) {
      if (option.kind != SessionOption::Kind::certificate || option.certificate->dynamic) continue;
      auto it = std::find_if(known.begin(), known.end(), [&](const TlsCertificate* c) { return *c == *option.certificate; });
      if (it == known.end()) {
        config.tls_contexts.push_back(make_tls_context(scenario.options, option.certificate));
        known.push_back(option.certificate);
        it = known.end() - 1;
      }
      option.tls_context = static_cast<std::uint32_t>(it - known.begin()) + 1;
    }
  }
}

}  // namespace

std::vector<WorkerPlan> split_plan(const AgentPlan& plan, unsigned threads) {
  threads = std::max(1u, threads);
  std::vector<WorkerPlan> plans(threads);
  for (unsigned t = 0; t < threads; ++t) {
    plans[t].hard_stop = plan.hard_stop;
    plans[t].slice = t;
    plans[t].slices = threads;
    plans[t].max_active = plan.slot.maxusers == 0 ? 0 : (plan.slot.maxusers + threads - 1) / threads;
    plans[t].first_user_id = plan.first_user_id + t;
    plans[t].user_id_stride = threads;
    for (PhaseShare share : plan.phases) {
      // The rate goes to the workers that may start users: with fewer users than workers
      // (maxnumber="1"), a worker without any takes no share of it, so the others' arrivals
      // together stay the agent's Poisson process at its whole rate.
      unsigned starting = threads;
      if (share.max_users) {
        std::uint64_t base = *share.max_users / threads, extra = *share.max_users % threads;
        share.max_users = base + (t < extra ? 1 : 0);
        if (base == 0) starting = static_cast<unsigned>(extra);
      }
      share.rate = starting == 0 || share.max_users == 0u ? 0 : share.rate / starting;
      plans[t].phases.push_back(share);
    }
  }
  for (std::size_t i = 0; i < plan.static_users.size(); ++i)
    plans[i % threads].static_users.push_back(plan.static_users[i]);
  return plans;
}

Engine::Engine(const Scenario& scenario, const AgentPlan& plan, unsigned threads, unsigned agent_count,
               double arrival_lag_limit) {
  config_.scenario = &scenario;
  config_.arrival_lag_limit = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(arrival_lag_limit));
  config_.seed = plan.seed;
  file_next_ = std::make_unique<std::atomic<std::uint64_t>[]>(scenario.files.size() + 1);
  config_.file_next = file_next_.get();
  config_.abort_test = &abort_test_;
  config_.hard_stopped = &hard_stopped_;
  config_.users_level = &users_level_;
  config_.users_peak = &users_peak_;
  config_.barrier_arrivals = &barrier_arrivals_;
  config_.dumptraffic = scenario.dumptraffic == "true"       ? TrafficDump::full
                        : scenario.dumptraffic == "light"    ? TrafficDump::light
                        : scenario.dumptraffic.starts_with("protocol") ? TrafficDump::protocol
                                                             : TrafficDump::none;
  config_.agent_count = std::max(1u, agent_count);
  config_.agent_index = plan.data_slot % config_.agent_count;
  if (scenario.servers.empty()) throw std::runtime_error("the scenario has no <server>");
  std::vector<Endpoint> endpoints;
  for (const ServerSpec& server : scenario.servers) {
    endpoints.push_back(server.endpoint);
    config_.servers.push_back(server.carrier == "erlang" ? make_local_target(server.endpoint) : make_target(server.endpoint));
    config_.servers.back().carrier = server.carrier;
    config_.server_weights.push_back(server.weight);
  }
  for (const Session& session : scenario.sessions) {
    config_.programs.push_back(compile_session(session, scenario.options));
    config_.programs.back().connection.agent_index = config_.agent_index;
    config_.programs.back().connection.agent_count = config_.agent_count;
    // The per-request dump counts each response's bytes in the user's UserDyn.
    if (config_.dumptraffic == TrafficDump::protocol) config_.programs.back().dynamic = true;
    for (CompiledRequest& request : config_.programs.back().requests) {
      const Endpoint* endpoint = request.spec->endpoint();
      if (!endpoint) continue;
      auto it = std::find(endpoints.begin(), endpoints.end(), *endpoint);
      if (it == endpoints.end()) {
        endpoints.push_back(*endpoint);
        config_.servers.push_back(make_target(*endpoint));
        it = endpoints.end() - 1;
      }
      request.target = static_cast<std::int32_t>(it - endpoints.begin());
    }
  }
  make_tls_contexts(config_, scenario);
  for (const std::string& ip : plan.slot.source_ips) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(ip, ec);
    if (ec) throw std::runtime_error(fmt::format("bad source address '{}' for client {}", ip, plan.slot.host));
    config_.source_ips.push_back(address);
  }
  // <ip scan="true" value="IF">: this host's IPv4 addresses on interface IF, found now (Tsung's
  // ts_ip_scan asks `ip addr` on each client node); an interface without any is a start-up error.
  for (const std::string& name : plan.slot.scan_interfaces) {
    std::vector<std::string> found = interface_ipv4_addresses(name);
    if (found.empty())
      throw std::runtime_error(fmt::format("<ip scan=\"true\" value=\"{}\"> of client {}: no IPv4 address on interface "
                                           "'{}' of this host", name, plan.slot.host, name));
    for (const std::string& ip : found) config_.source_ips.push_back(asio::ip::make_address(ip));
  }
  std::vector<WorkerPlan> plans = split_plan(plan, threads);
  config_.workers = static_cast<unsigned>(plans.size());
  phases_done_ = std::make_unique<std::atomic<std::uint32_t>[]>(plans.size());
  phase_released_ = std::make_unique<std::atomic<std::int64_t>[]>(plan.phases.size() + 1);
  for (std::size_t i = 0; i <= plan.phases.size(); ++i) phase_released_[i].store(-1);
  config_.phases_done = phases_done_.get();
  config_.phase_released = phase_released_.get();
  unsigned index = 0;
  for (WorkerPlan& worker_plan : plans)
    workers_.push_back(std::make_unique<Worker>(index++, config_, std::move(worker_plan)));
}

Engine::~Engine() {
  stop();
  join();
}

void Engine::start(Clock::time_point start) {
  for (auto& worker : workers_) threads_.emplace_back([w = worker.get(), start] { w->run(start); });
}

void Engine::stop() {
  for (auto& worker : workers_) worker->stop();
}

void Engine::join() {
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
}

// Before start (a `rate` that precedes `go`: an agent joining a steered run), the workers begin
// at this factor: no arrival of the catch-up at the planned rate.
void Engine::set_arrival_factor(double factor) {
  for (auto& worker : workers_) {
    if (threads_.empty()) worker->set_initial_arrival_factor(factor);
    else worker->set_arrival_factor(factor);
  }
}

void Engine::release_barrier(std::uint64_t n) {
  for (auto& worker : workers_) {
    if (n == 0) break;
    n -= worker->release_barrier(n);
  }
}

// The `users` gauge is the agent's own (RunConfig::users_level): its change since the last
// collect, with the peak reached in between as the delta's partial maximum.
void Engine::collect(MetricSet& into) {
  for (auto& worker : workers_) worker->collect(into);
  std::int64_t level = users_level_.load(std::memory_order_relaxed);
  std::int64_t peak = std::max(users_peak_.exchange(level, std::memory_order_relaxed), level);
  MetricId users = into.intern("users", MetricKind::gauge);
  into.gauge_add(users, peak - users_sent_);
  into.gauge_add(users, level - peak);
  users_sent_ = level;
}

std::vector<Handover> Engine::take_handovers() {
  std::vector<Handover> out;
  for (auto& worker : workers_)
    if (auto handover = worker->take_handover()) out.push_back(std::move(*handover));
  return out;
}

bool Engine::done() const {
  for (const auto& worker : workers_)
    if (!worker->done()) return false;
  return true;
}

std::uint64_t Engine::peak_users() const {
  std::uint64_t total = 0;
  for (const auto& worker : workers_) total += worker->peak_users();
  return total;
}

std::uint64_t Engine::active_users() const {
  std::uint64_t total = 0;
  for (const auto& worker : workers_) total += worker->active_users();
  return total;
}

}  // namespace loadctl::engine
