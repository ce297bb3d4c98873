// A kernel endpoint drives real sockets on one side of the topology.
//
// Sockets are made inside the side's namespace and keep it for life. Every call has a
// deadline and records its result and errno in the trace. A Connection is its
// 4-tuple first and its fd second: the handle outlives close(), so a test can still
// ask for the state the kernel keeps after it (TIME_WAIT, FIN_WAIT2 ...).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/sock_diag.h"
#include "harness/tcp_info.h"
#include "harness/trace.h"
#include "netns/address.h"
#include "netns/namespace.h"
#include "netns/unique_fd.h"

namespace tcpfault {

using std::chrono::milliseconds;
inline constexpr milliseconds kDefaultCallTimeout{5000};

// The result of one socket call: value >= 0 and err == 0, or err = errno.
struct CallResult {
  std::string call;      // "recv(4096)"
  long value = 0;
  int err = 0;
  bool deadline_passed = false;  // the harness stopped waiting (err is then EAGAIN/EINPROGRESS)
  bool ok() const { return err == 0; }
  std::string describe() const;  // "recv(4096) = -1 ECONNRESET (Connection reset by peer)"
};

std::string errno_name(int err);  // "ECONNRESET"

// One side of a connection as the harness refers to it: which host, which tuple.
struct SocketRef {
  Host host = Host::Client;
  FourTuple tuple;  // local = this host's end
  std::string str() const;  // "client 198.18.1.1:40000 > 198.18.2.1:8080"
};

class KernelEndpoint;
struct SocketRegistry;  // what an endpoint made, so that it can close it all at the end

class Connection {
 public:
  Host host() const;
  const FourTuple& tuple() const;
  SocketRef ref() const { return {host(), tuple()}; }
  SocketRef peer() const;  // the other end of the same connection
  bool is_open() const;    // the fd is still held
  // What the kernel holds for this tuple now (CLOSED when nothing): works after close().
  TcpState kernel_state() const;
  const CallResult& connect_result() const;  // for connections made by connect()

  CallResult send(std::string_view data, milliseconds timeout = kDefaultCallTimeout);
  // Reads up to `max` bytes (one recv); `out` receives them. EOF is value 0.
  CallResult recv(std::string& out, std::size_t max = 65536, milliseconds timeout = kDefaultCallTimeout);
  // Reads until `n` bytes or EOF or error or the deadline.
  CallResult recv_exactly(std::string& out, std::size_t n, milliseconds timeout = kDefaultCallTimeout);
  CallResult shutdown(int how);  // SHUT_RD / SHUT_WR / SHUT_RDWR
  CallResult close();

  CallResult set_linger(bool on, int seconds);
  CallResult set_keepalive(int idle_s, int interval_s, int count);
  CallResult set_buffers(std::optional<int> send_bytes, std::optional<int> recv_bytes);
  CallResult set_option(int level, int name, int value, const std::string& label);
  // The kernel's TCP_INFO for the socket now (its RTO, cwnd, losses); needs the fd.
  TcpInfo tcp_info() const;
  // getsockopt with an int value: the result's value is the option's.
  CallResult get_option(int level, int name, const std::string& label);

  std::string str() const;  // "client 198.18.1.1:40000 > 198.18.2.1:8080 (open)"

  // A second descriptor of the socket, for work on a thread of its own (a transfer):
  // it stays valid if the connection is closed meanwhile. Error if already closed.
  UniqueFd duplicate_fd(const char* purpose) const;

 private:
  friend class KernelEndpoint;
  friend class Listener;
  struct State;
  explicit Connection(std::shared_ptr<State> s) : s_(std::move(s)) {}
  int require_fd(const char* call) const;
  std::shared_ptr<State> s_;
};

class Listener {
 public:
  const SockAddr& local() const;
  // Waits for a connection in the accept queue.
  Connection accept(milliseconds timeout = kDefaultCallTimeout);
  CallResult close();

 private:
  friend class KernelEndpoint;
  struct State;
  explicit Listener(std::shared_ptr<State> s) : s_(std::move(s)) {}
  std::shared_ptr<State> s_;
};

struct ConnectOptions {
  std::optional<std::uint16_t> local_port;  // bind to a fixed port first
  bool reuse_addr = false;                  // SO_REUSEADDR before bind
  milliseconds timeout = kDefaultCallTimeout;
};

class KernelEndpoint {
 public:
  // The trace and the socket table are shared: connections may outlive the endpoint.
  // `address` is this side's address in the scenario's family, `peer` the other side's.
  KernelEndpoint(const netns::Namespace& ns, Host host, Address address, Address peer,
                 std::shared_ptr<Trace> trace, std::shared_ptr<const SockDiag> sockets);

  Host host() const { return host_; }
  SockAddr at(std::uint16_t port) const { return {address_, port}; }
  SockAddr peer_at(std::uint16_t port) const { return {peer_, port}; }
  // A listening socket on `at` (address and port). Throws Error if the port is in use.
  Listener listen(const SockAddr& at, int backlog = 128);
  // Connects to `to` and waits until the handshake ends or fails. The returned
  // connection carries the call's result; on failure it still names the tuple tried.
  Connection connect(const SockAddr& to, const ConnectOptions& options = {});

  // Closes every socket this endpoint made (listeners, connections, accepted ones)
  // that is still open: the scenario is ending, and a later call on a handle should
  // say so rather than reach into a topology that is being torn down.
  void close_all(const std::string& why);

 private:
  const netns::Namespace& ns_;
  Host host_;
  Address address_, peer_;
  std::shared_ptr<Trace> trace_;
  std::shared_ptr<const SockDiag> sockets_;
  std::shared_ptr<SocketRegistry> made_;
};

}  // namespace tcpfault
