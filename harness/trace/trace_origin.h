// What every written form of a timeline says about where it came from: the scenario,
// tcpfault's version, the kernel it ran on, when it began (wall clock), the fault rules.
#pragma once

#include <cstdint>
#include <string>

#include "harness/trace/trace.h"

namespace tcpfault {

// ISO 8601 in UTC with nanoseconds: "2026-12-05T08:01:02.123456789Z".
std::string utc_iso8601(std::int64_t unix_ns);

// The running kernel as uname(2) names it; every namespace of a scenario shares it.
struct KernelName {
  std::string sysname;  // "Linux"
  std::string release;  // "6.1.0-27-amd64"
  std::string machine;  // "x86_64"
};
KernelName running_kernel();

// "#2 drop FINAL_ACK from client (once), added +28.9 ms, removed +40.1 ms"
std::string describe_rule(const Trace& trace, const RuleRecord& rule);

}  // namespace tcpfault
