#include "harness/agent/agent_sysctls.h"

#include <cctype>
#include <stdexcept>

namespace tcpfault {

namespace {

// A Linux sysctl's dotted name: "net." then letters, digits, '_', '-' and dots.
bool looks_like_sysctl(const std::string& key) {
  if (key.rfind("net.", 0) != 0 || key.size() <= 4 || key.back() == '.') return false;
  for (char c : key)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  return key.find("..") == std::string::npos;
}

}  // namespace

std::map<std::string, AgentSysctl> parse_agent_sysctls(const Json& sysctls) {
  if (!sysctls.is_object())
    throw std::invalid_argument("hello \"sysctls\" is not an object of key -> {\"value\", \"fixed\", \"means\"}: " +
                                sysctls.dump());
  std::map<std::string, AgentSysctl> declared;
  for (const auto& [key, entry] : sysctls.items()) {
    if (!looks_like_sysctl(key))
      throw std::invalid_argument("hello \"sysctls\" has the key \"" + key +
                                  "\", not a Linux sysctl in dotted form (\"net.ipv4.tcp_syn_retries\")");
    if (!entry.is_object() || !entry.contains("value") || !entry["value"].is_string())
      throw std::invalid_argument("hello \"sysctls\" entry " + key + " needs a string \"value\": " + entry.dump());
    AgentSysctl s;
    s.value = entry["value"].get<std::string>();
    if (entry.contains("fixed")) {
      if (!entry["fixed"].is_boolean())
        throw std::invalid_argument("hello \"sysctls\" entry " + key + ": \"fixed\" is not a boolean: " + entry.dump());
      s.fixed = entry["fixed"].get<bool>();
    }
    if (entry.contains("means")) {
      if (!entry["means"].is_string())
        throw std::invalid_argument("hello \"sysctls\" entry " + key + ": \"means\" is not a string: " + entry.dump());
      s.means = entry["means"].get<std::string>();
    }
    declared.emplace(key, std::move(s));
  }
  return declared;
}

AgentSysctls::AgentSysctls(std::map<std::string, AgentSysctl> declared, std::shared_ptr<AgentClient> client)
    : declared_(std::move(declared)), client_(std::move(client)) {}

std::optional<AgentSysctl> AgentSysctls::find(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = declared_.find(key);
  if (it == declared_.end()) return std::nullopt;
  return it->second;
}

std::string AgentSysctls::summary() const {
  std::lock_guard lock(mu_);
  std::string text;
  for (const auto& [key, s] : declared_)
    text += (text.empty() ? "" : ", ") + key + (s.fixed ? " (fixed " + s.value + ")" : "");
  return text;
}

std::optional<std::string> AgentSysctls::set(const std::string& key, const std::string& value) {
  Json reply = client_->request("set_sysctl", Json{{"key", key}, {"value", value}}, kAgentGrace, true);
  if (reply.contains("error"))  // the stack lacks the behaviour Linux has with this value
    throw NotApplicable(client_->side_label() + " cannot set " + key + " to '" + value + "' (the agent says: " +
                        reply.value("message", std::string()) + ")");
  if (reply["ok"].get<bool>()) {
    std::lock_guard lock(mu_);
    declared_[key].value = value;
    return std::nullopt;
  }
  return reply.value("errno", std::string("?")) + ": " + reply.value("message", std::string());
}

std::string AgentSysctls::get(const std::string& key) const {
  {
    std::lock_guard lock(mu_);
    auto it = declared_.find(key);
    if (it == declared_.end()) throw Error("AgentSysctls::get: " + key + " was not declared");
    if (it->second.fixed) return it->second.value;
  }
  Json reply;
  try {
    reply = client_->request("get_sysctl", Json{{"key", key}}, kAgentGrace);
  } catch (const NotApplicable& e) {
    client_->fail("declared " + key + " in hello, then refused to read it: " + e.what());
  }
  if (!reply["ok"].get<bool>())
    client_->fail("declared " + key + " in hello, then failed to read it: " + reply.value("errno", std::string("?")) +
                  " " + reply.value("message", std::string()));
  if (!reply.contains("value") || !reply["value"].is_string())
    client_->fail("sent garbage: a get_sysctl reply for " + key + " without a string \"value\": " + reply.dump());
  return reply["value"].get<std::string>();
}

}  // namespace tcpfault
