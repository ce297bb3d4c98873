#include "harness/agent/agent_target.h"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "harness/agent/agent_values.h"
#include "netns/error.h"
#include "netns/link_readiness.h"
#include "netns/router_advert.h"

namespace tcpfault {

namespace {

constexpr int kProtocolVersion = 1;

int link_mtu(const netns::Namespace& ns, const std::string& ifname) {
  UniqueFd fd = ns.run([] { return UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)); });
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, ifname.c_str(), std::min(ifname.size() + 1, sizeof ifr.ifr_name - 1));
  if (!fd.valid() || ::ioctl(fd.get(), SIOCGIFMTU, &ifr) != 0) throw_errno("MTU of " + ifname + " in " + ns.name());
  return ifr.ifr_mtu;
}

Json address_config(const netns::Topology& t, Host side, Family f) {
  const Address own = side == Host::Client ? t.client_addr(f) : t.server_addr(f);
  const Address gateway = f == Family::V4 ? t.middlebox_addr(side, f) : t.middlebox_link_local(side);
  return {{"address", own.str()}, {"prefix", f == Family::V4 ? 24 : 64}, {"gateway", gateway.str()}};
}

}  // namespace

AgentTarget::AgentTarget(const Target& target, const netns::Topology& topology, std::shared_ptr<Trace> trace,
                         const std::string& log_path)
    : target_(target), trace_(std::move(trace)) {
  if (!target_.is_agent()) throw Error("AgentTarget: the target is the kernel, not an agent");
  if (topology.agent_side() != target_.side || topology.agent_tap_fd() < 0)
    throw Error("AgentTarget: the topology has no TAP toward the " + netns::to_string(target_.side));
  for (Family f : {Family::V4, Family::V6}) {
    const int i = f == Family::V4 ? 0 : 1;
    address_[i] = target_.side == Host::Client ? topology.client_addr(f) : topology.server_addr(f);
    peer_[i] = target_.side == Host::Client ? topology.server_addr(f) : topology.client_addr(f);
  }
  states_ = std::make_unique<AgentStates>(target_.side, trace_);

  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) throw_errno("socketpair for the agent");
  UniqueFd ours(pair[0]), theirs(pair[1]);
  const std::string side = netns::to_string(target_.side);
  const std::string who = "the " + side + "'s " + (target_.name.empty() ? "" : target_.name + " ") + "agent (`" +
                          target_.command + "`)";
  client_ = std::make_shared<AgentClient>(who, side + ": the " + target_.label() + " target", std::move(ours));
  client_->start({target_.command, &topology.ns(target_.side), theirs.get(), topology.agent_tap_fd(), log_path},
                 [this, side](const Json& e) {
                   const std::string kind = e["event"].is_string() ? e["event"].get<std::string>() : e["event"].dump();
                   if (kind == "state") return states_->on_state_event(e);
                   if (kind == "log")
                     return trace_->note(side + " agent: " +
                                         (e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>()
                                                                                            : e.dump()));
                   trace_->note(side + " agent sent an event of unknown kind '" + kind + "' (ignored)");
                 });
  theirs.reset();  // the agent holds it now: its exit closes our end's peer
  trace_->note(side + " target: " + target_.label() + ", agent `" + target_.command + "` (pid " +
               std::to_string(client_->pid()) + ", stderr in " + log_path + ")");
  hello(topology);
}

AgentTarget::~AgentTarget() {
  if (client_) client_->stop("the scenario was torn down", false);
}

void AgentTarget::hello(const netns::Topology& topology) {
  const std::string ifname = netns::interface_name(Host::Middlebox, target_.side);
  Json args{{"version", kProtocolVersion},
            {"side", netns::to_string(target_.side)},
            {"ipv4", address_config(topology, target_.side, Family::V4)},
            {"ipv6", address_config(topology, target_.side, Family::V6)},
            {"mtu", link_mtu(topology.middlebox(), ifname)}};
  Json reply = client_->request("hello", std::move(args), kAgentHelloDeadline);
  if (!reply["ok"].get<bool>())
    client_->fail("could not bring its stack up: hello failed with " + reply.value("errno", std::string("?")) + " " +
                  reply.value("message", std::string()));
  if (!reply.contains("version") || reply["version"] != kProtocolVersion)
    client_->fail("answered hello with version " + (reply.contains("version") ? reply["version"].dump() : "(none)") +
                  ", not " + std::to_string(kProtocolVersion));
  if (reply.contains("agent") && reply["agent"].is_string()) agent_name_ = reply["agent"].get<std::string>();
  if (reply.contains("features")) {
    if (!reply["features"].is_array()) client_->fail("sent garbage: hello \"features\" is not a list: " + reply.dump());
    for (const auto& f : reply["features"]) {
      if (!f.is_string()) client_->fail("sent garbage: a hello feature that is not a string: " + f.dump());
      features_.insert(f.get<std::string>());
    }
  }
  // An optional declaration of hello (sysctls, counters): parsed, or the agent's garbage.
  auto declared = [&](const char* field, auto parse) -> decltype(parse(Json())) {
    if (!reply.contains(field)) return {};
    try {
      return parse(reply[field]);
    } catch (const std::invalid_argument& e) {
      client_->fail(std::string("sent garbage: ") + e.what());
    }
  };
  sysctls_ = std::make_unique<AgentSysctls>(declared("sysctls", parse_agent_sysctls), client_);
  counters_ = std::make_unique<AgentCounters>(declared("counters", parse_agent_counters), client_);
  std::string listed;
  for (const auto& f : features_) listed += (listed.empty() ? "" : ", ") + f;
  trace_->note(netns::to_string(target_.side) + " agent: " + (agent_name_.empty() ? "(unnamed)" : agent_name_) +
               "; features: " + (listed.empty() ? "none" : listed) +
               "; Linux sysctls: " + (sysctls_->empty() ? "none" : sysctls_->summary()) +
               "; Linux counters: " + (counters_->empty() ? "none" : counters_->names()));
  states_->use_events(features_.count("state_events") > 0);
  if (features_.count("state_events") == 0) states_->set_stack_view([this](const SocketRef& s) { return stack_state(s); });
  // For stacks that learn their IPv6 router only from an advertisement.
  topology.middlebox().run([&] { netns::send_router_advert(ifname); });
}

void AgentTarget::catch_up() {
  if (no_sockets_request_ || client_->failure()) return;
  try {
    client_->request("sockets", Json::object(), kAgentGrace);
  } catch (const NotApplicable&) {
    no_sockets_request_ = true;
  }
}

std::optional<TcpState> AgentTarget::stack_state(const SocketRef& s) {
  if (no_sockets_request_) return std::nullopt;
  Json reply;
  try {
    reply = client_->request("sockets", Json::object(), kAgentGrace);
  } catch (const NotApplicable&) {
    no_sockets_request_ = true;
    return std::nullopt;
  }
  if (!reply.value("ok", false) || !reply.contains("sockets") || !reply["sockets"].is_array()) {
    no_sockets_request_ = true;  // unsupported: the wire alone answers from now on
    return std::nullopt;
  }
  std::optional<TcpState> found;
  for (const auto& entry : reply["sockets"]) {
    if (!entry.is_object() || !entry.contains("state") || !entry["state"].is_string() ||
        !entry.contains("local") || !entry["local"].is_string() || !entry.contains("remote") ||
        !entry["remote"].is_string())
      continue;
    try {
      if (parse_agent_sockaddr(entry["local"].get<std::string>()) != s.tuple.local ||
          parse_agent_sockaddr(entry["remote"].get<std::string>()) != s.tuple.remote)
        continue;
    } catch (const std::exception&) {
      continue;  // the connection's own calls report garbage; this view only helps
    }
    auto st = agent_state(entry["state"].get<std::string>());
    // Several can match (a TIME_WAIT and a new connection): the most alive wins.
    if (st && (!found || *found == TcpState::TIME_WAIT || *found == TcpState::CLOSED)) found = st;
  }
  return found.value_or(TcpState::CLOSED);
}

std::unique_ptr<AgentEndpoint> AgentTarget::make_endpoint(Family family) const {
  const int i = family == Family::V4 ? 0 : 1;
  return std::make_unique<AgentEndpoint>(target_.side, address_[i], peer_[i], target_.label(), trace_, client_,
                                         features_);
}

void AgentTarget::stop(const std::string& why) {
  try {
    states_->record_inferred();
  } catch (const std::exception& e) {
    trace_->note("inferring the " + netns::to_string(target_.side) + "'s states from the wire failed: " + e.what());
  }
  std::string note = client_->stop(why);
  if (!note.empty()) trace_->note(netns::to_string(target_.side) + " agent: " + note);
  if (auto f = client_->failure()) trace_->note(*f);
}

}  // namespace tcpfault
