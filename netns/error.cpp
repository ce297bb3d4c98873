#include "netns/error.h"

#include <cerrno>
#include <cstring>

namespace tcpfault {

namespace {
std::string compose(const std::string& what, int err, const std::string& hint) {
  std::string msg = what + ": " + std::strerror(err);
  if (!hint.empty()) msg += " (" + hint + ")";
  return msg;
}
}  // namespace

SystemError::SystemError(const std::string& what, int err, const std::string& hint)
    : Error(compose(what, err, hint)), err_(err) {}

void throw_errno(const std::string& what, const std::string& hint) {
  throw SystemError(what, errno, hint);
}

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

}  // namespace tcpfault
