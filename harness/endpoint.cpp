#include "harness/endpoint.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <mutex>

#include "netns/error.h"

namespace tcpfault {

namespace {

struct CallTimer {
  std::int64_t start = mono_now_ns();
};

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

}  // namespace

std::string errno_name(int err) {
  switch (err) {
#define NAME(e) \
  case e:       \
    return #e
    NAME(EPERM); NAME(ENOENT); NAME(EINTR); NAME(EBADF); NAME(EAGAIN); NAME(ENOMEM);
    NAME(EACCES); NAME(EBUSY); NAME(EEXIST); NAME(EINVAL); NAME(EPIPE); NAME(ENOTCONN);
    NAME(ECONNRESET); NAME(ECONNREFUSED); NAME(ECONNABORTED); NAME(ETIMEDOUT);
    NAME(EADDRINUSE); NAME(EADDRNOTAVAIL); NAME(EINPROGRESS); NAME(EALREADY);
    NAME(EHOSTUNREACH); NAME(ENETUNREACH); NAME(EISCONN); NAME(ENOBUFS); NAME(EOPNOTSUPP);
    NAME(EPROTO); NAME(ENOPROTOOPT);
#undef NAME
    default:
      return "errno " + std::to_string(err);
  }
}

std::string CallResult::describe() const {
  if (err == 0) return call + " = " + std::to_string(value);
  std::string out = call + " = -1 " + errno_name(err) + " (" + std::strerror(err) + ")";
  if (deadline_passed) out += ", harness deadline passed";
  return out;
}

std::string SocketRef::str() const { return netns::to_string(host) + " " + tuple.str(); }

// ---- what an endpoint made ----

struct SocketRegistry {
  std::mutex mu;
  std::vector<std::function<void(const std::string&)>> closers;

  void add(std::function<void(const std::string&)> close) {
    std::lock_guard lock(mu);
    closers.push_back(std::move(close));
  }
  void close_all(const std::string& why) {
    std::lock_guard lock(mu);
    for (auto& close : closers) close(why);
    closers.clear();
  }
};

// ---- Connection ----

struct Connection::State {
  std::shared_ptr<Trace> trace;
  std::shared_ptr<const SockDiag> sockets;
  Host host;
  UniqueFd fd;
  FourTuple tuple;
  CallResult connect;
  std::string closed_at;  // when close() was called, for error messages

  void close_for(const std::string& why) {
    if (!fd.valid()) return;
    fd.reset();
    closed_at = why;
  }

  // For the endpoint's registry: closes this connection at the end, if still alive.
  static std::function<void(const std::string&)> closer_of(const std::shared_ptr<State>& s) {
    return [w = std::weak_ptr<State>(s)](const std::string& why) {
      if (auto live = w.lock()) live->close_for(why);
    };
  }

  CallResult record(std::string call, long value, int err, const CallTimer& t,
                    bool deadline_passed = false) {
    CallResult r{std::move(call), value, err, deadline_passed};
    auto now = mono_now_ns();
    trace->add(CallEvent{now, now - t.start, host, r.call, r.value, r.err});
    return r;
  }
};

Host Connection::host() const { return s_->host; }
const FourTuple& Connection::tuple() const { return s_->tuple; }
SocketRef Connection::peer() const {
  return {s_->host == Host::Client ? Host::Server : Host::Client, s_->tuple.reversed()};
}
bool Connection::is_open() const { return s_->fd.valid(); }

TcpState Connection::kernel_state() const {
  auto info = s_->sockets->find(s_->tuple);
  return info ? info->state : TcpState::CLOSED;
}
const CallResult& Connection::connect_result() const { return s_->connect; }

std::string Connection::str() const {
  return ref().str() + " " + to_string(kernel_state()) + (is_open() ? "" : " (fd closed)");
}

int Connection::require_fd(const char* call) const {
  if (!s_->fd.valid())
    throw Error(std::string(call) + " on " + ref().str() +
                ": the connection's socket is closed (" + s_->closed_at +
                "); a closed connection can still be observed but not used");
  return s_->fd.get();
}

UniqueFd Connection::duplicate_fd(const char* purpose) const {
  UniqueFd copy(::fcntl(require_fd(purpose), F_DUPFD_CLOEXEC, 0));
  if (!copy.valid()) throw_errno(std::string(purpose) + ": duplicate the socket of " + ref().str());
  return copy;
}

CallResult Connection::send(std::string_view data, milliseconds timeout) {
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
    if (errno != EAGAIN) return s_->record(call, -1, errno, t);
    if (!wait_for(fd, POLLOUT, deadline)) return s_->record(call, -1, EAGAIN, t, true);
  }
  return s_->record(call, static_cast<long>(sent), 0, t);
}

CallResult Connection::recv(std::string& out, std::size_t max, milliseconds timeout) {
  int fd = require_fd("recv");
  CallTimer t;
  std::string call = "recv(" + std::to_string(max) + ")";
  auto deadline = Clock::now() + timeout;
  std::string buf(max, '\0');
  while (true) {
    ssize_t n = ::recv(fd, buf.data(), max, MSG_DONTWAIT);
    if (n >= 0) {
      out.append(buf.data(), n);
      return s_->record(call, n, 0, t);
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return s_->record(call, -1, errno, t);
    if (!wait_for(fd, POLLIN, deadline)) return s_->record(call, -1, EAGAIN, t, true);
  }
}

CallResult Connection::recv_exactly(std::string& out, std::size_t n, milliseconds timeout) {
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
    if (errno != EAGAIN) return s_->record(call, -1, errno, t);
    if (!wait_for(fd, POLLIN, deadline)) return s_->record(call, -1, EAGAIN, t, true);
  }
  return s_->record(call, static_cast<long>(got), 0, t);
}

CallResult Connection::shutdown(int how) {
  int fd = require_fd("shutdown");
  CallTimer t;
  const char* name = how == SHUT_RD ? "SHUT_RD" : how == SHUT_WR ? "SHUT_WR" : "SHUT_RDWR";
  int rc = ::shutdown(fd, how);
  return s_->record(std::string("shutdown(") + name + ")", rc, rc < 0 ? errno : 0, t);
}

CallResult Connection::close() {
  require_fd("close");
  CallTimer t;
  int rc = ::close(s_->fd.release());
  char when[48];
  std::snprintf(when, sizeof when, "close() at +%.3f ms",
                double(t.start - s_->trace->start_ns()) / 1e6);
  s_->closed_at = when;
  return s_->record("close()", rc, rc < 0 ? errno : 0, t);
}

CallResult Connection::set_option(int level, int name, int value, const std::string& label) {
  int fd = require_fd("setsockopt");
  CallTimer t;
  int rc = ::setsockopt(fd, level, name, &value, sizeof value);
  return s_->record("setsockopt(" + label + "=" + std::to_string(value) + ")", rc, rc < 0 ? errno : 0, t);
}

TcpInfo Connection::tcp_info() const { return read_tcp_info(require_fd("tcp_info")); }

CallResult Connection::get_option(int level, int name, const std::string& label) {
  int fd = require_fd("getsockopt");
  CallTimer t;
  int value = 0;
  socklen_t len = sizeof value;
  int rc = ::getsockopt(fd, level, name, &value, &len);
  return s_->record("getsockopt(" + label + ")", rc < 0 ? -1 : value, rc < 0 ? errno : 0, t);
}

CallResult Connection::set_linger(bool on, int seconds) {
  int fd = require_fd("setsockopt");
  CallTimer t;
  linger l{on ? 1 : 0, seconds};
  int rc = ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  return s_->record("setsockopt(SO_LINGER={" + std::string(on ? "on" : "off") + ", " +
                        std::to_string(seconds) + "})",
                    rc, rc < 0 ? errno : 0, t);
}

CallResult Connection::set_keepalive(int idle_s, int interval_s, int count) {
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

CallResult Connection::set_buffers(std::optional<int> send_bytes, std::optional<int> recv_bytes) {
  CallResult r{"buffers", 0, 0, false};
  if (send_bytes) r = set_option(SOL_SOCKET, SO_SNDBUF, *send_bytes, "SO_SNDBUF");
  if (r.ok() && recv_bytes) r = set_option(SOL_SOCKET, SO_RCVBUF, *recv_bytes, "SO_RCVBUF");
  return r;
}

// ---- Listener ----

struct Listener::State {
  std::shared_ptr<Trace> trace;
  std::shared_ptr<const SockDiag> sockets;
  std::shared_ptr<SocketRegistry> made;
  std::string closed_at = "closed";
  Host host;
  UniqueFd fd;
  SockAddr local;
};

const SockAddr& Listener::local() const { return s_->local; }

Connection Listener::accept(milliseconds timeout) {
  if (!s_->fd.valid())
    throw Error("accept on " + s_->local.str() + ": the listener is closed (" + s_->closed_at + ")");
  CallTimer t;
  auto deadline = Clock::now() + timeout;
  while (true) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    int fd = ::accept4(s_->fd.get(), reinterpret_cast<sockaddr*>(&peer), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      auto st = std::make_shared<Connection::State>();
      st->trace = s_->trace;
      st->sockets = s_->sockets;
      s_->made->add(Connection::State::closer_of(st));
      st->host = s_->host;
      st->fd.reset(fd);
      socklen_t llen;
      auto local = local_of(fd, llen);
      st->tuple = {SockAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&local)),
                   SockAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&peer))};
      st->record("accept() -> " + st->tuple.remote.str(), fd, 0, t);
      return Connection(st);
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) throw_errno("accept on " + s_->local.str());
    if (!wait_for(s_->fd.get(), POLLIN, deadline)) {
      auto now = mono_now_ns();
      s_->trace->add(CallEvent{now, now - t.start, s_->host, "accept()", -1, EAGAIN});
      throw Error("accept on " + netns::to_string(s_->host) + " " + s_->local.str() +
                  ": no connection arrived within " + std::to_string(timeout.count()) + " ms");
    }
  }
}

CallResult Listener::close() {
  if (!s_->fd.valid())
    throw Error("close on listener " + s_->local.str() + ": already closed (" + s_->closed_at + ")");
  CallTimer t;
  int rc = ::close(s_->fd.release());
  auto now = mono_now_ns();
  s_->trace->add(CallEvent{now, now - t.start, s_->host, "close(listener)", rc, rc < 0 ? errno : 0});
  return CallResult{"close(listener)", rc, rc < 0 ? errno : 0, false};
}

// ---- KernelEndpoint ----

KernelEndpoint::KernelEndpoint(const netns::Namespace& ns, Host host, Address address, Address peer,
                               std::shared_ptr<Trace> trace, std::shared_ptr<const SockDiag> sockets)
    : ns_(ns), host_(host), address_(address), peer_(peer), trace_(std::move(trace)),
      sockets_(std::move(sockets)), made_(std::make_shared<SocketRegistry>()) {}

void KernelEndpoint::close_all(const std::string& why) { made_->close_all(why); }

Listener KernelEndpoint::listen(const SockAddr& at, int backlog) {
  auto st = std::make_shared<Listener::State>();
  st->trace = trace_;
  st->sockets = sockets_;
  st->made = made_;
  made_->add([w = std::weak_ptr<Listener::State>(st)](const std::string& why) {
    if (auto l = w.lock(); l && l->fd.valid()) {
      l->fd.reset();
      l->closed_at = why;
    }
  });
  st->host = host_;
  st->local = at;
  ns_.run([&] {
    st->fd.reset(::socket(to_af(at.addr.family), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  });
  if (!st->fd.valid()) throw_errno("socket in " + ns_.name());
  int one = 1;
  ::setsockopt(st->fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t len;
  auto sa = at.to_sockaddr(len);
  if (::bind(st->fd.get(), reinterpret_cast<sockaddr*>(&sa), len) != 0) {
    if (errno == EADDRINUSE)
      throw Error("cannot listen on " + at.str() + " in the " + netns::to_string(host_) +
                  " namespace: the port is in use (pick another port or close the other listener)");
    throw_errno("bind " + at.str() + " in the " + netns::to_string(host_) + " namespace");
  }
  if (::listen(st->fd.get(), backlog) != 0) throw_errno("listen on " + at.str());
  auto now = mono_now_ns();
  trace_->add(CallEvent{now, 0, host_, "listen(" + at.str() + ", " + std::to_string(backlog) + ")", 0, 0});
  return Listener(st);
}

Connection KernelEndpoint::connect(const SockAddr& to, const ConnectOptions& options) {
  auto st = std::make_shared<Connection::State>();
  st->trace = trace_;
  st->sockets = sockets_;
  st->host = host_;
  st->tuple.remote = to;
  made_->add(Connection::State::closer_of(st));
  CallTimer t;
  ns_.run([&] {
    st->fd.reset(::socket(to_af(to.addr.family), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  });
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
      st->tuple.local = local;
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
  st->tuple.local = SockAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&local));
  if (rc == 0 || err == EINPROGRESS) trace_->name_connecting_socket(host_, st->tuple.local, to, t.start);
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
