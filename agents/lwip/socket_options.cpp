#include "agents/lwip/socket_options.h"

#include <mutex>

#include "agents/lwip/lwip_headers.h"
#include "agents/lwip/protocol.h"

namespace tcpfault::lwip_agent {
namespace {

template <class T>
void set(AgentSocket& s, int level, int name, const T& v, const char* what) {
  std::lock_guard call(s.call);
  if (lwip_setsockopt(s.fd, level, name, &v, sizeof v) != 0) fail_errno(errno, std::string("setsockopt ") + what);
}

template <class T>
T get(AgentSocket& s, int level, int name, const char* what) {
  T v{};
  socklen_t len = sizeof v;
  std::lock_guard call(s.call);
  if (lwip_getsockopt(s.fd, level, name, &v, &len) != 0) fail_errno(errno, std::string("getsockopt ") + what);
  return v;
}

[[noreturn]] void bad_value(const std::string& option, const std::string& expected, const Json& value) {
  throw ProtocolError("bad_request", "setsockopt " + option + ": value must be " + expected + ", not " + value.dump());
}

int field(const Json& obj, const char* name, const std::string& option, int min, int max) {
  const Json& v = obj.at(name);
  if (!v.is_number_integer() || v.get<long long>() < min || v.get<long long>() > max)
    bad_value(option, std::string("an object whose '") + name + "' is an integer from " + std::to_string(min) +
                          " to " + std::to_string(max),
              obj);
  return v.get<int>();
}

[[noreturn]] void unsupported(const std::string& option) {
  std::string why = "no option '" + option + "'";
  if (option == "sndbuf" || option == "rcvbuf")
    why += ": lwIP's send buffer and receive window are fixed at build time (TCP_SND_BUF, TCP_WND = 65535)";
  std::string known;
  for (const auto& o : supported_options()) known += (known.empty() ? "" : ", ") + o;
  throw ProtocolError("unsupported", why + "; this agent has " + known);
}

}  // namespace

const std::vector<std::string>& supported_options() {
  static const std::vector<std::string> options = {"linger", "keepalive", "nodelay"};
  return options;
}

void set_option(AgentSocket& s, const std::string& option, const Json& value) {
  if (option == "linger") {
    if (!value.is_object() || !value.contains("on") || !value.at("on").is_boolean())
      bad_value(option, "{\"on\": bool, \"seconds\": n}", value);
    linger l{};
    l.l_onoff = value.at("on").get<bool>() ? 1 : 0;
    l.l_linger = value.contains("seconds") ? field(value, "seconds", option, 0, 65535) : 0;
    set(s, SOL_SOCKET, SO_LINGER, l, "SO_LINGER");
  } else if (option == "keepalive") {
    // false (or null) turns it off; an object turns it on with the values it names.
    if (value.is_boolean() || value.is_null()) {
      set(s, SOL_SOCKET, SO_KEEPALIVE, int{value.is_boolean() && value.get<bool>() ? 1 : 0}, "SO_KEEPALIVE");
      return;
    }
    if (!value.is_object()) bad_value(option, "{\"idle_s\", \"interval_s\", \"count\"} or false", value);
    set(s, SOL_SOCKET, SO_KEEPALIVE, int{1}, "SO_KEEPALIVE");
    // Marked before they are set: the defaults (stack_sysctls.h) never overwrite them after.
    s.own_keepalive |= (value.contains("idle_s") ? AgentSocket::kOwnIdle : 0) |
                       (value.contains("interval_s") ? AgentSocket::kOwnInterval : 0) |
                       (value.contains("count") ? AgentSocket::kOwnCount : 0);
    if (value.contains("idle_s")) set(s, IPPROTO_TCP, TCP_KEEPIDLE, field(value, "idle_s", option, 1, 2147483), "TCP_KEEPIDLE");
    if (value.contains("interval_s"))
      set(s, IPPROTO_TCP, TCP_KEEPINTVL, field(value, "interval_s", option, 1, 2147483), "TCP_KEEPINTVL");
    if (value.contains("count")) set(s, IPPROTO_TCP, TCP_KEEPCNT, field(value, "count", option, 1, 255), "TCP_KEEPCNT");
  } else if (option == "nodelay") {
    if (!value.is_boolean()) bad_value(option, "true or false", value);
    set(s, IPPROTO_TCP, TCP_NODELAY, int{value.get<bool>() ? 1 : 0}, "TCP_NODELAY");
  } else {
    unsupported(option);
  }
}

Json get_option(AgentSocket& s, const std::string& option) {
  if (option == "linger") {
    const auto l = get<linger>(s, SOL_SOCKET, SO_LINGER, "SO_LINGER");
    return Json{{"on", l.l_onoff != 0}, {"seconds", l.l_linger}};
  }
  if (option == "keepalive") {
    return Json{{"on", get<int>(s, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE") != 0},
                {"idle_s", get<int>(s, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE")},
                {"interval_s", get<int>(s, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL")},
                {"count", get<int>(s, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT")}};
  }
  if (option == "nodelay") return get<int>(s, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY") != 0;
  unsupported(option);
}

int linger_seconds(AgentSocket& s) {
  const auto l = get<linger>(s, SOL_SOCKET, SO_LINGER, "SO_LINGER");
  return l.l_onoff ? l.l_linger : -1;
}

}  // namespace tcpfault::lwip_agent
