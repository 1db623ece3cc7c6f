// PCRE2 behind Regex: Perl-compatible like Erlang's `re` (which Tsung uses), JIT-compiled when
// the platform allows, and far faster than std::regex on response-sized subjects.

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdexcept>

#include "loadctl/dynamics.hpp"

namespace loadctl {
namespace {

pcre2_code* code(void* p) { return static_cast<pcre2_code*>(p); }

/// One match-data block per thread, large enough for any pattern's first group.
pcre2_match_data* match_data() {
  struct Holder {
    pcre2_match_data* data = pcre2_match_data_create(16, nullptr);
    ~Holder() { pcre2_match_data_free(data); }
  };
  thread_local Holder holder;
  return holder.data;
}

}  // namespace

Regex::Regex(std::string_view pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* c = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), 0, &error,
                                &offset, nullptr);
  if (!c) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw std::invalid_argument("invalid regular expression '" + std::string(pattern) + "' at offset " +
                                std::to_string(offset) + ": " + reinterpret_cast<const char*>(message));
  }
  pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);  // optional: falls back to the interpreter
  code_ = c;
}

Regex::~Regex() { pcre2_code_free(code(code_)); }

bool Regex::search(std::string_view subject) const {
  return pcre2_match(code(code_), reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0,
                     match_data(), nullptr) >= 0;
}

bool Regex::first_group(std::string_view subject, std::string& out) const {
  pcre2_match_data* md = match_data();
  int rc = pcre2_match(code(code_), reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0, md,
                       nullptr);
  if (rc < 0) return false;
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
  int group = rc == 0 || rc >= 2 ? 1 : 0;  // 0: more groups than the ovector holds
  if (ov[2 * group] == PCRE2_UNSET) {
    out.clear();
    return true;
  }
  out.assign(subject.substr(ov[2 * group], ov[2 * group + 1] - ov[2 * group]));
  return true;
}

}  // namespace loadctl
