// The client - middlebox - server topology, dual stack, built in-process.
//
//   client ns              middlebox ns                         server ns
//   c0 198.18.1.1/24  <->  m0 198.18.1.254 | m1 198.18.2.254  <->  s0 198.18.2.1/24
//   2001:2:0:1::1/64       2001:2:0:1::fe  | 2001:2:0:2::fe        2001:2:0:2::1/64
//
// Each live topology on the machine takes a slot; slot s uses the /24s number 2s+1
// (client) and 2s+2 (server) counted from 198.18.0.0, and the /64s 2001:2:0:<2s+1>::
// and 2001:2:0:<2s+2>::, so slot 0 is the picture above. Addresses are unique among
// live topologies, which lets machine-wide observers (the state tracepoint) tell
// topologies apart. A slot is held by an abstract unix socket, freed when the
// process dies.
//
// When build() returns every link is up with carrier, every address is usable (IPv6
// without duplicate address detection), the middlebox forwards both families, rp_filter
// is off and TSO/GSO/GRO are off on every veth end.
//
// A side run by an agent (docs/agent-protocol.md) has no veth: the middlebox's interface
// toward it (m0 or m1, same name, same addresses) is a TAP device whose fd the topology
// holds (agent_tap_fd) for the agent's stack, which owns the side's addresses itself. The
// side's namespace is still made, empty (lo only), for the agent process to run in.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "netns/address.h"
#include "netns/namespace.h"
#include "netns/unique_fd.h"

namespace tcpfault::netns {

enum class Host { Client, Middlebox, Server };
std::string to_string(Host h);  // "client", "middlebox", "server"

// The interface of `h` that faces `facing`: c0 (client), m0 / m1 (middlebox facing the
// client / the server), s0 (server). The names are the same in every topology.
std::string interface_name(Host h, Host facing = Host::Middlebox);

struct TopologyOptions {
  // Debug aid: bind-mount the namespaces under /run/netns/tcpfault-<pid>-<slot>-<host>
  // so that `ip netns exec` can look inside. Pinned namespaces outlive a kill -9.
  bool pin = false;
  // The side (Client or Server) whose middlebox interface is a TAP for an agent.
  std::optional<Host> agent_side;
};

class Topology {
 public:
  static std::unique_ptr<Topology> build(const TopologyOptions& options = {});
  ~Topology();

  const Namespace& ns(Host h) const;
  const Namespace& client() const { return ns(Host::Client); }
  const Namespace& middlebox() const { return ns(Host::Middlebox); }
  const Namespace& server() const { return ns(Host::Server); }

  int slot() const { return slot_; }
  Address client_addr(Family f) const;
  Address server_addr(Family f) const;
  // The middlebox's address on the client-facing (m0) or server-facing (m1) link.
  Address middlebox_addr(Host facing, Family f) const;
  // An address of the client subnet that no host uses (for crafted sources):
  // .(100+n) or ::(0x100+n), n in 1..153.
  Address unused_client_addr(Family f, int n) const;

  // The side an agent runs (nullopt: both are the kernel's), and the fd of the TAP
  // device toward it (-1 without an agent): the topology keeps it for the link's life,
  // so the link has carrier; the agent gets a copy.
  std::optional<Host> agent_side() const { return agent_side_; }
  int agent_tap_fd() const { return agent_tap_.get(); }
  // The middlebox's IPv6 link-local address on the link toward `facing` (the gateway
  // an agent's stack is given).
  Address middlebox_link_local(Host facing) const;

  // Sets TCP's minimum RTO on `h`'s default routes (both families), as a locked rto_min
  // metric: the knob kernels before net.ipv4.tcp_rto_min_us (Linux 6.11) have. A socket
  // takes it from its route when it connects. Only an endpoint with a veth has routes.
  void set_route_rto_min(Host h, int rto_min_ms) const;

  // The /run/netns paths made when options.pin was set (empty otherwise).
  const std::vector<std::string>& pinned_paths() const { return pins_; }

 private:
  Topology(int slot, UniqueFd slot_lock);
  int slot_;
  UniqueFd slot_lock_;
  std::unique_ptr<Namespace> client_, middlebox_, server_;
  std::vector<std::string> pins_;
  std::optional<Host> agent_side_;
  UniqueFd agent_tap_;
  friend class TopologyBuilder;
};

}  // namespace tcpfault::netns
