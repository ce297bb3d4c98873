// A sysctl a case sets on a kernel that predates it (netns/sysctl/sysctl_catalog.h,
// added_later). The case's expectations come from the running kernel, so the kernel's
// own behaviour stands in for the key: nothing to do when it is the value asked for, an
// older knob when one does the same, and otherwise the case is not applicable there.
#pragma once

#include <optional>
#include <string>

#include "netns/topology.h"

namespace tcpfault {

// What stands in for `key = value` on host `h`, whose kernel lacks the key: the trace
// note saying so, after applying an older knob if that is the stand-in. nullopt for a
// key the catalog does not know (the caller reports the kernel's error). Throws
// NotApplicable when the kernel cannot do what the value asks.
std::optional<std::string> stand_in_for_absent_sysctl(const netns::Topology& topology, netns::Host h,
                                                      const std::string& key, const std::string& value);

}  // namespace tcpfault
