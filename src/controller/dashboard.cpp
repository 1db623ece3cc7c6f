// The controller's live dashboard (docs/dashboard.md): the web server's routes, the per-second
// series behind /api/stats, /metrics, and steering (stop, rate, pause/resume) shared with the
// control socket. Nothing here runs per request of the load: the series takes one point per
// tick; the rest is built when a client asks.
#include <charconv>
#include <fstream>
#include <sstream>

#include <boost/asio/ip/host_name.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "control/handshake.hpp"
#include "control/metrics_exposition.hpp"
#include "controller/command_line.hpp"
#include "controller/controller.hpp"
#include "controller/dashboard_page.hpp"

namespace loadctl::controller {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;
using control::MsgType;
using control::WebRequest;
using control::WebResponse;
using control::query_value;

namespace {

bool is_loopback_address(const asio::ip::address& a) { return a.is_loopback(); }

std::optional<double> parse_query_number(std::string_view text) {
  if (text.empty() || text.size() > 24) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !(v == v)) return std::nullopt;
  return v;
}

WebResponse web_text(unsigned status, std::string body) { return {status, "text/plain; charset=utf-8", std::move(body) + "\n"}; }

// Steering answers starting "error:" are refusals (409): the request was understood.
WebResponse web_answer(std::string line) {
  // Before the move: a by-value argument may be built before the others are evaluated (GCC: 200).
  unsigned status = line.starts_with("error") ? 409 : 200;
  return web_text(status, std::move(line));
}

}  // namespace

std::optional<asio::ip::tcp::endpoint> parse_http_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) return std::nullopt;
  std::string host = text.substr(0, colon), port = text.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  unsigned long p = std::stoul(port);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec || p > 65535) return std::nullopt;
  return asio::ip::tcp::endpoint(address, static_cast<std::uint16_t>(p));
}

bool valid_http_address(const std::string& text) { return parse_http_endpoint(text).has_value(); }

bool Controller::open_dashboard() {
  if (options_.http_address.empty()) return true;  // -n
  auto endpoint = parse_http_endpoint(options_.http_address);
  if (!endpoint) {
    console_.notice(fmt::format("error: --http {}: expected ADDR:PORT", options_.http_address));
    return false;
  }
  // A token always guards changes (stop, rate, pause): the loopback is shared by every local user.
  std::string token = options_.http_token;
  bool printed_token = token.empty();
  if (printed_token) token = control::random_token();
  bool loopback = is_loopback_address(endpoint->address());
  web_ = std::make_unique<control::WebServer>(ctx_, [this](const WebRequest& r) { return on_web(r); });
  if (auto ec = web_->open(*endpoint, token, loopback)) {
    web_.reset();
    std::string what = fmt::format("dashboard: cannot listen on {}: {}", options_.http_address, ec.message());
    if (options_.http_explicit) {
      console_.notice("error: " + what);
      spdlog::error("{}", what);
      return false;
    }
    // Not an error of the run: said unless -q (and always in controller.log).
    console_.info(fmt::format("note: {}; the run goes on without a dashboard (--http ADDR:PORT picks another "
                              "address, -n turns this off)", what));
    spdlog::warn("{}; no dashboard", what);
    return true;
  }
  auto local = web_->local_endpoint();
  std::string host = local.address().is_v6() ? "[" + local.address().to_string() + "]" : local.address().to_string();
  if (local.address().is_unspecified()) {  // 0.0.0.0 / [::]: this host's name is what a browser can reach
    boost::system::error_code ec;
    std::string name = asio::ip::host_name(ec);
    if (!ec && !name.empty()) host = name;
  }
  dashboard_url_ = fmt::format("http://{}:{}/", host, local.port());
  spdlog::info("dashboard on {} (token required{})", dashboard_url_, loopback ? " to steer" : "");
  console_.info("dashboard: " + dashboard_url_);
  // The token that was not given in a file is shown once, on the console only (not the log).
  // Needed to see anything off loopback: said even with -q; on loopback (reads open) unless -q.
  if (printed_token) {
    std::string line = fmt::format("dashboard token: {} (open {}?token={})", token, dashboard_url_, token);
    loopback ? console_.info(line) : console_.notice(line);
  }
  return true;
}

void Controller::note_agent_stats(AgentRecord& agent, const MetricSet& delta) {
  if (const Metric* m = delta.find("request")) agent.requests += m->count;
  if (const Metric* m = delta.find("users")) agent.users += m->level;
  if (!agent.hostname.empty()) {
    for (MetricId id = 0; id < delta.size(); ++id) {
      const std::string& name = delta.name(id);  // {cpu,"<its hostname>"}
      if (name.starts_with("{cpu,\"") && name.size() == agent.hostname.size() + 8 &&
          name.compare(6, agent.hostname.size(), agent.hostname) == 0 && delta.metric(id).count)
        agent.cpu = delta.metric(id).mean();
    }
  }
  if (web_) second_.merge(delta);
}

// One tick: each agent's request rate over its last ticks; with a dashboard, the series' point.
void Controller::sample_second(SteadyClock::time_point now) {
  for (AgentRecord& a : agents_) {
    std::size_t n = a.request_ticks.size();
    a.request_ticks[a.tick_count % n] = a.requests;
    ++a.tick_count;
    unsigned span = std::min<unsigned>(a.tick_count - 1, static_cast<unsigned>(n - 1));
    if (span > 0)
      a.request_rate = static_cast<double>(a.requests - a.request_ticks[(a.tick_count - 1 - span) % n]) / span;
  }
  if (!web_ || now < zero_) return;
  double seconds = last_sample_ == SteadyClock::time_point{} ? seconds_between(zero_, now)
                                                            : seconds_between(last_sample_, now);
  last_sample_ = now;
  const Metric* users = total_.find("users");
  live_.add(seconds_between(zero_, now), seconds, second_, users ? users->level : 0);
  std::swap(last_second_, second_);
  second_.clear_values();
}

WebResponse Controller::on_web(const WebRequest& r) {
  if (r.post) return on_steer(r);
  if (r.path == "/" || r.path == "/index.html") return {200, "text/html; charset=utf-8", std::string(kDashboardPage)};
  if (r.path == "/api/status") return {200, "application/json", control::render_status_json(run_status())};
  if (r.path == "/api/stats") {
    double since = -1;
    auto v = query_value(r.query, "since");
    if (!v) return web_text(400, "since: malformed %-escape");
    if (!v->empty()) {
      auto n = parse_query_number(*v);
      if (!n) return web_text(400, "since: expected a number of seconds");
      since = *n;
    }
    return {200, "application/json", live_.render_json(since)};
  }
  if (r.path == "/metrics")
    return {200, "text/plain; version=0.0.4; charset=utf-8", control::render_prometheus(total_, last_second_, run_status())};
  if (r.path == "/report") {
    if (report_path_.empty()) return web_text(404, "no report yet: it is rendered when the run ends with --report");
    std::ifstream in(report_path_, std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in) return web_text(404, "report unreadable");
    return {200, "text/html; charset=utf-8", body.str()};
  }
  return web_text(404, "not found");
}

WebResponse Controller::on_steer(const WebRequest& r) {
  std::optional<unsigned> agent;
  auto v = query_value(r.query, "agent");
  if (!v) return web_text(400, "agent: malformed %-escape");
  if (!v->empty()) {
    auto n = parse_query_number(*v);
    if (!n || *n < 0 || *n > 1e6 || *n != static_cast<unsigned>(*n)) return web_text(400, "agent: expected an agent id");
    agent = static_cast<unsigned>(*n);
  }
  control::ControlRequest request;
  if (r.path == "/api/stop") {
    if (keeping_) {  // -k: the run is over; stopping closes the dashboard
      asio::post(ctx_, [this] { ctx_.stop(); });
      return web_text(200, "closing the dashboard");
    }
    return web_answer(agent ? stop_agent_by_request(*agent, "dashboard POST /api/stop")
                            : stop_by_request("dashboard POST /api/stop"));
  }
  if (r.path == "/api/add-agent") {
    auto host = query_value(r.query, "host");
    auto ip = query_value(r.query, "ip");
    if (!host || !ip) return web_text(400, "host, ip: malformed %-escape");
    // The same checks as a control-socket request line.
    auto parsed = control::parse_control_request("add agent " + *host + (ip->empty() ? "" : " ip " + *ip));
    if (host->empty() || !parsed) return web_text(400, "host: expected HOST[:PORT] (and ip: an address)");
    return web_answer(add_agent_by_request(*parsed, /*any_host=*/false));
  }
  if (r.path == "/api/remove-agent") {
    if (!agent) return web_text(400, "agent: expected an agent id");
    return web_answer(remove_agent_by_request(*agent));
  }
  if (r.path == "/api/pause") request.kind = control::ControlRequest::Kind::pause;
  else if (r.path == "/api/resume") request.kind = control::ControlRequest::Kind::resume;
  else if (r.path == "/api/rate") {
    auto value = query_value(r.query, "value");
    auto parsed = value ? control::parse_rate(*value) : std::nullopt;
    if (!parsed) return web_text(400, "value: expected Nx (a factor of the planned rate) or N/s (arrivals per second)");
    request = *parsed;
  } else {
    return web_text(404, "not found");
  }
  request.one_agent = agent.has_value();
  request.agent = agent.value_or(0);
  return web_answer(set_rate_by_request(request));
}

void Controller::keep_serving(int exit_status) {
  release_control_clients(exit_status);  // with -k, the socket stays open for `loadctl stop`
  if (web_ && options_.http_keep) {
    keeping_ = true;
    console_.notice(fmt::format("dashboard kept at {} (-k): Ctrl-C or `loadctl stop` ends it", dashboard_url_));
    ctx_.restart();
    stop_signals_.cancel();
    stop_signals_.async_wait([this](const boost::system::error_code& e, int) {
      if (!e) ctx_.stop();
    });
    ctx_.run();
    keeping_ = false;
    keeping_done_ = true;
    web_->close();
    release_control_clients(exit_status);
  }
}

// The planned arrival rate (users/s) of the current phase: of `only`, or of the whole run. Only
// running agents still start users: stopped, lost or finished ones do not, and an agent that
// handed its arrivals over (maxusers) has no share from then on (its successor counts once running).
double Controller::planned_rate_now(const AgentRecord* only) const {
  double elapsed = started_ ? std::max(0.0, seconds_between(zero_, SteadyClock::now())) : 0;
  double rate = 0;
  for (const AgentRecord& a : agents_) {
    if (only && &a != only) continue;
    if (a.state != AgentState::running) continue;
    if (a.handed_over_at >= 0 && elapsed >= a.handed_over_at) continue;
    for (const PhaseShare& p : a.plan.phases)
      if (elapsed >= p.start && elapsed < p.start + p.duration) rate += p.rate * a.share;
  }
  return rate;
}

// wait_all_sessions_end shifts the phases after it by a wait only the agents know: their planned
// times no longer tell the current phase.
bool Controller::phases_shifted_now() const {
  double elapsed = started_ ? std::max(0.0, seconds_between(zero_, SteadyClock::now())) : 0;
  double end = 0;
  for (const ArrivalPhase& phase : scenario_.load.phases) {
    end += phase.duration;
    if (end > elapsed) break;
    if (phase.wait_all_sessions_end) return true;
  }
  return false;
}

std::string Controller::set_rate_by_request(const control::ControlRequest& request) {
  using Kind = control::ControlRequest::Kind;
  if (finished_ || stopping_) return "error: the run is over or stopping";
  if (!started_) return "error: the run has not started yet";
  AgentRecord* only = nullptr;
  if (request.one_agent) {
    auto it = std::find_if(agents_.begin(), agents_.end(), [&](const AgentRecord& a) { return a.plan.slot.id == request.agent; });
    if (it == agents_.end()) return fmt::format("error: no agent {}", request.agent);
    if (it->state != AgentState::running) return fmt::format("error: agent {} is {}, not running", request.agent, state_name(it->state));
    only = &*it;
  }
  if (request.kind == Kind::pause) return steer_rate(Steer::pause, 0, only, "pause");
  if (request.kind == Kind::resume) return steer_rate(Steer::resume, 0, only, "resume");
  double factor = request.rate;
  std::string what = fmt::format("rate {}x", request.rate);
  double planned = planned_rate_now(only);
  if (request.per_second) {
    if (phases_shifted_now())
      return "error: a phase with wait_all_sessions_end shifted the phases after it: rate N/s cannot tell the "
             "planned rate now; use rate Nx (a factor)";
    if (!(planned > 0)) return "error: the current phase has no arrival rate to scale (static users or between phases)";
    factor = request.rate / planned;
    what = fmt::format("rate {}/s ({:.4g}x the planned {:.4g}/s)", request.rate, factor, planned);
  } else if (!(planned > 0) && !phases_shifted_now()) {
    return "error: the current phase has no arrival rate to scale (static users or between phases)";
  }
  if (factor > control::kMaxRateFactor) return fmt::format("error: {} is more than {}x the planned rate", what, control::kMaxRateFactor);
  if (factor > 0 && factor < control::kMinRateFactor)
    return fmt::format("error: {} is less than {}x the planned rate: use pause", what, control::kMinRateFactor);
  return steer_rate(Steer::rate, factor, only, what);
}

// Pause is a flag of its own: an agent's arrivals run at paused ? 0 : rate_factor, so resume
// gives each agent back its own factor, and a rate asked while paused waits for resume.
std::string Controller::steer_rate(Steer kind, double factor, AgentRecord* only, const std::string& what) {
  bool held = false;  // a rate asked while paused
  for (AgentRecord& a : agents_) {
    if (only && &a != only) continue;
    if (kind == Steer::pause) a.paused = true;
    else if (kind == Steer::resume) a.paused = false;
    else a.rate_factor = factor;
    held = held || (kind == Steer::rate && a.paused);
    if (a.state == AgentState::running && a.channel && a.channel->open())
      a.channel->send(MsgType::rate, control::encode_rate(wire_factor(a)));
  }
  if (!only) {
    if (kind == Steer::rate) rate_factor_ = factor;
    else arrivals_paused_ = kind == Steer::pause;
  }
  std::string who = only ? fmt::format("agent {}", only->plan.slot.id) : "all agents";
  note_steering(fmt::format("{} ({})", what, who),
                kind == Steer::pause ? "steer_pause" : kind == Steer::resume ? "steer_resume" : "steer_rate");
  if (kind == Steer::pause) return who + ": arrivals paused";
  if (kind == Steer::resume) return who + ": arrivals resumed";
  return fmt::format("{}: {}{}", who, what, held ? " (arrivals paused: from resume on)" : "");
}

void Controller::note_steering(const std::string& event, const std::string& counter) {
  double t = seconds_between(zero_, SteadyClock::now());
  spdlog::info("steering: {} at {:.1f} s", event, t);
  console_.notice(fmt::format("steering: {}", event));
  live_.add_event(t, event);
  count_event(counter);
  if (jsonl_) jsonl_->write_event(std::time(nullptr), t, event);
}

}  // namespace loadctl::controller
