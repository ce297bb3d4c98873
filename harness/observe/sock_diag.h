// Socket states by 4-tuple through NETLINK_SOCK_DIAG, inside one namespace.
//
// Sees what has no file descriptor: TIME_WAIT and orphaned FIN_WAIT2 (timewait
// minisockets), request sockets in SYN_RECV, and orphans after close().
//
// Addresses are reported as they appear on the wire: an AF_INET6 socket talking to
// an IPv4 peer (v4-mapped addresses) is listed with IPv4 addresses, under Family::V4.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "harness/observe/tcp_info.h"
#include "harness/tcp_state.h"
#include "netns/address.h"
#include "netns/namespace.h"
#include "netns/unique_fd.h"

namespace tcpfault {

struct SocketInfo {
  TcpState state = TcpState::CLOSED;  // a timewait socket reports its sub-state
  FourTuple tuple;                    // local = the socket's own address
  bool timewait_sock = false;         // a timewait minisocket (TIME_WAIT or orphan FIN_WAIT2)
  bool request_sock = false;          // a request socket (SYN_RECV, state NEW_SYN_RECV)
  std::uint32_t inode = 0;            // 0 when no file refers to it (orphan, minisocket)
  std::uint8_t timer = 0;             // idiag_timer: 1 retransmit, 2 keepalive, 3 timewait, 4 probe
  std::uint32_t timer_expires_ms = 0;
  std::uint8_t retransmits = 0;
  std::uint32_t recv_queue = 0, send_queue = 0;
  std::uint64_t cookie = 0;
  std::optional<TcpInfo> tcp;         // full sockets: TCP_INFO (INET_DIAG_INFO)

  // A full socket: neither a timewait minisocket nor a request socket.
  bool full_sock() const { return !timewait_sock && !request_sock; }
};

class SockDiag {
 public:
  // Opens a sock_diag netlink socket inside `ns`; usable from any thread afterwards.
  explicit SockDiag(const netns::Namespace& ns);

  // Every TCP socket of the family in the namespace, all states.
  std::vector<SocketInfo> list(Family family) const;
  // Every socket whose own end is tuple.local and peer is tuple.remote, most alive first.
  std::vector<SocketInfo> find_all(const FourTuple& tuple) const;
  // The socket whose own end is tuple.local and peer is tuple.remote, if any: the one
  // the kernel's hash lookup finds (no walk of the whole table, so pollers may call it
  // every few ms). The hash holds one socket per 4-tuple at a time (a request socket
  // becomes its child, a timewait minisocket is replaced by the connection taking it
  // over); find_all shows any transient overlap a dump happens to see.
  std::optional<SocketInfo> find(const FourTuple& tuple) const;
  // Destroys the most alive matching socket (SOCK_DESTROY, exact id and cookie) as if
  // it had been aborted: the kernel sends an RST for synchronized states and the
  // owner's next call fails with ECONNABORTED (accept() on a destroyed listener: EINVAL).
  // Timewait minisockets and request sockets are simply removed.
  // Throws SystemError: ENOENT if no such socket, EOPNOTSUPP if the kernel lacks
  // CONFIG_INET_DIAG_DESTROY.
  void destroy(const FourTuple& tuple) const;

  const std::string& namespace_name() const { return ns_name_; }

 private:
  UniqueFd fd_;
  std::string ns_name_;
  // One request at a time on the netlink socket (a dump spans several reads).
  std::unique_ptr<std::mutex> mutex_ = std::make_unique<std::mutex>();
};

}  // namespace tcpfault
