#include "agents/lwip/stack_sysctls.h"

#include <cerrno>
#include <charconv>
#include <map>
#include <mutex>
#include <optional>

#include "agents/lwip/lwip_headers.h"
#include "agents/lwip/protocol.h"

namespace tcpfault::lwip_agent {
namespace {

struct Fixed {
  const char* value;
  const char* means;
};

// Each is lwIP 2.1's behaviour as Debian builds it, and what Linux does with the value.
const std::map<std::string, Fixed, std::less<>>& fixed_keys() {
  static const std::map<std::string, Fixed, std::less<>> table = {
      {"net.ipv4.tcp_sack", {"0", "no SACK in lwIP 2.1: LWIP_TCP_SACK_OUT is 0, SACK-permitted is never offered"}},
      {"net.ipv4.tcp_dsack", {"0", "no SACK in lwIP 2.1, so no D-SACK either"}},
      {"net.ipv4.tcp_timestamps", {"0", "no timestamps: LWIP_TCP_TIMESTAMPS is 0"}},
      {"net.ipv4.tcp_window_scaling",
       {"1", "window scaling: LWIP_WND_SCALE 1, TCP_RCV_SCALE 1, offered on a SYN and answered on a SYN-ACK"}},
      {"net.ipv4.tcp_syncookies", {"0", "lwIP 2.1 has no SYN cookies"}},
      {"net.ipv4.tcp_ecn", {"0", "lwIP 2.1 has no ECN: it neither asks for it nor accepts it"}},
      {"net.ipv4.tcp_early_retrans", {"0", "lwIP 2.1 has no tail loss probe"}},
      {"net.ipv4.tcp_syn_retries", {"6", "TCP_SYNMAXRTX 6: connect() gives up after 6 SYN retransmissions"}},
      {"net.ipv4.tcp_fin_timeout",
       {"20", "TCP_FIN_WAIT_TIMEOUT 20 s: an orphan's FIN_WAIT2 is dropped after 20 s without a segment"}},
      {"net.ipv4.tcp_abort_on_overflow",
       {"1",
        "a connection whose handshake completes while the accept mailbox is full is aborted with an RST "
        "(tcp_process when accept_function fails); listen()'s backlog is not enforced, the mailbox holds 127"}},
      {"net.ipv4.ip_local_port_range",
       {"49152\t65535", "TCP_LOCAL_PORT_RANGE_START/END: ephemeral ports 0xc000-0xffff"}},
  };
  return table;
}

constexpr const char* kKeepaliveTime = "net.ipv4.tcp_keepalive_time";
constexpr long long kMaxKeepaliveSeconds = 4294967;  // u32 milliseconds
constexpr const char* kKeepaliveIntvl = "net.ipv4.tcp_keepalive_intvl";
constexpr const char* kKeepaliveProbes = "net.ipv4.tcp_keepalive_probes";

// Linux's text of one integer: optional blanks around it, nothing else.
std::optional<long long> one_integer(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\n");
  if (first == std::string::npos) return std::nullopt;
  const auto last = text.find_last_not_of(" \t\n");
  const char* begin = text.data() + first;
  const char* end = text.data() + last + 1;
  long long v = 0;
  const auto [ptr, ec] = std::from_chars(begin, end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

[[noreturn]] void unsupported(const std::string& cmd, const std::string& key, const std::string& why) {
  throw ProtocolError("unsupported", cmd + " " + key + ": " + why);
}

}  // namespace

StackSysctls::StackSysctls()
    : keepalive_time_s_(static_cast<int>(TCP_KEEPIDLE_DEFAULT / 1000)),
      keepalive_intvl_s_(static_cast<int>(TCP_KEEPINTVL_DEFAULT / 1000)),
      keepalive_probes_(static_cast<int>(TCP_KEEPCNT_DEFAULT)) {}

Json StackSysctls::declarations() const {
  Json d = Json::object();
  for (const auto& [key, f] : fixed_keys()) d[key] = {{"value", f.value}, {"fixed", true}, {"means", f.means}};
  d[kKeepaliveTime] = {{"value", get(kKeepaliveTime)},
                       {"fixed", false},
                       {"means", "keep_idle of every new pcb (TCP_KEEPIDLE_DEFAULT), in seconds"}};
  d[kKeepaliveIntvl] = {{"value", get(kKeepaliveIntvl)},
                        {"fixed", false},
                        {"means", "keep_intvl of every new pcb (TCP_KEEPINTVL_DEFAULT), in seconds"}};
  d[kKeepaliveProbes] = {
      {"value", get(kKeepaliveProbes)}, {"fixed", false}, {"means", "keep_cnt of every new pcb (TCP_KEEPCNT_DEFAULT)"}};
  return d;
}

void StackSysctls::set(const std::string& key, const std::string& value) {
  if (fixed_keys().contains(key))
    unsupported("set_sysctl", key, "fixed in lwIP 2.1 (" + std::string(fixed_keys().find(key)->second.means) + ")");
  std::atomic<int>* knob = key == kKeepaliveTime     ? &keepalive_time_s_
                           : key == kKeepaliveIntvl  ? &keepalive_intvl_s_
                           : key == kKeepaliveProbes ? &keepalive_probes_
                                                     : nullptr;
  if (knob == nullptr) unsupported("set_sysctl", key, "lwIP 2.1 has no such knob");
  const bool probes = knob == &keepalive_probes_;
  const auto v = one_integer(value);
  // What Linux itself refuses: anything but a number; a probe count outside its u8.
  if (!v || (probes && (*v < 0 || *v > 255)))
    throw SocketFailure(EINVAL,
                        key + " takes one whole number" + (probes ? " from 0 to 255" : "") + ", not \"" + value + "\"");
  // What Linux takes but lwIP cannot behave as: no probe at all, a time of 0 or less, or
  // one past pcb->keep_idle / keep_intvl (a u32 of milliseconds).
  const long long max = probes ? 255 : kMaxKeepaliveSeconds;
  if (*v < 1 || *v > max)
    unsupported("set_sysctl", key,
                "lwIP cannot behave as " + std::to_string(*v) + ": it takes 1 to " + std::to_string(max));
  knob->store(static_cast<int>(*v));
}

std::string StackSysctls::get(const std::string& key) const {
  if (const auto f = fixed_keys().find(key); f != fixed_keys().end()) return f->second.value;
  if (key == kKeepaliveTime) return std::to_string(keepalive_time_s_.load());
  if (key == kKeepaliveIntvl) return std::to_string(keepalive_intvl_s_.load());
  if (key == kKeepaliveProbes) return std::to_string(keepalive_probes_.load());
  unsupported("get_sysctl", key, "lwIP 2.1 has no such knob");
}

namespace {

void set_keepalive_fields(int fd, unsigned skip, int idle_s, int intvl_s, int probes) {
  const struct {
    unsigned own;
    int name, value;
  } fields[] = {{AgentSocket::kOwnIdle, TCP_KEEPIDLE, idle_s},
                {AgentSocket::kOwnInterval, TCP_KEEPINTVL, intvl_s},
                {AgentSocket::kOwnCount, TCP_KEEPCNT, probes}};
  for (const auto& f : fields)
    if ((skip & f.own) == 0 && lwip_setsockopt(fd, IPPROTO_TCP, f.name, &f.value, sizeof f.value) != 0)
      fail_errno(errno, "keepalive defaults");
}

}  // namespace

bool StackSysctls::is_keepalive_default(const std::string& key) {
  return key == kKeepaliveTime || key == kKeepaliveIntvl || key == kKeepaliveProbes;
}

void StackSysctls::apply_keepalive_defaults(int fd) const {
  set_keepalive_fields(fd, 0, keepalive_time_s_.load(), keepalive_intvl_s_.load(), keepalive_probes_.load());
}

void StackSysctls::apply_keepalive_defaults(AgentSocket& s) const {
  std::lock_guard call(s.call);
  set_keepalive_fields(s.fd, s.own_keepalive.load(), keepalive_time_s_.load(), keepalive_intvl_s_.load(),
                       keepalive_probes_.load());
}

void StackSysctls::apply_keepalive_defaults_locked(tcp_pcb& pcb) const {
  pcb.keep_idle = 1000U * static_cast<u32_t>(keepalive_time_s_.load());
  pcb.keep_intvl = 1000U * static_cast<u32_t>(keepalive_intvl_s_.load());
  pcb.keep_cnt = static_cast<u32_t>(keepalive_probes_.load());
}

}  // namespace tcpfault::lwip_agent
