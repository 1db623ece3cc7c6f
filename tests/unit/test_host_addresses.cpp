// <ip scan="true"> and <ip value="NAME">: this host's interface addresses and name resolution.

#include <gtest/gtest.h>

#include <algorithm>

#include "loadctl/host_addresses.hpp"

using namespace loadctl;

TEST(HostAddresses, InterfaceNamesFollowTheKernelsRules) {
  EXPECT_TRUE(valid_interface_name("eth0"));
  EXPECT_TRUE(valid_interface_name("enp0s31f6"));
  EXPECT_TRUE(valid_interface_name("123456789012345"));    // IFNAMSIZ - 1 bytes
  EXPECT_FALSE(valid_interface_name("1234567890123456"));  // one too many
  EXPECT_FALSE(valid_interface_name(""));
  EXPECT_FALSE(valid_interface_name("."));
  EXPECT_FALSE(valid_interface_name(".."));
  EXPECT_FALSE(valid_interface_name("eth0/1"));
  EXPECT_FALSE(valid_interface_name("eth0:1"));  // an alias label: its interface is scanned whole
  EXPECT_FALSE(valid_interface_name("eth 0"));
}

TEST(HostAddresses, LoopbackInterfaceHasItsAddressAndOnlyWholeNamesMatch) {
  std::vector<std::string> lo = interface_ipv4_addresses("lo");
  EXPECT_NE(std::find(lo.begin(), lo.end(), "127.0.0.1"), lo.end()) << "lo's addresses: " << lo.size();
  for (const std::string& ip : lo) EXPECT_EQ(ip.find(':'), std::string::npos) << ip << ": IPv4 only";
  EXPECT_TRUE(interface_ipv4_addresses("l").empty()) << "a prefix of a name is not the interface";
  EXPECT_TRUE(interface_ipv4_addresses("lcnone0").empty()) << "no such interface";
}

TEST(HostAddresses, NamesResolveToIpv4First) {
  std::string error;
  auto local = resolve_host_address("localhost", error);
  ASSERT_TRUE(local) << error;
  EXPECT_EQ(*local, "127.0.0.1");
  auto literal = resolve_host_address("::1", error);
  ASSERT_TRUE(literal) << error;
  EXPECT_EQ(*literal, "::1") << "an IPv6 literal has no IPv4 address: IPv6 comes second";
  error.clear();
  EXPECT_FALSE(resolve_host_address("no-such-host.invalid", error));
  EXPECT_FALSE(error.empty());
}
