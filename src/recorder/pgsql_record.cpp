#include "recorder/pgsql_record.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace loadctl::recorder {

namespace {

// Reads a frontend message's body field by field; any read past the end makes it !ok().
class PgBodyCursor {
 public:
  explicit PgBodyCursor(std::string_view body) : rest_(body) {}
  bool ok() const { return ok_; }
  bool at_end() const { return rest_.empty(); }
  std::string_view cstring() {
    std::size_t nul = rest_.find('\0');
    if (nul == std::string_view::npos) return fail();
    std::string_view s = rest_.substr(0, nul);
    rest_.remove_prefix(nul + 1);
    return s;
  }
  std::string_view bytes(std::size_t n) {
    if (rest_.size() < n) return fail();
    std::string_view s = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return s;
  }
  std::uint32_t u32() {
    std::string_view b = bytes(4);
    if (b.size() < 4) return 0;
    return std::uint32_t(std::uint8_t(b[0])) << 24 | std::uint32_t(std::uint8_t(b[1])) << 16 |
           std::uint32_t(std::uint8_t(b[2])) << 8 | std::uint8_t(b[3]);
  }
  std::uint16_t u16() {
    std::string_view b = bytes(2);
    if (b.size() < 2) return 0;
    return static_cast<std::uint16_t>(std::uint8_t(b[0]) << 8 | std::uint8_t(b[1]));
  }
  std::string_view rest() { return bytes(rest_.size()); }

 private:
  std::string_view fail() {
    ok_ = false;
    rest_ = {};
    return {};
  }
  std::string_view rest_;
  bool ok_ = true;
};

// The text as CDATA sections, nullopt when XML cannot hold it. "]]>" is split across two sections;
// a carriage return is written &#13; between sections (an XML parser turns a literal CR, even in
// CDATA, into a line feed).
std::optional<std::string> pg_cdata(std::string_view text) {
  if (!xml_escape(text)) return std::nullopt;
  std::string out = "<![CDATA[";
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += "]]>&#13;<![CDATA[";
    } else if (text.compare(i, 3, "]]>") == 0) {
      out += "]]]]><![CDATA[>";
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out + "]]>";
}

// ` name="value"`, or nullopt when XML cannot hold the value.
std::optional<std::string> pg_attr(std::string_view name, std::string_view value) {
  auto escaped = xml_escape(value);
  if (!escaped) return std::nullopt;
  return fmt::format(" {}=\"{}\"", name, *escaped);
}

std::string pg_request(std::string_view type, std::string_view attributes, std::string_view text = {}) {
  if (text.empty()) return fmt::format("<request><pgsql type=\"{}\"{}/></request>", type, attributes);
  return fmt::format("<request><pgsql type=\"{}\"{}>{}</pgsql></request>", type, attributes, text);
}

PgsqlRecord pg_problem(std::string problem) { return PgsqlRecord{{}, std::move(problem)}; }

PgsqlRecord pg_malformed(char type) { return pg_problem(fmt::format("a malformed '{}' message (forwarded, not recorded)", type)); }

std::string pg_join_u32(PgBodyCursor& in, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += (i ? "," : "") + std::to_string(in.u32());
  return out;
}

PgsqlRecord pg_parse(std::string_view body) {
  PgBodyCursor in(body);
  std::string_view name = in.cstring(), query = in.cstring();
  std::string oids = pg_join_u32(in, in.u16());
  if (!in.ok() || !in.at_end()) return pg_malformed('P');
  auto text = pg_cdata(query);
  auto name_attr = pg_attr("name_prepared", name);
  if (!text || !name_attr) return pg_problem("a Parse whose query or name XML cannot hold (not recorded)");
  std::string attrs = name.empty() ? "" : *name_attr;
  if (!oids.empty()) attrs += " parameters=\"" + oids + "\"";
  return {pg_request("parse", attrs, *text), {}};
}

// Tsung's bind attributes: formats none|text|binary|auto (one code for all, or one per parameter,
// all text), parameters comma-separated with null for NULL, formats_results text|binary.
PgsqlRecord pg_bind(std::string_view body) {
  PgBodyCursor in(body);
  std::string_view portal = in.cstring(), prepared = in.cstring();
  std::uint16_t nformats = in.u16();
  bool any_binary = false;
  std::uint16_t first_format = 0;
  for (std::uint16_t i = 0; i < nformats; ++i) {
    std::uint16_t f = in.u16();
    if (i == 0) first_format = f;
    any_binary = any_binary || f != 0;
  }
  std::uint16_t nparams = in.u16();
  std::string params;
  bool representable = true;
  for (std::uint16_t i = 0; i < nparams && in.ok(); ++i) {
    if (i) params += ',';
    std::uint32_t size = in.u32();
    if (size == 0xFFFFFFFFu) {
      params += "null";
      continue;
    }
    std::string_view value = in.bytes(size);
    auto escaped = xml_escape(value);
    // A comma splits, "null" is NULL, one empty parameter reads as none: Tsung's list cannot say it.
    if (!escaped || value.find(',') != std::string_view::npos || value == "null" || (nparams == 1 && value.empty()))
      representable = false;
    else
      params += *escaped;
  }
  std::uint16_t nresults = in.u16();
  std::string results;
  for (std::uint16_t i = 0; i < nresults; ++i) {
    std::uint16_t f = in.u16();
    if (f > 1) representable = false;
    results += std::string(i ? "," : "") + (f ? "binary" : "text");
  }
  if (!in.ok() || !in.at_end()) return pg_malformed('B');
  std::string_view formats = nformats == 0 ? "none"
                             : nformats == 1 ? (first_format == 0 ? "text" : first_format == 1 ? "binary" : "")
                             : any_binary   ? ""
                                            : "auto";
  if (formats.empty()) representable = false;
  auto portal_attr = pg_attr("name_portal", portal), prepared_attr = pg_attr("name_prepared", prepared);
  if (!representable || !portal_attr || !prepared_attr)
    return pg_problem("a Bind that Tsung's <pgsql type=\"bind\"> cannot express (a parameter with a comma, "
                      "'null', bytes XML cannot hold, a single empty one, or mixed formats): not recorded");
  std::string attrs = (portal.empty() ? "" : *portal_attr) + (prepared.empty() ? "" : *prepared_attr);
  if (formats != "none") attrs += fmt::format(" formats=\"{}\"", formats);
  if (!results.empty()) attrs += fmt::format(" formats_results=\"{}\"", results);
  if (nparams > 0) attrs += fmt::format(" parameters=\"{}\"", params);
  return {pg_request("bind", attrs), {}};
}

PgsqlRecord pg_describe(std::string_view body) {
  PgBodyCursor in(body);
  std::string_view kind = in.bytes(1), name = in.cstring();
  if (!in.ok() || !in.at_end() || (kind != "S" && kind != "P")) return pg_malformed('D');
  auto attr = pg_attr(kind == "S" ? "name_prepared" : "name_portal", name);
  if (!attr) return pg_problem("a Describe whose name XML cannot hold (not recorded)");
  return {pg_request("describe", *attr), {}};
}

PgsqlRecord pg_execute(std::string_view body) {
  PgBodyCursor in(body);
  std::string_view portal = in.cstring();
  std::uint32_t max_rows = in.u32();
  if (!in.ok() || !in.at_end() || max_rows > 0x7FFFFFFFu) return pg_malformed('E');
  auto attr = pg_attr("name_portal", portal);
  if (!attr) return pg_problem("an Execute whose portal name XML cannot hold (not recorded)");
  std::string attrs = portal.empty() ? "" : *attr;
  if (max_rows) attrs += fmt::format(" max_rows=\"{}\"", max_rows);
  return {pg_request("execute", attrs), {}};
}

PgsqlRecord pg_copy(std::string_view data, SessionWriter* writer) {
  if (writer && data.size() > 1024) {  // Tsung's threshold
    auto attr = pg_attr("contents_from_file", writer->save_external(data));
    if (!attr) return pg_problem("a CopyData whose file name XML cannot hold (not recorded)");
    return {pg_request("copy", *attr), {}};
  }
  std::string bytes;
  for (std::size_t i = 0; i < data.size(); ++i) bytes += (i ? "," : "") + std::to_string(std::uint8_t(data[i]));
  return {pg_request("copy", "", bytes), {}};
}

// A body that is one NUL-terminated string (Query, CopyFail, PasswordMessage).
std::optional<std::string_view> pg_string_body(std::string_view body) {
  if (body.empty() || body.back() != '\0' || body.find('\0') != body.size() - 1) return std::nullopt;
  return body.substr(0, body.size() - 1);
}

}  // namespace

void FrontendReader::append(std::string_view bytes) {
  if (consumed_ > 0 && consumed_ >= buffer_.size() / 2) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  buffer_.append(bytes);
}

std::optional<FrontendMessage> FrontendReader::next() {
  if (!error_.empty()) return std::nullopt;
  std::string_view data = std::string_view(buffer_).substr(consumed_);
  if (passing_ > 0) {
    if (data.empty()) return std::nullopt;
    std::size_t n = std::min(passing_, data.size());
    passing_ -= n;
    consumed_ += n;
    return FrontendMessage{passing_type_, {}, data.substr(0, n), FrontendMessage::Part::piece, 0};
  }
  std::size_t header = startup_ ? 4 : 5;
  if (data.size() < header) return std::nullopt;
  PgBodyCursor length_field(data.substr(header - 4, 4));
  std::uint32_t length = length_field.u32();
  auto what = [&] { return startup_ ? std::string("startup packet") : fmt::format("'{}' message", data[0]); };
  if (length < 4) {
    error_ = fmt::format("a {} with length {} (below 4)", what(), length);
    return std::nullopt;
  }
  if (length - 4 > max_body_ && pass_oversize_ && !startup_) {
    std::size_t size = std::size_t(length) + 1;
    std::size_t n = std::min(size, data.size());
    passing_ = size - n;
    passing_type_ = data[0];
    consumed_ += n;
    return FrontendMessage{data[0], {}, data.substr(0, n), FrontendMessage::Part::first_piece, size};
  }
  if (length - 4 > max_body_) {
    error_ = fmt::format("a {} of {} bytes (the recorder keeps at most {})", what(), length, max_body_);
    return std::nullopt;
  }
  std::size_t size = header - 4 + length;
  if (data.size() < size) return std::nullopt;
  consumed_ += size;
  FrontendMessage m{startup_ ? '\0' : data[0], data.substr(header, size - header), data.substr(0, size),
                    FrontendMessage::Part::whole, size};
  return m;  // the views stay valid until the next append (which compacts the buffer)
}

StartupPacket parse_startup(std::string_view body) {
  StartupPacket p;
  PgBodyCursor in(body);
  p.code = in.u32();
  if (!in.ok()) return p;
  switch (p.code) {
    case 80877103: p.kind = StartupPacket::Kind::ssl_request; return p;
    case 80877104: p.kind = StartupPacket::Kind::gssenc_request; return p;
    case 80877102: p.kind = StartupPacket::Kind::cancel; return p;
    default: break;
  }
  if (p.code >> 16 != 3) return p;
  bool database_given = false;
  while (in.ok()) {
    std::string_view name = in.cstring();
    if (!in.ok() || name.empty()) break;
    std::string_view value = in.cstring();
    if (name == "user") p.user = value;
    if (name == "database") {
      p.database = value;
      database_given = true;
    }
  }
  if (!in.ok() || p.user.empty()) return p;  // the server refuses a startup without a user
  if (!database_given) p.database = p.user;
  p.kind = StartupPacket::Kind::startup;
  return p;
}

PgsqlRecord PgsqlRecordFormatter::connect(std::string_view user, std::string_view database) {
  auto u = pg_attr("username", user), d = pg_attr("database", database);
  if (!u || !d) return pg_problem("a user or database name XML cannot hold: the connection is not recorded");
  return {pg_request("connect", *d + *u), {}};
}

std::string PgsqlRecordFormatter::opened(std::string_view login) {
  std::string xml;
  if (connected_)  // as Tsung: the previous connection's close comes first
    xml = "<!-- close forced by the recorder: a second connection (several clients at once?) -->\n" +
          pg_request("close", "") + "\n";
  connected_ = true;
  dropped_portals_.clear();
  return xml + std::string(login);
}

PgsqlRecord PgsqlRecordFormatter::authenticate(std::string_view password) {
  auto p = pg_attr("password", password);
  if (!p) return pg_problem("a password XML cannot hold: authenticate not recorded");
  return {pg_request("authenticate", *p), {}};
}

bool PgsqlRecordFormatter::dropped(std::string_view portal) const {
  return std::find(dropped_portals_.begin(), dropped_portals_.end(), portal) != dropped_portals_.end();
}

PgsqlRecord PgsqlRecordFormatter::client_closed() {
  if (!connected_) return {};
  connected_ = false;
  return {pg_request("close", ""), {}};
}

PgsqlRecord PgsqlRecordFormatter::message(char type, std::string_view body, SessionWriter* writer) {
  switch (type) {
    case 'Q': {
      auto sql = pg_string_body(body);
      if (!sql) return pg_malformed(type);
      auto text = pg_cdata(*sql);
      if (!text) return pg_problem("a query with bytes XML cannot hold (a control character or invalid UTF-8): not recorded");
      if (sql->find_first_not_of(" \t\r\n") == std::string_view::npos) return pg_problem("an empty query (not recorded)");
      return {pg_request("sql", "", *text), {}};
    }
    case 'P': return pg_parse(body);
    case 'B': {
      PgsqlRecord r = pg_bind(body);
      std::string portal(body.substr(0, body.find('\0')));
      std::erase(dropped_portals_, portal);
      if (r.xml.empty()) {
        dropped_portals_.push_back(portal);
        r.problem += "; the statement is missing from the recording, and the portal's Describe/Execute are left "
                     "out until the next Sync";
      }
      return r;
    }
    case 'D':
      if (body.starts_with('P') && dropped(body.substr(1, body.find('\0') - 1)))
        return pg_problem("a Describe of a portal whose Bind was not recorded (left out)");
      return pg_describe(body);
    case 'E':
      if (dropped(body.substr(0, body.find('\0'))))
        return pg_problem("an Execute of a portal whose Bind was not recorded (left out)");
      return pg_execute(body);
    case 'S':
      dropped_portals_.clear();
      return {pg_request("sync", ""), {}};
    case 'H': return {pg_request("flush", ""), {}};
    case 'c': return {pg_request("copydone", ""), {}};
    case 'd': return pg_copy(body, writer);
    case 'f': {
      auto message = pg_string_body(body);
      if (!message) return pg_malformed(type);
      auto attr = pg_attr("equery", *message);
      if (!attr) return pg_problem("a CopyFail message XML cannot hold (not recorded)");
      return {pg_request("copyfail", *attr), {}};
    }
    case 'X': {
      if (!connected_) return {};
      connected_ = false;
      return {pg_request("close", ""), {}};
    }
    case 'C':
      return pg_problem("a Close of a prepared statement or portal: <pgsql> has no type for it (forwarded, not "
                        "recorded; on replay the statement stays prepared, so a later Parse of the same name may fail)");
    case 'F': return pg_problem("a FunctionCall: <pgsql> has no type for it (forwarded, not recorded)");
    case 'p': return pg_problem("a PasswordMessage after authentication (forwarded, not recorded)");
    default: {
      bool printable = type > ' ' && type < 0x7f;
      return pg_problem(printable ? fmt::format("an unknown frontend message '{}' (forwarded, not recorded)", type)
                                  : fmt::format("an unknown frontend message 0x{:02x} (forwarded, not recorded)",
                                                std::uint8_t(type)));
    }
  }
}

}  // namespace loadctl::recorder
