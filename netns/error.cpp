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

}  // namespace tcpfault
