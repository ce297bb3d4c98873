#include "harness/observe/sock_diag.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "netns/error.h"

namespace tcpfault {

namespace {

constexpr int kReplyTimeoutSeconds = 5;

// One dumped socket with the kernel's own identity of it, needed to destroy it.
struct DiagEntry {
  SocketInfo info;
  std::uint8_t kernel_family = AF_INET;
  inet_diag_sockid id{};
};

std::uint32_t next_sequence() {
  static std::atomic<std::uint32_t> sequence{1};
  return sequence.fetch_add(1);
}

UniqueFd open_diag_socket(const netns::Namespace& ns) {
  netns::Enter inside(ns);
  UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!fd.valid()) throw_errno("socket(NETLINK_SOCK_DIAG) in namespace " + ns.name());
  // A reply never takes long; the timeout turns a kernel that stays silent into an error.
  timeval timeout{kReplyTimeoutSeconds, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

void send_request(int fd, std::uint16_t type, std::uint16_t flags, const inet_diag_req_v2& req,
                  std::uint32_t sequence) {
  struct {
    nlmsghdr header;
    inet_diag_req_v2 body;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = type;
  message.header.nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | flags);
  message.header.nlmsg_seq = sequence;
  message.body = req;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0)
    throw_errno("send sock_diag request");
}

// Reads one datagram of replies; a dump spans several.
std::size_t receive(int fd, std::vector<char>& buffer) {
  for (;;) {
    ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      throw Error("sock_diag: no reply from the kernel within " +
                  std::to_string(kReplyTimeoutSeconds) + " s");
    throw_errno("recv sock_diag reply");
  }
}

bool is_v4_mapped(const std::uint8_t* b) {
  static constexpr std::uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(b, prefix, sizeof prefix) == 0;
}

bool is_zero(const std::uint8_t* b, std::size_t n) {
  return std::all_of(b, b + n, [](std::uint8_t x) { return x == 0; });
}

Address v4_address(const std::uint8_t* four) {
  Address a;
  a.family = Family::V4;
  std::memcpy(a.bytes.data(), four, 4);
  return a;
}

Address v6_address(const std::uint8_t* sixteen) {
  Address a;
  a.family = Family::V6;
  std::memcpy(a.bytes.data(), sixteen, 16);
  return a;
}

// Addresses as on the wire: a dual-stack socket with a v4-mapped peer talks IPv4.
void fill_tuple(const inet_diag_msg& m, FourTuple& tuple) {
  auto src = reinterpret_cast<const std::uint8_t*>(m.id.idiag_src);
  auto dst = reinterpret_cast<const std::uint8_t*>(m.id.idiag_dst);
  if (m.idiag_family == AF_INET) {
    tuple.local.addr = v4_address(src);
    tuple.remote.addr = v4_address(dst);
  } else if (is_v4_mapped(src) && (is_v4_mapped(dst) || is_zero(dst, 16))) {
    tuple.local.addr = v4_address(src + 12);
    tuple.remote.addr = is_zero(dst, 16) ? Address::any(Family::V4) : v4_address(dst + 12);
  } else {
    tuple.local.addr = v6_address(src);
    tuple.remote.addr = v6_address(dst);
  }
  tuple.local.port = ntohs(m.id.idiag_sport);
  tuple.remote.port = ntohs(m.id.idiag_dport);
}

bool has_shutdown_attribute(const nlmsghdr* header) {
  const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(header));
  int length = static_cast<int>(header->nlmsg_len) - static_cast<int>(NLMSG_LENGTH(sizeof *m));
  auto* attr = reinterpret_cast<const rtattr*>(reinterpret_cast<const char*>(m) +
                                               NLMSG_ALIGN(sizeof *m));
  for (; RTA_OK(attr, length); attr = RTA_NEXT(attr, length))
    if (attr->rta_type == INET_DIAG_SHUTDOWN) return true;
  return false;
}

// TCP_INFO, which the kernel adds for full sockets when asked (INET_DIAG_INFO).
std::optional<TcpInfo> tcp_info_attribute(const nlmsghdr* header) {
  const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(header));
  int length = static_cast<int>(header->nlmsg_len) - static_cast<int>(NLMSG_LENGTH(sizeof *m));
  auto* attr = reinterpret_cast<const rtattr*>(reinterpret_cast<const char*>(m) +
                                               NLMSG_ALIGN(sizeof *m));
  for (; RTA_OK(attr, length); attr = RTA_NEXT(attr, length))
    if (attr->rta_type == INET_DIAG_INFO) return parse_tcp_info(RTA_DATA(attr), RTA_PAYLOAD(attr));
  return std::nullopt;
}

DiagEntry parse_entry(const nlmsghdr* header) {
  if (header->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg)))
    throw Error("sock_diag: truncated inet_diag_msg from the kernel");
  const auto& m = *static_cast<const inet_diag_msg*>(NLMSG_DATA(header));
  DiagEntry e;
  e.kernel_family = m.idiag_family;
  e.id = m.id;
  SocketInfo& s = e.info;
  fill_tuple(m, s.tuple);
  s.state = static_cast<TcpState>(m.idiag_state);
  s.inode = m.idiag_inode;
  s.timer = m.idiag_timer;
  s.timer_expires_ms = m.idiag_expires;
  s.retransmits = m.idiag_retrans;
  s.recv_queue = m.idiag_rqueue;
  s.send_queue = m.idiag_wqueue;
  s.cookie = static_cast<std::uint64_t>(m.id.idiag_cookie[0]) |
             static_cast<std::uint64_t>(m.id.idiag_cookie[1]) << 32;

  // The kind of socket is not in the message itself: a timewait minisocket reports its
  // sub-state (TIME_WAIT or FIN_WAIT2) and a request socket reports SYN_RECV, both
  // states a full socket can be in too. But only full sockets go through
  // inet_diag_msg_attrs_fill, which always adds INET_DIAG_SHUTDOWN (even when zero);
  // inet_twsk_diag_fill and inet_req_diag_fill add no such attribute. So "no
  // INET_DIAG_SHUTDOWN" is what marks a minisocket, independent of the requested
  // extensions, the caller's privileges and whether a file still refers to the socket.
  if (!has_shutdown_attribute(header)) {
    if (s.state == TcpState::SYN_RECV) {
      s.request_sock = true;
      s.state = TcpState::NEW_SYN_RECV;
    } else {
      s.timewait_sock = true;
    }
  } else {
    s.tcp = tcp_info_attribute(header);
  }
  return e;
}

// 0 is the most alive.
int liveliness_rank(const SocketInfo& s) {
  if (s.full_sock()) return s.state == TcpState::CLOSED ? 1 : 0;
  if (s.request_sock) return 2;
  return s.state == TcpState::FIN_WAIT2 ? 3 : 4;
}

std::vector<DiagEntry> dump(int fd, std::uint8_t kernel_family, const std::string& ns_name) {
  inet_diag_req_v2 req{};
  req.sdiag_family = kernel_family;
  req.sdiag_protocol = IPPROTO_TCP;
  req.idiag_states = ~0u;  // every state, request sockets and timewait included
  req.idiag_ext = 1 << (INET_DIAG_INFO - 1);
  const std::uint32_t sequence = next_sequence();
  send_request(fd, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, req, sequence);

  std::vector<DiagEntry> entries;
  std::vector<char> buffer(1 << 16);
  for (;;) {
    std::size_t n = receive(fd, buffer);
    int length = static_cast<int>(n);
    for (auto* h = reinterpret_cast<const nlmsghdr*>(buffer.data()); NLMSG_OK(h, length);
         h = NLMSG_NEXT(h, length)) {
      if (h->nlmsg_seq != sequence) continue;  // a late reply to an abandoned request
      if (h->nlmsg_type == NLMSG_DONE) return entries;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        throw SystemError("sock_diag dump of TCP sockets in namespace " + ns_name, -err->error);
      }
      if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) entries.push_back(parse_entry(h));
    }
  }
}

std::vector<DiagEntry> dump_matching(int fd, const FourTuple& tuple, const std::string& ns_name) {
  std::vector<DiagEntry> all = dump(fd, AF_INET6, ns_name);
  if (tuple.local.addr.family == Family::V4) {
    auto v4 = dump(fd, AF_INET, ns_name);
    all.insert(all.end(), v4.begin(), v4.end());
  }
  std::erase_if(all, [&](const DiagEntry& e) { return e.info.tuple != tuple; });
  std::stable_sort(all.begin(), all.end(), [](const DiagEntry& a, const DiagEntry& b) {
    return liveliness_rank(a.info) < liveliness_rank(b.info);
  });
  return all;
}

// The socket of one 4-tuple, found by the kernel's own hash lookup (a request without
// NLM_F_DUMP, inet_diag_find_one_icsk) rather than a dump: a dump walks every bucket of
// the TCP hash table, tens of thousands on a machine of a few GB, and the pollers (a
// state awaited, an orphan watched, every few ms) paid that each time; under QEMU's TCG
// that walk was most of a guest's work while it waited a minute of TIME_WAIT. The kernel
// answers with the one hashed socket of the tuple (full, request or timewait), or else
// the listener of its local address, which is another socket unless the tuple is the
// listener's own. An IPv4 tuple looked up as AF_INET finds dual-stack sockets too.
std::optional<DiagEntry> lookup(int fd, const FourTuple& tuple, const std::string& ns_name) {
  const bool v4 = tuple.local.addr.family == Family::V4;
  inet_diag_req_v2 req{};
  req.sdiag_family = v4 ? AF_INET : AF_INET6;
  req.sdiag_protocol = IPPROTO_TCP;
  req.idiag_states = ~0u;
  req.idiag_ext = 1 << (INET_DIAG_INFO - 1);
  req.id.idiag_sport = htons(tuple.local.port);
  req.id.idiag_dport = htons(tuple.remote.port);
  const std::size_t length = v4 ? 4 : 16;
  std::memcpy(req.id.idiag_src, tuple.local.addr.bytes.data(), length);
  std::memcpy(req.id.idiag_dst, tuple.remote.addr.bytes.data(), length);
  req.id.idiag_cookie[0] = req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  const std::uint32_t sequence = next_sequence();
  send_request(fd, SOCK_DIAG_BY_FAMILY, 0, req, sequence);

  std::vector<char> buffer(1 << 16);
  for (;;) {
    std::size_t n = receive(fd, buffer);
    int size = static_cast<int>(n);
    for (auto* h = reinterpret_cast<const nlmsghdr*>(buffer.data()); NLMSG_OK(h, size); h = NLMSG_NEXT(h, size)) {
      if (h->nlmsg_seq != sequence) continue;  // a late reply to an abandoned request
      if (h->nlmsg_type == NLMSG_ERROR) {
        int err = -static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
        if (err == ENOENT) return std::nullopt;
        throw SystemError("sock_diag lookup of " + tuple.str() + " in namespace " + ns_name, err);
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      DiagEntry e = parse_entry(h);
      if (e.info.tuple != tuple) return std::nullopt;  // the listener of the local address
      return e;
    }
  }
}

std::string destroy_hint(int err) {
  switch (err) {
    case EOPNOTSUPP:
      return "the kernel was built without CONFIG_INET_DIAG_DESTROY";
    case ENOENT:
      return "no such socket: it closed before the request arrived";
    case EPERM:
    case EACCES:
      return "SOCK_DESTROY needs CAP_NET_ADMIN";
    default:
      return "";
  }
}

}  // namespace

SockDiag::SockDiag(const netns::Namespace& ns) : fd_(open_diag_socket(ns)), ns_name_(ns.name()) {}

std::vector<SocketInfo> SockDiag::list(Family family) const {
  std::lock_guard lock(*mutex_);
  // Dual-stack AF_INET6 sockets with v4-mapped addresses count as IPv4 (see header).
  std::vector<DiagEntry> entries = dump(fd_.get(), AF_INET6, ns_name_);
  if (family == Family::V4) {
    auto v4 = dump(fd_.get(), AF_INET, ns_name_);
    entries.insert(entries.end(), v4.begin(), v4.end());
  }
  std::vector<SocketInfo> out;
  for (const auto& e : entries)
    if (e.info.tuple.local.addr.family == family) out.push_back(e.info);
  return out;
}

std::vector<SocketInfo> SockDiag::find_all(const FourTuple& tuple) const {
  std::lock_guard lock(*mutex_);
  std::vector<SocketInfo> out;
  for (const auto& e : dump_matching(fd_.get(), tuple, ns_name_)) out.push_back(e.info);
  return out;
}

std::optional<SocketInfo> SockDiag::find(const FourTuple& tuple) const {
  std::lock_guard lock(*mutex_);
  auto found = lookup(fd_.get(), tuple, ns_name_);
  if (!found) return std::nullopt;
  return found->info;
}

void SockDiag::destroy(const FourTuple& tuple) const {
  std::lock_guard lock(*mutex_);
  const std::string what = "SOCK_DESTROY " + tuple.str() + " in namespace " + ns_name_;
  auto matches = dump_matching(fd_.get(), tuple, ns_name_);
  if (matches.empty()) throw SystemError(what, ENOENT, "no TCP socket has this 4-tuple");
  const DiagEntry& target = matches.front();

  inet_diag_req_v2 req{};
  req.sdiag_family = target.kernel_family;
  req.sdiag_protocol = IPPROTO_TCP;
  req.idiag_states = ~0u;
  req.id = target.id;  // exact identity, cookie included: never another socket
  const std::uint32_t sequence = next_sequence();
  send_request(fd_.get(), SOCK_DESTROY, NLM_F_ACK, req, sequence);

  std::vector<char> buffer(8192);
  for (;;) {
    std::size_t n = receive(fd_.get(), buffer);
    int length = static_cast<int>(n);
    for (auto* h = reinterpret_cast<const nlmsghdr*>(buffer.data()); NLMSG_OK(h, length);
         h = NLMSG_NEXT(h, length)) {
      if (h->nlmsg_seq != sequence || h->nlmsg_type != NLMSG_ERROR) continue;
      int err = -static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
      if (err != 0) throw SystemError(what, err, destroy_hint(err));
      return;
    }
  }
}

}  // namespace tcpfault
