#pragma once
// The two ways a loadagent process gets its runs:
//  * dial-back (started by the controller, locally or through a remote shell): connect to the
//    controller, send hello, run one Session, exit with its status;
//  * listen ("IP-direct", a daemon started beforehand): see listener.hpp.

#include <cstdint>
#include <string>

namespace loadctl::agent {

struct AgentOptions {
  std::string controller;  ///< host:port to dial
  std::string token;
  unsigned id = 0;
  unsigned threads = 0;    ///< 0 = as the controller says
};

/// Dials the controller and serves one run; returns the process exit status.
int run_dial_back(const AgentOptions& options);

/// Hello fields describing this process (hostname, pid, software version).
struct ProcessIdentity {
  std::string hostname;
  std::uint32_t pid = 0;
};
ProcessIdentity this_process();

}  // namespace loadctl::agent
