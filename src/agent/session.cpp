#include "agent/session.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "plugin_host/plugin_loader.hpp"
#include "loadctl/plan.hpp"
#include "loadctl/scenario_error.hpp"

namespace loadctl::agent {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using control::MsgType;

namespace {
constexpr auto kTickPeriod = 500ms;
constexpr auto kControllerSilence = 10s;  // no frame from the controller for this long: it is gone
constexpr unsigned kMonitorTicks = 4;     // host cpu/freemem/load every 2 s
}  // namespace

Session::Session(asio::io_context& ctx, std::shared_ptr<control::Channel> channel, unsigned threads, EndHandler on_end)
    : ctx_(ctx), channel_(std::move(channel)), threads_(threads), on_end_(std::move(on_end)), tick_timer_(ctx) {}

Session::~Session() {
  if (engine_) {
    engine_->stop();
    engine_->join();
  }
}

void Session::attach() {
  channel_->rebind([this](MsgType type, std::string_view payload) { on_message(type, payload); },
                   [this](const std::string& reason) {
                     if (!done_sent_) spdlog::error("controller connection lost: {}", reason);
                     finish(done_sent_ ? status_ : 3);
                   });
  last_heard_ = std::chrono::steady_clock::now();
  tick();
}

void Session::start() {
  channel_->start([](MsgType, std::string_view) {}, [](const std::string&) {});
  attach();
}

void Session::on_message(MsgType type, std::string_view payload) {
  last_heard_ = std::chrono::steady_clock::now();
  switch (type) {
    case MsgType::welcome:
      spdlog::info("accepted by the controller at {}", channel_->peer());
      break;
    case MsgType::reject:
      spdlog::error("refused by the controller: {}", control::decode_text(payload).value_or("?"));
      finish(2);
      break;
    case MsgType::setup:
      on_setup(payload);
      break;
    case MsgType::go:
      on_go(payload);
      break;
    case MsgType::stop: {
      auto stop = control::Stop::decode(payload);
      spdlog::info("stop requested by the controller{}", stop && !stop->reason.empty() ? ": " + stop->reason : "");
      if (engine_) {
        engine_->stop();
      } else if (started_ && !done_sent_) {  // monitor-only: a sample if one is due, then done; bye ends it
        send_stats();
        send_done();
        done_sent_ = true;
      } else if (!started_) {
        finish(0);
      }
      break;
    }
    case MsgType::bye:
      finish(status_);
      break;
    case MsgType::heartbeat:
      break;
    case MsgType::rate:
      if (auto factor = control::decode_rate(payload); factor && engine_) {
        spdlog::info("arrival rate x{} (the controller's steering)", *factor);
        engine_->set_arrival_factor(*factor);
      }
      break;
    case MsgType::release:
      if (auto n = control::decode_text(payload); n && engine_)
        engine_->release_barrier(std::strtoull(n->c_str(), nullptr, 10));
      break;
    default:
      spdlog::error("unexpected {} message from the controller", control::to_string(type));
      finish(2);
  }
}

void Session::on_setup(std::string_view payload) {
  auto setup = control::Setup::decode(payload);
  std::optional<AgentPlan> plan;
  if (setup) plan = AgentPlan::decode(setup->plan);
  if (!setup || !plan || engine_ || plan_) {
    channel_->send(MsgType::setup_failed, control::encode_text("malformed or repeated setup message"));
    finish(2);
    return;
  }
  if (plan->slot.monitor_only) {  // no users: neither plugins nor the scenario are needed
    spdlog::info("agent {} ready: monitor-only, samples {} every 2 s", plan->slot.id, plan->slot.host);
    plan_ = std::move(plan);
    channel_->send(MsgType::ready);
    return;
  }
  if (!setup->plugins.empty() && !shell_allowed()) {  // a plugin runs its code as it loads
    std::string refused = fmt::format("plugin {} shipped by the controller refused: this agent was started without "
                                      "--allow-local (docs/security.md)", setup->plugins.front().name);
    spdlog::error("{}", refused);
    channel_->send(MsgType::setup_failed, control::encode_text(refused));
    finish(2);
    return;
  }
  try {
    load_shipped_plugins(setup->plugins);  // before the scenario: its elements may be theirs
    for (const PluginFile& p : setup->plugins)
      spdlog::info("plugin {} ({} bytes) shipped by the controller: loaded", p.name, p.bytes.size());
    scenario_ = load_scenario_text(setup->scenario_text, setup->scenario_name, ProtocolRegistry::builtin(),
                                   &setup->files);
    exclude_tagged_requests(*scenario_, setup->exclude_tags);
    scenario_->options.ssl_session_lifetime = setup->ssl_session_lifetime;
    unsigned threads = threads_ ? threads_ : setup->threads;
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());  // a listening agent's own cores
    worker_threads_ = threads;
    engine_ = std::make_unique<engine::Engine>(*scenario_, *plan, threads, setup->agent_count, setup->arrival_lag_limit);
    spdlog::info("agent {} ready: {} thread(s), {} phase share(s), {} static user(s)", plan->slot.id, threads,
                 plan->phases.size(), plan->static_users.size());
    plan_ = std::move(plan);
    channel_->send(MsgType::ready);
  } catch (const std::exception& e) {
    spdlog::error("setup failed: {}", e.what());
    channel_->send(MsgType::setup_failed, control::encode_text(e.what()));
    finish(2);
  }
}

void Session::on_go(std::string_view payload) {
  auto go = control::Go::decode(payload);
  if (!go || !plan_ || started_) {
    spdlog::error("unexpected go message");
    finish(2);
    return;
  }
  started_ = true;
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  // A monitor agent's samples carry the <monitor host> name, as Tsung names a monitored node.
  monitor_ = std::make_unique<HostMonitor>(plan_->slot.monitor_only ? plan_->slot.host : std::string(name));
  // A load agent's own CPU, for the report's generator-saturation flag: "agentN@host" as Tsung
  // names its client nodes (tsungN@host).
  if (engine_) monitor_->watch_process(fmt::format("agent{}@{}", plan_->slot.id, name), worker_threads_);
  if (!engine_) {
    spdlog::info("monitoring starts");
    return;
  }
  auto start = std::chrono::steady_clock::now() +
               std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(go->delay));
  engine_->start(start);
  spdlog::info("load starts in {:.3f} s", go->delay);
}

void Session::tick() {
  if (ended_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_heard_ > kControllerSilence) {
    spdlog::error("no message from the controller for {} s: stopping", kControllerSilence.count());
    finish(3);
    return;
  }
  if (started_ && !engine_ && !done_sent_) send_stats();  // monitor-only
  if (started_ && engine_) {
    send_stats();
    report_abort();
    send_handovers();
    if (std::uint64_t n = engine_->take_barrier_arrivals())
      channel_->send(MsgType::barrier, control::encode_text(std::to_string(n)));
  }
  send_logs();
  if (now - last_heartbeat_sent_ >= 1s) {
    channel_->send(MsgType::heartbeat);
    last_heartbeat_sent_ = now;
  }
  if (started_ && engine_ && !done_sent_ && engine_->done()) {
    engine_->join();
    send_stats();
    send_done();
    done_sent_ = true;
    spdlog::info("all users finished (peak concurrent users: at most {})", engine_->peak_users());
  }
  tick_timer_.expires_after(kTickPeriod);
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

void Session::send_stats() {
  MetricSet delta;
  if (engine_) engine_->collect(delta);
  if (monitor_ && ticks_++ % kMonitorTicks == 0) monitor_->sample(delta);
  if (!delta.empty()) channel_->send(MsgType::stats, delta.encode());
}

void Session::send_done() {
  report_abort();  // before done: the controller learns why this agent ended
  control::Done done;
  done.hard_stopped = engine_ && engine_->hard_stopped();
  done.test_aborted = engine_ && engine_->test_aborted();
  channel_->send(MsgType::done, done.encode());
}

void Session::report_abort() {
  if (abort_sent_ || !engine_ || !engine_->test_aborted()) return;
  abort_sent_ = true;
  control::TestAbort abort{engine_->abort_cause()};
  if (abort.cause.empty()) abort.cause = "the scenario aborted the test";
  spdlog::warn("the test is aborted by {}: telling the controller", abort.cause);
  channel_->send(MsgType::abort, abort.encode());
}

void Session::send_logs() {
  if (!log_sink_) return;
  std::string lines = log_sink_->take();
  if (!lines.empty()) channel_->send(MsgType::log, control::encode_text(lines));
}

// Workers that reached their maxusers share gave up the rest of their arrivals: the controller
// starts another agent on this host for them.
void Session::send_handovers() {
  for (engine::Handover& handover : engine_->take_handovers()) {
    AgentPlan rest = *plan_;
    rest.phases = std::move(handover.phases);
    rest.static_users.clear();
    spdlog::info("maxusers ({}) reached: handing {} phase share(s) over to a new agent", plan_->slot.maxusers,
                 rest.phases.size());
    channel_->send(MsgType::handover, rest.encode());
  }
}

void Session::finish(int status) {
  if (ended_) return;
  ended_ = true;
  status_ = status;
  if (engine_) {
    engine_->stop();
    engine_->join();
    if (started_ && channel_->open() && !done_sent_) {
      send_stats();
      send_done();
      done_sent_ = true;
    }
  }
  tick_timer_.cancel();
  send_logs();
  // The channel may outlive this session (queued writes): it must not call back into it.
  channel_->rebind([](MsgType, std::string_view) {}, [](const std::string&) {});
  channel_->close_after_flush();
  asio::post(ctx_, [on_end = on_end_, status] { on_end(status); });
}

}  // namespace loadctl::agent
