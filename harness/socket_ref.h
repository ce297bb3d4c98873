// One end of a connection as every part of the harness names it: which host, which
// 4-tuple. Observers, the wire's inferred states, endpoints and expectations all speak
// of sockets this way, so it sits below all of them.
#pragma once

#include <string>

#include "netns/address.h"
#include "netns/topology.h"

namespace tcpfault {

using netns::Host;

struct SocketRef {
  Host host = Host::Client;
  FourTuple tuple;  // local = this host's end
  // "client 198.18.1.1:40000 > 198.18.2.1:8080"
  std::string str() const { return netns::to_string(host) + " " + tuple.str(); }
};

}  // namespace tcpfault
