#include "harness/agent/agent_counters.h"

#include <stdexcept>

namespace tcpfault {

namespace {

// nstat's form: a MIB ("Tcp", "TcpExt", "Ip" ...), a dot, a counter name.
bool looks_like_counter(const std::string& name) {
  const auto dot = name.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == name.size() || name.find('.', dot + 1) != std::string::npos)
    return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_')) return false;
  return true;
}

}  // namespace

std::map<std::string, std::string> parse_agent_counters(const Json& counters) {
  if (!counters.is_object())
    throw std::invalid_argument("hello \"counters\" is not an object of name -> what the stack counts: " +
                                counters.dump());
  std::map<std::string, std::string> declared;
  for (const auto& [name, means] : counters.items()) {
    if (!looks_like_counter(name))
      throw std::invalid_argument("hello \"counters\" has \"" + name +
                                  "\", not a Linux counter as nstat names it (\"TcpExt.ListenOverflows\")");
    if (!means.is_string())
      throw std::invalid_argument("hello \"counters\" entry " + name + " is not a string saying what it counts: " +
                                  means.dump());
    declared.emplace(name, means.get<std::string>());
  }
  return declared;
}

AgentCounters::AgentCounters(std::map<std::string, std::string> declared, std::shared_ptr<AgentClient> client)
    : declared_(std::move(declared)), client_(std::move(client)) {}

std::string AgentCounters::names() const {
  std::string text;
  for (const auto& [name, means] : declared_) text += (text.empty() ? "" : ", ") + name;
  return text;
}

std::map<std::string, std::int64_t> AgentCounters::read() const {
  Json reply = client_->request("counters", Json::object(), kAgentGrace);
  if (!reply["ok"].get<bool>())
    client_->fail("could not read its counters: " + reply.value("errno", std::string("?")) + " " +
                  reply.value("message", std::string()));
  if (!reply.contains("counters") || !reply["counters"].is_object())
    client_->fail("sent garbage: a `counters` reply without a \"counters\" object: " + reply.dump());
  std::map<std::string, std::int64_t> values;
  for (const auto& [name, means] : declared_) {
    const Json& v = reply["counters"].contains(name) ? reply["counters"][name] : Json();
    if (!v.is_number_unsigned())
      client_->fail("sent garbage: its `counters` reply has no count for the declared " + name + ": " +
                    reply["counters"].dump());
    values[name] = static_cast<std::int64_t>(v.get<std::uint64_t>());
  }
  return values;
}

}  // namespace tcpfault
