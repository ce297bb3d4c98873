// Waiting until links and addresses can carry traffic.
//
// The kernel finishes bringing a veth up asynchronously (carrier and operstate are set
// by the link-watch worker), so a freshly built topology is only handed out once every
// link reports IFF_RUNNING and every address is present and not tentative.
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
};

// Returns once every expectation holds; re-checks on each rtnetlink notification (no
// sleeping). Throws Error naming what is still missing after `timeout`.
void wait_until_usable(const std::vector<LinkExpectation>& expected,
                       std::chrono::milliseconds timeout);

}  // namespace tcpfault::netns
