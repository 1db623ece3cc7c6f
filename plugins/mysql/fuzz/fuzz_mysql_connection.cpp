// libFuzzer target for the MySQL connection's packet and result-set parser: the first byte picks
// the phase the server's bytes arrive in (greeting, authentication, a query's first packet, its
// rows, a 16 MiB row's continuation, closing) and where they are cut; the rest is fed whole and
// in two reads as the engine offers them (unconsumed bytes again with the next ones). Both must
// give the same event, the same bytes consumed and the same counters, never consume more than
// offered, and never wait for a packet longer than max_frame_size.
// Build and run: scripts/fuzz.sh (clang, -DLOADCTL_FUZZ=ON, build-fuzz/).
#include <cstdlib>
#include <string>
#include <vector>

#include <pugixml.hpp>

#include "mysql_connection.hpp"
#include "mysql_request.hpp"
#include "tests/mysql_test_support.hpp"

namespace {

using namespace loadctl;
using namespace loadctl::mysql;
using test_support::FakeServices;

std::shared_ptr<const MysqlRequest> request(const char* xml) {
  pugi::xml_document doc;
  if (!doc.load_string(xml)) std::abort();
  return parse_mysql_request(doc.first_child(), RequestParseContext{});
}

struct Requests {
  std::shared_ptr<const MysqlRequest> connect = request(R"(<mysql type="connect"/>)");
  std::shared_ptr<const MysqlRequest> auth =
      request(R"(<mysql type="authenticate" database="test" username="test" password="test"/>)");
  std::shared_ptr<const MysqlRequest> query = request(R"(<mysql type="sql">SELECT 1</mysql>)");
  std::shared_ptr<const MysqlRequest> close = request(R"(<mysql type="close"/>)");
  std::string full_row;  ///< a 16 MiB row packet (sequence id 4)
  Requests() {
    append_header(full_row, kMaxPacketLength, 4);
    full_row.append(kMaxPacketLength, 'x');
  }
};

struct Outcome {
  ConnEvent event = ConnEvent::none;
  std::size_t consumed = 0;  ///< bytes consumed up to the event (or in all; 0 for a fatal one)
  std::vector<std::string> errors;
  bool operator==(const Outcome&) const = default;
};

constexpr std::size_t kMaxFrame = 300;

// Feeds `data` in reads cut at `cuts`, as the engine does, to a connection put in `phase`.
Outcome run(const Requests& r, int phase, std::string_view data, const std::vector<std::size_t>& cuts) {
  FakeServices s;
  ErrorCodeNames codes;
  MysqlConnection conn(phase == 4 ? std::size_t{64} << 20 : kMaxFrame, codes);
  conn.on_open(s);
  std::string out;
  auto send = [&](const MysqlRequest& q) { conn.encode(s, q, EncodeContext{}, out); };
  auto feed = [&](const MysqlRequest& q, std::string_view bytes) {
    ResponseInfo info;
    return conn.on_data(s, &q, {bytes.data(), bytes.size()}, info);
  };
  const MysqlRequest* pending = r.connect.get();
  send(*r.connect);
  if (phase >= 1) {
    feed(*r.connect, test_support::kGreeting);
    send(*r.auth);
    pending = r.auth.get();
  }
  if (phase >= 2) {
    feed(*r.auth, test_support::kAuthOk);
    send(*r.query);
    pending = r.query.get();
  }
  if (phase == 3 || phase == 4) feed(*r.query, std::string_view(test_support::kSelect1).substr(0, 5 + 27 + 9));
  if (phase == 4 && feed(*r.query, r.full_row).consumed != r.full_row.size()) std::abort();
  if (phase == 5) {
    feed(*r.query, test_support::kSelect1);
    send(*r.close);
    pending = r.close.get();
  }
  s.errors.clear();
  Outcome o;
  std::string buffered;
  std::size_t pos = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    std::size_t end = i < cuts.size() ? cuts[i] : data.size();
    buffered.append(data.substr(pos, end - pos));
    pos = end;
    for (;;) {
      ResponseInfo info;
      ConnResult res = conn.on_data(s, pending, {buffered.data(), buffered.size()}, info);
      if (res.consumed > buffered.size()) std::abort();
      o.consumed += res.consumed;
      buffered.erase(0, res.consumed);
      if (res.event != ConnEvent::none) {
        o.event = res.event;
        // A fatal event takes whatever was offered (the connection closes): not compared.
        if (res.event == ConnEvent::fatal || res.event == ConnEvent::fatal_counted) o.consumed = 0;
        if (info.error) o.errors.emplace_back(std::string("fatal:") + info.error);
        o.errors.insert(o.errors.begin(), s.errors.begin(), s.errors.end());
        return o;
      }
      if (res.consumed == 0) break;
    }
    // Waiting for more: never for more than a packet of max_frame_size (rows are skipped).
    if (buffered.size() > kHeaderSize + kMaxFrame) std::abort();
  }
  o.errors = s.errors;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  static const Requests requests;
  if (size < 1) return 0;
  int phase = bytes[0] % 6;
  std::string_view data(reinterpret_cast<const char*>(bytes) + 1, size - 1);
  Outcome whole = run(requests, phase, data, {});
  std::size_t cut = data.empty() ? 0 : (bytes[0] / 6) % (data.size() + 1);
  Outcome split = run(requests, phase, data, {cut});
  if (!(whole == split)) std::abort();
  return 0;
}
