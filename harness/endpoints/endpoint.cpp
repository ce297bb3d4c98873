#include "harness/endpoints/endpoint.h"

#include <cerrno>
#include <cstring>

#include "harness/endpoints/target_errors.h"

namespace tcpfault {

std::string CallResult::describe() const {
  if (err == 0) return call + " = " + std::to_string(value);
  std::string out = call + " = -1 " + errno_name(err) + " (" + std::strerror(err) + ")";
  if (deadline_passed) out += ", harness deadline passed";
  return out;
}

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
