#pragma once
// An incremental scanner for an XMPP stream: splits the bytes received inside <stream:stream>
// into top-level units (the stream header, each stanza or nonza, the stream end) without
// building a tree. Resumable: called again with the same bytes plus more, it goes on where it
// stopped, so a stanza split across reads costs one pass.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace loadctl::jabber {

struct StreamUnit {
  enum class Kind : std::uint8_t { declaration, stream_open, stream_close, element };
  Kind kind = Kind::element;
  std::size_t length = 0;       ///< bytes of the unit, leading whitespace included
  std::string_view name;        ///< element name ("iq", "stream:features"), empty for a declaration
  std::string_view start_tag;   ///< "<iq type='result' id='3'>" (views into the scanned bytes)
  std::string_view text;        ///< the whole unit without leading whitespace
};

class StreamScanner {
 public:
  enum class Status : std::uint8_t { need_more, unit, error };
  /// Scans `data` (which starts where the previous unit ended). On `unit`, fills `unit`; the
  /// caller consumes unit.length bytes and calls reset(). On need_more, call again with the same
  /// bytes and more appended.
  Status next(std::string_view data, StreamUnit& unit);
  void reset() { *this = StreamScanner{}; }

 private:
  enum class State : std::uint8_t { text, start_tag, end_tag, pi, comment, cdata };
  std::size_t pos_ = 0;
  std::size_t unit_start_ = std::string_view::npos;  ///< first '<' of the unit
  std::size_t tag_start_ = 0;
  std::size_t first_tag_end_ = 0;
  int depth_ = 0;
  State state_ = State::text;
  char quote_ = 0;
};

/// The value of attribute `name` in a start tag ("<iq id='3'>" -> "3"), or empty; entities are
/// not decoded.
std::string_view attribute(std::string_view start_tag, std::string_view name);

}  // namespace loadctl::jabber
