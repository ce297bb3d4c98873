// Waiting until links and addresses can carry traffic.
//
// The kernel finishes bringing a veth up asynchronously (carrier and operstate are set
// by the link-watch worker), so a freshly built topology is only handed out once every
// link reports IFF_RUNNING and every address is present and not tentative, and, for
// IPv6, its link has joined the address's solicited-node group (also done by a worker,
// after the address appears): only then does the address answer neighbour solicitations.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "netns/address.h"
#include "netns/namespace.h"

namespace tcpfault::netns {

struct LinkExpectation {
  const Namespace* ns;
  std::string link;
  std::vector<Address> addresses;  // must be on `link` and usable
  // An IPv6 link-local address (fe80::/64, made by the kernel when the link comes up)
  // must be usable too: a stack on the far end of a TAP routes through it.
  bool link_local = false;
};

// Returns once every expectation holds; re-checks on each rtnetlink notification (no
// sleeping). Throws Error naming what is still missing after `timeout`.
void wait_until_usable(const std::vector<LinkExpectation>& expected,
                       std::chrono::milliseconds timeout);

// The usable IPv6 link-local address of `link` now; throws Error when it has none.
Address link_local_address(const Namespace& ns, const std::string& link);

}  // namespace tcpfault::netns
