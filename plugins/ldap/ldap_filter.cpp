// RFC 4515 search filters: parser and BER encoding (see ldap_filter.hpp).
#include "ldap_filter.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace loadctl::ldap {
namespace {

class FilterParser {
 public:
  FilterParser(std::string_view text, const MakeTemplate& make, FilterError& error)
      : text_(text), make_(make), error_(error) {}

  bool parse(FilterNode& out) {
    if (!filter(out, 1)) return false;
    skip_spaces();
    if (pos_ != text_.size()) return fail("unexpected text after the filter");
    return true;
  }

 private:
  bool fail(std::string message, bool unsupported = false) {
    error_.offset = pos_;
    error_.message = std::move(message);
    error_.unsupported = unsupported;
    return false;
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  void skip_spaces() {
    while (!at_end() && text_[pos_] == ' ') ++pos_;
  }

  bool filter(FilterNode& out, int depth) {
    if (depth > kMaxFilterDepth) return fail(fmt::format("filter nested deeper than {} levels", kMaxFilterDepth));
    skip_spaces();
    if (peek() != '(') return fail("expected '('");
    ++pos_;
    skip_spaces();
    char c = peek();
    if (c == '&' || c == '|') {
      ++pos_;
      out.kind = c == '&' ? FilterNode::Kind::and_ : FilterNode::Kind::or_;
      for (;;) {
        skip_spaces();
        if (peek() == ')') break;
        if (peek() != '(') return fail("expected '(' or ')' in a filter list");
        out.children.emplace_back();
        if (!filter(out.children.back(), depth + 1)) return false;
      }
    } else if (c == '!') {
      ++pos_;
      out.kind = FilterNode::Kind::not_;
      out.children.emplace_back();
      if (!filter(out.children.back(), depth + 1)) return false;
      skip_spaces();
    } else if (!item(out)) {
      return false;
    }
    if (peek() != ')') return fail("expected ')'");
    ++pos_;
    return true;
  }

  static std::string_view trim(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
  }

  bool item(FilterNode& out) {
    std::size_t start = pos_;
    while (!at_end() && std::string_view("=~<>()*\\").find(text_[pos_]) == std::string_view::npos) ++pos_;
    std::string_view attr = trim(text_.substr(start, pos_ - start));
    char c = peek();
    if (c != '=' && c != '~' && c != '<' && c != '>') return fail("expected '=', '~=', '>=' or '<='");
    if (attr.empty()) return fail("missing attribute description");
    if (attr.find(':') != std::string_view::npos) {
      pos_ = start;
      return fail("not supported yet: extensible match filters (attr:rule:=value)", true);
    }
    if (!valid_attribute_description(attr)) {
      pos_ = start;
      return fail(fmt::format("bad attribute description '{}' (expected a name such as cn, an OID such as 2.5.4.3, "
                              "then ;options)", attr));
    }
    out.attr = attr;
    if (c != '=') {
      ++pos_;
      if (peek() != '=') return fail(fmt::format("expected '=' after '{}'", c));
      out.kind = c == '~' ? FilterNode::Kind::approx : c == '>' ? FilterNode::Kind::greater_or_equal
                                                               : FilterNode::Kind::less_or_equal;
    } else {
      out.kind = FilterNode::Kind::equality;
    }
    ++pos_;
    // The value: pieces between unescaped '*' (only an equality may hold them: substrings).
    std::vector<std::string> pieces(1);
    while (!at_end() && peek() != ')') {
      char v = text_[pos_];
      if (v == '(') return fail("'(' in a value must be escaped as \\28");
      if (v == '*') {
        if (out.kind != FilterNode::Kind::equality) return fail("'*' in a value must be escaped as \\2a");
        pieces.emplace_back();
        ++pos_;
        continue;
      }
      if (v == '\\') {
        int hi = pos_ + 1 < text_.size() ? hex(text_[pos_ + 1]) : -1;
        int lo = pos_ + 2 < text_.size() ? hex(text_[pos_ + 2]) : -1;
        if (hi < 0 || lo < 0) return fail("'\\' must be followed by two hexadecimal digits");
        pieces.back().push_back(static_cast<char>(hi * 16 + lo));
        pos_ += 3;
        continue;
      }
      pieces.back().push_back(v);
      ++pos_;
    }
    if (at_end()) return fail("missing ')'");
    if (pieces.size() == 1) {
      out.value = make_(trim(pieces[0]));
      return true;
    }
    if (pieces.size() == 2 && trim(pieces[0]).empty() && trim(pieces[1]).empty()) {
      out.kind = FilterNode::Kind::present;
      return true;
    }
    out.kind = FilterNode::Kind::substrings;
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      std::string_view piece = trim(pieces[i]);
      bool first = i == 0, last = i + 1 == pieces.size();
      if (piece.empty()) {
        if (first || last) continue;
        return fail("empty substring between two '*'");
      }
      out.substrings.push_back({static_cast<std::uint8_t>(first ? 0x80 : last ? 0x82 : 0x81), make_(piece)});
    }
    return true;
  }

  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  const MakeTemplate& make_;
  FilterError& error_;
};

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_keychar(char c) { return is_alpha(c) || is_digit(c) || c == '-'; }

}  // namespace

bool valid_attribute_description(std::string_view text) {
  std::size_t end = std::min(text.find(';'), text.size());
  std::string_view type = text.substr(0, end);
  if (type.empty()) return false;
  if (is_alpha(type[0])) {
    for (char c : type)
      if (!is_keychar(c)) return false;
  } else {
    // numericoid: number *("." number), number = DIGIT / (%x31-39 1*DIGIT)
    std::size_t at = 0;
    for (;;) {
      std::size_t digits = 0;
      while (at + digits < type.size() && is_digit(type[at + digits])) ++digits;
      if (digits == 0 || (digits > 1 && type[at] == '0')) return false;
      at += digits;
      if (at == type.size()) break;
      if (type[at] != '.') return false;
      ++at;
    }
  }
  // options: *(";" 1*keychar)
  while (end < text.size()) {
    std::size_t next = std::min(text.find(';', end + 1), text.size());
    std::string_view option = text.substr(end + 1, next - end - 1);
    if (option.empty()) return false;
    for (char c : option)
      if (!is_keychar(c)) return false;
    end = next;
  }
  return true;
}

bool parse_filter(std::string_view text, const MakeTemplate& make, FilterNode& out, FilterError& error) {
  out = FilterNode{};
  return FilterParser(text, make, error).parse(out);
}

void encode_filter(BerWriter& w, const FilterNode& f, const EncodeContext& ctx) {
  using Kind = FilterNode::Kind;
  switch (f.kind) {
    case Kind::and_:
    case Kind::or_:
    case Kind::not_: {
      std::size_t at = w.open(f.kind == Kind::and_ ? 0xa0 : f.kind == Kind::or_ ? 0xa1 : 0xa2);
      for (const FilterNode& child : f.children) encode_filter(w, child, ctx);  // depth bounded by the parser
      w.close(at);
      return;
    }
    case Kind::present:
      w.octets(0x87, f.attr);
      return;
    case Kind::substrings: {
      std::size_t at = w.open(0xa4);
      w.octets(tag::octet_string, f.attr);
      std::size_t seq = w.open(tag::sequence);
      for (const FilterNode::Substring& s : f.substrings) render_octets(w, s.tag, s.value, ctx);
      w.close(seq);
      w.close(at);
      return;
    }
    case Kind::equality:
    case Kind::greater_or_equal:
    case Kind::less_or_equal:
    case Kind::approx: {
      std::uint8_t t = f.kind == Kind::equality ? 0xa3 : f.kind == Kind::greater_or_equal ? 0xa5
                     : f.kind == Kind::less_or_equal ? 0xa6 : 0xa8;
      std::size_t at = w.open(t);
      w.octets(tag::octet_string, f.attr);
      render_octets(w, tag::octet_string, f.value, ctx);
      w.close(at);
      return;
    }
  }
}

}  // namespace loadctl::ldap
