#include "jabber_stream.hpp"

namespace loadctl::jabber {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view tag_name(std::string_view tag) {  // tag starts after '<' or "</"
  std::size_t n = 0;
  while (n < tag.size() && !is_space(tag[n]) && tag[n] != '>' && tag[n] != '/') ++n;
  return tag.substr(0, n);
}

bool is_stream_name(std::string_view name) {
  return name == "stream:stream" || name == "stream" || (name.size() > 7 && name.ends_with(":stream"));
}

}  // namespace

StreamScanner::Status StreamScanner::next(std::string_view data, StreamUnit& unit) {
  std::size_t i = pos_;
  auto done = [&](StreamUnit::Kind kind, std::size_t end) {
    unit.kind = kind;
    unit.length = end;
    unit.text = data.substr(unit_start_, end - unit_start_);
    unit.start_tag = data.substr(unit_start_, first_tag_end_ - unit_start_);
    std::string_view after = unit.start_tag.substr(unit.start_tag.starts_with("</") ? 2 : 1);
    unit.name = kind == StreamUnit::Kind::declaration ? std::string_view{} : tag_name(after);
    return Status::unit;
  };
  for (; i < data.size(); ++i) {
    char c = data[i];
    switch (state_) {
      case State::text:
        if (c != '<') {
          if (depth_ == 0 && !is_space(c)) return Status::error;  // character data outside a stanza
          break;
        }
        if (data.size() - i < 9 && data.substr(i + 1).starts_with("!") ) {  // "<!--" or "<![CDATA[" not whole yet
          pos_ = i;
          return Status::need_more;
        }
        if (depth_ == 0) unit_start_ = i;
        tag_start_ = i;
        if (i + 1 >= data.size()) {
          pos_ = i;
          return Status::need_more;
        }
        if (data[i + 1] == '/') state_ = State::end_tag;
        else if (data[i + 1] == '?') state_ = State::pi;
        else if (data.substr(i).starts_with("<!--")) state_ = State::comment;
        else if (data.substr(i).starts_with("<![CDATA[")) state_ = State::cdata;
        else if (data[i + 1] == '!') return Status::error;  // DTDs are not allowed in XMPP
        else state_ = State::start_tag;
        ++i;
        break;
      case State::start_tag:
        if (quote_) {
          if (c == quote_) quote_ = 0;
        } else if (c == '"' || c == '\'') {
          quote_ = c;
        } else if (c == '>') {
          state_ = State::text;
          bool empty = data[i - 1] == '/';
          if (depth_ == 0) {
            first_tag_end_ = i + 1;
            std::string_view name = tag_name(data.substr(tag_start_ + 1));
            if (!empty && is_stream_name(name)) {
              pos_ = i + 1;
              return done(StreamUnit::Kind::stream_open, i + 1);
            }
            if (empty) return done(StreamUnit::Kind::element, i + 1);
          }
          if (!empty) ++depth_;
        }
        break;
      case State::end_tag:
        if (c == '>') {
          state_ = State::text;
          if (depth_ == 0) {
            first_tag_end_ = i + 1;
            return done(StreamUnit::Kind::stream_close, i + 1);
          }
          if (--depth_ == 0) return done(StreamUnit::Kind::element, i + 1);
        }
        break;
      case State::pi:
        if (c == '>' && data[i - 1] == '?') {
          state_ = State::text;
          if (depth_ == 0) {
            first_tag_end_ = i + 1;
            return done(StreamUnit::Kind::declaration, i + 1);
          }
        }
        break;
      case State::comment:
        if (c == '>' && i - tag_start_ >= 6 && data[i - 1] == '-' && data[i - 2] == '-') state_ = State::text;
        break;
      case State::cdata:
        if (c == '>' && i - tag_start_ >= 11 && data[i - 1] == ']' && data[i - 2] == ']') state_ = State::text;
        break;
    }
  }
  pos_ = i;
  return Status::need_more;
}

std::string_view attribute(std::string_view tag, std::string_view name) {
  std::size_t i = 1;
  while (i < tag.size() && !is_space(tag[i]) && tag[i] != '>' && tag[i] != '/') ++i;  // element name
  while (i < tag.size()) {
    while (i < tag.size() && is_space(tag[i])) ++i;
    std::size_t name_start = i;
    while (i < tag.size() && tag[i] != '=' && !is_space(tag[i]) && tag[i] != '>' && tag[i] != '/') ++i;
    std::string_view attr = tag.substr(name_start, i - name_start);
    while (i < tag.size() && is_space(tag[i])) ++i;
    if (i >= tag.size() || tag[i] != '=') {
      if (attr.empty()) ++i;  // '/' or '>'
      continue;
    }
    ++i;
    while (i < tag.size() && is_space(tag[i])) ++i;
    if (i >= tag.size() || (tag[i] != '\'' && tag[i] != '"')) return {};
    char q = tag[i++];
    std::size_t end = tag.find(q, i);
    if (end == std::string_view::npos) return {};
    if (attr == name) return tag.substr(i, end - i);
    i = end + 1;
  }
  return {};
}

}  // namespace loadctl::jabber
