#include "harness/scenario/absent_sysctl.h"

#include <sstream>

#include "harness/endpoints/target_errors.h"
#include "netns/sysctl/sysctl.h"
#include "netns/sysctl/sysctl_catalog.h"
#include "netns/sysctl/sysctl_key.h"

namespace tcpfault {

namespace {

std::optional<long long> integer_of(const std::string& value) {
  try {
    std::size_t used = 0;
    const long long n = std::stoll(value, &used);
    if (used == value.size()) return n;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> stand_in_for_absent_sysctl(const netns::Topology& topology, netns::Host h,
                                                      const std::string& key, const std::string& value) {
  netns::SysctlKey parsed;
  try {
    parsed = netns::parse_sysctl_key(key);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const netns::AddedKey* added = netns::added_later(parsed);
  if (!added) return std::nullopt;
  const std::string asked = netns::value_fields(value);
  const std::string intro = "sysctl " + netns::to_string(h) + " " + parsed.dotted() + " = " + asked +
                            ": this kernel predates the key (Linux " + std::string(added->added_in) + ")";
  if (asked == added->built_in)
    return intro + " and behaves as with " + asked + " (" + std::string(added->behaviour) + "): nothing to set";

  // The minimum RTO had a knob before the sysctl: the route's rto_min metric, in ms.
  if (parsed.dotted() == "net.ipv4.tcp_rto_min_us") {
    const auto us = integer_of(asked);
    if (us && *us > 0 && *us % 1000 == 0 && *us / 1000 <= 120000) {
      topology.set_route_rto_min(h, static_cast<int>(*us / 1000));
      return intro + "; set as the older knob instead: rto_min " + std::to_string(*us / 1000) +
             " ms on the default routes (ip route ... rto_min), the floor of the RTO and what the tail loss "
             "probe adds (tcp_rto_min)";
    }
  }
  throw NotApplicable(intro + ", and without it " + std::string(added->behaviour) + " (as with " +
                      std::string(added->built_in) + "), not " + asked);
}

}  // namespace tcpfault
