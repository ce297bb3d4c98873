#include "harness/endpoint.h"

#include <cerrno>
#include <cstring>

#include "harness/target_errors.h"

namespace tcpfault {

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

SocketRef Connection::peer() const {
  return {host() == Host::Client ? Host::Server : Host::Client, tuple().reversed()};
}

std::string Connection::str() const {
  std::string state;
  try {
    state = to_string(kernel_state());
  } catch (const Error&) {  // an agent that failed or was stopped cannot be asked
    state = "(state unknown: the target cannot be asked)";
  }
  return ref().str() + " " + state + (is_open() ? "" : " (fd closed)");
}

}  // namespace tcpfault
