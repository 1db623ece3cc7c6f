#include <loadctl/stats.hpp>

#include <algorithm>
#include <cmath>

#include "stats/wire.hpp"

namespace loadctl {

namespace {
constexpr std::uint8_t kEncodingVersion = 1;
// Kind byte of a counter with a real part (add_value): count, then f64 sum and u8 real. Plain
// counters keep kind 1, so frames without such counters are unchanged.
constexpr std::uint8_t kRealCounter = 3;
constexpr std::uint64_t kMaxNameLength = 4096;

bool sane_moments(const Metric& m) {
  if (!std::isfinite(m.sum) || !std::isfinite(m.sum_sq) || !std::isfinite(m.min) ||
      !std::isfinite(m.max))
    return false;
  if (m.count == 0) return m.sum == 0 && m.sum_sq == 0 && m.min == 0 && m.max == 0;
  return 0 <= m.min && m.min <= m.max && m.sum >= 0 && m.sum_sq >= 0;
}
}  // namespace

void Metric::record(double ms) {
  if (!(ms > 0)) ms = 0;  // also maps NaN to 0
  if (count == 0) {
    min = max = ms;
  } else {
    min = std::min(min, ms);
    max = std::max(max, ms);
  }
  ++count;
  sum += ms;
  sum_sq += ms * ms;
  hist.record(static_cast<std::uint64_t>(std::llround(ms * 1000.0)));
}

double Metric::stddev() const {
  if (count == 0) return 0;
  double n = static_cast<double>(count);
  double m2 = sum_sq - sum * sum / n;  // sum of squared deviations
  return m2 > 0 ? std::sqrt(m2 / n) : 0.0;
}

void Metric::merge(const Metric& other) {
  switch (kind) {
    case MetricKind::sample:
      if (other.count == 0) return;
      if (count == 0) {
        min = other.min;
        max = other.max;
      } else {
        min = std::min(min, other.min);
        max = std::max(max, other.max);
      }
      count += other.count;
      sum += other.sum;
      sum_sq += other.sum_sq;
      hist.merge(other.hist);
      return;
    case MetricKind::counter:
      count += other.count;
      sum += other.sum;
      real = real || other.real;
      return;
    case MetricKind::gauge: {
      // other's peak is a partial sum from our level before it: 8 users that start and end
      // between two drains leave level 0 but a peak of 8.
      std::int64_t peak = level + other.level_max;
      level += other.level;
      level_max = std::max({level_max, level, peak});
      return;
    }
  }
}

void Metric::reset_interval() {
  count = 0;
  sum = sum_sq = min = max = 0;
  hist.clear();
  real = false;
  level_max = level;
}

void Metric::clear() {
  reset_interval();
  level = level_max = 0;
}

bool Metric::has_data() const { return count != 0 || level != 0 || level_max != 0 || real || sum != 0; }

MetricId MetricSet::intern(std::string_view name, MetricKind kind) {
  if (auto it = index_.find(name); it != index_.end()) return it->second;
  auto id = static_cast<MetricId>(metrics_.size());
  names_.emplace_back(name);
  metrics_.emplace_back().kind = kind;
  index_.emplace(std::string(name), id);
  return id;
}

MetricId MetricSet::id_of(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? npos : it->second;
}

void MetricSet::sample(MetricId id, double ms) { metrics_[id].record(ms); }

void MetricSet::add(MetricId id, std::uint64_t n) { metrics_[id].count += n; }

void MetricSet::add_value(MetricId id, double v, bool is_float) {
  Metric& m = metrics_[id];
  if (!std::isfinite(v)) return;
  m.sum += v;
  m.real = m.real || is_float;
}

void MetricSet::gauge_add(MetricId id, std::int64_t delta) {
  Metric& m = metrics_[id];
  m.level += delta;
  m.level_max = std::max(m.level_max, m.level);
}

void MetricSet::merge(const MetricSet& other) {
  for (std::size_t i = 0; i < other.metrics_.size(); ++i) {
    const Metric& src = other.metrics_[i];
    MetricId id = intern(other.names_[i], src.kind);
    if (metrics_[id].kind != src.kind) continue;  // name clash between kinds: keep ours
    metrics_[id].merge(src);
  }
}

void MetricSet::drain_into(MetricSet& into) {
  if (&into == this) return;
  into.merge(*this);
  for (auto& m : metrics_) m.clear();
}

void MetricSet::reset_interval() {
  for (auto& m : metrics_) m.reset_interval();
}

void MetricSet::clear_values() {
  for (auto& m : metrics_) m.clear();
}

const Metric* MetricSet::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &metrics_[it->second];
}

std::vector<std::pair<std::string, const Metric*>> MetricSet::sorted() const {
  std::vector<std::pair<std::string, const Metric*>> out;
  out.reserve(index_.size());
  for (const auto& [name, id] : index_) out.emplace_back(name, &metrics_[id]);
  return out;
}

bool MetricSet::empty() const {
  return std::none_of(metrics_.begin(), metrics_.end(), [](const Metric& m) { return m.has_data(); });
}

// Layout: u8 version, varint(metric count), then per metric: varint(name length), name bytes,
// u8 kind, and by kind: sample = varint count, f64 sum, sum_sq, min, max, histogram;
// counter = varint count (kind 3: then f64 sum, u8 real); gauge = zigzag varint level, level_max.
// Kind 3 is for agents: the SNMP sums are added on the controller and never cross the wire
// today, but MetricSet::add_value is public (include/loadctl/stats.hpp), so a plugin's real-valued
// counter reaches the controller whole. Kept on purpose; frames without one are unchanged.
std::string MetricSet::encode() const {
  std::string out;
  out.push_back(static_cast<char>(kEncodingVersion));
  wire::put_varint(out, metrics_.size());
  for (std::size_t i = 0; i < metrics_.size(); ++i) {
    const Metric& m = metrics_[i];
    wire::put_varint(out, names_[i].size());
    out += names_[i];
    bool real_counter = m.kind == MetricKind::counter && (m.real || m.sum != 0);
    out.push_back(static_cast<char>(real_counter ? kRealCounter : static_cast<std::uint8_t>(m.kind)));
    switch (m.kind) {
      case MetricKind::sample:
        wire::put_varint(out, m.count);
        wire::put_double(out, m.sum);
        wire::put_double(out, m.sum_sq);
        wire::put_double(out, m.min);
        wire::put_double(out, m.max);
        m.hist.encode(out);
        break;
      case MetricKind::counter:
        wire::put_varint(out, m.count);
        if (real_counter) {
          wire::put_double(out, m.sum);
          out.push_back(static_cast<char>(m.real));
        }
        break;
      case MetricKind::gauge:
        wire::put_varint(out, wire::zigzag(m.level));
        wire::put_varint(out, wire::zigzag(m.level_max));
        break;
    }
  }
  return out;
}

bool MetricSet::decode(std::string_view data) {
  names_.clear();
  metrics_.clear();
  index_.clear();
  std::size_t pos = 0;
  if (data.empty() || static_cast<std::uint8_t>(data[0]) != kEncodingVersion) return false;
  pos = 1;
  std::uint64_t n = 0;
  // Each metric takes at least 3 bytes: bounds the count before anything is allocated.
  if (!wire::get_varint(data, pos, n) || n > (data.size() - pos) / 3) return false;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t len = 0;
    if (!wire::get_varint(data, pos, len) || len > kMaxNameLength || len >= data.size() - pos)
      return false;
    std::string_view name = data.substr(pos, len);
    pos += len;
    auto kind_byte = static_cast<std::uint8_t>(data[pos++]);
    bool real_counter = kind_byte == kRealCounter;
    if (real_counter) kind_byte = static_cast<std::uint8_t>(MetricKind::counter);
    if (kind_byte > static_cast<std::uint8_t>(MetricKind::gauge)) return false;
    auto kind = static_cast<MetricKind>(kind_byte);
    if (index_.count(name)) return false;  // duplicate name
    Metric& m = metrics_[intern(name, kind)];
    switch (kind) {
      case MetricKind::sample:
        if (!wire::get_varint(data, pos, m.count) || !wire::get_double(data, pos, m.sum) ||
            !wire::get_double(data, pos, m.sum_sq) || !wire::get_double(data, pos, m.min) ||
            !wire::get_double(data, pos, m.max) || !m.hist.decode(data, pos))
          return false;
        if (m.hist.count() != m.count || !sane_moments(m)) return false;
        break;
      case MetricKind::counter:
        if (!wire::get_varint(data, pos, m.count)) return false;
        if (real_counter) {
          if (!wire::get_double(data, pos, m.sum) || !std::isfinite(m.sum) || pos >= data.size()) return false;
          auto flag = static_cast<std::uint8_t>(data[pos++]);
          if (flag > 1) return false;
          m.real = flag == 1;
        }
        break;
      case MetricKind::gauge: {
        std::uint64_t level = 0, level_max = 0;
        if (!wire::get_varint(data, pos, level) || !wire::get_varint(data, pos, level_max))
          return false;
        m.level = wire::unzigzag(level);
        m.level_max = wire::unzigzag(level_max);
        break;
      }
    }
  }
  return pos == data.size();
}

}  // namespace loadctl
