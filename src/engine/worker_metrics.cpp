// Metric ids: the worker interns every name it records once, so that recording is an index.

#include <string>

#include "engine/worker.hpp"

namespace loadctl::engine {

namespace {

constexpr MetricId kNoMetric = UINT32_MAX;

}  // namespace

void Worker::intern_metrics() {
  ids_.users_count = stats_.intern("users_count", MetricKind::counter);
  ids_.finish_users_count = stats_.intern("finish_users_count", MetricKind::counter);
  ids_.connected = stats_.intern("connected", MetricKind::gauge);
  ids_.connect = stats_.intern("connect", MetricKind::sample);
  ids_.request = stats_.intern("request", MetricKind::sample);
  ids_.page = stats_.intern("page", MetricKind::sample);
  ids_.session = stats_.intern("session", MetricKind::sample);
  ids_.size_rcv = stats_.intern("size_rcv", MetricKind::counter);
  ids_.size_sent = stats_.intern("size_sent", MetricKind::counter);
  ids_.request_noack = stats_.intern("request_noack", MetricKind::counter);
  status_ids_.assign(1000, kNoMetric);
  for (const UserProgram& program : config_.programs) {
    std::vector<MetricId> ids;
    for (const std::string& name : program.transactions) ids.push_back(stats_.intern(name, MetricKind::sample));
    tr_ids_.push_back(std::move(ids));
  }
}

MetricId Worker::status_metric(std::uint16_t code) {
  if (code >= status_ids_.size()) return stats_.intern(std::to_string(code), MetricKind::counter);
  MetricId& id = status_ids_[code];
  if (id == kNoMetric) id = stats_.intern(std::to_string(code), MetricKind::counter);
  return id;
}

MetricId Worker::error_metric(std::string_view name) {
  for (const auto& [known, id] : error_ids_)
    if (known == name) return id;
  MetricId id = stats_.intern(name, MetricKind::counter);
  error_ids_.emplace_back(std::string(name), id);
  return id;
}

}  // namespace loadctl::engine
