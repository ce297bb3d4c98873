#include "agents/lwip/socket_ops.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>

#include "agents/lwip/lwip_address.h"
#include "agents/lwip/lwip_headers.h"
#include "agents/lwip/protocol.h"

namespace tcpfault::lwip_agent {
namespace {

enum class Wait { Ready, Timeout, Closing };

// Waits for `events` on fd until the deadline, in slices, watching `closing`.
Wait wait_for(int fd, short events, Clock::time_point deadline, const std::atomic<bool>* closing,
              short* revents = nullptr) {
  for (;;) {
    if (closing != nullptr && closing->load()) return Wait::Closing;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Wait::Timeout;
    pollfd p{fd, events, 0};
    const int n = lwip_poll(&p, 1, static_cast<int>(std::min(left, kWaitSlice).count()));
    if (n > 0) {
      if (revents != nullptr) *revents = p.revents;
      return Wait::Ready;
    }
    if (n < 0 && errno != EINTR) fail_errno(errno, "lwip_poll");
  }
}

[[noreturn]] void fail_closed() { fail_errno(EBADF, "the socket was closed by another request while waiting"); }

// Takes one of a socket's turns (recv or send) by the deadline, or fails with EAGAIN.
std::unique_lock<std::timed_mutex> take_turn(std::timed_mutex& m, Clock::time_point deadline, const char* what) {
  std::unique_lock<std::timed_mutex> turn(m, std::defer_lock);
  if (!turn.try_lock_until(deadline))
    fail_errno(EAGAIN, std::string("another ") + what + " on this socket held it past timeout_ms");
  return turn;
}

int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (lwip_getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

// lwIP tells a connect refused by RST as ERR_RST (ECONNRESET) and one given up after
// its SYN retransmissions as ERR_ABRT (ECONNABORTED); a Linux connect() says
// ECONNREFUSED and ETIMEDOUT for these, and the protocol speaks Linux's names. (An RST
// after the handshake completed is a reset on Linux too: the connect command tells it
// apart by the connection's states.)
[[noreturn]] void fail_connect(int err) {
  if (err == ECONNRESET)
    throw SocketFailure(ECONNREFUSED, errno_text(ECONNREFUSED) + " (an RST answered the SYN; lwIP reports ECONNRESET)");
  if (err == ECONNABORTED)
    throw SocketFailure(ETIMEDOUT, errno_text(ETIMEDOUT) + " (lwIP gave up retransmitting the SYN; it reports ECONNABORTED)");
  fail_errno(err, "connect");
}

}  // namespace

int open_socket(Family family) {
  const int fd = lwip_socket(family == Family::V6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail_errno(errno, "socket");
  set_blocking(fd, false);
  return fd;
}

void set_blocking(int fd, bool blocking) {
  if (lwip_fcntl(fd, F_SETFL, blocking ? 0 : O_NONBLOCK) != 0) fail_errno(errno, "fcntl O_NONBLOCK");
}

void bind_socket(int fd, const SockAddr& local) {
  socklen_t len = 0;
  const sockaddr_storage ss = local.to_sockaddr(len);
  if (lwip_bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) fail_errno(errno, "bind " + local.str());
}

SockAddr local_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (lwip_getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) fail_errno(errno, "getsockname");
  return sockaddr_from(ss);
}

SockAddr remote_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (lwip_getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) fail_errno(errno, "getpeername");
  return sockaddr_from(ss);
}

int accept_until(AgentSocket& l, Clock::time_point deadline, SockAddr& remote) {
  auto turn = take_turn(l.recv_turn, deadline, "accept");
  for (;;) {
    sockaddr_storage peer{};
    int fd = -1, err = 0;
    {
      std::lock_guard call(l.call);
      socklen_t len = sizeof peer;
      fd = lwip_accept(l.fd, reinterpret_cast<sockaddr*>(&peer), &len);
      err = errno;
    }
    if (fd >= 0) {
      set_blocking(fd, false);
      remote = sockaddr_from(peer);
      return fd;
    }
    if (err != EWOULDBLOCK) fail_errno(err, "accept");
    switch (wait_for(l.fd, POLLIN, deadline, &l.closing)) {
      case Wait::Ready: break;
      case Wait::Timeout: fail_errno(EAGAIN, "no connection to accept within timeout_ms");
      case Wait::Closing: fail_closed();
    }
  }
}

bool connect_start(int fd, const SockAddr& to) {
  socklen_t len = 0;
  const sockaddr_storage ss = to.to_sockaddr(len);
  if (lwip_connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) == 0) return true;
  if (errno != EINPROGRESS) fail_connect(errno);
  return false;
}

void connect_wait(int fd, Clock::time_point deadline) {
  for (;;) {
    short revents = 0;
    if (wait_for(fd, POLLOUT, deadline, nullptr, &revents) == Wait::Timeout)
      fail_errno(EINPROGRESS, "not connected within timeout_ms; the stack goes on trying");
    if (const int err = socket_error(fd); err != 0) fail_connect(err);
    if (revents & POLLOUT) return;
  }
}

std::size_t send_until(AgentSocket& s, std::string_view data, Clock::time_point deadline) {
  auto turn = take_turn(s.send_turn, deadline, "send");
  std::size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = 0;
    int err = 0;
    {
      std::lock_guard call(s.call);
      n = lwip_send(s.fd, data.data() + sent, data.size() - sent, MSG_DONTWAIT);
      err = errno;
    }
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && err != EWOULDBLOCK) {
      if (sent > 0) return sent;  // as a kernel send: the error comes with the next call
      fail_errno(err, "send");
    }
    switch (wait_for(s.fd, POLLOUT, deadline, &s.closing)) {
      case Wait::Ready: break;
      case Wait::Timeout:
        if (sent > 0) return sent;
        fail_errno(EAGAIN, "the send buffer stayed full for timeout_ms");
      case Wait::Closing:
        if (sent > 0) return sent;
        fail_closed();
    }
  }
  return sent;
}

Received recv_until(AgentSocket& s, std::size_t max, Clock::time_point deadline) {
  auto turn = take_turn(s.recv_turn, deadline, "recv");
  std::string buf(max, '\0');
  for (;;) {
    ssize_t n = 0;
    int err = 0;
    {
      std::lock_guard call(s.call);
      n = lwip_recv(s.fd, buf.data(), max, MSG_DONTWAIT);
      err = errno;
    }
    if (n > 0) {
      buf.resize(static_cast<std::size_t>(n));
      return {std::move(buf), false};
    }
    if (n == 0) return {"", true};
    if (err != EWOULDBLOCK) fail_errno(err, "recv");
    switch (wait_for(s.fd, POLLIN, deadline, &s.closing)) {
      case Wait::Ready: break;
      case Wait::Timeout: fail_errno(EAGAIN, "no data within timeout_ms");
      case Wait::Closing: fail_closed();
    }
  }
}

}  // namespace tcpfault::lwip_agent
