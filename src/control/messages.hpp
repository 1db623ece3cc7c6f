#pragma once
// The controller <-> agent control protocol. Every frame is
//   u32 length (of type + payload, little-endian) | u8 type | payload
// and no frame may exceed kMaxFrame (kMaxUnauthenticatedFrame before the peer's hello is verified). The agent opens with Hello (magic, version, token); the
// controller answers Welcome or Reject(reason) and then sends Setup; everything else follows.
//
//   agent                         controller
//   Hello  ----------------------->
//          <-----------------------  Welcome | Reject
//          <-----------------------  Setup (scenario text, plan, threads, data, plugins)
//   Ready | SetupFailed ---------->
//          <-----------------------  Go (delay until time zero)
//   Stats (every 500 ms) --------->
//   Heartbeat <------------------->  Heartbeat (every second both ways)
//   Abort ------------------------>  (its scenario aborts the whole test: match do="abort_test",
//                                     abort type="all"; the controller then stops every agent)
//   Done ------------------------->
//          <-----------------------  Stop(reason) (hard stop, Ctrl-C, abort) / Bye
//
// IP-direct mode (`loadagent --listen [IP:]PORT --token-file F`): the controller dials the agent
// and speaks first. Its Hello carries the token from the shared token file and the agent id the
// controller assigns; the agent checks magic, version and token (constant-time), and answers
// Reject(reason) and closes, or its own Hello (same id and token, its hostname and pid). From
// there the flow above goes on unchanged (Welcome, Setup, ...). A listening agent serves one run
// at a time: another controller meanwhile gets Reject("busy: ..."); after Bye, a lost controller
// or a failed setup it waits for the next run.
//
//   controller                    listening agent
//   Hello (token, id) ------------>
//          <-----------------------  Hello (same id, hostname, pid) | Reject
//   Welcome, Setup --------------->  ... as above

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugin_host/plugin_loader.hpp"
#include "loadctl/capacity.hpp"
#include "loadctl/dynamics.hpp"

namespace loadctl::control {

inline constexpr std::string_view kMagic = "LOADCTL";
inline constexpr std::uint32_t kProtocolVersion = 6;  ///< 2: Setup carries plugin files; 3: and -x tags, -L; barrier/release (wait_global); Done flags; 4: --arrival-lag-limit, rate; 5: Hello carries HostFacts; 6: abort, Stop carries its reason
inline constexpr std::uint32_t kMaxFrame = 64u * 1024 * 1024;
/// Largest frame a peer may send before its hello is verified (a hello is ~100 bytes).
inline constexpr std::uint32_t kMaxUnauthenticatedFrame = 4096;
/// Payload bytes read per step: memory follows the bytes that actually arrived.
inline constexpr std::uint32_t kReadChunk = 64 * 1024;

enum class MsgType : std::uint8_t {
  hello = 1, welcome, reject, setup, ready, setup_failed, go, stats, done, stop, heartbeat, bye,
  handover,  ///< agent: maxusers reached; payload: AgentPlan of the arrivals another agent must run
  log,       ///< listening agent: log lines for agent-<id>.log (encode_text)
  barrier,   ///< agent: N more users reached a wait_global thinktime (encode_text of N)
  release,   ///< controller: let N of the agent's users waiting at wait_global go on (encode_text of N)
  rate,      ///< controller: arrivals from now at F times the planned rate (encode_rate; 0: paused)
  abort,     ///< agent: its scenario aborts the whole test (TestAbort); the controller stops every agent
  last = abort,
};

const char* to_string(MsgType type);

struct Hello {
  std::uint32_t version = kProtocolVersion;
  std::string token;
  std::uint32_t agent_id = 0;
  std::string hostname;
  std::uint32_t pid = 0;
  std::string software_version;
  /// The agent's host (capacity preflight); a controller's hello sends none (known = false).
  /// Last on the wire, so that a peer of another version still decodes and gets the version error.
  HostFacts facts;

  std::string encode() const;
  static std::optional<Hello> decode(std::string_view payload);
};

struct Setup {
  std::string scenario_name;
  std::string scenario_text;
  std::string plan;  ///< AgentPlan::encode()
  std::uint32_t threads = 1;
  std::uint32_t agent_count = 1;  ///< agents in the run: file_server order="iter" partitioning
  std::vector<DataFile> files;    ///< file_server contents, read by the controller
  std::vector<PluginFile> plugins;  ///< run-time plugins the controller loaded (-X), in load order
  std::vector<std::string> exclude_tags;  ///< -x: requests with these tags are left out
  std::uint32_t ssl_session_lifetime = 600;  ///< -L: seconds a TLS session is resumed
  double arrival_lag_limit = 0.1;  ///< --arrival-lag-limit: seconds late before a user counts as users_late

  std::string encode() const;
  static std::optional<Setup> decode(std::string_view payload);
};

struct Go {
  double delay = 0;  ///< seconds from receipt until time zero (negative: time zero has passed)

  std::string encode() const;
  static std::optional<Go> decode(std::string_view payload);
};

/// Done: how the agent's load ended. Either flag makes the run count one error_abort, as Tsung
/// does when its max duration or an abort of the whole test ends it (ts_mon:abort).
struct Done {
  bool hard_stopped = false;  ///< <load duration> fired while users ran or were still to arrive
  bool test_aborted = false;  ///< <abort type="all"> or <match do="abort_test">

  std::string encode() const;
  static std::optional<Done> decode(std::string_view payload);
};

/// What a one-line reason may hold: at most kMaxReason bytes, no control character (it goes to
/// the console and the logs as is).
inline constexpr std::size_t kMaxReason = 512;

/// Abort (agent -> controller): <match do="abort_test"> or <abort type="all"> fired in one of its
/// users; `cause` names it (the match, its pattern, the user and session). Sent once per agent.
struct TestAbort {
  std::string cause;  ///< encode() cuts it to kMaxReason bytes and replaces control characters

  std::string encode() const;
  static std::optional<TestAbort> decode(std::string_view payload);  ///< empty or bad cause: nullopt
};

/// Stop (controller -> agent): stop every user now; `reason` (maybe empty) is for the agent's log:
/// "signal 2", "loadctl stop", "test aborted by agent 1 on ...".
struct Stop {
  std::string reason;

  std::string encode() const;
  static std::optional<Stop> decode(std::string_view payload);  ///< an empty payload: no reason
};

/// Rate: the factor F (finite, 0 <= F <= kMaxWireRateFactor) as decimal text.
inline constexpr double kMaxWireRateFactor = 1e6;
std::string encode_rate(double factor);
std::optional<double> decode_rate(std::string_view payload);

/// A single string payload (Reject, SetupFailed reasons).
std::string encode_text(std::string_view text);
std::optional<std::string> decode_text(std::string_view payload);

}  // namespace loadctl::control
