#include "harness/endpoints/kernel_endpoint.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "harness/endpoints/call_record.h"
#include "harness/endpoints/socket_registry.h"
#include "netns/error.h"

namespace tcpfault {

namespace {

// Waits for `events` on fd until the deadline. Returns false if the deadline passed.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  while (true) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left < 0) left = 0;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return true;  // let the call itself report the error
  }
}

sockaddr_storage local_of(int fd, socklen_t& len) {
  sockaddr_storage ss{};
  len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ss;
}

// A transfer's end on a duplicate of the socket; `wake` (an eventfd) ends a wait early.
class KernelStream : public StreamSide {
 public:
  explicit KernelStream(UniqueFd fd) : fd_(std::move(fd)) {}

  Io send(std::span<const std::uint8_t> data, Clock::time_point until, int wake) override {
    while (true) {
      ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n >= 0) return {static_cast<std::size_t>(n)};
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return {0, errno};
      if (!wait(POLLOUT, until, wake)) return {};
    }
  }

  Io recv(std::span<std::uint8_t> buf, Clock::time_point until, int wake) override {
    while (true) {
      ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
      if (n > 0) return {static_cast<std::size_t>(n)};
      if (n == 0) return {0, 0, true};
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return {0, errno};
      if (!wait(POLLIN, until, wake)) return {};
    }
  }

  int shutdown_write() override { return ::shutdown(fd_.get(), SHUT_WR) == 0 ? 0 : errno; }

 private:
  // True when the socket is ready; false when the deadline passed or `wake` fired.
  bool wait(short events, Clock::time_point until, int wake) const {
    while (true) {
      auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now()).count();
      if (left <= 0) return false;
      pollfd fds[2] = {{fd_.get(), events, 0}, {wake, POLLIN, 0}};
      int n = ::poll(fds, wake >= 0 ? 2 : 1, static_cast<int>(left));
      if (n < 0 && errno != EINTR) return true;  // the call itself will report the error
      if (n > 0 && wake >= 0 && (fds[1].revents & POLLIN)) return false;
      if (n > 0) return true;
    }
  }
  UniqueFd fd_;
};

}  // namespace

// The close of a socket whose last handle went (none when it was closed before, or by the
// scenario's end). A destructor's: whatever fails here is not the test's to hear.
static void close_dropped(const std::shared_ptr<Trace>& trace, Host host, UniqueFd& fd, const char* call,
                          std::optional<FourTuple> socket) noexcept {
  if (!fd.valid()) return;
  CallTimer t;
  fd.reset();
  if (!trace) return;
  try {
    record_call(*trace, host, call, 0, 0, t, false, socket);
  } catch (const std::exception&) {
  }
}

// ---- a kernel connection ----

class KernelConnection : public ConnectionImpl {
 public:
  std::shared_ptr<Trace> trace;
  std::shared_ptr<const SockDiag> sockets;
  Host host_ = Host::Client;
  UniqueFd fd;
  FourTuple tuple_;
  CallResult connect;
  std::string closed_at;  // when close() was called, for error messages

  // A connection whose last handle goes closes its socket, as an agent's does: the trace
  // records that close as the test's call, so that what follows it reads as its doing.
  ~KernelConnection() override { close_dropped(trace, host_, fd, "close(), its handle dropped", tuple_); }

  void close_for(const std::string& why) {
    if (!fd.valid()) return;
    fd.reset();
    closed_at = why;
  }

  // For the endpoint's registry: closes this connection at the end, if still alive.
  static std::function<void(const std::string&)> closer_of(const std::shared_ptr<KernelConnection>& s) {
    return [w = std::weak_ptr<KernelConnection>(s)](const std::string& why) {
      if (auto live = w.lock()) live->close_for(why);
    };
  }

  CallResult record(std::string call, long value, int err, const CallTimer& t, bool deadline_passed = false) {
    return record_call(*trace, host_, std::move(call), value, err, t, deadline_passed, tuple_);
  }

  int require_fd(const char* call) const {
    if (!fd.valid())
      throw Error(std::string(call) + " on " + SocketRef{host_, tuple_}.str() +
                  ": the connection's socket is closed (" + closed_at +
                  "); a closed connection can still be observed but not used");
    return fd.get();
  }

  Host host() const override { return host_; }
  const FourTuple& tuple() const override { return tuple_; }
  bool is_open() const override { return fd.valid(); }
  const CallResult& connect_result() const override { return connect; }

  TcpState state() const override {
    auto info = sockets->find(tuple_);
    return info ? info->state : TcpState::CLOSED;
  }

  UniqueFd duplicate_fd(const char* purpose) const override {
    UniqueFd copy(::fcntl(require_fd(purpose), F_DUPFD_CLOEXEC, 0));
    if (!copy.valid()) throw_errno(std::string(purpose) + ": duplicate the socket of " + SocketRef{host_, tuple_}.str());
    return copy;
  }

  std::unique_ptr<StreamSide> stream(const char* purpose) const override {
    return std::make_unique<KernelStream>(duplicate_fd(purpose));
  }

  CallResult send(std::string_view data, milliseconds timeout) override {
    int fd = require_fd("send");
    CallTimer t;
    auto deadline = Clock::now() + timeout;
    std::size_t sent = 0;
    std::string call = "send(" + std::to_string(data.size()) + ")";
    while (sent < data.size()) {
      ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n >= 0) {
        sent += n;
        continue;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return record(call, -1, errno, t);
      if (!wait_for(fd, POLLOUT, deadline)) return record(call, -1, EAGAIN, t, true);
    }
    return record(call, static_cast<long>(sent), 0, t);
  }

  CallResult recv(std::string& out, std::size_t max, milliseconds timeout) override {
    int fd = require_fd("recv");
    CallTimer t;
    std::string call = "recv(" + std::to_string(max) + ")";
    auto deadline = Clock::now() + timeout;
    std::string buf(max, '\0');
    while (true) {
      ssize_t n = ::recv(fd, buf.data(), max, MSG_DONTWAIT);
      if (n >= 0) {
        out.append(buf.data(), n);
        return record(call, n, 0, t);
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return record(call, -1, errno, t);
      if (!wait_for(fd, POLLIN, deadline)) return record(call, -1, EAGAIN, t, true);
    }
  }

  CallResult recv_exactly(std::string& out, std::size_t n, milliseconds timeout) override {
    int fd = require_fd("recv");
    CallTimer t;
    std::string call = "recv_exactly(" + std::to_string(n) + ")";
    auto deadline = Clock::now() + timeout;
    std::size_t got = 0;
    std::string buf(65536, '\0');
    while (got < n) {
      ssize_t r = ::recv(fd, buf.data(), std::min(buf.size(), n - got), MSG_DONTWAIT);
      if (r > 0) {
        out.append(buf.data(), r);
        got += r;
        continue;
      }
      if (r == 0) break;  // EOF
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return record(call, -1, errno, t);
      if (!wait_for(fd, POLLIN, deadline)) return record(call, -1, EAGAIN, t, true);
    }
    return record(call, static_cast<long>(got), 0, t);
  }

  CallResult shutdown(int how) override {
    int fd = require_fd("shutdown");
    CallTimer t;
    const char* name = how == SHUT_RD ? "SHUT_RD" : how == SHUT_WR ? "SHUT_WR" : "SHUT_RDWR";
    int rc = ::shutdown(fd, how);
    return record(std::string("shutdown(") + name + ")", rc, rc < 0 ? errno : 0, t);
  }

  CallResult close() override {
    require_fd("close");
    CallTimer t;
    int rc = ::close(fd.release());
    char when[48];
    std::snprintf(when, sizeof when, "close() at +%.3f ms", double(t.start - trace->start_ns()) / 1e6);
    closed_at = when;
    return record("close()", rc, rc < 0 ? errno : 0, t);
  }

  CallResult set_option(int level, int name, int value, const std::string& label) override {
    int fd = require_fd("setsockopt");
    CallTimer t;
    int rc = ::setsockopt(fd, level, name, &value, sizeof value);
    return record("setsockopt(" + label + "=" + std::to_string(value) + ")", rc, rc < 0 ? errno : 0, t);
  }

  TcpInfo tcp_info() const override { return read_tcp_info(require_fd("tcp_info")); }

  CallResult get_option(int level, int name, const std::string& label) override {
    int fd = require_fd("getsockopt");
    CallTimer t;
    int value = 0;
    socklen_t len = sizeof value;
    int rc = ::getsockopt(fd, level, name, &value, &len);
    return record("getsockopt(" + label + ")", rc < 0 ? -1 : value, rc < 0 ? errno : 0, t);
  }

  CallResult set_linger(bool on, int seconds) override {
    int fd = require_fd("setsockopt");
    CallTimer t;
    linger l{on ? 1 : 0, seconds};
    int rc = ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    return record("setsockopt(SO_LINGER={" + std::string(on ? "on" : "off") + ", " + std::to_string(seconds) + "})",
                  rc, rc < 0 ? errno : 0, t);
  }

  CallResult set_keepalive(int idle_s, int interval_s, int count) override {
    struct Option {
      const char* name;
      int level, opt, value;
    };
    const Option options[] = {{"SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, 1},
                              {"TCP_KEEPIDLE", IPPROTO_TCP, TCP_KEEPIDLE, idle_s},
                              {"TCP_KEEPINTVL", IPPROTO_TCP, TCP_KEEPINTVL, interval_s},
                              {"TCP_KEEPCNT", IPPROTO_TCP, TCP_KEEPCNT, count}};
    for (const auto& o : options) {
      CallResult r = set_option(o.level, o.opt, o.value, o.name);
      if (!r.ok()) return r;
    }
    return CallResult{"keepalive", 0, 0, false};
  }

  CallResult set_buffers(std::optional<int> send_bytes, std::optional<int> recv_bytes) override {
    CallResult r{"buffers", 0, 0, false};
    if (send_bytes) r = set_option(SOL_SOCKET, SO_SNDBUF, *send_bytes, "SO_SNDBUF");
    if (r.ok() && recv_bytes) r = set_option(SOL_SOCKET, SO_RCVBUF, *recv_bytes, "SO_RCVBUF");
    return r;
  }
};

// ---- a kernel listener ----

class KernelListener : public ListenerImpl {
 public:
  std::shared_ptr<Trace> trace;
  std::shared_ptr<const SockDiag> sockets;
  std::shared_ptr<SocketRegistry> made;
  std::string closed_at = "closed";
  Host host = Host::Client;
  UniqueFd fd;
  SockAddr local_;

  ~KernelListener() override { close_dropped(trace, host, fd, "close(listener), its handle dropped", std::nullopt); }

  const SockAddr& local() const override { return local_; }

  Connection accept(milliseconds timeout) override {
    if (!fd.valid()) throw Error("accept on " + local_.str() + ": the listener is closed (" + closed_at + ")");
    CallTimer t;
    auto deadline = Clock::now() + timeout;
    while (true) {
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      int cfd = ::accept4(fd.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (cfd >= 0) {
        auto st = std::make_shared<KernelConnection>();
        st->trace = trace;
        st->sockets = sockets;
        made->add(KernelConnection::closer_of(st));
        st->host_ = host;
        st->fd.reset(cfd);
        socklen_t llen;
        auto local = local_of(cfd, llen);
        st->tuple_ = {SockAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&local)),
                      SockAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&peer))};
        st->record("accept() -> " + st->tuple_.remote.str(), cfd, 0, t);
        return Connection(st);
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN) throw_errno("accept on " + local_.str());
      if (!wait_for(fd.get(), POLLIN, deadline)) {
        record_call(*trace, host, "accept()", -1, EAGAIN, t);
        throw Error("accept on " + netns::to_string(host) + " " + local_.str() + ": no connection arrived within " +
                    std::to_string(timeout.count()) + " ms");
      }
    }
  }

  CallResult close() override {
    if (!fd.valid()) throw Error("close on listener " + local_.str() + ": already closed (" + closed_at + ")");
    CallTimer t;
    int rc = ::close(fd.release());
    return record_call(*trace, host, "close(listener)", rc, rc < 0 ? errno : 0, t);
  }
};

// ---- KernelEndpoint ----

KernelEndpoint::KernelEndpoint(const netns::Namespace& ns, Host host, Address address, Address peer,
                               std::shared_ptr<Trace> trace, std::shared_ptr<const SockDiag> sockets)
    : Endpoint(host, address, peer), ns_(ns), trace_(std::move(trace)), sockets_(std::move(sockets)),
      made_(std::make_shared<SocketRegistry>()) {}

void KernelEndpoint::close_all(const std::string& why) { made_->close_all(why); }

Listener KernelEndpoint::listen(const SockAddr& at, int backlog) {
  auto st = std::make_shared<KernelListener>();
  st->trace = trace_;
  st->sockets = sockets_;
  st->made = made_;
  made_->add([w = std::weak_ptr<KernelListener>(st)](const std::string& why) {
    if (auto l = w.lock(); l && l->fd.valid()) {
      l->fd.reset();
      l->closed_at = why;
    }
  });
  st->host = host();
  st->local_ = at;
  ns_.run([&] { st->fd.reset(::socket(to_af(at.addr.family), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)); });
  if (!st->fd.valid()) throw_errno("socket in " + ns_.name());
  int one = 1;
  ::setsockopt(st->fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t len;
  auto sa = at.to_sockaddr(len);
  if (::bind(st->fd.get(), reinterpret_cast<sockaddr*>(&sa), len) != 0) {
    if (errno == EADDRINUSE)
      throw Error("cannot listen on " + at.str() + " in the " + netns::to_string(host()) +
                  " namespace: the port is in use (pick another port or close the other listener)");
    throw_errno("bind " + at.str() + " in the " + netns::to_string(host()) + " namespace");
  }
  if (::listen(st->fd.get(), backlog) != 0) throw_errno("listen on " + at.str());
  auto now = mono_now_ns();
  trace_->add(CallEvent{now, 0, host(), "listen(" + at.str() + ", " + std::to_string(backlog) + ")", 0, 0});
  return Listener(st);
}

Connection KernelEndpoint::connect(const SockAddr& to, const ConnectOptions& options) {
  auto st = std::make_shared<KernelConnection>();
  st->trace = trace_;
  st->sockets = sockets_;
  st->host_ = host();
  st->tuple_.remote = to;
  made_->add(KernelConnection::closer_of(st));
  CallTimer t;
  ns_.run([&] { st->fd.reset(::socket(to_af(to.addr.family), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)); });
  if (!st->fd.valid()) throw_errno("socket in " + ns_.name());
  int fd = st->fd.get();
  if (options.reuse_addr) {
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  }
  if (options.local_port) {
    SockAddr local{Address::any(to.addr.family), *options.local_port};
    socklen_t len;
    auto sa = local.to_sockaddr(len);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) {
      st->tuple_.local = local;
      st->connect = st->record("bind(" + local.str() + ")", -1, errno, t);
      return Connection(st);
    }
  }
  std::string call = "connect(" + to.str() + ")";
  socklen_t len;
  auto sa = to.to_sockaddr(len);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), len);
  int err = rc == 0 ? 0 : errno;
  // The kernel picked the local port when it sent the SYN: name the tuple now, even
  // if the handshake fails.
  socklen_t llen;
  auto local = local_of(fd, llen);
  st->tuple_.local = SockAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&local));
  if (rc == 0 || err == EINPROGRESS) trace_->name_connecting_socket(host(), st->tuple_.local, to, t.start);
  if (err == EINPROGRESS) {
    if (!wait_for(fd, POLLOUT, Clock::now() + options.timeout)) {
      st->connect = st->record(call, -1, EINPROGRESS, t, true);
      return Connection(st);
    }
    socklen_t elen = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
  }
  st->connect = st->record(call, err ? -1 : 0, err, t);
  return Connection(st);
}

}  // namespace tcpfault
