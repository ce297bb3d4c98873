#include "agents/lwip/agent.h"

#include <cstdio>
#include <map>
#include <thread>

#include "agents/lwip/core_hooks.h"
#include "agents/lwip/lwip_headers.h"
#include "agents/lwip/protocol.h"
#include "agents/lwip/socket_options.h"
#include "agents/lwip/stack_setup.h"

namespace tcpfault::lwip_agent {
namespace {

// For the core observer, a plain function.
StateScanner* g_scanner = nullptr;
Ipv6RouterWatch* g_router = nullptr;

struct CommandSpec {
  SocketCommands::Job (SocketCommands::*admit)(const Json&);
};

const std::map<std::string, CommandSpec, std::less<>>& commands() {
  static const std::map<std::string, CommandSpec, std::less<>> table = {
      {"listen", {&SocketCommands::listen}},         {"accept", {&SocketCommands::accept}},
      {"connect", {&SocketCommands::connect}},       {"send", {&SocketCommands::send}},
      {"recv", {&SocketCommands::recv}},             {"shutdown", {&SocketCommands::shutdown}},
      {"close", {&SocketCommands::close}},           {"setsockopt", {&SocketCommands::setsockopt}},
      {"getsockopt", {&SocketCommands::getsockopt}}, {"sockets", {&SocketCommands::sockets}},
  };
  return table;
}

std::string known_commands() {
  std::string s = "hello, bye, set_sysctl, get_sysctl";
  for (const auto& [name, spec] : commands()) s += ", " + name;
  return s;
}

FamilyConfig family_arg(const Args& hello, const char* name, Family family) {
  const Json& v = hello.object(name);
  const Args a(v, std::string("hello ") + name);
  FamilyConfig c;
  const std::string text = a.string("address");
  try {
    c.address = Address::parse(text);
  } catch (const std::exception&) {
    a.bad("address", "must be an address, not \"" + text + "\"");
  }
  if (c.address.family != family) a.bad("address", "must be an " + to_string(family) + " address, not " + text);
  c.prefix = static_cast<int>(a.integer("prefix", 1, family == Family::V4 ? 32 : 128));
  if (a.has("gateway")) {
    const std::string gw = a.string("gateway");
    try {
      c.gateway = Address::parse(gw);
    } catch (const std::exception&) {
      a.bad("gateway", "must be an address, not \"" + gw + "\"");
    }
  }
  return c;
}

}  // namespace

Agent::Agent(LineWriter& out, int tap_fd)
    : out_(out),
      tap_(std::make_unique<TapNetif>(tap_fd, [this](const std::string& m) { log(m); })),
      scanner_([this](const StateChange& c) {
        out_.send(Json{{"event", "state"},
                       {"t_ns", c.t_ns},
                       {"local", c.tuple.local.str()},
                       {"remote", c.tuple.remote.str()},
                       {"from", c.from},
                       {"to", c.to}});
      }),
      router_([this](const std::string& router) {
        log("learned the IPv6 default router " + router + " from a router advertisement");
      }),
      commands_(scanner_, router_, sysctls_) {
  // A passive open takes the keepalive defaults as its handshake completes, before it is accepted.
  scanner_.set_passive_open_hook([this](tcp_pcb& pcb) { sysctls_.apply_keepalive_defaults_locked(pcb); });
  g_scanner = &scanner_;
  g_router = &router_;
  set_core_observer(&Agent::on_core_unlock);
  start_lwip();
}

void Agent::on_core_unlock() {
  g_scanner->scan_locked();
  g_router->check_locked();
}

void Agent::log(const std::string& message) {
  std::fprintf(stderr, "tcpfault-lwip-agent: %s\n", message.c_str());
  if (hello_done_) out_.send(Json{{"event", "log"}, {"message", message}});
}

void Agent::handle_too_long() {
  out_.send(protocol_error_reply(nullptr, ProtocolError("malformed", "a line longer than 1 MiB (1048576 bytes): "
                                                                     "the protocol's limit for one message")));
}

void Agent::handle_line(const std::string& line) {
  Json req = Json::parse(line, nullptr, false);
  if (req.is_discarded() || !req.is_object()) {
    out_.send(protocol_error_reply(nullptr, ProtocolError("malformed", "not a JSON object: " + line.substr(0, 200))));
    return;
  }
  Json id = nullptr;
  try {
    if (!req.contains("id")) throw ProtocolError("bad_request", "a request needs an \"id\" (a positive integer)");
    if (!req.at("id").is_number_integer() || req.at("id").get<long long>() < 1)
      throw ProtocolError("bad_request", "\"id\" must be a positive integer, not " + req.at("id").dump());
    id = req.at("id");
    if (!req.contains("cmd") || !req.at("cmd").is_string())
      throw ProtocolError("bad_request", "a request needs a \"cmd\" string (one of: " + known_commands() + ")");
    const std::string cmd = req.at("cmd").get<std::string>();
    const auto it = commands().find(cmd);
    const bool sysctl_cmd = cmd == "set_sysctl" || cmd == "get_sysctl";
    if (cmd != "hello" && cmd != "bye" && !sysctl_cmd && it == commands().end())
      throw ProtocolError("unknown_command", "no command \"" + cmd + "\"; the commands are: " + known_commands());
    if (cmd == "hello") {
      out_.send(hello(id, req));
      return;
    }
    if (!hello_done_) throw ProtocolError("bad_request", cmd + " before hello: the first request must be hello");
    if (sysctl_cmd) {
      out_.send(sysctl_request(id, cmd, req));
      return;
    }
    if (cmd == "bye") {
      out_.send(ok_reply(id));
      out_.flush();
      std::fflush(stderr);
      ::_exit(0);
    }
    // Admitted here, in arrival order; run on a thread of its own.
    SocketCommands::Job job = (commands_.*(it->second.admit))(req);
    std::thread([this, job = std::move(job), id] { run_job(job, id); }).detach();
  } catch (const ProtocolError& e) {
    out_.send(protocol_error_reply(id, e));
  } catch (const std::exception& e) {
    out_.send(protocol_error_reply(id, ProtocolError("bad_request", std::string("cannot take this request: ") + e.what())));
  }
}

void Agent::run_job(const SocketCommands::Job& job, const Json& id) {
  try {
    Json result = job();
    Json reply = ok_reply(id);
    for (auto& [k, v] : result.items()) reply[k] = v;
    out_.send(reply);
  } catch (const ProtocolError& e) {
    out_.send(protocol_error_reply(id, e));
  } catch (const SocketFailure& e) {
    out_.send(errno_reply(id, e));
  } catch (const std::exception& e) {
    out_.send(protocol_error_reply(id, ProtocolError("unsupported", std::string("agent failure: ") + e.what())));
  }
}

Json Agent::sysctl_request(const Json& id, const std::string& cmd, const Json& req) {
  const Args a(req, cmd);
  const std::string key = a.string("key");
  try {
    if (cmd == "get_sysctl") {
      Json r = ok_reply(id);
      r["value"] = sysctls_.get(key);
      return r;
    }
    sysctls_.set(key, a.string("value"));
    if (StackSysctls::is_keepalive_default(key)) commands_.keepalive_defaults_changed();
    return ok_reply(id);
  } catch (const SocketFailure& e) {
    return errno_reply(id, e);
  }
}

Json Agent::hello(const Json& id, const Json& req) {
  try {
    const Args a(req, "hello");
    const std::int64_t version = a.integer("version", 0, INT32_MAX);
    if (version != kProtocolVersion) {
      Json r = protocol_error_reply(
          id, ProtocolError("version", "this agent speaks protocol version " + std::to_string(kProtocolVersion) +
                                           ", not " + std::to_string(version)));
      r["versions"] = Json::array({kProtocolVersion});
      return r;
    }
    if (hello_done_) throw ProtocolError("bad_request", "hello again: the stack is already up");
    const std::string side = a.string("side");
    if (side != "server" && side != "client") a.bad("side", "must be \"server\" or \"client\", not \"" + side + "\"");
    StackConfig config;
    if (a.has("ipv4")) config.ipv4 = family_arg(a, "ipv4", Family::V4);
    if (a.has("ipv6")) config.ipv6 = family_arg(a, "ipv6", Family::V6);
    if (!config.ipv4 && !config.ipv6) a.bad("ipv4", "or 'ipv6' is needed: the stack needs an address");
    config.mtu = static_cast<int>(a.opt_integer("mtu", 1280, 65535).value_or(1500));
    if (config.ipv6 && config.ipv6->prefix != 64)
      log("hello: IPv6 prefix /" + std::to_string(config.ipv6->prefix) +
          ": lwIP 2.1 treats /64 around its address as on-link, whatever the prefix");

    const std::string link_local = bring_up(*tap_, config);
    commands_.set_addresses(config.ipv4 ? std::optional(config.ipv4->address) : std::nullopt,
                            config.ipv6 ? std::optional(std::pair(config.ipv6->address, config.ipv6->prefix))
                                        : std::nullopt);
    tap_->start_reader();
    hello_done_ = true;

    Json features = Json::array({"state_events"});
    for (const auto& o : supported_options()) features.push_back(o);
    Json r = ok_reply(id);
    r["version"] = kProtocolVersion;
    r["agent"] = std::string("tcpfault-lwip-agent, lwIP ") + LWIP_VERSION_STRING + " (Debian liblwip)";
    r["features"] = features;
    r["sysctls"] = sysctls_.declarations();
    r["mac"] = mac_string(kAgentMac);
    r["ipv6_link_local"] = link_local;
    return r;
  } catch (const ProtocolError& e) {
    return protocol_error_reply(id, e);
  }
}

}  // namespace tcpfault::lwip_agent
