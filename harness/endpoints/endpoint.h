// Endpoints drive the sockets of one side of the topology: the kernel's
// (harness/endpoints/kernel_endpoint.h) or those of a stack run by an agent
// (harness/agent/agent_endpoint.h, docs/agent-protocol.md). Cases see one API for both.
//
// Every call has a deadline and records its result and errno in the trace. A
// Connection is its 4-tuple first and its socket second: the handle outlives close(),
// so a test can still ask for the state the stack keeps after it (TIME_WAIT,
// FIN_WAIT2 ...). What a target cannot do (TCP_INFO of an agent's socket) throws
// NotApplicable (harness/endpoints/target_errors.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/endpoints/stream_side.h"
#include "harness/observe/tcp_info.h"
#include "harness/socket_ref.h"
#include "harness/tcp_state.h"
#include "harness/trace/trace.h"
#include "netns/address.h"
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

// What a kind of target implements for one connection (see Connection for each call).
class ConnectionImpl {
 public:
  virtual ~ConnectionImpl() = default;
  virtual Host host() const = 0;
  virtual const FourTuple& tuple() const = 0;
  virtual bool is_open() const = 0;
  virtual TcpState state() const = 0;
  virtual const CallResult& connect_result() const = 0;
  virtual CallResult send(std::string_view data, milliseconds timeout) = 0;
  virtual CallResult recv(std::string& out, std::size_t max, milliseconds timeout) = 0;
  virtual CallResult recv_exactly(std::string& out, std::size_t n, milliseconds timeout) = 0;
  virtual CallResult shutdown(int how) = 0;
  virtual CallResult close() = 0;
  virtual CallResult set_linger(bool on, int seconds) = 0;
  virtual CallResult set_keepalive(int idle_s, int interval_s, int count) = 0;
  virtual CallResult set_buffers(std::optional<int> send_bytes, std::optional<int> recv_bytes) = 0;
  virtual CallResult set_option(int level, int name, int value, const std::string& label) = 0;
  virtual CallResult get_option(int level, int name, const std::string& label) = 0;
  virtual TcpInfo tcp_info() const = 0;
  virtual UniqueFd duplicate_fd(const char* purpose) const = 0;
  virtual std::unique_ptr<StreamSide> stream(const char* purpose) const = 0;
};

class Connection {
 public:
  // Endpoints make connections; a test gets them from connect() and accept().
  explicit Connection(std::shared_ptr<ConnectionImpl> impl) : impl_(std::move(impl)) {}

  Host host() const { return impl_->host(); }
  const FourTuple& tuple() const { return impl_->tuple(); }
  SocketRef ref() const { return {host(), tuple()}; }
  SocketRef peer() const;  // the other end of the same connection
  bool is_open() const { return impl_->is_open(); }  // the socket is still held
  // What the stack holds for this tuple now (CLOSED when nothing): works after close().
  // The kernel's socket table, or the agent's own view (its `sockets`).
  TcpState kernel_state() const { return impl_->state(); }
  const CallResult& connect_result() const { return impl_->connect_result(); }  // for connect()

  CallResult send(std::string_view data, milliseconds timeout = kDefaultCallTimeout) {
    return impl_->send(data, timeout);
  }
  // Reads up to `max` bytes (one recv); `out` receives them. EOF is value 0.
  CallResult recv(std::string& out, std::size_t max = 65536, milliseconds timeout = kDefaultCallTimeout) {
    return impl_->recv(out, max, timeout);
  }
  // Reads until `n` bytes or EOF or error or the deadline.
  CallResult recv_exactly(std::string& out, std::size_t n, milliseconds timeout = kDefaultCallTimeout) {
    return impl_->recv_exactly(out, n, timeout);
  }
  CallResult shutdown(int how) { return impl_->shutdown(how); }  // SHUT_RD / SHUT_WR / SHUT_RDWR
  CallResult close() { return impl_->close(); }

  CallResult set_linger(bool on, int seconds) { return impl_->set_linger(on, seconds); }
  CallResult set_keepalive(int idle_s, int interval_s, int count) {
    return impl_->set_keepalive(idle_s, interval_s, count);
  }
  CallResult set_buffers(std::optional<int> send_bytes, std::optional<int> recv_bytes) {
    return impl_->set_buffers(send_bytes, recv_bytes);
  }
  // setsockopt with an int value (an agent knows only SO_SNDBUF, SO_RCVBUF, TCP_NODELAY).
  CallResult set_option(int level, int name, int value, const std::string& label) {
    return impl_->set_option(level, name, value, label);
  }
  // The kernel's TCP_INFO for the socket now (its RTO, cwnd, losses); needs the fd.
  TcpInfo tcp_info() const { return impl_->tcp_info(); }
  // getsockopt with an int value: the result's value is the option's.
  CallResult get_option(int level, int name, const std::string& label) {
    return impl_->get_option(level, name, label);
  }

  std::string str() const;  // "client 198.18.1.1:40000 > 198.18.2.1:8080 ESTABLISHED"

  // A second descriptor of a kernel socket (NotApplicable for an agent's). Error if closed.
  UniqueFd duplicate_fd(const char* purpose) const { return impl_->duplicate_fd(purpose); }
  // The connection's byte stream for work on a thread of its own (a transfer): a kernel
  // end's stays valid if the connection is closed meanwhile. Error if already closed.
  std::unique_ptr<StreamSide> stream(const char* purpose) const { return impl_->stream(purpose); }

 private:
  std::shared_ptr<ConnectionImpl> impl_;
};

class ListenerImpl {
 public:
  virtual ~ListenerImpl() = default;
  virtual const SockAddr& local() const = 0;
  virtual Connection accept(milliseconds timeout) = 0;
  virtual CallResult close() = 0;
};

class Listener {
 public:
  explicit Listener(std::shared_ptr<ListenerImpl> impl) : impl_(std::move(impl)) {}
  const SockAddr& local() const { return impl_->local(); }
  // Waits for a connection in the accept queue; Error if none comes in time.
  Connection accept(milliseconds timeout = kDefaultCallTimeout) { return impl_->accept(timeout); }
  CallResult close() { return impl_->close(); }

 private:
  std::shared_ptr<ListenerImpl> impl_;
};

struct ConnectOptions {
  std::optional<std::uint16_t> local_port;  // bind to a fixed port first
  bool reuse_addr = false;                  // SO_REUSEADDR before bind
  milliseconds timeout = kDefaultCallTimeout;
};

class Endpoint {
 public:
  // `address` is this side's address in the scenario's family, `peer` the other side's.
  Endpoint(Host host, Address address, Address peer) : host_(host), address_(address), peer_(peer) {}
  virtual ~Endpoint() = default;

  Host host() const { return host_; }
  SockAddr at(std::uint16_t port) const { return {address_, port}; }
  SockAddr peer_at(std::uint16_t port) const { return {peer_, port}; }
  // What runs this side: "kernel", or the agent target's name ("lwip").
  virtual std::string target() const = 0;

  // A listening socket on `at` (address and port). Throws Error if the port is in use.
  virtual Listener listen(const SockAddr& at, int backlog = 128) = 0;
  // Connects to `to` and waits until the handshake ends or fails. The returned
  // connection carries the call's result; on failure it still names the tuple tried.
  virtual Connection connect(const SockAddr& to, const ConnectOptions& options = {}) = 0;
  // Closes every socket this endpoint made that is still open: the scenario is ending,
  // and a later call on a handle should say so.
  virtual void close_all(const std::string& why) = 0;

 private:
  Host host_;
  Address address_, peer_;
};

}  // namespace tcpfault
