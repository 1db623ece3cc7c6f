#pragma once
// The addresses of this host that a scenario's <client> names indirectly: Tsung's
// <ip scan="true" value="eth0"/> (every IPv4 address of an interface, aliases included) and
// <ip value="name"/> / <ip value="resolve"/> (a host name resolved once, by the controller).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loadctl {

/// Whether `name` can be a network interface's name (1-15 bytes, no '/', ':' or blank; not "."
/// or ".."): the kernel's rules (dev_valid_name), ':' aside as it marks an alias label.
bool valid_interface_name(std::string_view name);

/// The IPv4 addresses of interface `name` on this host, as `ip -o -f inet addr show dev NAME`
/// lists them (Tsung's ts_ip_scan): labelled aliases ("eth0:1") included, in the kernel's order,
/// each once. Empty when the interface does not exist or has none.
std::vector<std::string> interface_ipv4_addresses(std::string_view name);

/// `host`'s first IPv4 address, else its first IPv6 one (Tsung: inet:getaddr(Host, inet), then
/// inet6); nullopt with `error` set when it does not resolve.
std::optional<std::string> resolve_host_address(const std::string& host, std::string& error);

}  // namespace loadctl
