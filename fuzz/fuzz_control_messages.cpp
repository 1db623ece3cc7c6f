// libFuzzer target for the control-protocol decoders (what an unauthenticated or a compromised
// peer can send): the first byte picks the decoder; whatever decodes must re-encode into bytes
// that decode again. Case 6: a request line on the local control socket (loadctl status/stop);
// 7-9: an agent's done and abort, the controller's stop.
#include <cstdlib>
#include <string>

#include "control/local_control.hpp"
#include "control/messages.hpp"
#include "loadctl/plan.hpp"
#include "loadctl/stats.hpp"

namespace {

template <typename Message>
void round_trip(std::string_view payload) {
  auto decoded = Message::decode(payload);
  if (decoded && !Message::decode(decoded->encode())) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 10) {
    case 0: round_trip<loadctl::control::Hello>(payload); break;
    case 1: round_trip<loadctl::control::Setup>(payload); break;
    case 2: round_trip<loadctl::control::Go>(payload); break;
    case 3: round_trip<loadctl::AgentPlan>(payload); break;
    case 4: {
      auto text = loadctl::control::decode_text(payload);
      if (text && loadctl::control::decode_text(loadctl::control::encode_text(*text)) != text) std::abort();
      break;
    }
    case 5: {
      loadctl::MetricSet set;
      if (set.decode(payload)) {
        loadctl::MetricSet again;
        if (!again.decode(set.encode())) std::abort();
      }
      break;
    }
    case 6: {
      auto scan = loadctl::control::scan_control_request(payload.substr(0, loadctl::control::kMaxControlRequest));
      if (scan.result == loadctl::control::RequestScan::Result::complete &&
          loadctl::control::scan_control_request(loadctl::control::encode_control_request(scan.request)).request !=
              scan.request)
        std::abort();
      break;
    }
    case 7: round_trip<loadctl::control::Done>(payload); break;
    case 8: {
      auto abort = loadctl::control::TestAbort::decode(payload);
      // What decodes is already one clean line: it re-encodes to the same bytes.
      if (abort && abort->encode() != payload) std::abort();
      break;
    }
    case 9: round_trip<loadctl::control::Stop>(payload); break;
  }
  return 0;
}
