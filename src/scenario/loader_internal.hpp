#pragma once
// Shared pieces of the scenario loader (loader*.cpp). Not part of the public interface.

#include <string>
#include <string_view>
#include <vector>

#include <pugixml.hpp>

#include "loadctl/scenario.hpp"
#include "loadctl/scenario_error.hpp"
#include "loadctl/xml_reader.hpp"

namespace loadctl::detail {

class SourceMap;

/// What every part of the loader needs: the registry, the text (for line numbers), the directory.
class LoadContext {
 public:
  LoadContext(const SourceMap& map, const ProtocolRegistry& registry, std::string scenario_dir);

  /// 1-based line of a node, for the model's `line` fields.
  int line(pugi::xml_node node) const;

  const ProtocolRegistry& registry;
  std::string scenario_dir;
  const std::vector<DataFile>* shipped_files = nullptr;  ///< agents: file_server data from the controller

 private:
  const SourceMap& map_;
};

/// Seconds per unit: hour, minute, second, millisecond (the latter only where Tsung allows it).
double unit_seconds(std::string_view unit);

/// The source addresses of a Tsung <iprange> value: each dotted part of an IPv4 address is a
/// number or a range "a-b" ("172.28.1-20.0-254"); a range of whole addresses
/// ("127.0.0.1-127.0.0.8") is accepted too. Throws std::invalid_argument with the reason.
std::vector<std::string> expand_iprange(std::string_view value);
/// An IPv6 <iprange version="v6">: "first-last" differing in the last 64 bits.
std::vector<std::string> expand_iprange_v6(std::string_view value);

/// The hosts of a Slurm node list, as `scontrol show hostnames` gives them:
/// "node[01-03,7],gpu5" -> node01 node02 node03 node7 gpu5. Throws std::invalid_argument.
std::vector<std::string> expand_slurm_nodelist(std::string_view list, std::size_t max_hosts);

/// True when `text` is an IPv4 or IPv6 literal.
bool is_ip_literal(const std::string& text);

void load_clients(pugi::xml_node clients, Scenario& scenario, const LoadContext& ctx);
void load_servers(pugi::xml_node servers, Scenario& scenario, const LoadContext& ctx);
void load_monitoring(pugi::xml_node monitoring, Scenario& scenario, const LoadContext& ctx);
/// A <monitor>'s <munin> / <snmp> (with its <oid>s) / <mysqladmin> child, checked against its type.
void load_monitor_backend(const XmlElement& monitor_element, MonitorSpec& monitor);
/// Tsung's <oid eval="fun(X) -> X / 100 end.">: the factor of the forms loadctl evaluates
/// (X, X / N, X * N, N * X), or nothing for any other Erlang fun. `gives_float` (if given) is set
/// when Erlang's result is a float whatever X is: a division, or N written as a float (2.5).
std::optional<double> eval_factor(std::string_view fun, bool* gives_float = nullptr);
void load_options(pugi::xml_node options, Scenario& scenario, const LoadContext& ctx);
/// <option name="file_server">: reads the file (or takes the shipped copy) into Scenario::files.
void load_file_server(XmlElement& option, Scenario& scenario, const LoadContext& ctx);

/// Session elements that read or write variables (loader_dynamics.cpp). `defined` collects the
/// variables set so far in the session, in document order.
Action load_setdynvars(pugi::xml_node node, const LoadContext& ctx, const Scenario& scenario,
                       std::vector<std::string>& defined);
/// The <dyn_variable> and <match> children of a <request>; null when there are none.
std::shared_ptr<const RequestDynamics> load_request_dynamics(const std::vector<pugi::xml_node>& nodes,
                                                             std::vector<std::string>& defined, const Protocol* protocol);
/// var + one of eq/neq/gt/gte/lt/lte; the variable must be defined before (or built in).
/// `list_index`: var may be "name[N]" (<if>).
Condition load_condition(XmlElement& el, const std::vector<std::string>& defined, bool list_index = false);
/// Variables every user has without setting them.
bool is_builtin_var(std::string_view name);

void load_sessions(pugi::xml_node sessions, Scenario& scenario, const LoadContext& ctx);

}  // namespace loadctl::detail
