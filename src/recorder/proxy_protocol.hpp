#pragma once
// The recorder's protocol interface (Tsung's ts_proxy_<plugin> modules): a ProxyProtocol accepts
// each client connection of the recorder's listener and runs it as a proxy to the server, handing
// every complete client request to the SessionWriter as Tsung session XML.
//
//   Recorder::on_accept -> ProxyProtocol::serve(client socket) -> the protocol's per-connection
//   object (it owns both sockets, lives as long as the client's) -> SessionWriter::record(xml)
//
// A protocol: implement ProxyProtocol (session_type + serve), add it to make_proxy_protocol
// (proxy_protocol.cpp) under the name `loadctl record -p NAME` takes. Everything runs on the
// recorder's one io_context thread, so protocols call the writer directly.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "recorder/session_writer.hpp"

namespace loadctl::recorder {

/// What `loadctl record` was told about the server side (Tsung's -I, -P, -u).
struct UpstreamOptions {
  std::string server_host;       ///< -I: the pgsql server, or the parent proxy with -u ("" = default)
  std::uint16_t server_port = 0;  ///< -P: the same (0 = the protocol's default)
  bool parent_proxy = false;      ///< -u: HTTP requests go to -I:-P as a proxy would send them
  std::string mitm_ca_dir;        ///< --mitm-ca: CONNECT tunnels are decrypted with this CA ("" = blind)
  std::vector<std::string> only_hosts;  ///< --only-host: record requests to these hosts only (all when empty)
  /// `host` (no port) is to be recorded.
  bool records_host(std::string_view host) const;
};

/// The recorder's services to a protocol.
struct RecorderContext {
  boost::asio::io_context& io;
  SessionWriter& writer;
  const UpstreamOptions& upstream;
  /// One line on the recorder's console (stderr), e.g. "CONNECT example.com:443 tunnelled blindly".
  void note(std::string_view line) const;
};

class ProxyProtocol {
 public:
  virtual ~ProxyProtocol() = default;
  /// The session type written in <session type="...">: ts_http, ts_webdav, ts_pgsql.
  virtual std::string_view session_type() const = 0;
  /// Checks the upstream options at start-up; returns an error message, or "" when they fit.
  virtual std::string check(const UpstreamOptions& upstream) const { return {}; }
  /// Takes one accepted client connection and proxies it until either side closes.
  virtual void serve(boost::asio::ip::tcp::socket client, RecorderContext& context) = 0;
};

/// The protocol named `name` (http, webdav, pgsql), or nullptr when there is none.
std::unique_ptr<ProxyProtocol> make_proxy_protocol(std::string_view name);
/// The names make_proxy_protocol knows, for the usage message.
std::string_view proxy_protocol_names();

}  // namespace loadctl::recorder
