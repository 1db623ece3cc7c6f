#include "recorder/record_command.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "recorder/har.hpp"
#include "recorder/recorder.hpp"

namespace loadctl::recorder {

namespace {

constexpr int kUsage = 64;  // as the controller's kUsageError

int parse_failed(CLI::App& app, const CLI::Error& e) {
  if (dynamic_cast<const CLI::CallForHelp*>(&e) || dynamic_cast<const CLI::CallForAllHelp*>(&e)) return app.exit(e);
  std::fprintf(stderr, "error: %s\n(loadctl %s --help lists the options)\n", e.what(), app.get_name().c_str());
  return kUsage;
}

int send_control(const std::string& request) {
  std::string error;
  auto answer = control_request(request, error);
  if (!answer) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return 1;
  }
  std::fputs(answer->c_str(), answer->starts_with("error") ? stderr : stdout);
  return answer->starts_with("error") ? kUsage : 0;
}

}  // namespace

int record_main(int argc, char** argv) {
  CLI::App app{"loadctl record: a recording proxy (Tsung's tsung-recorder); docs/recorder.md.\n"
               "  loadctl record [options] [start]   record until `loadctl record stop` or Ctrl-C\n"
               "  loadctl record stop                end the recording (the file is then complete)\n"
               "  loadctl record tag '<transaction name=\"login\">'   insert a tag (then tag '</transaction>')"};
  app.name("record");
  RecorderOptions o;
  app.add_option("-p,--plugin", o.protocol, "http (default), webdav or pgsql");
  app.add_option("-L,--listen-port", o.listen_port, "port the proxy listens on (default 8090, as Tsung)");
  app.add_option("--listen-address", o.listen_address,
                 "address the proxy listens on (default 127.0.0.1; Tsung listens on all addresses)");
  app.add_option("-I", o.upstream.server_host, "pgsql: the server's address (default 127.0.0.1); http with -u: the parent proxy");
  app.add_option("-P", o.upstream.server_port, "pgsql: the server's port (default 5432); http with -u: the parent proxy's");
  app.add_flag("-u", o.upstream.parent_proxy, "http: send the requests through the parent proxy -I:-P");
  app.add_option("-o,--output", o.output, "the session file (default ~/.loadctl/recorder-YYYYMMDD-HHMM.xml)");
  long thinktime_low = 1000;
  app.add_option("--thinktime-low", thinktime_low,
                 "pauses shorter than this (ms) are not recorded as thinktimes (default 1000, as Tsung)")
      ->check(CLI::Range(0L, 86400000L));
  app.add_option("--mitm-ca", o.upstream.mitm_ca_dir,
                 "decrypt CONNECT tunnels with a CA kept in this owner-only directory (created if missing; "
                 "never installed anywhere: docs/recorder.md)");
  app.add_option("--only-host", o.upstream.only_hosts,
                 "record only the requests to this host (repeatable; the others are proxied, not recorded: "
                 "a browser's own background requests)");
  std::vector<std::string> command;
  app.add_option("command", command, "start (default), stop, or tag MARKUP");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Error& e) {
    return parse_failed(app, e);
  }
  o.thinktime_low = std::chrono::milliseconds(thinktime_low);
  if (!command.empty() && command[0] == "stop" && command.size() == 1) return send_control("stop");
  if (!command.empty() && command[0] == "tag") {
    if (command.size() < 2) {
      std::fprintf(stderr, "error: record tag MARKUP: e.g. loadctl record tag '<transaction name=\"login\">'\n");
      return kUsage;
    }
    std::string markup = command[1];
    for (std::size_t i = 2; i < command.size(); ++i) markup += " " + command[i];
    return send_control("tag " + markup);
  }
  if (!command.empty() && !(command[0] == "start" && command.size() == 1)) {
    std::fprintf(stderr, "error: record %s: expected start, stop or tag MARKUP\n", command[0].c_str());
    return kUsage;
  }
  if (o.upstream.parent_proxy && o.protocol != "http" && o.protocol != "webdav") {
    std::fprintf(stderr, "error: -u (parent proxy) is for -p http and webdav\n");
    return kUsage;
  }
  try {
    Recorder recorder(std::move(o));
    return recorder.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: record: %s\n", e.what());
    return 1;
  }
}

int har2xml_main(int argc, char** argv) {
  CLI::App app{"loadctl har2xml: a browser's HAR export as a Tsung session (docs/recorder.md)"};
  app.name("har2xml");
  std::string input, output;
  HarOptions o;
  app.add_option("file", input, "the .har file (Chromium DevTools: Network, \"Save all as HAR\")")->required();
  app.add_option("-o,--output", output, "the session file (default: standard output)");
  app.add_flag("--no-static", o.no_static,
               "leave out static assets (images, stylesheets, scripts, fonts, media: by resource type, "
               "MIME type or extension)");
  app.add_option("--thinktime-low", o.thinktime_low_ms,
                 "gaps shorter than this (ms) are not recorded as thinktimes (default 1000, as the proxy)")
      ->check(CLI::Range(0L, 86400000L));
  app.add_option("--session-name", o.session_name, "the session's name (default: har + the file's name)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Error& e) {
    return parse_failed(app, e);
  }
  try {
    HarResult result = har_file_to_session(input, output, o);
    std::fprintf(stderr, "har2xml: %zu request(s) written%s, %zu static left out\n", result.requests,
                 output.empty() ? "" : (" to " + output).c_str(), result.skipped_static);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: har2xml: %s\n", e.what());
    return 1;
  }
}

}  // namespace loadctl::recorder
