// What installing the middlebox's queue rules costs, three ways, each in a fresh
// namespace, interleaved so that the machine's load falls on all of them alike:
//   nft      install_queue_rules(): one nf_tables batch over netlink (what the engine does)
//   legacy   the x_tables setsockopt interface (IPT_SO_SET_REPLACE / IP6T_SO_SET_REPLACE),
//            from this process: the alternative that was measured and not chosen
//   restore  iptables-restore and ip6tables-restore run inside the namespace (the old way)
//
//   queue_rules_bench [runs]     (default 50, needs root)   prints the median and p90 of each
//
// The namespace's creation is not part of the numbers; its first table is (a fresh
// namespace has none until the rules make it).
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "harness/intercept/queue_rules.h"
#include "netns/error.h"
#include "netns/namespace.h"

namespace {

using tcpfault::Error;
using tcpfault::netns::Namespace;
using Clock = std::chrono::steady_clock;
constexpr std::uint16_t kQueue = 3;

// ---- legacy: the filter table replaced whole, as iptables-legacy-restore does ----

// The parts of the x_tables ABI that differ between the families.
struct V4 {
  using Entry = ipt_entry;
  using Replace = ipt_replace;
  using GetInfo = ipt_getinfo;
  static constexpr int kDomain = AF_INET, kLevel = SOL_IP;
  static constexpr int kGetInfo = IPT_SO_GET_INFO, kSetReplace = IPT_SO_SET_REPLACE;
  static void match_tcp(Entry& e) { e.ip.proto = IPPROTO_TCP; }
};
struct V6 {
  using Entry = ip6t_entry;
  using Replace = ip6t_replace;
  using GetInfo = ip6t_getinfo;
  static constexpr int kDomain = AF_INET6, kLevel = SOL_IPV6;
  static constexpr int kGetInfo = IP6T_SO_GET_INFO, kSetReplace = IP6T_SO_SET_REPLACE;
  static void match_tcp(Entry& e) {
    e.ipv6.proto = IPPROTO_TCP;
    e.ipv6.flags = IP6T_F_PROTO;  // without it ip6_tables ignores the protocol
  }
};

template <class F>
struct Table {
  std::vector<unsigned char> bytes;
  unsigned entries = 0;

  // Appends an entry whose target is `target` (an xt_entry_target and its data, aligned)
  // and returns its offset.
  unsigned add(const std::vector<unsigned char>& target, bool tcp_only = false) {
    const unsigned offset = static_cast<unsigned>(bytes.size());
    const unsigned size = XT_ALIGN(sizeof(typename F::Entry)) + static_cast<unsigned>(target.size());
    bytes.resize(offset + size);
    auto* e = reinterpret_cast<typename F::Entry*>(bytes.data() + offset);
    e->target_offset = XT_ALIGN(sizeof(typename F::Entry));
    e->next_offset = static_cast<std::uint16_t>(size);
    if (tcp_only) F::match_tcp(*e);
    std::memcpy(bytes.data() + offset + e->target_offset, target.data(), target.size());
    ++entries;
    return offset;
  }
};

// An xt_entry_target named `name` followed by `data`, padded to the x_tables alignment.
std::vector<unsigned char> target_bytes(const char* name, std::uint8_t revision, const void* data, std::size_t len) {
  std::vector<unsigned char> bytes(XT_ALIGN(sizeof(xt_entry_target) + len));
  xt_entry_target head{};
  head.u.user.target_size = static_cast<std::uint16_t>(bytes.size());
  std::strncpy(head.u.user.name, name, sizeof head.u.user.name - 1);
  head.u.user.revision = revision;
  std::memcpy(bytes.data(), &head, sizeof head);
  std::memcpy(bytes.data() + sizeof head, data, len);
  return bytes;
}

std::vector<unsigned char> accept_target() {
  const int verdict = -NF_ACCEPT - 1;  // the standard target (empty name): a verdict
  return target_bytes(XT_STANDARD_TARGET, 0, &verdict, sizeof verdict);
}

template <class F>
void replace_filter_table(const Namespace& ns, std::uint16_t queue) {
  tcpfault::UniqueFd sock(ns.run([] { return ::socket(F::kDomain, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW); }));
  if (!sock.valid()) tcpfault::throw_errno("raw socket");
  typename F::GetInfo info{};
  std::strcpy(info.name, "filter");
  socklen_t len = sizeof info;
  if (::getsockopt(sock.get(), F::kLevel, F::kGetInfo, &info, &len) != 0)
    tcpfault::throw_errno("x_tables get info (is ip_tables / ip6_tables loaded?)");

  const xt_NFQ_info_v3 queue_info{queue, 1, NFQ_FLAG_BYPASS};
  const std::vector<unsigned char> nfqueue = target_bytes("NFQUEUE", 3, &queue_info, sizeof queue_info);
  char error_name[XT_FUNCTION_MAXNAMELEN] = "ERROR";  // the table's end
  const std::vector<unsigned char> error = target_bytes(XT_ERROR_TARGET, 0, error_name, sizeof error_name);

  Table<F> t;
  unsigned hook[NF_INET_NUMHOOKS] = {}, underflow[NF_INET_NUMHOOKS] = {};
  hook[NF_INET_LOCAL_IN] = underflow[NF_INET_LOCAL_IN] = t.add(accept_target());
  hook[NF_INET_FORWARD] = t.add(nfqueue, true);
  underflow[NF_INET_FORWARD] = t.add(accept_target());
  hook[NF_INET_LOCAL_OUT] = underflow[NF_INET_LOCAL_OUT] = t.add(accept_target());
  t.add(error);

  std::vector<unsigned char> buf(sizeof(typename F::Replace) + t.bytes.size());
  auto* r = reinterpret_cast<typename F::Replace*>(buf.data());
  std::strcpy(r->name, "filter");
  r->valid_hooks = info.valid_hooks;
  r->num_entries = t.entries;
  r->size = static_cast<unsigned>(t.bytes.size());
  std::memcpy(r->hook_entry, hook, sizeof hook);
  std::memcpy(r->underflow, underflow, sizeof underflow);
  std::vector<xt_counters> old(info.num_entries);
  r->num_counters = info.num_entries;
  r->counters = old.data();
  std::memcpy(buf.data() + sizeof(typename F::Replace), t.bytes.data(), t.bytes.size());
  if (::setsockopt(sock.get(), F::kLevel, F::kSetReplace, buf.data(), static_cast<socklen_t>(buf.size())) != 0)
    tcpfault::throw_errno("x_tables replace");
}

void install_legacy(const Namespace& ns, std::uint16_t queue) {
  replace_filter_table<V4>(ns, queue);
  replace_filter_table<V6>(ns, queue);
}

// ---- restore: the two programs, both at once, as the engine used to ----

pid_t start_restore(const Namespace& ns, const char* program, const std::string& rules) {
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) tcpfault::throw_errno("pipe");
  const pid_t pid = ::fork();
  if (pid < 0) tcpfault::throw_errno("fork");
  if (pid == 0) {
    if (::setns(ns.fd(), CLONE_NEWNET) != 0) ::_exit(126);
    ::dup2(in[0], 0);
    const char* argv[] = {program, "--noflush", nullptr};
    ::execvp(program, const_cast<char**>(argv));
    ::_exit(127);
  }
  ::close(in[0]);
  if (::write(in[1], rules.data(), rules.size()) != static_cast<ssize_t>(rules.size())) ::close(in[1]);
  ::close(in[1]);
  return pid;
}

void install_restore(const Namespace& ns, std::uint16_t queue) {
  const std::string rules = tcpfault::queue_rules_text(queue);
  const pid_t pids[] = {start_restore(ns, "iptables-restore", rules), start_restore(ns, "ip6tables-restore", rules)};
  bool ok = true;
  for (pid_t pid : pids) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  if (!ok) throw Error("iptables-restore failed");
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double p90(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() * 9 / 10];
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 50;
  if (runs < 1 || runs > 10000) {
    std::fprintf(stderr, "usage: queue_rules_bench [runs 1..10000]\n");
    return 2;
  }
  struct Way {
    const char* name;
    std::function<void(const Namespace&, std::uint16_t)> install;
    std::vector<double> ms;
  };
  Way ways[] = {{"nft", tcpfault::install_queue_rules, {}},
                {"legacy", install_legacy, {}},
                {"restore", install_restore, {}}};
  try {
    for (int i = 0; i < runs; ++i)
      for (Way& w : ways) {
        Namespace ns = Namespace::create(std::string("queue rules bench (") + w.name + ")");
        const auto start = Clock::now();
        w.install(ns, kQueue);
        w.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "queue_rules_bench: %s\n", e.what());
    return 1;
  }
  std::printf("runs: %d (both families each)\n", runs);
  for (const Way& w : ways) std::printf("%-8s median %.3f ms  p90 %.3f ms\n", w.name, median(w.ms), p90(w.ms));
  return 0;
}
