#pragma once
// SessionWriter: the recorder's output file, a Tsung <session> as tsung-recorder writes it
// (ts_proxy_recorder.erl), meant to be included in a scenario with an XML ENTITY (docs/recorder.md).
//
//   <session name="rec20261205-1834" probability="100" type="ts_http">
//   <request>...</request>            one per record(), formatted by the proxy protocol
//   <thinktime random="true" value="3"/>   the pause before a request, when >= thinktime_low
//   <transaction name="login">        a tag (`loadctl record tag`), checked to keep the file well-formed
//   </session>                        written by close(), which also closes tags left open
//
// The file is written as PATH.tmp (created anew, O_EXCL|O_NOFOLLOW, 0600) and renamed to PATH by
// close(); an existing PATH is refused unless `force`. Every write is flushed at once, so the .tmp
// is readable (missing only its closing tags) while recording; a failure (a write error, the
// writer destroyed without close()) leaves the .tmp without </session>. Not thread-safe: the
// recorder runs one io_context thread.

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loadctl::recorder {

using Clock = std::chrono::steady_clock;

/// `s` escaped for a quoted XML attribute or text (& < > " ' and tab, LF, CR as character
/// references, as Tsung's export_text plus the whitespace an attribute would otherwise lose);
/// nullopt when `s` cannot be XML text (a C0 control other than tab/LF/CR, DEL, invalid UTF-8):
/// such a body goes to an external file (SessionWriter::save_external).
std::optional<std::string> xml_escape(std::string_view s);

/// The thinktime Tsung's recorder writes for a pause of `elapsed`: none below `low`, else the
/// pause in seconds rounded half away from zero (Erlang's round/1).
std::optional<long> recorded_thinktime(std::chrono::microseconds elapsed, std::chrono::milliseconds low);

/// "YYYYMMDD-HHMM" of the local time `t` (Tsung's ts_utils:datestr).
std::string date_stamp(std::time_t t);

class SessionWriter {
 public:
  struct Options {
    std::string path;                              ///< the file to write (mode 0600); "-": stdout
    std::string session_type = "ts_http";          ///< ts_http, ts_webdav, ts_pgsql
    std::string session_name;                      ///< default "rec" + date_stamp(now)
    std::chrono::milliseconds thinktime_low{1000};  ///< shorter pauses are not recorded (Tsung's)
    bool force = false;                            ///< replace an existing `path`
  };

  /// Opens the file and writes the <session> start tag; throws std::runtime_error on failure.
  explicit SessionWriter(Options options);
  ~SessionWriter();
  SessionWriter(const SessionWriter&) = delete;
  SessionWriter& operator=(const SessionWriter&) = delete;

  /// Writes `request_xml` (one or more complete elements, e.g. <request>...</request>), preceded by
  /// <thinktime> when the pause since the previous request is long enough.
  void record(std::string_view request_xml, Clock::time_point at = Clock::now());
  /// Writes `bytes` to "<file without .xml>-N.bin" next to the output (the next N not taken) and
  /// returns that absolute path, for a request body that cannot be XML text (contents_from_file).
  std::string save_external(std::string_view bytes);
  /// Inserts user markup: a start tag (<transaction name="x">), its end tag, an empty element or a
  /// comment. Returns an error message (nothing written) when it would make the file ill-formed.
  std::optional<std::string> tag(std::string_view markup);
  /// Writes an XML comment (any "--" in `text` is broken up).
  void comment(std::string_view text);
  /// Closes the tags left open, writes </session>, closes the file and renames the .tmp to the path.
  /// Throws std::runtime_error when a write failed (the .tmp is left, without </session>) or the
  /// rename did. Idempotent.
  void close();
  /// Closes the file without its end (the error path; the destructor when close() was not called).
  void abandon() noexcept;

  const std::string& path() const { return options_.path; }
  const Options& options() const { return options_; }
  std::size_t requests() const { return requests_; }
  bool closed() const { return file_ == nullptr; }
  /// The first write error (errno), 0 while none.
  int write_error() const { return write_errno_; }

 private:
  void write(std::string_view text);

  Options options_;
  std::FILE* file_ = nullptr;
  std::optional<Clock::time_point> last_request_;
  std::vector<std::string> open_tags_;  ///< start tags inserted by tag() and not yet closed
  std::size_t requests_ = 0;
  unsigned external_files_ = 0;
  std::string temp_path_;  ///< PATH.tmp ("" for standard output)
  int write_errno_ = 0;    ///< the first write error
};

}  // namespace loadctl::recorder
