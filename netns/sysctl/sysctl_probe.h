// What the running kernel makes of one proposed sysctl setting.
//
// The value is written in a scratch network namespace made for this probe alone and read
// back; the host's own value is only ever read. Nothing here throws for a bad key or
// value: the verdict and the message say what is wrong.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netns/sysctl/sysctl_range.h"

namespace tcpfault::netns {

enum class SysctlVerdict {
  valid,            // has a value per network namespace, and the kernel took the value
  malformed_key,    // not a sysctl name at all
  unknown,          // no such key in this kernel
  removed,          // a key this kernel no longer has (net.ipv4.tcp_tw_recycle: Linux 4.12)
  not_per_netns,    // exists, but with one value for the whole machine (vm.*, net.core.rmem_max)
  other_interface,  // a per-interface key (net.ipv4.conf.eth0.*): the namespaces have other interfaces
  read_only,
  refused,          // the kernel refused the value: out of range or malformed
};

const char* to_string(SysctlVerdict v);

struct SysctlProbe {
  std::string key;            // dotted; as given when it is not a sysctl name
  SysctlVerdict verdict = SysctlVerdict::unknown;
  std::string value;          // valid: the value as the kernel stores it (read back)
  std::string default_value;  // a fresh namespace's value; "" when it has none
  std::string host_value;     // the host's value, read only; "" when the host has none
  std::string message;        // what is wrong, or what the verdict means for a check
  std::vector<FieldRange> accepted;  // refused: each integer field's accepted range
  bool value_malformed = false;      // not_per_netns: the value has not the host value's shape
};

// Examines `key` and, given a value, tries it. Without a value only the key is examined
// (verdict, default and host values).
SysctlProbe probe_sysctl(std::string_view key, std::optional<std::string_view> value = std::nullopt);

}  // namespace tcpfault::netns
