#include <loadctl/tsung_log.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

namespace loadctl {

namespace {

// Order of Tsung's own dumps: users, monitoring ({cpu,"host"}...), session, user counts, the rest.
int group_of(const std::string& name) {
  if (name == "users") return 0;
  if (!name.empty() && name.front() == '{') return 1;
  if (name == "session") return 2;
  if (name == "users_count") return 3;
  if (name == "finish_users_count") return 4;
  return 5;
}

void append_uint(std::string& out, std::uint64_t v) { out += std::to_string(v); }

}  // namespace

std::string TsungLogWriter::format_float(double value) {
  if (!std::isfinite(value)) value = 0;
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));  // [-]d[.ddd]e(+|-)XX
  std::string sign;
  if (sci.front() == '-') {
    sign = "-";
    sci.remove_prefix(1);
  }
  auto e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e))
    if (c != '.') digits += c;
  int exp = 0;
  std::string_view exp_text = sci.substr(e + 1);
  if (exp_text.front() == '+') exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exp);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();

  std::string fixed;
  if (exp >= 0) {
    auto int_len = static_cast<std::size_t>(exp) + 1;
    if (digits.size() <= int_len) {
      fixed = digits + std::string(int_len - digits.size(), '0') + ".0";
    } else {
      fixed = digits.substr(0, int_len) + "." + digits.substr(int_len);
    }
  } else {
    fixed = "0." + std::string(static_cast<std::size_t>(-exp - 1), '0') + digits;
  }
  std::string scientific = digits.substr(0, 1) + "." +
                           (digits.size() > 1 ? digits.substr(1) : std::string("0")) + "e" +
                           std::to_string(exp);
  // Erlang switches to scientific notation from 2^53 on, where integral doubles stop being exact.
  bool huge = std::fabs(value) >= 9007199254740992.0;
  return sign + (huge || scientific.size() < fixed.size() ? scientific : fixed);
}

TsungLogWriter::TsungLogWriter(std::string path, std::time_t start) : start_(start), file_(std::move(path)) {}

bool TsungLogWriter::dump(std::time_t now, const MetricSet& interval) { return file_.write(render(now, interval)); }

std::string TsungLogWriter::render(std::time_t now, const MetricSet& interval) {
  // Point each metric's totals at this interval's values (if any), then print in Tsung's order.
  for (MetricId id = 0; id < interval.size(); ++id) {
    const Metric& m = interval.metric(id);
    auto it = totals_.find(interval.name(id));
    if (it == totals_.end()) {
      if (!m.has_data()) continue;  // Tsung prints nothing for a metric it never received
      it = totals_.emplace(interval.name(id), Totals{}).first;
      it->second.kind = m.kind;
    }
    if (it->second.kind != m.kind) continue;
    it->second.current = &m;
  }
  std::vector<std::pair<const std::string*, Totals*>> order;
  for (auto& [name, t] : totals_) order.emplace_back(&name, &t);
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return group_of(*a.first) < group_of(*b.first);
  });

  std::string out = "# stats: dump at " + std::to_string(std::max(now, start_)) + "\n";
  if (!totals_.count("users")) out += "stats: users 0 0\n";  // Tsung always prints this line
  for (auto [name, totals] : order) {
    append_line(out, *name, *totals, totals->current);
    totals->current = nullptr;
  }
  return out;
}

void TsungLogWriter::append_line(std::string& out, const std::string& name, Totals& t,
                                 const Metric* m) {
  switch (t.kind) {
    case MetricKind::sample: {
      std::uint64_t n = m ? m->count : 0;
      if (n > 0) {
        t.max = t.seen ? std::max(t.max, m->max) : m->max;
        t.min = t.seen ? std::min(t.min, m->min) : m->min;
        t.seen = true;
      }
      if (!t.seen) return;
      out += "stats: " + name + " ";
      append_uint(out, n);
      if (n == 0) {
        out += " 0 0";
      } else {
        out += " " + format_float(m->mean());
        // Tsung's variance is an integer 0 only for the very first sample it ever received.
        out += (n == 1 && t.gcount == 0) ? std::string(" 0") : " " + format_float(m->stddev());
      }
      out += " " + format_float(t.max) + " " + format_float(t.min) + " ";
      out += t.gcount == 0 ? std::string("0") : format_float(t.gmean);
      out += " ";
      append_uint(out, t.gcount);
      out += "\n";
      if (n > 0) {
        double total = static_cast<double>(t.gcount + n);
        t.gmean = (t.gmean * static_cast<double>(t.gcount) + m->sum) / total;
        t.gcount += n;
      }
      return;
    }
    case MetricKind::counter: {
      std::uint64_t delta = m ? m->count : 0;
      double before = static_cast<double>(t.total) + t.real_total;
      t.total += delta;
      t.real_total += m ? m->sum : 0;
      t.real = t.real || (m && m->real);
      // Sticky: a total that add_value took back to exactly 0 still prints its signed change.
      t.signed_ints = t.signed_ints || t.real_total != 0;
      t.seen = t.seen || t.total > 0 || t.signed_ints || t.real;
      if (!t.seen) return;
      out += "stats: " + name + " ";
      if (t.real) {  // Tsung: its total minus the previous dump's, in floats
        double now = static_cast<double>(t.total) + t.real_total;
        out += format_float(now - before) + " " + format_float(now);
      } else if (t.signed_ints) {  // integer values, some negative
        auto now = static_cast<std::int64_t>(t.total) + std::llround(t.real_total);
        out += std::to_string(now - std::llround(before)) + " " + std::to_string(now);
      } else {
        append_uint(out, delta);
        out += " ";
        append_uint(out, t.total);
      }
      out += "\n";
      return;
    }
    case MetricKind::gauge: {
      std::int64_t delta = m ? m->level : 0;
      std::int64_t peak = t.level + std::max<std::int64_t>(m ? m->level_max : 0, 0);
      t.level += delta;
      t.level_max = std::max({t.level_max, t.level, peak});
      t.seen = true;
      out += "stats: " + name + " ";
      if (name == "users") {  // simultaneous users: current level and highest level so far
        out += std::to_string(t.level);
        out += " ";
        out += std::to_string(t.level_max);
      } else {  // other levels (connected) print as Tsung's sums: change, then level
        out += std::to_string(delta);
        out += " ";
        out += std::to_string(t.level);
      }
      out += "\n";
      return;
    }
  }
}

}  // namespace loadctl
