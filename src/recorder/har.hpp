#pragma once
// har2xml: a HAR 1.2 export (Chromium DevTools "Save all as HAR", Firefox, har-export tools) as a
// Tsung session, in the format the recording proxy writes (HttpRecordFormatter): one <request> per
// log.entries[] in order, thinktimes from the gaps between their startedDateTime (as the proxy's
// pauses: none below thinktime_low, whole seconds), --no-static leaving out images, stylesheets,
// scripts, fonts and media.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "recorder/http_record.hpp"

namespace loadctl::recorder {

struct HarOptions {
  bool no_static = false;
  long thinktime_low_ms = 1000;
  std::string session_name;  ///< "" = "har" + the input file's stem
  bool force = false;        ///< replace an existing output file
  bool include_cached = false;  ///< keep entries the browser served from its cache (_fromCache)
};

struct HarResult {
  std::size_t requests = 0;
  std::size_t skipped_static = 0;
  std::size_t skipped_other = 0;   ///< not http(s): data:, blob:, ws: ...
  std::size_t skipped_cached = 0;  ///< _fromCache, without include_cached
};

/// One entry of the HAR as a request, and when it started (ms since the epoch).
struct HarRequest {
  HttpRecord record;
  double started_ms = 0;
};

/// The HTTP requests of the HAR text `har`, in order, as har_to_session writes them (counting what
/// it leaves out in `result`). A postData without text but with params becomes a urlencoded body
/// (a name or value already %-encoded is kept as it is); multipart params are refused.
std::vector<HarRequest> har_requests(std::string_view har, const HarOptions& options, HarResult& result);

/// Milliseconds since the epoch of an ISO 8601 date-time as HAR writes it
/// ("2026-12-05T18:34:36.123Z", "...+01:00"); -1 when malformed.
double parse_har_time(std::string_view iso);

/// Converts the HAR text `har` into a session written to `output` ("" = standard output).
/// Throws std::runtime_error naming what is wrong (not JSON, no log.entries, an entry without
/// request.method/url ...).
HarResult har_to_session(std::string_view har, const std::string& output, const HarOptions& options);
/// Reads `input` (at most 512 MiB) and calls har_to_session.
HarResult har_file_to_session(const std::string& input, const std::string& output, HarOptions options);

}  // namespace loadctl::recorder
