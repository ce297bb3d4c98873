#include "netns/topology.h"

#include <unistd.h>

#include <chrono>
#include <map>
#include <stdexcept>
#include <utility>

#include "netns/address_slot.h"
#include "netns/error.h"
#include "netns/ip_config.h"
#include "netns/link_readiness.h"
#include "netns/namespace_pin.h"
#include "netns/offloads.h"
#include "netns/route_socket.h"
#include "netns/slot_plan.h"
#include "netns/sysctl/sysctl.h"
#include "netns/tap_device.h"
#include "netns/veth_link.h"

namespace tcpfault::netns {

std::string to_string(Host h) {
  switch (h) {
    case Host::Client: return "client";
    case Host::Middlebox: return "middlebox";
    case Host::Server: return "server";
  }
  return "?";
}

std::string interface_name(Host h, Host facing) {
  if (h == Host::Client) return "c0";
  if (h == Host::Server) return "s0";
  if (facing == Host::Client) return "m0";
  if (facing == Host::Server) return "m1";
  throw std::invalid_argument("the middlebox has an interface facing the client or the server, "
                              "not itself");
}

namespace {

constexpr Family kFamilies[] = {Family::V4, Family::V6};
// Generous: a veth normally has carrier within a millisecond; this only bounds a wedged kernel.
constexpr std::chrono::milliseconds kReadyTimeout{5000};

using Settings = std::vector<std::pair<std::string, std::string>>;

// Set before any veth exists so that new interfaces inherit them from "default".
Settings namespace_settings() {
  return {{"net.ipv6.conf.all.accept_dad", "0"},
          {"net.ipv6.conf.default.accept_dad", "0"},
          {"net.ipv4.conf.all.rp_filter", "0"},
          {"net.ipv4.conf.default.rp_filter", "0"}};
}

// Also per interface, so that nothing depends on what "default" handed down (that
// varies with net.core.devconf_inherit_init_net). The kernel uses the larger of "all"
// and the interface for rp_filter, which is why "all" is zeroed too.
void add_interface_settings(Settings& to, const std::string& ifname) {
  to.emplace_back("net.ipv6.conf." + ifname + ".accept_dad", "0");
  to.emplace_back("net.ipv4.conf." + ifname + ".rp_filter", "0");
}

}  // namespace

class TopologyBuilder {
 public:
  static std::unique_ptr<Topology> build(const TopologyOptions& options) {
    if (options.agent_side == Host::Middlebox)
      throw Error("an agent runs the client or the server side, not the middlebox");
    require_privileges();
    AddressSlot slot = AddressSlot::acquire();
    const int number = slot.number();
    // From here on the Topology owns everything: a throw releases what was made so far.
    std::unique_ptr<Topology> t(new Topology(number, slot.release_lock()));
    const std::string suffix = " (slot " + std::to_string(number) + ")";
    t->client_ = std::make_unique<Namespace>(Namespace::create("client" + suffix));
    t->middlebox_ = std::make_unique<Namespace>(Namespace::create("middlebox" + suffix));
    t->server_ = std::make_unique<Namespace>(Namespace::create("server" + suffix));
    t->agent_side_ = options.agent_side;
    wire(*t);
    if (options.pin) pin(*t);
    return t;
  }

 private:
  // One link end (veth or TAP): where it lives and which host number it takes on which subnet.
  struct LinkPlan {
    const Namespace& ns;
    const RouteSocket& sock;
    std::string name;
    Subnet subnet;
    std::uint16_t host;
  };

  static void wire(Topology& t) {
    const Namespace& client = t.client();
    const Namespace& middlebox = t.middlebox();
    const Namespace& server = t.server();
    // Each namespace is entered once for its sysctls.
    write_sysctls(client, namespace_settings());
    write_sysctls(server, namespace_settings());
    Settings forwarding = namespace_settings();
    forwarding.emplace_back("net.ipv4.ip_forward", "1");
    forwarding.emplace_back("net.ipv6.conf.all.forwarding", "1");
    write_sysctls(middlebox, forwarding);

    RouteSocket rc(client), rm(middlebox), rs(server);
    for (const RouteSocket* sock : {&rc, &rm, &rs}) set_link_up(*sock, "lo");
    const std::optional<Host> agent = t.agent_side_;
    // Each side: its veth pair, or for the agent's side only the middlebox's TAP end.
    std::vector<LinkPlan> links;
    for (Host side : {Host::Client, Host::Server}) {
      const Namespace& ns = side == Host::Client ? client : server;
      const RouteSocket& sock = side == Host::Client ? rc : rs;
      const Subnet subnet = side == Host::Client ? Subnet::ClientSide : Subnet::ServerSide;
      const std::string middlebox_end = interface_name(Host::Middlebox, side);
      if (agent == side) {
        t.agent_tap_ = create_tap(middlebox, middlebox_end);
      } else {
        create_veth_pair(sock, interface_name(side), middlebox, middlebox_end);
        links.push_back({ns, sock, interface_name(side), subnet, kEndpointHost});
      }
      set_link_up(rm, middlebox_end);
      links.push_back({middlebox, rm, middlebox_end, subnet, kMiddleboxHost});
    }

    std::map<const Namespace*, Settings> interface_settings;
    for (const LinkPlan& link : links) add_interface_settings(interface_settings[&link.ns], link.name);
    for (const auto& [ns, settings] : interface_settings) write_sysctls(*ns, settings);

    std::vector<LinkExpectation> expected;
    for (const LinkPlan& link : links) {
      disable_segmentation_offloads(link.ns, link.name);
      const int index = link.sock.link_index(link.name);
      LinkExpectation ready{&link.ns, link.name, {}};
      for (Family f : kFamilies) {
        const Address addr = slot_address(t.slot(), link.subnet, f, link.host);
        add_address(link.sock, index, addr, prefix_length(f));
        ready.addresses.push_back(addr);
        // Endpoints route everything via the middlebox's address on their subnet.
        if (link.host == kEndpointHost)
          add_default_route(link.sock, index,
                            slot_address(t.slot(), link.subnet, f, kMiddleboxHost));
      }
      // The agent's stack is given the middlebox's link-local address as IPv6 gateway.
      ready.link_local = agent && link.name == interface_name(Host::Middlebox, *agent);
      expected.push_back(std::move(ready));
    }
    wait_until_usable(expected, kReadyTimeout);
  }

  static void pin(Topology& t) {
    const std::string prefix =
        "tcpfault-" + std::to_string(::getpid()) + "-" + std::to_string(t.slot()) + "-";
    for (Host h : {Host::Client, Host::Middlebox, Host::Server})
      t.pins_.push_back(pin_namespace(t.ns(h), prefix + to_string(h)));
  }
};

std::unique_ptr<Topology> Topology::build(const TopologyOptions& options) {
  return TopologyBuilder::build(options);
}

Topology::Topology(int slot, UniqueFd slot_lock) : slot_(slot), slot_lock_(std::move(slot_lock)) {}

Topology::~Topology() {
  for (const auto& path : pins_) unpin_namespace(path);
  // Closing the last fd of each namespace lets the kernel reclaim it with its links,
  // addresses, routes, rules and sysctls. The slot goes last so that no new topology
  // reuses these addresses while the old namespaces are still ours.
  agent_tap_.reset();
  client_.reset();
  middlebox_.reset();
  server_.reset();
  slot_lock_.reset();
}

const Namespace& Topology::ns(Host h) const {
  const auto& p = h == Host::Client ? client_ : h == Host::Middlebox ? middlebox_ : server_;
  if (!p) throw Error("the " + to_string(h) + " namespace of this topology was not created");
  return *p;
}

Address Topology::client_addr(Family f) const {
  return slot_address(slot_, Subnet::ClientSide, f, kEndpointHost);
}

Address Topology::server_addr(Family f) const {
  return slot_address(slot_, Subnet::ServerSide, f, kEndpointHost);
}

Address Topology::middlebox_addr(Host facing, Family f) const {
  if (facing == Host::Middlebox)
    throw std::invalid_argument("middlebox_addr: say which side, Host::Client or Host::Server");
  const Subnet side = facing == Host::Client ? Subnet::ClientSide : Subnet::ServerSide;
  return slot_address(slot_, side, f, kMiddleboxHost);
}

void Topology::set_route_rto_min(Host h, int rto_min_ms) const {
  if (h == Host::Middlebox || agent_side_ == h)
    throw std::invalid_argument("set_route_rto_min: only a kernel endpoint (client or server) has default routes");
  if (rto_min_ms <= 0) throw std::invalid_argument("set_route_rto_min: the minimum RTO is a positive number of ms");
  RouteSocket sock(ns(h));
  const int index = sock.link_index(interface_name(h));
  const Subnet side = h == Host::Client ? Subnet::ClientSide : Subnet::ServerSide;
  for (Family f : kFamilies)
    add_default_route(sock, index, slot_address(slot_, side, f, kMiddleboxHost), rto_min_ms);
}

Address Topology::middlebox_link_local(Host facing) const {
  return link_local_address(middlebox(), interface_name(Host::Middlebox, facing));
}

Address Topology::unused_client_addr(Family f, int n) const {
  if (n < 1 || n > 153)
    throw std::out_of_range("unused_client_addr: n must be in 1..153 (got " + std::to_string(n) +
                            ")");
  const auto host = static_cast<std::uint16_t>(f == Family::V4 ? 100 + n : 0x100 + n);
  return slot_address(slot_, Subnet::ClientSide, f, host);
}

}  // namespace tcpfault::netns
