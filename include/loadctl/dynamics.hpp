#pragma once
// Scenario dynamics: the parts of a session that read or write per-user variables. Everything
// here is built once at load time (regexes compiled, JSONPath parsed) and shared read-only by
// every user and thread.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "loadctl/template.hpp"

namespace loadctl {

/// A compiled PCRE2 pattern (Perl-compatible, like Erlang's `re` that Tsung uses).
class Regex {
 public:
  /// Throws std::invalid_argument with PCRE2's message and offset when the pattern is invalid.
  explicit Regex(std::string_view pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  /// True when the pattern occurs in `subject`.
  bool search(std::string_view subject) const;
  /// The first capture group of the first match (the whole match when the pattern has no group).
  bool first_group(std::string_view subject, std::string& out) const;

 private:
  void* code_;  // pcre2_code_8*
};

/// Tsung's JSONPath subset: `a.b[3].c`, `a[*].b`, `a[?key=value].b` (indices are 0-based).
class JsonPath {
 public:
  /// Throws std::invalid_argument on a syntax error.
  explicit JsonPath(std::string_view path);
  /// Evaluates against a JSON document; the values found (strings unquoted, others as text).
  bool evaluate(std::string_view json, std::vector<std::string>& out) const;

  struct Step {
    enum class Kind : std::uint8_t { key, index, all, filter } kind;
    std::string key;       ///< key, or filter key
    std::string value;     ///< filter value
    std::size_t index = 0;
  };

 private:
  std::vector<Step> steps_;
};

/// Decodes HTML entities (&amp; &lt; &gt; &quot; &apos; &#N; &#xN;) in place.
void decode_html_entities(std::string& text);

/// The header block and the body of an HTTP response captured as raw bytes (chunked bodies are
/// de-chunked into `scratch`). Without a header block, all of it is the body.
struct HttpParts {
  std::string_view headers, body;
};
HttpParts split_http(std::string_view response, std::string& scratch);

/// A <dyn_variable>: how to extract one variable from a response.
/// A dyn_variable expression of a protocol's own (Protocol::dyn_variable_attribute: Tsung's
/// pgsql_expr), compiled once by the plugin; reads a response's content (the bytes matches see).
class DynExtractor {
 public:
  virtual ~DynExtractor() = default;
  /// The value found in `response`; false when none.
  virtual bool extract(std::string_view response, std::string& out) const = 0;
};

struct DynVariable {
  enum class Kind : std::uint8_t { re, form, jsonpath, xpath, header, protocol };
  Kind kind = Kind::re;
  std::string name;
  std::string expr;                     ///< as written (header name/param, xpath)
  std::shared_ptr<const Regex> regex;   ///< re, form
  std::shared_ptr<const JsonPath> jsonpath;
  std::shared_ptr<const DynExtractor> extractor;  ///< protocol
  bool decode_html = false;

  /// Extracts from a whole response (raw bytes); false when not found. xpath and jsonpath put
  /// every value found in `all` (for <foreach>) when it is given.
  bool extract(std::string_view response, std::string& out, std::vector<std::string>* all = nullptr) const;
};

/// match do="dump" files (Tsung: one per dump, whole responses, no limit): at most this many per
/// agent and per run, each holding at most the first kMaxMatchDumpBytes of the response.
inline constexpr std::uint32_t kMaxMatchDumps = 1000;
inline constexpr std::size_t kMaxMatchDumpBytes = 64 * 1024;

/// A <match>.
struct MatchSpec {
  enum class Do : std::uint8_t { continue_, log, dump, abort, abort_test, restart, loop };
  Do action = Do::continue_;
  bool when_match = true;
  bool skip_http_headers = false;
  /// apply_to_content: Tsung's ts_digest functions, applied to the content before matching.
  enum class Apply : std::uint8_t { none, md5hex, shahex, tohex };
  Apply apply = Apply::none;
  std::string name;
  Template pattern;                     ///< with subst="true", rendered and compiled per use
  std::shared_ptr<const Regex> regex;   ///< compiled at load when the pattern is literal
  unsigned max_loop = 20, max_restart = 3;
  double sleep_loop = 5;                ///< seconds
};

/// Everything a request extracts or checks; null on requests without either.
struct RequestDynamics {
  std::vector<DynVariable> variables;
  std::vector<MatchSpec> matches;
};

/// A <setdynvars>.
struct SetDynVars {
  enum class Source : std::uint8_t { random_number, random_string, urandom_string, value, file,
                                     jsonpath, server, function };
  Source source = Source::value;
  std::vector<std::string> vars;
  std::int64_t start = 0, end = 0;     ///< random_number, inclusive
  unsigned length = 0;                  ///< random_string, urandom_string
  std::string value;                    ///< value
  std::size_t file = 0;                 ///< file: index into Scenario::files
  bool iter = true;                     ///< file: order="iter" (else random)
  std::string delimiter = ";";          ///< file
  std::string from;                     ///< jsonpath: source variable
  std::shared_ptr<const JsonPath> jsonpath;
  SubstitutionFunction function = nullptr;  ///< function (sourcetype="erlang" callback): `value` names it
};

/// <if>, <while>, <until>: `var` compared with `value`. Numbers compare as numbers.
struct Condition {
  enum class Op : std::uint8_t { eq, neq, gt, gte, lt, lte };
  std::string var;
  Op op = Op::eq;
  std::string value;
  unsigned index = 0;  ///< <if var="list[N]">: the Nth element (1-based) of the list; 0: the value

  bool holds(const std::string* current) const;
};

/// An <option name="file_server">: its lines, read by the controller and shipped to agents.
struct DataFile {
  std::string id;
  std::string path;
  std::vector<std::string> lines;  ///< non-empty lines, in file order
};

}  // namespace loadctl
