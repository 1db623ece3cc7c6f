#include "agent/agent.hpp"

#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <spdlog/spdlog.h>

#include "loadctl/plan.hpp"
#include "loadctl/scenario_error.hpp"

namespace loadctl::agent {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using control::MsgType;

namespace {
constexpr auto kTickPeriod = 500ms;
constexpr auto kControllerSilence = 10s;  // no frame from the controller for this long: it is gone
}  // namespace

Agent::Agent(AgentOptions options)
    : options_(std::move(options)), signals_(ctx_, SIGINT, SIGTERM), tick_timer_(ctx_) {}

int Agent::run() {
  signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::warn("signal {}: stopping users", sig);
    finish(3);
  });
  connect();
  ctx_.run();
  if (engine_) {
    engine_->stop();
    engine_->join();
  }
  return exit_status_;
}

void Agent::connect() {
  auto colon = options_.controller.rfind(':');
  if (colon == std::string::npos) {
    spdlog::error("bad controller address '{}': expected HOST:PORT", options_.controller);
    exit_status_ = 2;
    return;
  }
  std::string host = options_.controller.substr(0, colon);
  std::string port = options_.controller.substr(colon + 1);
  asio::ip::tcp::resolver resolver(ctx_);
  asio::ip::tcp::socket socket(ctx_);
  boost::system::error_code ec;
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto endpoints = resolver.resolve(host, port, ec);
    if (!ec) asio::connect(socket, endpoints, ec);
    if (!ec) break;
    std::this_thread::sleep_for(250ms);
  }
  if (ec) {
    spdlog::error("cannot reach the controller at {}: {}", options_.controller, ec.message());
    exit_status_ = 2;
    return;
  }
  channel_ = std::make_shared<control::Channel>(std::move(socket));
  channel_->start([this](MsgType type, std::string_view payload) { on_message(type, payload); },
                  [this](const std::string& reason) {
                    if (!done_sent_) spdlog::error("controller connection lost: {}", reason);
                    finish(done_sent_ ? exit_status_ : 3);
                  });
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  control::Hello hello;
  hello.token = options_.token;
  hello.agent_id = options_.id;
  hello.hostname = name;
  hello.pid = static_cast<std::uint32_t>(getpid());
  hello.software_version = LOADCTL_VERSION;
  channel_->send(MsgType::hello, hello.encode());
  last_heard_ = std::chrono::steady_clock::now();
  tick();
}

void Agent::on_message(MsgType type, std::string_view payload) {
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
    case MsgType::stop:
      spdlog::info("stop requested by the controller");
      if (engine_) engine_->stop();
      else finish(0);
      break;
    case MsgType::bye:
      finish(exit_status_);
      break;
    case MsgType::heartbeat:
      break;
    default:
      spdlog::error("unexpected {} message from the controller", control::to_string(type));
      finish(2);
  }
}

void Agent::on_setup(std::string_view payload) {
  auto setup = control::Setup::decode(payload);
  std::optional<AgentPlan> plan;
  if (setup) plan = AgentPlan::decode(setup->plan);
  if (!setup || !plan) {
    channel_->send(MsgType::setup_failed, control::encode_text("malformed setup message"));
    finish(2);
    return;
  }
  try {
    scenario_ = load_scenario_text(setup->scenario_text, setup->scenario_name, ProtocolRegistry::builtin(),
                                   &setup->files);
    unsigned threads = options_.threads ? options_.threads : setup->threads;
    engine_ = std::make_unique<engine::Engine>(*scenario_, *plan, threads, setup->agent_count);
    spdlog::info("agent {} ready: {} thread(s), {} phase share(s), {} static user(s)", plan->slot.id,
                 threads, plan->phases.size(), plan->static_users.size());
    channel_->send(MsgType::ready);
  } catch (const std::exception& e) {
    spdlog::error("setup failed: {}", e.what());
    channel_->send(MsgType::setup_failed, control::encode_text(e.what()));
    finish(2);
  }
}

void Agent::on_go(std::string_view payload) {
  auto go = control::Go::decode(payload);
  if (!go || !engine_ || started_) {
    spdlog::error("unexpected go message");
    finish(2);
    return;
  }
  started_ = true;
  auto start = std::chrono::steady_clock::now() +
               std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(go->delay));
  engine_->start(start);
  spdlog::info("load starts in {:.3f} s", go->delay);
}

void Agent::tick() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_heard_ > kControllerSilence) {
    spdlog::error("no message from the controller for {} s: stopping", kControllerSilence.count());
    finish(3);
    return;
  }
  if (started_) send_stats();
  if (now - last_heartbeat_sent_ >= 1s) {
    channel_->send(MsgType::heartbeat);
    last_heartbeat_sent_ = now;
  }
  if (started_ && !done_sent_ && engine_->done()) {
    engine_->join();
    send_stats();
    channel_->send(MsgType::done);
    done_sent_ = true;
    spdlog::info("all users finished");
  }
  tick_timer_.expires_after(kTickPeriod);
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

void Agent::send_stats() {
  MetricSet delta;
  engine_->collect(delta);
  if (!delta.empty()) channel_->send(MsgType::stats, delta.encode());
}

void Agent::finish(int status) {
  exit_status_ = status;
  if (engine_) {
    engine_->stop();
    engine_->join();
    if (started_ && channel_ && channel_->open() && !done_sent_) {
      send_stats();
      channel_->send(MsgType::done);
      done_sent_ = true;
    }
  }
  tick_timer_.cancel();
  signals_.cancel();
  if (channel_) channel_->close_after_flush();
}

}  // namespace loadctl::agent
